import { PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { TARGET_GROUP_TYPES, healthCheckOf, isApiTargetGroup } from "../api-endpoint";
import { isExpression, literalBoolean, literalString } from "../values";

/**
 * HA-LB1: the API target groups check HTTPS `/readyz`. A TCP check passes as soon as the port
 * listens, so it keeps routing to an API server that lost etcd or is shutting down; the provider's
 * default protocol (HTTP) always fails against the TLS port.
 */
export const API_HEALTH_CHECK: PolicyRule = {
  id: "HA-LB1",
  level: PolicyLevel.ERROR,
  description: "API target groups (port 6443, role api-lb, or listed in api_target_group_arns) health-check HTTPS /readyz",
  fix: 'set health_check { protocol = "HTTPS", path = "/readyz", port = "traffic-port", matcher = "200" } and allow anonymous access to /readyz only',
  appliesTo: TARGET_GROUP_TYPES,
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    if (!isApiTargetGroup(resource, context)) return RuleResult.notApplicable("not an API target group");
    const check = healthCheckOf(resource);
    if (check === undefined) return RuleResult.nonCompliant("the API target group declares no health_check (the NLB default is a TCP check)");
    if (isExpression([check.enabled, check.protocol, check.path])) return RuleResult.notApplicable("health check known only at apply time");
    if (literalBoolean(check.enabled) === false) return RuleResult.nonCompliant("the API target group's health check is disabled");
    const protocol = literalString(check.protocol)?.toUpperCase();
    const path = literalString(check.path);
    const problems: string[] = [];
    if (protocol !== "HTTPS") problems.push(`protocol is ${protocol ?? "HTTP (provider default)"}`);
    if (path === undefined || !/^\/readyz(\?.*)?$/.test(path)) problems.push(`path is ${path === undefined ? "unset" : `"${path}"`}`);
    if (problems.length === 0) return RuleResult.compliant();
    return RuleResult.nonCompliant(`the API target group's health check is not HTTPS /readyz: ${problems.join(", ")}`);
  },
};
