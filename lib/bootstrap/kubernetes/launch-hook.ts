import { BootExtras, nodeScript } from "../node-user-data";
import { renderOneshotService } from "../systemd";

/** Input of {@link launchHookBootExtras}. */
export interface LaunchHookBootInput {
  /** Name of the group's launch lifecycle hook. */
  readonly hookName: string;
  /** Name of the Auto Scaling group. */
  readonly groupName: string;
  /**
   * Seconds after boot by which `/readyz` must have passed; the node completes nothing after
   * that (shorter than the hook's heartbeat timeout, so the completion never races the timeout).
   */
  readonly deadlineSeconds: number;
}

/**
 * What an API server adds to complete its launch lifecycle hook: `ha-complete-lifecycle`
 * (`lib/bootstrap/scripts/ha-complete-lifecycle.sh`) and a oneshot unit ordered after the
 * kubelet, started once on the first boot without blocking cloud-init (a reboot of an instance in
 * service has no lifecycle action to complete).
 */
export function launchHookBootExtras(input: LaunchHookBootInput): BootExtras {
  return {
    files: [
      { path: "/usr/local/sbin/ha-complete-lifecycle", permissions: "0755", content: nodeScript("ha-complete-lifecycle.sh") },
      {
        path: "/etc/systemd/system/ha-complete-lifecycle.service",
        permissions: "0644",
        content: renderOneshotService({
          description: "Complete the launch lifecycle hook once the local kube-apiserver is ready",
          wants: ["network-online.target"],
          after: ["network-online.target", "ha-kube-configure.service", "kubelet.service"],
          execStart: "/usr/local/sbin/ha-complete-lifecycle",
          timeoutStartSeconds: input.deadlineSeconds + 120,
          install: false,
        }),
      },
    ],
    env: {
      LAUNCH_HOOK_NAME: input.hookName,
      LAUNCH_HOOK_GROUP: input.groupName,
      LAUNCH_READY_DEADLINE_SECONDS: String(input.deadlineSeconds),
    },
    runcmd: [["systemctl", "start", "--no-block", "ha-complete-lifecycle.service"]],
  };
}
