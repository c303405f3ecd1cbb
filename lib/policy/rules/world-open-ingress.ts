import { API_PORT } from "../../security/security-groups";
import { PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { INGRESS_TYPES, describePorts, ingressOf, isWorldOpen, resolveGroup } from "../security-groups";
import { displayName, roleOf } from "../values";

/**
 * HA-SG1: no ingress from the whole internet, except the Kubernetes API port on the API
 * load-balancer group (a deliberately public endpoint).
 */
export const WORLD_OPEN_INGRESS: PolicyRule = {
  id: "HA-SG1",
  level: PolicyLevel.ERROR,
  description: `Ingress from 0.0.0.0/0 or ::/0 is allowed only on TCP ${API_PORT} of the API load-balancer group (role api-lb)`,
  fix: `restrict the source to your client networks (allowedApiCidrs for the API), or open only TCP ${API_PORT} on the load-balancer group (tagged ha-control-plane/role = api-lb)`,
  appliesTo: INGRESS_TYPES,
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    const ingress = ingressOf(resource);
    if (!ingress) return RuleResult.notApplicable("not an ingress rule");
    const group = resolveGroup(ingress.group, context);
    const role = group ? roleOf(group.config) : undefined;
    const where = group ? `security group ${displayName(group.config, group.address)}${role ? ` (role ${role})` : ""}` : `security group ${String(ingress.group)}`;
    const offending: string[] = [];
    let undecided = false;
    for (const p of ingress.permissions) {
      const open = p.cidrs.filter(isWorldOpen);
      if (open.length === 0) continue;
      if (role === "api-lb") {
        if (p.protocol === "tcp" && p.fromPort === API_PORT && p.toPort === API_PORT) continue;
        if (p.protocol === undefined || p.portsUnknown) {
          undecided = true; // may be the API port, known only at apply time
          continue;
        }
      }
      offending.push(`${describePorts(p)} from ${open.join(" and ")}`);
    }
    if (offending.length > 0) return RuleResult.nonCompliant(`${where} allows ingress of ${offending.join("; ")} (the whole internet)`);
    return undecided ? RuleResult.notApplicable("protocol or ports known only at apply time") : RuleResult.compliant();
  },
};
