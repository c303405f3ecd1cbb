/**
 * Issue 18 finding 5: a node group's first instances (and a scale-out's) boot into what they claim
 * and read — their slot interface and data volume (`ha-claim-slot`), their slot secret's value under
 * its resource policy (`ha-fetch-secrets`), their role's permissions. Terraform orders creation only
 * by references and `depends_on`; nothing in a group references those, so without `depends_on` the
 * groups are created in parallel with them and a fast boot races them. The `terraform plan` of the
 * examples (tier 2) proves the added edges make no cycle.
 */
import { EtcdTopology, HaControlPlane } from "../../lib";
import { SynthJson, resources, synth } from "../helpers/synth";

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
/** What the node scripts touch at first boot, by AWS resource type. */
const READ_AT_BOOT = ["aws_network_interface", "aws_ebs_volume", "aws_secretsmanager_secret_version", "aws_secretsmanager_secret_policy", "aws_iam_role_policy"];

function expectGroupsAfterBootResources(json: SynthJson): void {
  const expected = READ_AT_BOOT.flatMap((type) => resources(json, type).map((r) => `${type}.${r.name}`));
  expect(expected.filter((a) => a.startsWith("aws_network_interface.")).length).toBeGreaterThanOrEqual(3);
  expect(expected.filter((a) => a.startsWith("aws_secretsmanager_secret_version.")).length).toBeGreaterThanOrEqual(3);
  const groups = resources(json, "aws_autoscaling_group");
  expect(groups.length).toBeGreaterThan(0);
  for (const g of groups) {
    const dependsOn = new Set((g.props.depends_on as string[] | undefined) ?? []);
    expect([g.props.name, expected.filter((a) => !dependsOn.has(a))]).toEqual([g.props.name, []]);
  }
}

describe("node groups are created after what their nodes claim and read at boot", () => {
  it.each([EtcdTopology.EXTERNAL, EtcdTopology.STACKED])("%s etcd", (etcdTopology) => {
    expectGroupsAfterBootResources(synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, etcdTopology })));
  });

  it("six API servers and five etcd members (a scale-out declares new slots with the group)", () => {
    expectGroupsAfterBootResources(synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, apiServerCount: 6, etcdMemberCount: 5 })));
  });
});
