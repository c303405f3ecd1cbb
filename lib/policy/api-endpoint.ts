/** Recognising the API target groups and the outputs `HaControlPlane` publishes about them. */
import { API_PORT } from "../security/security-groups";
import { OutputView, PolicyContext, ResourceView } from "./context";
import { block, list, literalNumber, roleOf } from "./values";

/** Target group types (`aws_alb_target_group` is the provider's alias). */
export const TARGET_GROUP_TYPES = ["aws_lb_target_group", "aws_alb_target_group"] as const;
/** Output listing the API target groups (see `HaControlPlane`). */
export const TARGET_GROUPS_OUTPUT = "api_target_group_arns";
/** Output holding the API servers' `--shutdown-delay-duration` in seconds (see `HaControlPlane`). */
export const SHUTDOWN_DELAY_OUTPUT = "api_shutdown_delay_seconds";

/** Provider defaults of `health_check` when not set (NLB and ALB alike). */
export const HEALTH_CHECK_DEFAULTS = {
  /** `health_check.interval` in seconds when unset. */
  interval: 30,
  /** `health_check.unhealthy_threshold` (consecutive failed checks) when unset. */
  unhealthyThreshold: 3,
} as const;

function referencedBy(output: OutputView, tg: ResourceView, context: PolicyContext): boolean {
  return list(output.value).some((v) => context.follow(v)?.address === tg.address);
}

/**
 * True for a target group in front of kube-apiserver: port 6443, tagged with role `api-lb`, or
 * listed in an `api_target_group_arns` output.
 */
export function isApiTargetGroup(tg: ResourceView, context: PolicyContext): boolean {
  if (literalNumber(tg.config.port) === API_PORT || roleOf(tg.config) === "api-lb") return true;
  return context.outputsNamed(TARGET_GROUPS_OUTPUT).some((o) => referencedBy(o, tg, context));
}

/** The parent construct path of an output (`stack/ControlPlane` for `stack/ControlPlane/x`). */
function parentOf(o: OutputView): string | undefined {
  return o.path?.split("/").slice(0, -1).join("/");
}

/**
 * The shutdown-delay output that applies to a target group: the one next to an
 * `api_target_group_arns` output listing it, else the only one in the stack.
 */
export function shutdownDelayOutputFor(tg: ResourceView, context: PolicyContext): OutputView | undefined {
  const delays = context.outputsNamed(SHUTDOWN_DELAY_OUTPUT);
  const listing = context.outputsNamed(TARGET_GROUPS_OUTPUT).find((o) => referencedBy(o, tg, context));
  if (listing !== undefined) {
    const sibling = delays.find((d) => parentOf(d) === parentOf(listing));
    if (sibling !== undefined) return sibling;
  }
  return delays.length === 1 ? delays[0] : undefined;
}

/** The target group's `health_check` block, if declared. */
export function healthCheckOf(tg: ResourceView): Record<string, unknown> | undefined {
  return block(tg.config.health_check);
}
