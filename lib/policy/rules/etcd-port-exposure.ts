import { ETCD_CLIENT_PORT, ETCD_PEER_PORT } from "../../security/security-groups";
import { PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { INGRESS_TYPES, coversTcpPort, describePorts, etcdGroups, ingressOf, resolveGroup } from "../security-groups";
import { displayName, roleOf } from "../values";

const ETCD_PORTS = [ETCD_CLIENT_PORT, ETCD_PEER_PORT];
const TRUSTED_ROLES = ["etcd", "apiserver"];

/**
 * HA-SG2: etcd's client and peer ports are reachable only from the etcd and API-server groups.
 * Applies to groups that protect etcd: role `etcd`, and groups attached next to it (stacked API
 * servers).
 */
export const ETCD_PORT_EXPOSURE: PolicyRule = {
  id: "HA-SG2",
  level: PolicyLevel.ERROR,
  description: `etcd ports ${ETCD_CLIENT_PORT}/${ETCD_PEER_PORT} are open only to the etcd and API-server security groups (no CIDR, no other group)`,
  fix: `allow ${ETCD_CLIENT_PORT} only from the API-server and etcd groups and ${ETCD_PEER_PORT} only from the etcd group (referenced_security_group_id); workers and networks reach the cluster through the API`,
  appliesTo: INGRESS_TYPES,
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    const ingress = ingressOf(resource);
    if (!ingress) return RuleResult.notApplicable("not an ingress rule");
    const group = resolveGroup(ingress.group, context);
    if (!group) return RuleResult.notApplicable("the group is not declared in this stack");
    if (!etcdGroups(context).has(group.address)) return RuleResult.notApplicable("the group does not protect etcd");
    const offending: string[] = [];
    let undecided = false;
    for (const p of ingress.permissions) {
      const covered = ETCD_PORTS.map((port) => coversTcpPort(p, port));
      if (covered.every((c) => c === false)) continue;
      if (!covered.some((c) => c === true)) {
        undecided = true;
        continue;
      }
      const sources: string[] = [...p.cidrs, ...p.prefixLists.map((pl) => `prefix list ${pl}`)];
      for (const source of p.sourceGroups) {
        const peer = context.follow(source);
        const role = peer?.type === "aws_security_group" ? roleOf(peer.config) : undefined;
        if (role !== undefined && TRUSTED_ROLES.includes(role)) continue;
        sources.push(peer ? `group ${displayName(peer.config, peer.address)} (role ${role ?? "none"})` : `group ${String(source)} (not declared in this stack)`);
      }
      if (sources.length > 0) offending.push(`${describePorts(p)} from ${sources.join(", ")}`);
    }
    if (offending.length > 0) {
      return RuleResult.nonCompliant(`etcd group ${displayName(group.config, group.address)} allows ${offending.join("; ")}`);
    }
    return undecided ? RuleResult.notApplicable("protocol or ports known only at apply time") : RuleResult.compliant();
  },
};
