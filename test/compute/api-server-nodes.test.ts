import { HaClusterStack } from "../../examples/ha-cluster/main";
import { EtcdTopology, HaControlPlane, userDataLimitOk } from "../helpers/reference";
import { SynthJson, follow, nodeFilesOf, only, rawUserDataOf, resources, synth, synthStack, userDataOf } from "../helpers/synth";
import { Testing } from "../../lib/core";

function reference(): SynthJson {
  return synthStack(new HaClusterStack(Testing.app(), "ref"));
}

const apiGroup = (json: SynthJson) => resources(json, "aws_autoscaling_group").find((g) => g.props.name.endsWith("-apiserver"))!;
const apiTemplate = (json: SynthJson) => follow(json, apiGroup(json).props.launch_template.id);

describe("ApiServerNodes", () => {
  const json = reference();

  it("creates one fixed-IP slot interface per API server, one per zone, with the API security group", () => {
    const enis = resources(json, "aws_network_interface").filter((e) => e.props.tags["ha-control-plane/role"] === "apiserver");
    expect(enis.map((e) => e.props.private_ips[0])).toEqual(["10.0.0.10", "10.0.16.10", "10.0.32.10"]);
    expect(new Set(enis.map((e) => e.props.subnet_id)).size).toBe(3);
    enis.forEach((e) => expect(follow(json, e.props.security_groups[0]).props.name).toBe("prod-eu1-apiserver"));
    expect(enis.map((e) => e.props.tags["ha-control-plane/slot"])).toEqual(["apiserver-0", "apiserver-1", "apiserver-2"]);
  });

  it("runs API servers in one Auto Scaling group across the zones with load-balancer health checks", () => {
    const group = apiGroup(json);
    expect(group.props).toMatchObject({ min_size: 3, max_size: 3, desired_capacity: 3, health_check_type: "ELB" });
    expect(group.props.health_check_grace_period).toBeGreaterThanOrEqual(60);
    expect(group.props.vpc_zone_identifier).toHaveLength(3);
    expect(group.props.target_group_arns).toEqual([expect.stringMatching(/^\$\{aws_lb_target_group\./)]);
    expect(group.props.service_linked_role_arn).toMatch(/aws_iam_service_linked_role/);
  });

  it("replaces at most one API server at a time on a roll, waiting at least the re-admission time", () => {
    const refresh = apiGroup(json).props.instance_refresh;
    expect(refresh.strategy).toBe("Rolling");
    expect(refresh.preferences.min_healthy_percentage).toBe(100);
    expect(refresh.preferences.max_healthy_percentage).toBe(100);
    const tg = only(json, "aws_lb_target_group").props.health_check;
    expect(Number(refresh.preferences.instance_warmup)).toBeGreaterThanOrEqual(tg.interval * tg.healthy_threshold);
    expect(refresh.preferences.checkpoint_percentages).toEqual([33, 66, 100]);
    expect(Number(refresh.preferences.checkpoint_delay)).toBeGreaterThanOrEqual(tg.interval * tg.healthy_threshold);
  });

  it("requires IMDSv2 with hop limit 1, encrypts the gp3 root volume with the cluster key, and sets no key pair", () => {
    const lt = apiTemplate(json);
    expect(lt.props.metadata_options).toMatchObject({ http_tokens: "required", http_put_response_hop_limit: 1, http_endpoint: "enabled", instance_metadata_tags: "enabled" });
    const root = lt.props.block_device_mappings[0];
    expect(root.ebs).toMatchObject({ volume_type: "gp3", encrypted: "true" });
    expect(follow(json, root.ebs.kms_key_id).type).toBe("aws_kms_key");
    expect(lt.props.key_name).toBeUndefined();
  });

  it("gives API servers a least-privilege role: Session Manager, metrics in their namespace, and claiming only their own cluster's API slots", () => {
    const role = resources(json, "aws_iam_role").find((r) => r.props.name === "prod-eu1-apiserver")!;
    expect(resources(json, "aws_iam_role_policy_attachment")).toEqual([]);
    const policy = resources(json, "aws_iam_role_policy").find((p) => p.props.role === `\${aws_iam_role.${role.name}.name}`)!;
    const doc = JSON.parse(policy.props.policy);
    const attach = doc.Statement.find((s: { Sid: string }) => s.Sid === "ClaimSlotInterface");
    expect(attach.Action).toEqual(["ec2:AttachNetworkInterface"]);
    expect(attach.Condition.StringEquals).toEqual({
      "ec2:ResourceTag/ha-control-plane/cluster": "prod-eu1",
      "ec2:ResourceTag/ha-control-plane/role": "apiserver",
      // Only credentials delivered to an instance in the cluster's VPC (issue 14 finding 6).
      "aws:Ec2InstanceSourceVpc": expect.stringMatching(/^\$\{aws_vpc\.[\w-]+\.id\}$/),
    });
    // Every non-Describe action is scoped: by resource ARNs, or on "*" by a condition - except
    // Session Manager's messaging, whose actions accept no resource ARN (AWS's documented minimum).
    // The node network boundary (finding 6) says where credentials work, not which resources.
    const NETWORK_KEYS = ["aws:ec2instancesourcevpc", "aws:sourcevpc", "aws:sourceip"];
    const scopedByCondition = (c: unknown) =>
      c !== undefined && Object.values(c as Record<string, Record<string, unknown>>).some((keys) => Object.keys(keys).some((k) => !NETWORK_KEYS.includes(k.toLowerCase())));
    const unscoped = (doc.Statement as Array<{ Sid: string; Action: string[]; Resource: unknown; Condition?: unknown }>)
      .filter((s) => s.Action.some((a) => !/:Describe/.test(a)) && s.Resource === "*" && !scopedByCondition(s.Condition))
      .map((s) => s.Sid);
    expect(unscoped).toEqual(["SessionManager"]);
    const read = doc.Statement.find((s: { Sid: string }) => s.Sid === "ReadOwnSecrets");
    // Its three slot secrets and the secrets-encryption key.
    expect(read.Resource).toHaveLength(4);
    read.Resource.forEach((arn: string) => expect(arn).toMatch(/^\$\{aws_secretsmanager_secret\.[^.]+\.arn\}$/));
  });

  it("renders user data that claims an API slot and synchronises time, within 16 KB", () => {
    const text = userDataOf(apiTemplate(json));
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(text).toContain("NODE_ROLE='apiserver'");
    expect(text).toContain("DATA_VOLUME='none'");
    const files = nodeFilesOf(json, apiTemplate(json));
    expect(files.find((f) => f.path === "/etc/chrony/sources.d/amazon-time-sync.sources")?.content).toContain("server 169.254.169.123 prefer iburst minpoll 4 maxpoll 4");
    expect(userDataLimitOk(rawUserDataOf(apiTemplate(json)))).toBe(true);
  });

  it("claims slot data volumes on API servers when etcd is stacked", () => {
    const stacked = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "st", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0", etcdTopology: EtcdTopology.STACKED }));
    const group = resources(stacked, "aws_autoscaling_group");
    expect(group).toHaveLength(1);
    const lt = follow(stacked, group[0].props.launch_template.id);
    expect(userDataOf(lt)).toContain("DATA_VOLUME='by-slot'");
    expect(lt.props.vpc_security_group_ids).toHaveLength(2);
  });
});
