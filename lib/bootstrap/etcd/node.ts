import { ConfigError } from "../../errors";
import { EtcdConfigInput, etcdClientUrls, renderEtcdConfig } from "./config";
import { DEFAULT_ETCD_RELEASE, EtcdRelease, etcdReleaseEnv } from "./release";
import { ETCD_USER_UNIT, renderEtcdUnit, renderEtcdUserUnit } from "./unit";
import { nodeScript } from "../node-user-data";
import { renderSystemdUnit } from "../systemd";

/**
 * What an etcd node adds to the common boot (slot claim, secret fetch, chrony): the pinned etcd
 * release, one rendered config per member the node may serve, the bootstrap script that turns it
 * into the running config at every start, and the systemd unit.
 */

/** Where the etcd files go on nodes. */
export interface EtcdNodePaths {
  /** `ha-etcd-install` (etcd-install.sh). */
  readonly installScript: string;
  /** `ha-etcd-bootstrap` (etcd-member-bootstrap.sh), the unit's ExecStartPre. */
  readonly bootstrapScript: string;
  /** `ha-etcd-trust` (ha-etcd-trust.sh): records the trusted CAs at start, restarts etcd when they change. */
  readonly trustScript: string;
  /** The systemd unit. */
  readonly unit: string;
  /** The unit creating etcd's system user, which the etcd unit requires. */
  readonly userUnit: string;
  /** Rendered configs, `<member>.yaml`. */
  readonly configDir: string;
  /** Running config the bootstrap script writes and etcd reads. */
  readonly config: string;
  /** Where etcd, etcdctl and etcdutl are installed. */
  readonly binDir: string;
}

/** Default node paths. */
export const ETCD_NODE_PATHS: EtcdNodePaths = {
  installScript: "/usr/local/sbin/ha-etcd-install",
  bootstrapScript: "/usr/local/sbin/ha-etcd-bootstrap",
  trustScript: "/usr/local/sbin/ha-etcd-trust",
  unit: "/etc/systemd/system/etcd.service",
  userUnit: `/etc/systemd/system/${ETCD_USER_UNIT}`,
  configDir: "/etc/ha-control-plane/etcd",
  config: "/etc/etcd/etcd.yaml",
  binDir: "/usr/local/bin",
};

/** Node scripts of the etcd boot. */
export type EtcdScriptName = "etcd-install.sh" | "etcd-member-bootstrap.sh" | "ha-etcd-trust.sh";

/** A script of `lib/bootstrap/scripts/`, read once. */
export function etcdScript(name: EtcdScriptName): string {
  return nodeScript(name);
}

/** What an etcd node is rendered from. */
export interface EtcdNodeInput extends Omit<EtcdConfigInput, "member" | "initialClusterState"> {
  /**
   * Members this node may become: one for a dedicated member node (its config and name are fixed),
   * several when the node takes whichever slot it claims (stacked etcd; the bootstrap script picks
   * `<SLOT_NAME>.yaml`).
   * @default - every member
   */
  readonly nodeMembers?: readonly string[];
  /**
   * The etcd release the node installs (version, SHA-256 per architecture, download/mirror URLs);
   * validated by `etcdReleaseUrls` (ConfigError on a bad version, checksum or URL).
   * @default DEFAULT_ETCD_RELEASE
   */
  readonly release?: EtcdRelease;
  /**
   * Where the binary, configuration, scripts and units go on the node; override single paths.
   * @default ETCD_NODE_PATHS
   */
  readonly paths?: Partial<EtcdNodePaths>;
  /**
   * Where the node's user data mounts the member's data volume (`NodeBootInput.dataMountPath`):
   * etcd refuses to start unless it is mounted. Empty: no mount required (data on the root disk).
   * @default "/var/lib/etcd"
   */
  readonly dataMountPath?: string;
}

/** A file cloud-init writes (same shape as the user-data renderer's `BootFile`). */
export interface EtcdBootFile {
  /** Absolute path on the node (cloud-init `write_files[].path`). */
  readonly path: string;
  /** Octal mode as a string, e.g. `0600` for the configuration, `0755` for scripts. */
  readonly permissions: string;
  /** The file's text, written as is. */
  readonly content: string;
}

/** What the user-data renderer adds for an etcd node (same shape as its `BootExtras`). */
export interface EtcdBootExtras {
  /** Files cloud-init writes: each member's configuration, the bootstrap and install scripts, the systemd unit. */
  readonly files: readonly EtcdBootFile[];
  /** Variables for `/etc/ha-control-plane/node.env`. */
  readonly env: Readonly<Record<string, string>>;
  /** After the common runcmd (which reloads systemd and starts the slot claim and secret fetch). */
  readonly runcmd: ReadonlyArray<readonly string[]>;
}

function nodeMembersOf(input: EtcdNodeInput): string[] {
  const names = input.members.map((m) => m.name);
  const chosen = input.nodeMembers ?? names;
  if (chosen.length === 0) throw new ConfigError("etcd.nodeMembers", chosen, "must name at least one member", "leave it unset for every member");
  for (const n of chosen) {
    if (!names.includes(n)) throw new ConfigError("etcd.nodeMembers", n, `is not one of the members (${names.join(", ")})`, "name members of etcd.members");
  }
  return [...new Set(chosen)];
}

/** The `node.env` variables the etcd scripts read (release, endpoints, paths, fixed member). */
export function etcdNodeEnv(input: EtcdNodeInput): Record<string, string> {
  const p = { ...ETCD_NODE_PATHS, ...input.paths };
  const chosen = nodeMembersOf(input);
  return {
    ...etcdReleaseEnv(input.release ?? DEFAULT_ETCD_RELEASE),
    HA_ETCD_BIN_DIR: p.binDir,
    HA_ETCD_CONFIG_DIR: p.configDir,
    HA_ETCD_CONFIG: p.config,
    HA_ETCD_ENDPOINTS: etcdClientUrls(input.members, { clientPort: input.clientPort }).join(","),
    HA_ETCD_MEMBER: chosen.length === 1 ? chosen[0] : "",
  };
}

/** The rendered config of each member the node may serve, by member name. */
export function etcdMemberConfigs(input: EtcdNodeInput): Map<string, string> {
  // The node-only keys (nodeMembers, release, paths, dataMountPath) are not config keys; the renderer ignores them.
  return new Map(nodeMembersOf(input).map((member) => [member, renderEtcdConfig({ ...input, member, initialClusterState: "new" })]));
}

/**
 * Files, env and runcmd of an etcd node. The unit installs etcd (ExecStartPre, retried with its
 * restarts) and is enabled with `--no-block`: a founding member is "started" only once a quorum of
 * its peers is up, which must not hold up cloud-init.
 */
export function etcdBootExtras(input: EtcdNodeInput): EtcdBootExtras {
  const p = { ...ETCD_NODE_PATHS, ...input.paths };
  const env = etcdNodeEnv(input);
  const configs = [...etcdMemberConfigs(input)].map(([member, content]) => ({ path: `${p.configDir}/${member}.yaml`, permissions: "0600", content }));
  return {
    files: [
      { path: p.installScript, permissions: "0755", content: etcdScript("etcd-install.sh") },
      { path: p.bootstrapScript, permissions: "0755", content: etcdScript("etcd-member-bootstrap.sh") },
      {
        path: p.unit,
        permissions: "0644",
        content: renderEtcdUnit({
          etcdBinary: `${p.binDir}/etcd`,
          configFile: p.config,
          bootstrapScript: p.bootstrapScript,
          trustScript: p.trustScript,
          installScript: p.installScript,
          dataMountPath: input.dataMountPath === "" ? undefined : (input.dataMountPath ?? "/var/lib/etcd"),
          dataDir: input.dataDir,
        }),
      },
      { path: p.userUnit, permissions: "0644", content: renderEtcdUserUnit() },
      ...configs,
      { path: p.trustScript, permissions: "0755", content: etcdScript("ha-etcd-trust.sh") },
      {
        // etcd reads its trusted CAs only at start: after each certificate refresh, a member whose
        // CA bundle gained or lost a CA (staged CA rotation) restarts, once every member is healthy.
        path: "/etc/systemd/system/ha-refresh-secrets.service.d/20-etcd-trust.conf",
        permissions: "0644",
        content: renderSystemdUnit({ service: { ExecStartPost: `${p.trustScript} --restart-if-changed` } }),
      },
    ],
    env,
    runcmd: [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "--no-block", "etcd.service"]],
  };
}
