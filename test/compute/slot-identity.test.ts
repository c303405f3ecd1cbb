/**
 * Slot identity in the synthesized templates and roles (issue 10, defects 1 and 9): a node's own
 * primary network interface must not look like a slot interface, and the roles of nodes that
 * attach KMS-encrypted data volumes may create grants on the cluster key for EC2.
 * Expected values are AWS's: the tag keys the boot script filters on, and the `kms:CreateGrant`
 * statement AWS documents for attaching volumes encrypted with a customer managed key.
 */
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { EtcdTopology, HaControlPlane } from "../helpers/reference";
import { FoundResource, SynthJson, follow, resources, synth, synthStack } from "../helpers/synth";

interface Statement {
  readonly Sid: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: unknown;
}

const ROLE_KEY = "ha-control-plane/role";
const SLOT_KEY = "ha-control-plane/slot";

function stackedTopology(): SynthJson {
  return synth((s) => new HaControlPlane(s, "Cp", { clusterName: "st", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0", etcdTopology: EtcdTopology.STACKED }));
}

function specTags(template: FoundResource, type: string): Record<string, string> {
  const spec = (template.props.tag_specifications as Array<{ resource_type: string; tags: Record<string, string> }>).find((s) => s.resource_type === type);
  expect(spec).toBeDefined();
  return spec!.tags;
}

function rolePolicy(json: SynthJson, roleName: string): { Statement: Statement[] } {
  const role = resources(json, "aws_iam_role").find((r) => r.props.name === roleName)!;
  const policy = resources(json, "aws_iam_role_policy").find((p) => p.props.role === `\${aws_iam_role.${role.name}.name}`)!;
  return JSON.parse(policy.props.policy);
}

const createGrant = (doc: { Statement: Statement[] }) =>
  doc.Statement.filter((s) => [s.Action].flat().includes("kms:CreateGrant"));

describe.each([
  ["the reference example", () => synthStack(new HaClusterStack(Testing.app(), "ref"))],
  ["the stacked topology", stackedTopology],
])("slot identity in %s", (_name, make) => {
  const json = make();
  const templates = resources(json, "aws_launch_template");

  it("tags no instance's primary network interface with a role or slot key (only slot interfaces carry them)", () => {
    expect(templates.length).toBeGreaterThan(0);
    for (const lt of templates) {
      const primary = specTags(lt, "network-interface");
      expect(Object.keys(primary)).not.toContain(ROLE_KEY);
      expect(Object.keys(primary)).not.toContain(SLOT_KEY);
      // Still attributable to the cluster.
      expect(primary["ha-control-plane/cluster"]).toBe(specTags(lt, "instance")["ha-control-plane/cluster"]);
    }
    const slotEnis = resources(json, "aws_network_interface");
    expect(slotEnis.length).toBeGreaterThan(0);
    slotEnis.forEach((e) => expect(Object.keys(e.props.tags)).toEqual(expect.arrayContaining([ROLE_KEY, SLOT_KEY])));
  });

  it("lets every role that attaches data volumes create KMS grants for EC2 on the cluster key only", () => {
    const volumes = resources(json, "aws_ebs_volume");
    expect(volumes.length).toBeGreaterThan(0);
    const keyRefs = new Set(volumes.map((v) => v.props.kms_key_id));
    const attaching = resources(json, "aws_iam_role_policy").filter((p) => (JSON.parse(p.props.policy).Statement as Statement[]).some((s) => [s.Action].flat().includes("ec2:AttachVolume")));
    expect(attaching.length).toBeGreaterThan(0);
    for (const p of attaching) {
      const grants = createGrant(JSON.parse(p.props.policy));
      expect(grants).toHaveLength(1);
      expect(grants[0].Effect).toBe("Allow");
      expect(grants[0].Condition).toEqual({ Bool: { "kms:GrantIsForAWSResource": "true" } });
      const resource = grants[0].Resource;
      expect(typeof resource).toBe("string");
      expect(keyRefs.has(resource as string)).toBe(true);
      expect(follow(json, resource as string).type).toBe("aws_kms_key");
    }
  });
});

describe("KMS grants stay with the nodes that attach volumes", () => {
  it("gives API servers of a separate-etcd cluster no kms:CreateGrant", () => {
    const json = synthStack(new HaClusterStack(Testing.app(), "ref"));
    expect(createGrant(rolePolicy(json, "prod-eu1-apiserver"))).toEqual([]);
  });
});
