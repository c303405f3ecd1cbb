import { ConfigError } from "../errors";
import { checkInteger } from "../validate";

/**
 * Health-check timing of the API target group and what follows from it. Pure arithmetic shared by
 * the load balancer (which sets it), the node bootstrap (which derives `--shutdown-delay-duration`)
 * and the rolling-update settings (which wait at least the re-admission time).
 */
export interface HealthCheckTiming {
  /** Seconds between checks (NLB: 5–300). */
  readonly intervalSeconds: number;
  /** Seconds before a check times out (2–120, less than the interval). */
  readonly timeoutSeconds: number;
  /** Consecutive successes to mark a target healthy (2–10). */
  readonly healthyThreshold: number;
  /** Consecutive failures to mark a target unhealthy (2–10). */
  readonly unhealthyThreshold: number;
}

/** Defaults: a dead API server is out of rotation in 10 s and back in 10 s. */
export const DEFAULT_HEALTH_CHECK: HealthCheckTiming = {
  intervalSeconds: 5,
  timeoutSeconds: 3,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
};

/** Margin added on top of detection before the API server stops accepting connections. */
export const SHUTDOWN_MARGIN_SECONDS = 5;

/** Seconds until the load balancer stops routing to a failed target: interval × unhealthy threshold. */
export function detectionTimeSeconds(t: HealthCheckTiming): number {
  return t.intervalSeconds * t.unhealthyThreshold;
}

/** Seconds until a recovered target receives traffic again: interval × healthy threshold. */
export function readmissionTimeSeconds(t: HealthCheckTiming): number {
  return t.intervalSeconds * t.healthyThreshold;
}

/**
 * The API server's `--shutdown-delay-duration`: on SIGTERM `/readyz` fails at once while the server
 * keeps serving; it must keep serving until the load balancer has noticed (detection time), plus
 * one interval for a check already in flight, plus a margin.
 */
export function shutdownDelaySeconds(t: HealthCheckTiming): number {
  return detectionTimeSeconds(t) + t.intervalSeconds + SHUTDOWN_MARGIN_SECONDS;
}

/** Validates timing against the NLB's rules; `prefix` names the props in errors. */
export function checkHealthCheckTiming(prefix: string, t: HealthCheckTiming): void {
  checkInteger(`${prefix}IntervalSeconds`, t.intervalSeconds, 5, 300, "NLB health checks run every 5 to 300 seconds");
  checkInteger(`${prefix}TimeoutSeconds`, t.timeoutSeconds, 2, 120, "NLB health-check timeouts are 2 to 120 seconds");
  checkInteger(`${prefix}HealthyThreshold`, t.healthyThreshold, 2, 10);
  checkInteger(`${prefix}UnhealthyThreshold`, t.unhealthyThreshold, 2, 10);
  if (t.timeoutSeconds >= t.intervalSeconds) {
    throw new ConfigError(
      `${prefix}TimeoutSeconds`,
      t.timeoutSeconds,
      `must be shorter than ${prefix}IntervalSeconds (${t.intervalSeconds})`,
      `use at most ${t.intervalSeconds - 1}`,
    );
  }
}
