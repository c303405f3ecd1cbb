import { ConfigError } from "../../errors";
import { renderOneshotService, renderSystemdUnit } from "../systemd";

/** Paths the etcd unit refers to. */
export interface EtcdUnitInput {
  /** Absolute path of the etcd binary the unit executes. @default "/usr/local/bin/etcd" */
  readonly etcdBinary?: string;
  /** Config written by the bootstrap script. @default "/etc/etcd/etcd.yaml" */
  readonly configFile?: string;
  /**
   * The member bootstrap script the unit runs before every start (`ExecStartPre`) and, with `promote`, after it.
   * @default "/usr/local/sbin/ha-etcd-bootstrap"
   */
  readonly bootstrapScript?: string;
  /**
   * Install script run before every start (idempotent: a version check when installed), so a
   * download that failed at boot is retried with the unit's restarts.
   * @default - none (etcd installed otherwise)
   */
  readonly installScript?: string;
  /**
   * `ha-etcd-trust`, run as ExecStartPre (`--record`) after the bootstrap: records the CAs this
   * start trusts, so a refresh can tell when the bundle gained or lost one.
   * @default - none recorded (no restart on a CA rotation)
   */
  readonly trustScript?: string;
  /** Longest wait for chrony before starting anyway. @default 60 */
  readonly timeSyncWaitSeconds?: number;
  /**
   * Start timeout: time sync, the bootstrap script (quorum wait, reconfiguration retries and the
   * learner's promotion are bounded at 300 s each; they rarely all take long) and, for founding members, waiting for the peers to boot.
   * @default 900
   */
  readonly startTimeoutSeconds?: number;
  /**
   * Mount point of the member's data volume: the unit refuses to start (a failed assertion that
   * names the path) unless a file system is mounted there, so etcd never writes its data to the
   * root disk, where a replacement node would not find it.
   * @default - no mount required
   */
  readonly dataMountPath?: string;
  /**
   * etcd's data directory (the config's `data-dir`): made `etcd:etcd` 0700 before every start, as
   * are the mount point and everything below it (the bootstrap and restore scripts run as root).
   * @default "/var/lib/etcd/data"
   */
  readonly dataDir?: string;
  /**
   * System user etcd runs as (created by {@link renderEtcdUserUnit}'s unit, which this one requires).
   * @default "etcd"
   */
  readonly user?: string;
}

/** Name of the unit that creates etcd's system user (see {@link renderEtcdUserUnit}). */
export const ETCD_USER_UNIT = "ha-etcd-user.service";

/**
 * The oneshot unit that creates etcd's system user before `etcd.service` starts. systemd resolves
 * `User=` before it spawns any of the unit's commands, even a `+` (full privileges) `ExecStartPre`:
 * on a fresh node, where no `etcd` user exists yet, every start of etcd.service fails with
 * "Failed at step USER spawning …: No such process" and the install script that would create the
 * user never runs. `etcd.service` requires and starts after this unit.
 */
export function renderEtcdUserUnit(user = "etcd", home = "/var/lib/etcd"): string {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) {
    throw new ConfigError("etcd.user", user, "is not a system user name", 'use "etcd"');
  }
  return renderOneshotService({
    description: `Create the ${user} system user etcd.service runs as`,
    before: ["etcd.service"],
    remainAfterExit: true,
    execStart: `/bin/sh -c 'getent passwd ${user} >/dev/null || useradd -rUM -d ${home} -s /usr/sbin/nologin ${user}'`,
    install: false,
  });
}

/**
 * The systemd unit of an etcd member. Requires and starts after the slot claim and the certificate
 * fetch (and, given `dataMountPath`, asserts the data volume is mounted), waits (bounded) for the
 * clock, installs the pinned etcd if needed, lets the bootstrap
 * script decide new/existing/replace, then runs `etcd --config-file`. `Type=notify`: etcd reports ready once it has joined a quorum.
 * A member that joins a running cluster does so as a learner inside the bootstrap script (clients on
 * 127.0.0.1 only, promoted once in sync, bounded retries), so the etcd this unit starts always votes
 * and API servers never reach a learner.
 * Restarts forever (`StartLimitIntervalSec=0`), so a node that came up before its peers keeps trying.
 */
export function renderEtcdUnit(input: EtcdUnitInput = {}): string {
  const wait = input.timeSyncWaitSeconds ?? 60;
  const timeout = input.startTimeoutSeconds ?? 900;
  if (!Number.isInteger(wait) || wait < 0 || wait > 600) {
    throw new ConfigError("etcd.timeSyncWaitSeconds", wait, "must be a whole number of seconds from 0 to 600", "use 60");
  }
  if (!Number.isInteger(timeout) || timeout < wait + 120 || timeout > 3600) {
    throw new ConfigError("etcd.startTimeoutSeconds", timeout, `must be a whole number of seconds from ${wait + 120} (time sync wait + 2 min) to 3600`, "use 900");
  }
  if (input.dataMountPath !== undefined && !/^\/[A-Za-z0-9._/-]*$/.test(input.dataMountPath)) {
    throw new ConfigError("etcd.dataMountPath", input.dataMountPath, "must be an absolute path without white space or quotes", "use /var/lib/etcd");
  }
  const dataDir = input.dataDir ?? "/var/lib/etcd/data";
  if (!/^\/[A-Za-z0-9._/-]*$/.test(dataDir)) {
    throw new ConfigError("etcd.dataDir", dataDir, "must be an absolute path without white space or quotes", "use /var/lib/etcd/data");
  }
  const user = input.user ?? "etcd";
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) {
    throw new ConfigError("etcd.user", user, "is not a system user name", 'use "etcd"');
  }
  const owned = [...new Set([...(input.dataMountPath !== undefined ? [input.dataMountPath] : []), dataDir])].join(" ");
  const tries = Math.ceil(wait / 2);
  const timeSync =
    tries > 0
      ? [`-+/bin/sh -c 'chronyc waitsync ${tries} 0.1 0 2 >/dev/null 2>&1 || logger -t etcd -p daemon.warning "clock not synchronised after ${wait} s; starting etcd anyway"'`]
      : [];
  return renderSystemdUnit({
    unit: {
      Description: "etcd member of the HA control plane",
      Documentation: "https://etcd.io/docs/",
      Wants: "network-online.target",
      // Hard preconditions: the slot IP the certificates name, and the certificates. When either
      // fails, etcd's start fails as "Dependency failed" instead of restarting without them.
      // The user etcd runs as must exist before systemd spawns even the first ExecStartPre.
      Requires: ["ha-claim-slot.service", "ha-fetch-secrets.service", ETCD_USER_UNIT],
      After: `network-online.target ha-claim-slot.service ha-fetch-secrets.service ${ETCD_USER_UNIT} ha-time-sync.service chrony.service time-sync.target`,
      AssertPathIsMountPoint: input.dataMountPath,
      StartLimitIntervalSec: 0,
    },
    service: {
      Type: "notify",
      // CIS 1.1.11/1.1.12: etcd runs as its own user and owns its data directory (0700). It keeps
      // one capability, to re-read its certificates, which stay root:root 0600 (CIS 1.1.19) and are
      // replaced in place by the hourly refresh. The preparation steps ("+") run as root.
      User: user,
      Group: user,
      AmbientCapabilities: "CAP_DAC_READ_SEARCH",
      CapabilityBoundingSet: "CAP_DAC_READ_SEARCH",
      NoNewPrivileges: "yes",
      UMask: "0077",
      ExecStartPre: [
        ...timeSync,
        ...(input.installScript !== undefined ? [`+${input.installScript}`] : []),
        `+${input.bootstrapScript ?? "/usr/local/sbin/ha-etcd-bootstrap"}`,
        ...(input.trustScript !== undefined ? [`+${input.trustScript} --record`] : []),
        `+/bin/chown -R ${user}:${user} ${owned}`,
        `+/bin/chmod 700 ${owned}`,
      ],
      ExecStart: `${input.etcdBinary ?? "/usr/local/bin/etcd"} --config-file ${input.configFile ?? "/etc/etcd/etcd.yaml"}`,
      Restart: "always",
      RestartSec: "10s",
      TimeoutStartSec: timeout,
      LimitNOFILE: 65536,
      StandardOutput: "journal",
      StandardError: "journal",
    },
    install: { WantedBy: "multi-user.target" },
  });
}
