import { ElementKind, PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { clusterOf, isEtcdDataVolume, isExpression, literalNumber } from "../values";

/** etcd data volumes per cluster tag. */
function volumesByCluster(context: PolicyContext): Map<string, ResourceView[]> {
  return context.memo("etcd-volumes", () => {
    const byCluster = new Map<string, ResourceView[]>();
    for (const r of context.ofType("aws_ebs_volume")) {
      if (r.kind !== ElementKind.RESOURCE || !isEtcdDataVolume(r.type, r.config)) continue;
      const cluster = clusterOf(r.config);
      byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), r]);
    }
    return byCluster;
  });
}

/**
 * HA-ETCD1: an odd number of etcd members. Four members tolerate one failure like three, and
 * split votes; six tolerate two like five. Members are counted by their data volumes (one per
 * member, `count` honoured), once per cluster, on its first volume.
 */
export const ETCD_MEMBER_COUNT: PolicyRule = {
  id: "HA-ETCD1",
  level: PolicyLevel.ERROR,
  description: "Each cluster has an odd number of etcd members (counted by etcd data volumes)",
  fix: "use 3 or 5 members (etcdMemberCount; stacked etcd: apiServerCount)",
  appliesTo: ["aws_ebs_volume"],
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    if (!isEtcdDataVolume(resource.type, resource.config)) return RuleResult.notApplicable("not an etcd data volume");
    const cluster = clusterOf(resource.config);
    const volumes = volumesByCluster(context).get(cluster) ?? [];
    if (volumes[0]?.address !== resource.address) return RuleResult.notApplicable(`evaluated on ${volumes[0]?.address}`);
    let members = 0;
    for (const v of volumes) {
      if (v.config.for_each !== undefined) return RuleResult.notApplicable("a volume uses for_each");
      if (v.config.count === undefined) {
        members += 1;
        continue;
      }
      const count = literalNumber(v.config.count);
      if (count === undefined || isExpression(v.config.count)) return RuleResult.notApplicable("a volume count is known only at apply time");
      members += count;
    }
    if (members % 2 === 1) return RuleResult.compliant();
    return RuleResult.nonCompliant(
      `etcd${cluster ? ` of cluster ${cluster}` : ""} has ${members} members (data volumes): an even count tolerates no more failures than ${members - 1} and can split votes`,
    );
  },
};
