import { PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { HEALTH_CHECK_DEFAULTS, SHUTDOWN_DELAY_OUTPUT, TARGET_GROUP_TYPES, healthCheckOf, isApiTargetGroup, shutdownDelayOutputFor } from "../api-endpoint";
import { isExpression, literalNumber } from "../values";

/**
 * HA-LB2: the API servers' `--shutdown-delay-duration` (the `api_shutdown_delay_seconds` output)
 * is at least the time the load balancer needs to notice a failing `/readyz`
 * (interval × unhealthy threshold). Shorter, and a rolling API server stops serving while the
 * load balancer still sends it requests.
 */
export const SHUTDOWN_DELAY: PolicyRule = {
  id: "HA-LB2",
  level: PolicyLevel.ERROR,
  description: `The ${SHUTDOWN_DELAY_OUTPUT} output is not shorter than the API target group's detection time (health_check interval × unhealthy_threshold)`,
  fix: "raise the API servers' --shutdown-delay-duration to detection time + one interval + a margin (ApiLoadBalancer.shutdownDelaySeconds), or detect faster (lower interval or unhealthy threshold)",
  appliesTo: TARGET_GROUP_TYPES,
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    if (!isApiTargetGroup(resource, context)) return RuleResult.notApplicable("not an API target group");
    const output = shutdownDelayOutputFor(resource, context);
    if (output === undefined) return RuleResult.notApplicable(`no ${SHUTDOWN_DELAY_OUTPUT} output for this target group`);
    const delay = literalNumber(output.value);
    if (delay === undefined) return RuleResult.notApplicable("shutdown delay known only at apply time");
    const check = healthCheckOf(resource) ?? {};
    if (isExpression([check.interval, check.unhealthy_threshold])) return RuleResult.notApplicable("health-check timing known only at apply time");
    const interval = literalNumber(check.interval) ?? HEALTH_CHECK_DEFAULTS.interval;
    const threshold = literalNumber(check.unhealthy_threshold) ?? HEALTH_CHECK_DEFAULTS.unhealthyThreshold;
    const detection = interval * threshold;
    if (delay >= detection) return RuleResult.compliant();
    return RuleResult.nonCompliant(
      `${SHUTDOWN_DELAY_OUTPUT} is ${delay} s but the load balancer needs ${detection} s (${interval} s × ${threshold}) to stop routing to a shutting-down API server`,
    );
  },
};
