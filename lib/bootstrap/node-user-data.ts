import { readFileSync } from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";

/**
 * Pure renderers of node user data (cloud-config). No provider imports: input is plain data (values
 * may be cdktf string tokens, which pass through as text and are resolved at synth).
 */

/** What a node needs to find its identity at boot. */
export interface NodeBootInput {
  /** Cluster name. */
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
}

/** Where the rendered files go on the node. */
export const NODE_PATHS = {
  env: "/etc/ha-control-plane/node.env",
  claimScript: "/usr/local/sbin/ha-claim-slot",
  claimUnit: "/etc/systemd/system/ha-claim-slot.service",
  chronySources: "/etc/chrony/sources.d/amazon-time-sync.sources",
  chronyConf: "/etc/chrony/conf.d/amazon-time-sync.conf",
} as const;

/** EC2 user data limit (raw, before base64). */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;

let claimScript: string | undefined;

/** The slot-claim script (`lib/bootstrap/scripts/ha-claim-slot.sh`), read once on first use. */
export function claimSlotScript(): string {
  claimScript ??= readFileSync(path.join(__dirname, "scripts", "ha-claim-slot.sh"), "utf8");
  return claimScript;
}

/** Quotes a value for a shell env file (tokens are quoted as-is: they resolve to plain ids). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The env file the claim script reads. */
export function renderNodeEnv(input: NodeBootInput): string {
  const vars: Record<string, string> = {
    CLUSTER_NAME: input.clusterName,
    NODE_ROLE: input.nodeRole,
    SLOT_NAME: input.slotName ?? "",
    DATA_VOLUME: input.dataVolume ?? "none",
    DATA_MOUNT: input.dataMountPath ?? "/var/lib/etcd",
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
  return [
    "[Unit]",
    "Description=Claim this node's control-plane slot (fixed-IP interface, data volume)",
    "Wants=network-online.target",
    "After=network-online.target",
    "Before=etcd.service kubelet.service",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=${NODE_PATHS.claimScript}`,
    "StandardOutput=journal",
    "StandardError=journal",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/**
 * The node's cloud-config: time sync, slot claim at every boot, no SSH keys or passwords
 * (Session Manager instead).
 */
export function renderNodeUserData(input: NodeBootInput): string {
  const doc = {
    ssh_pwauth: false,
    disable_root: true,
    packages: ["chrony"],
    write_files: [
      { path: NODE_PATHS.env, permissions: "0644", owner: "root:root", content: renderNodeEnv(input) },
      { path: NODE_PATHS.claimScript, permissions: "0755", owner: "root:root", content: claimSlotScript() },
      { path: NODE_PATHS.claimUnit, permissions: "0644", owner: "root:root", content: renderClaimUnit() },
      { path: NODE_PATHS.chronySources, permissions: "0644", owner: "root:root", content: renderChronySources() },
      { path: NODE_PATHS.chronyConf, permissions: "0644", owner: "root:root", content: renderChronyConf() },
    ],
    runcmd: [
      ["systemctl", "daemon-reload"],
      ["systemctl", "restart", "chrony"],
      ["systemctl", "enable", "--now", "ha-claim-slot.service"],
    ],
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
