import { readFileSync } from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { toYaml } from "../yaml";
import { renderOneshotService, renderTimer } from "./systemd";

/**
 * Pure renderers of node user data (cloud-config). No provider imports: input is plain data (values
 * may be cdktf string tokens, which pass through as text and are resolved at synth).
 */

/** What a node needs to find its identity at boot. */
export interface NodeBootInput {
  /** The cluster's name (`CLUSTER_NAME` in `node.env`): scripts find the slot interfaces and secrets tagged with it. */
  readonly clusterName: string;
  /** Node role tag value of the slot interfaces to claim (`apiserver`, `etcd`). */
  readonly nodeRole: string;
  /**
   * Fixed slot name (an etcd member's ASG serves one slot).
   * @default - any free slot of the role in the node's zone
   */
  readonly slotName?: string;
  /**
   * Data volume: a volume id, `by-slot` (found by the claimed slot's tag), or `none`.
   * @default "none"
   */
  readonly dataVolume?: string;
  /**
   * Mount point of the data volume.
   * @default "/var/lib/etcd"
   */
  readonly dataMountPath?: string;
  /**
   * Secrets Manager name prefix of node secrets: the node reads `<prefix>/<slot>` after claiming its
   * slot, and again hourly to pick up renewed certificates.
   * @default - no secrets are fetched
   */
  readonly secretPrefix?: string;
  /**
   * Where certificates and keys are written.
   * @default "/etc/kubernetes/pki"
   */
  readonly pkiDir?: string;
  /**
   * Publish node health to CloudWatch every minute (clock offset, certificate expiry, and etcd
   * health when the node runs etcd).
   * @default - no metrics published
   */
  readonly metrics?: NodeMetricsInput;
}

/** What a node publishes to CloudWatch (see `ha-publish-metrics`). */
export interface NodeMetricsInput {
  /** CloudWatch namespace. */
  readonly namespace: string;
  /** The node runs an etcd member. */
  readonly runsEtcd: boolean;
  /**
   * etcd backend quota in bytes (for the size-against-quota metric).
   * @default 2147483648
   */
  readonly etcdQuotaBytes?: number;
}

/** Where the rendered files go on the node. */
export const NODE_PATHS = {
  /** The node's environment file (`KEY='value'` lines, validated by the scripts, never sourced as shell). */
  env: "/etc/ha-control-plane/node.env",
  /** Script that claims a free slot: attaches the slot's network interface and fixed IP. */
  claimScript: "/usr/local/sbin/ha-claim-slot",
  /** Oneshot unit running the slot claim at boot, before anything needs the slot IP. */
  claimUnit: "/etc/systemd/system/ha-claim-slot.service",
  /** chrony source for the Amazon Time Sync Service (169.254.169.123). */
  chronySources: "/etc/chrony/sources.d/amazon-time-sync.sources",
  /** chrony settings that go with it (`makestep 1.0 3`: step a clock more than 1 s off during the first three updates). */
  chronyConf: "/etc/chrony/conf.d/amazon-time-sync.conf",
  /** Script that fetches the slot's certificates and keys from Secrets Manager into the PKI directory. */
  fetchScript: "/usr/local/sbin/ha-fetch-secrets",
  /** Oneshot unit running the secret fetch at boot, after the slot claim. */
  fetchUnit: "/etc/systemd/system/ha-fetch-secrets.service",
  /** Timer re-running the fetch hourly, so re-issued certificates reach running nodes. */
  fetchTimer: "/etc/systemd/system/ha-fetch-secrets.timer",
  /** Unit the timer starts: the same fetch again; files change only when their content does. */
  refreshUnit: "/etc/systemd/system/ha-refresh-secrets.service",
  /** Oneshot unit that waits (up to 60 s) for chrony to synchronise before etcd and the kubelet start. */
  timeSyncUnit: "/etc/systemd/system/ha-time-sync.service",
  /** Script that publishes the node's clock offset and certificate lifetimes to CloudWatch. */
  metricsScript: "/usr/local/sbin/ha-publish-metrics",
  /** Oneshot unit running the metrics script. */
  metricsUnit: "/etc/systemd/system/ha-publish-metrics.service",
  /** Timer running the metrics unit every minute. */
  metricsTimer: "/etc/systemd/system/ha-publish-metrics.timer",
  /** Script that downloads the node's bootstrap bundle from S3 and extracts it only if its SHA-256 matches. */
  fetchBundleScript: "/usr/local/sbin/ha-fetch-bundle",
} as const;

/** EC2 user data limit (raw, before base64). */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;

const scripts = new Map<string, string>();

/**
 * A script of `lib/bootstrap/scripts/` as nodes receive it ({@link compactScript}), read once on
 * first use.
 */
export function nodeScript(name: string): string {
  let text = scripts.get(name);
  if (text === undefined) {
    text = compactScript(expandIncludes(readFileSync(path.join(__dirname, "scripts", name), "utf8")));
    scripts.set(name, text);
  }
  return text;
}

/**
 * Inlines shared shell functions: a line `# ha-include: NAME` is replaced by the text of
 * `scripts/include/NAME`, so every node script stays self-contained (the node runs it alone) while
 * the function is written once.
 */
export function expandIncludes(text: string): string {
  return text.replace(/^# ha-include: ([a-z0-9-]+\.sh)$/gm, (_, name: string) => readFileSync(path.join(__dirname, "scripts", "include", name), "utf8").trimEnd());
}

/**
 * Drops full-line comments (but the shebang) and blank lines outside here-documents: user data is
 * limited to 16 KB, and the commented source stays in the package. The tests run and shellcheck
 * this compacted form, which is what nodes execute.
 */
export function compactScript(text: string): string {
  const out: string[] = [];
  let heredocEnd: string | undefined;
  text.split("\n").forEach((line, i) => {
    if (heredocEnd !== undefined) {
      out.push(line);
      if (line === heredocEnd) heredocEnd = undefined;
      return;
    }
    const trimmed = line.trim();
    if (i > 0 && (trimmed === "" || trimmed.startsWith("#"))) return;
    out.push(line);
    const m = /<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1/.exec(line);
    if (m) heredocEnd = m[2];
  });
  return out.join("\n") + "\n";
}

/** The slot-claim script (`lib/bootstrap/scripts/ha-claim-slot.sh`). */
export function claimSlotScript(): string {
  return nodeScript("ha-claim-slot.sh");
}

/** The secret-fetch script (`lib/bootstrap/scripts/ha-fetch-secrets.sh`). */
export function fetchSecretsScript(): string {
  return nodeScript("ha-fetch-secrets.sh");
}

/** Quotes a value for a shell env file (tokens are quoted as-is: they resolve to plain ids). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A file cloud-init writes. */
export interface BootFile {
  /** Absolute path on the node (cloud-init `write_files[].path`). */
  readonly path: string;
  /** Octal mode as a string, e.g. `0600` for secrets, `0755` for scripts. */
  readonly permissions: string;
  /** The file's text, written as is. */
  readonly content: string;
}

/** What a role adds to the common boot (etcd, Kubernetes components). */
export interface BootExtras {
  /** Extra files. */
  readonly files: readonly BootFile[];
  /**
   * Extra env variables for `/etc/ha-control-plane/node.env`.
   * @default - none beyond the common ones
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra runcmd entries, after the common ones. */
  readonly runcmd: ReadonlyArray<readonly string[]>;
}

/** The env file the node scripts read. */
export function renderNodeEnv(input: NodeBootInput, extraEnv: Readonly<Record<string, string>> = {}): string {
  const vars: Record<string, string> = {
    CLUSTER_NAME: input.clusterName,
    NODE_ROLE: input.nodeRole,
    SLOT_NAME: input.slotName ?? "",
    DATA_VOLUME: input.dataVolume ?? "none",
    DATA_MOUNT: input.dataMountPath ?? "/var/lib/etcd",
    SECRET_PREFIX: input.secretPrefix ?? "",
    PKI_DIR: input.pkiDir ?? "/etc/kubernetes/pki",
    ...(input.metrics !== undefined
      ? {
          METRIC_NAMESPACE: input.metrics.namespace,
          RUNS_ETCD: String(input.metrics.runsEtcd),
          ETCD_QUOTA_BYTES: String(input.metrics.etcdQuotaBytes ?? 2147483648),
        }
      : {}),
    ...extraEnv,
  };
  return Object.entries(vars)
    .map(([k, v]) => `${k}=${shellQuote(v)}`)
    .join("\n")
    .concat("\n");
}

/** chrony sources: Amazon Time Sync Service over IPv4 and (on Nitro) IPv6. */
export function renderChronySources(): string {
  return [
    "# Amazon Time Sync Service (link-local, no security group needed)",
    "server 169.254.169.123 prefer iburst minpoll 4 maxpoll 4",
    "server fd00:ec2::123 iburst minpoll 4 maxpoll 4",
    "",
  ].join("\n");
}

/** chrony settings: step the clock on large offsets during the first updates only. */
export function renderChronyConf(): string {
  return ["makestep 1.0 3", "rtcsync", ""].join("\n");
}

/** The systemd unit that runs the claim script before etcd and the kubelet at every boot. */
export function renderClaimUnit(): string {
  return renderOneshotService({
    description: "Claim this node's control-plane slot (fixed-IP interface, data volume)",
    wants: ["network-online.target"],
    after: ["network-online.target"],
    before: ["etcd.service", "kubelet.service"],
    remainAfterExit: true,
    execStart: NODE_PATHS.claimScript,
  });
}

/**
 * Waits (bounded) for chrony to synchronise before etcd and the kubelet start: certificates and
 * leases need a right clock. After 60 s it lets them start anyway with a logged warning.
 */
export function renderTimeSyncUnit(): string {
  return renderOneshotService({
    description: "Wait for the clock to be synchronised (bounded)",
    after: ["chrony.service"],
    before: ["etcd.service", "kubelet.service"],
    remainAfterExit: true,
    execStart: `/bin/sh -c 'chronyc waitsync 60 0.1 0 1 || logger -t ha-time-sync "clock not synchronised after 60 s; starting anyway"'`,
  });
}

/**
 * The unit that writes the node's certificates after the slot is claimed, once per boot. It stays
 * active (`RemainAfterExit`): it is the hard precondition (`Requires=`) of etcd and the API server
 * configuration, and an active unit is not run again when those restart, so a passing Secrets
 * Manager outage cannot stop a restarting etcd that already has its certificates.
 */
export function renderFetchUnit(): string {
  return renderOneshotService({
    description: "Write this node's certificates and keys from Secrets Manager",
    requires: ["ha-claim-slot.service"],
    after: ["ha-claim-slot.service"],
    before: ["etcd.service", "kubelet.service"],
    remainAfterExit: true,
    execStart: NODE_PATHS.fetchScript,
  });
}

/** The hourly re-fetch the timer runs (the boot fetch stays active, so a timer cannot re-run it). */
export function renderRefreshUnit(): string {
  return renderOneshotService({
    description: "Refresh this node's certificates and keys from Secrets Manager",
    requires: ["ha-claim-slot.service"],
    after: ["ha-claim-slot.service", "ha-fetch-secrets.service"],
    execStart: NODE_PATHS.fetchScript,
    install: false,
  });
}

/** Hourly re-fetch, so certificates re-issued inside their renewal window reach the node. */
export function renderFetchTimer(): string {
  return renderTimer({ description: "Refresh this node's certificates hourly", onBootMinutes: 60, everyMinutes: 60, randomizedDelaySeconds: 300, unit: "ha-refresh-secrets.service" });
}

/** What cloud-init does on a node: the files it writes, then the commands of `runcmd`. */
export interface NodeBootPlan {
  /** Every file, `node.env` first. */
  readonly files: readonly BootFile[];
  /** `runcmd` entries: argument vectors, or a line of shell (see {@link renderNodeCloudConfig}). */
  readonly runcmd: ReadonlyArray<readonly string[] | string>;
}

/**
 * Everything a node of `input` gets at first boot: time sync, slot claim at every boot, the
 * secret fetch, metrics, and the role's extras.
 */
export function nodeBootPlan(input: NodeBootInput, extras: BootExtras = { files: [], runcmd: [] }): NodeBootPlan {
  const file = (p: string, permissions: string, content: string): BootFile => ({ path: p, permissions, content });
  const files: BootFile[] = [
    file(NODE_PATHS.env, "0644", renderNodeEnv(input, extras.env)),
    file(NODE_PATHS.claimScript, "0755", claimSlotScript()),
    file(NODE_PATHS.claimUnit, "0644", renderClaimUnit()),
    file(NODE_PATHS.chronySources, "0644", renderChronySources()),
    file(NODE_PATHS.chronyConf, "0644", renderChronyConf()),
    file(NODE_PATHS.timeSyncUnit, "0644", renderTimeSyncUnit()),
  ];
  const runcmd: string[][] = [
    ["systemctl", "daemon-reload"],
    ["systemctl", "restart", "chrony"],
    ["systemctl", "enable", "--now", "ha-time-sync.service"],
    ["systemctl", "enable", "--now", "ha-claim-slot.service"],
    ["sh", "-c", "snap start --enable amazon-ssm-agent 2>/dev/null || systemctl enable --now amazon-ssm-agent 2>/dev/null || true"],
  ];
  if (input.secretPrefix !== undefined) {
    files.push(
      file(NODE_PATHS.fetchScript, "0755", fetchSecretsScript()),
      file(NODE_PATHS.fetchUnit, "0644", renderFetchUnit()),
      file(NODE_PATHS.refreshUnit, "0644", renderRefreshUnit()),
      file(NODE_PATHS.fetchTimer, "0644", renderFetchTimer()),
    );
    runcmd.push(["systemctl", "enable", "--now", "ha-fetch-secrets.service", "ha-fetch-secrets.timer"]);
  }
  if (input.metrics !== undefined) {
    files.push(
      file(NODE_PATHS.metricsScript, "0755", nodeScript("ha-publish-metrics.sh")),
      file(
        NODE_PATHS.metricsUnit,
        "0644",
        renderOneshotService({ description: "Publish node health to CloudWatch", after: ["ha-claim-slot.service"], execStart: NODE_PATHS.metricsScript, install: false }),
      ),
      file(NODE_PATHS.metricsTimer, "0644", renderTimer({ description: "Publish node health every minute", onBootMinutes: 2, everyMinutes: 1 })),
    );
    runcmd.push(["systemctl", "enable", "--now", "ha-publish-metrics.timer"]);
  }
  for (const f of extras.files) files.push(file(f.path, f.permissions, f.content));
  for (const c of extras.runcmd) runcmd.push([...c]);
  return { files, runcmd };
}

/**
 * A cloud-config of `plan`: no SSH keys or passwords (Session Manager instead), chrony installed,
 * the files written (root-owned) and `runcmd`. A string `runcmd` entry is a line of the shell
 * script cloud-init makes of `runcmd` (an argument vector is quoted): `cmd || exit 1` stops the
 * entries after it.
 */
export function renderNodeCloudConfig(plan: NodeBootPlan): string {
  const doc = {
    ssh_pwauth: false,
    disable_root: true,
    packages: ["chrony"],
    write_files: plan.files.map((f) => ({ path: f.path, permissions: f.permissions, owner: "root:root", content: f.content })),
    runcmd: plan.runcmd.map((c) => (typeof c === "string" ? c : [...c])),
  };
  return `#cloud-config\n${toYaml(doc, { lineWidth: 0 })}`;
}

/**
 * The node's cloud-config with every file in the user data: time sync, slot claim at every boot,
 * no SSH keys or passwords (Session Manager instead). `BootstrapBundles` moves the files that are
 * the same on every node of a role into an S3 bundle instead (EC2 user data is limited to 16 KB).
 */
export function renderNodeUserData(input: NodeBootInput, extras: BootExtras = { files: [], runcmd: [] }): string {
  return renderNodeCloudConfig(nodeBootPlan(input, extras));
}

/**
 * User data as EC2 takes it: gzip-compressed (cloud-init detects gzip) and base64-encoded. The
 * 16 KB limit applies to the compressed bytes. Typed `Uint8Array` (a `Buffer` at run time) so the
 * published types do not need Node's types.
 */
export function compressUserData(text: string): Uint8Array {
  // Level 6: 0.6 % larger than level 9 at 40 % of the time (npm run bench).
  return gzipSync(Buffer.from(text, "utf8"), { level: 6 });
}

/** Combines the extras of several roles (etcd, backups, Kubernetes) into one. */
export function mergeBootExtras(...parts: ReadonlyArray<BootExtras | undefined>): BootExtras {
  const present = parts.filter((p): p is BootExtras => p !== undefined);
  // A file two roles both ship (ha-restore-node on a stacked member) is written once.
  const files = new Map<string, BootFile>();
  for (const f of present.flatMap((p) => p.files)) {
    const seen = files.get(f.path);
    if (seen !== undefined && (seen.content !== f.content || seen.permissions !== f.permissions)) throw new Error(`two different files for ${f.path}`);
    files.set(f.path, f);
  }
  return {
    files: [...files.values()],
    env: Object.assign({}, ...present.map((p) => p.env ?? {})),
    runcmd: present.flatMap((p) => p.runcmd),
  };
}
