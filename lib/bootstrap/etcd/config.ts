import { toYaml } from "../../yaml";
import { ConfigError } from "../../errors";
import { isUnresolved } from "../../validate";

/**
 * Pure renderer of an etcd member's `--config-file` YAML. Everything that differs between a node and
 * a test (addresses, ports, paths, timings) is a typed parameter, so tests map members to network
 * namespaces or loopback and files to temp dirs without touching the rendered text.
 *
 * Only keys that etcd 3.4 and 3.5 both read are rendered (3.5-only keys left out:
 * `tls-min-version` (3.5 defaults to TLS 1.2, and 3.4 never accepts less),
 * `experimental-compact-hash-check-enabled`, `listen-client-http-urls`). etcd ignores unknown keys
 * in a config file silently, so the end-to-end tier checks the settings took effect instead.
 */

/** Defaults of the rendered configuration (field guide §4, kubeadm's layout). */
export const ETCD_CONFIG_DEFAULTS = {
  /** etcd's client port (`listen-client-urls`). */
  clientPort: 2379,
  /** etcd's peer port (`listen-peer-urls`). */
  peerPort: 2380,
  /** Plain-HTTP `/metrics` and `/health` on 127.0.0.1 (`listen-metrics-urls`), kubeadm's choice. */
  metricsPort: 2381,
  /** `data-dir`, inside the data volume's mount point `/var/lib/etcd`. */
  dataDir: "/var/lib/etcd/data",
  /** Directory of the kubeadm-layout certificates (`etcd/server.crt`, …). */
  pkiDir: "/etc/kubernetes/pki",
  /** `heartbeat-interval` in milliseconds, etcd's default. */
  heartbeatIntervalMs: 100,
  /** `election-timeout` in milliseconds, etcd's default (10 heartbeats). */
  electionTimeoutMs: 1000,
  /** 2 GiB, etcd's own default. */
  quotaBackendBytes: 2 * 1024 ** 3,
  /** 8 GiB, etcd's suggested maximum. */
  maxQuotaBackendBytes: 8 * 1024 ** 3,
  /** `auto-compaction-retention` with `auto-compaction-mode: periodic`: keep one hour of history. */
  autoCompactionRetention: "1h",
} as const;

/**
 * TLS 1.2 suites etcd may negotiate: ECDHE with AEAD only, for ECDSA and RSA keys (TLS 1.3 suites
 * are not configurable and always on).
 */
export const ETCD_CIPHER_SUITES: readonly string[] = [
  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
];

/** One member as every other member and client sees it. */
export interface EtcdMemberEndpoint {
  /** Member name (`etcd-0`, or the API server slot when stacked). */
  readonly name: string;
  /** Fixed private IPv4 address (may be a token). */
  readonly ip: string;
  /** Client port of this member. @default - the config's `clientPort` */
  readonly clientPort?: number;
  /** Peer port of this member. @default - the config's `peerPort` */
  readonly peerPort?: number;
  /** Metrics port of this member (on 127.0.0.1). @default - the config's `metricsPort` */
  readonly metricsPort?: number;
}

/** TLS files of a member, kubeadm layout by default (see {@link etcdTlsPaths}). */
export interface EtcdTlsPaths {
  /** Serving certificate of the client listener (`etcd/server.crt`). */
  readonly certFile: string;
  /** Private key of the client listener's certificate (`etcd/server.key`). */
  readonly keyFile: string;
  /** CA that client certificates must chain to (`etcd/ca.crt`: the etcd CA, not the Kubernetes CA). */
  readonly trustedCaFile: string;
  /** Peer certificate, server and client at once (`etcd/peer.crt`). */
  readonly peerCertFile: string;
  /** Private key of the peer certificate (`etcd/peer.key`). */
  readonly peerKeyFile: string;
  /** CA that peer certificates must chain to. */
  readonly peerTrustedCaFile: string;
}

/** What {@link renderEtcdConfig} renders a member's configuration from. */
export interface EtcdConfigInput {
  /** Name of the member this configuration is for; must be one of `members`. */
  readonly member: string;
  /** Every member of the cluster, in a stable order (the initial cluster). */
  readonly members: readonly EtcdMemberEndpoint[];
  /** `initial-cluster-token`: unique per cluster, so members of another cluster can never join. */
  readonly initialClusterToken: string;
  /**
   * `new` for founding members, `existing` for a member added to a running cluster. On nodes the
   * bootstrap script decides at boot and rewrites this key.
   * @default "new"
   */
  readonly initialClusterState?: "new" | "existing";
  /** `data-dir`: an absolute path without white space or quotes (ConfigError otherwise). @default "/var/lib/etcd/data" */
  readonly dataDir?: string;
  /** Client port the member listens on, 1–65535 (ConfigError otherwise). @default 2379 */
  readonly clientPort?: number;
  /** Peer port the member listens on, 1–65535 (ConfigError otherwise). @default 2380 */
  readonly peerPort?: number;
  /** Metrics (`/metrics`, `/health`) listen on 127.0.0.1 only. @default 2381 */
  readonly metricsPort?: number;
  /**
   * Directory of the kubeadm-layout certificates.
   * @default "/etc/kubernetes/pki"
   */
  readonly pkiDir?: string;
  /**
   * Override single TLS paths.
   * @default - kubeadm layout under `pkiDir` ({@link etcdTlsPaths})
   */
  readonly tls?: Partial<EtcdTlsPaths>;
  /**
   * `heartbeat-interval` in milliseconds: how often the leader tells followers it is alive; a whole
   * number from 10 to 5000, about the peer round-trip time (ConfigError otherwise).
   * @default 100
   */
  readonly heartbeatIntervalMs?: number;
  /** At least 5× the heartbeat; guidance: ≥ 10× the peer round trip. @default 1000 */
  readonly electionTimeoutMs?: number;
  /** Backend quota; NOSPACE blocks writes beyond it. @default 2 GiB, at most 8 GiB */
  readonly quotaBackendBytes?: number;
  /** Periodic compaction retention (`1h`, `30m`). @default "1h" */
  readonly autoCompactionRetention?: string;
  /** TLS 1.2 cipher suites. @default ETCD_CIPHER_SUITES */
  readonly cipherSuites?: readonly string[];
}

/** The kubeadm-layout etcd TLS files under `pkiDir`. */
export function etcdTlsPaths(pkiDir: string = ETCD_CONFIG_DEFAULTS.pkiDir): EtcdTlsPaths {
  return {
    certFile: `${pkiDir}/etcd/server.crt`,
    keyFile: `${pkiDir}/etcd/server.key`,
    trustedCaFile: `${pkiDir}/etcd/ca.crt`,
    peerCertFile: `${pkiDir}/etcd/peer.crt`,
    peerKeyFile: `${pkiDir}/etcd/peer.key`,
    peerTrustedCaFile: `${pkiDir}/etcd/ca.crt`,
  };
}

/** Ports shared by every member unless a member overrides them. */
export interface EtcdPortDefaults {
  /**
   * Client port of members that name none.
   * @default 2379
   */
  readonly clientPort?: number;
  /**
   * Peer port of members that name none.
   * @default 2380
   */
  readonly peerPort?: number;
}

/** `https://<ip>:<client port>` of a member. */
export function etcdClientUrl(member: EtcdMemberEndpoint, defaults: EtcdPortDefaults = {}): string {
  return `https://${member.ip}:${member.clientPort ?? defaults.clientPort ?? ETCD_CONFIG_DEFAULTS.clientPort}`;
}

/** `https://<ip>:<peer port>` of a member. */
export function etcdPeerUrl(member: EtcdMemberEndpoint, defaults: EtcdPortDefaults = {}): string {
  return `https://${member.ip}:${member.peerPort ?? defaults.peerPort ?? ETCD_CONFIG_DEFAULTS.peerPort}`;
}

/** `name=peerURL,...` of every member (`initial-cluster`, also for `snapshot restore`). */
export function etcdInitialCluster(members: readonly EtcdMemberEndpoint[], defaults: EtcdPortDefaults = {}): string {
  return members.map((m) => `${m.name}=${etcdPeerUrl(m, defaults)}`).join(",");
}

/** Client URLs of every member (what API servers and the bootstrap script dial). */
export function etcdClientUrls(members: readonly EtcdMemberEndpoint[], defaults: EtcdPortDefaults = {}): string[] {
  return members.map((m) => etcdClientUrl(m, defaults));
}

const MEMBER_NAME = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const TOKEN_TEXT = /^[A-Za-z0-9._-]{1,128}$/;
const RETENTION = /^[1-9][0-9]*[hm]$/;
const MIN_QUOTA_BYTES = 64 * 1024 ** 2;

function checkPort(prop: string, port: number | undefined): void {
  if (port === undefined || isUnresolved(port)) return;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(prop, port, "must be a TCP port from 1 to 65535", "use the default (client 2379, peer 2380, metrics 2381)");
  }
}

function checkAbsolute(prop: string, value: string): void {
  if (isUnresolved(value)) return;
  if (typeof value !== "string" || !value.startsWith("/") || /[\s"'\\]/.test(value)) {
    throw new ConfigError(prop, value, "must be an absolute path without white space or quotes", "use a path like /var/lib/etcd/data");
  }
}

/** Validates the timing, quota and compaction settings; returns them with defaults filled in. */
export function resolveEtcdTuning(input: Pick<EtcdConfigInput, "heartbeatIntervalMs" | "electionTimeoutMs" | "quotaBackendBytes" | "autoCompactionRetention">): {
  /** `heartbeat-interval` in milliseconds, 10–5000. */
  heartbeatIntervalMs: number;
  /** `election-timeout` in milliseconds, at least 5 heartbeats and at most 50000. */
  electionTimeoutMs: number;
  /** `quota-backend-bytes`, 64 MiB to 8 GiB. */
  quotaBackendBytes: number;
  /** `auto-compaction-retention`, e.g. `1h` or `30m`. */
  autoCompactionRetention: string;
} {
  const d = ETCD_CONFIG_DEFAULTS;
  const heartbeat = input.heartbeatIntervalMs ?? d.heartbeatIntervalMs;
  const election = input.electionTimeoutMs ?? d.electionTimeoutMs;
  const quota = input.quotaBackendBytes ?? d.quotaBackendBytes;
  const retention = input.autoCompactionRetention ?? d.autoCompactionRetention;
  if (!Number.isInteger(heartbeat) || heartbeat < 10 || heartbeat > 5000) {
    throw new ConfigError("etcd.heartbeatIntervalMs", heartbeat, "must be a whole number of milliseconds from 10 to 5000", "use 100 (etcd's default), or about the peer round-trip time");
  }
  if (!Number.isInteger(election) || election > 50000) {
    throw new ConfigError("etcd.electionTimeoutMs", election, "must be a whole number of milliseconds, at most 50000 (etcd's limit)", "use 1000 (etcd's default)");
  }
  if (election < 5 * heartbeat) {
    throw new ConfigError(
      "etcd.electionTimeoutMs",
      election,
      `must be at least 5 times etcd.heartbeatIntervalMs (${heartbeat}), or etcd refuses to start and elections flap`,
      `use ${Math.max(10 * heartbeat, 1000)} (10 heartbeats)`,
    );
  }
  if (!Number.isInteger(quota) || quota < MIN_QUOTA_BYTES || quota > d.maxQuotaBackendBytes) {
    throw new ConfigError(
      "etcd.quotaBackendBytes",
      quota,
      `must be a whole number of bytes from 64 MiB to 8 GiB (${d.maxQuotaBackendBytes}), etcd's suggested maximum`,
      `use ${d.quotaBackendBytes} (2 GiB) and compact/defragment, or at most ${d.maxQuotaBackendBytes}`,
    );
  }
  if (typeof retention !== "string" || !RETENTION.test(retention)) {
    throw new ConfigError("etcd.autoCompactionRetention", retention, "must be a positive duration in hours or minutes, like 1h or 30m", 'use "1h"');
  }
  return { heartbeatIntervalMs: heartbeat, electionTimeoutMs: election, quotaBackendBytes: quota, autoCompactionRetention: retention };
}

/** Validates the member list (names, addresses, ports); throws a ConfigError naming the fault. */
export function checkEtcdMembers(members: readonly EtcdMemberEndpoint[], defaults: EtcdPortDefaults = {}): void {
  if (!Array.isArray(members) || members.length < 1 || members.length > 7) {
    throw new ConfigError("etcd.members", members?.length, "must list 1 to 7 members", "use 3 or 5 members");
  }
  const names = new Set<string>();
  const peers = new Set<string>();
  for (const [i, m] of members.entries()) {
    if (typeof m.name !== "string" || !MEMBER_NAME.test(m.name)) {
      throw new ConfigError(`etcd.members[${i}].name`, m.name, "must be a lower-case DNS label (letters, digits, '-', '.')", 'use names like "etcd-0"');
    }
    if (names.has(m.name)) throw new ConfigError(`etcd.members[${i}].name`, m.name, "is used by two members", "give every member its own name");
    names.add(m.name);
    if (!isUnresolved(m.ip) && (typeof m.ip !== "string" || !IPV4.test(m.ip))) {
      throw new ConfigError(`etcd.members[${i}].ip`, m.ip, "must be an IPv4 address", "use the member's fixed private IP");
    }
    checkPort(`etcd.members[${i}].clientPort`, m.clientPort);
    checkPort(`etcd.members[${i}].peerPort`, m.peerPort);
    checkPort(`etcd.members[${i}].metricsPort`, m.metricsPort);
    const peer = etcdPeerUrl(m, defaults);
    if (!isUnresolved(peer) && peers.has(peer)) throw new ConfigError(`etcd.members[${i}].ip`, m.ip, `shares the peer URL ${peer} with another member`, "give every member its own address");
    peers.add(peer);
  }
}

/**
 * Renders the `etcd --config-file` YAML of one member: TLS on both listeners with client
 * certificates required (CIS 2.1-2.7), strict reconfiguration checks, metrics on 127.0.0.1, zap
 * logs to stderr (the journal).
 */
export function renderEtcdConfig(input: EtcdConfigInput): string {
  const ports: EtcdPortDefaults = { clientPort: input.clientPort, peerPort: input.peerPort };
  checkPort("etcd.clientPort", input.clientPort);
  checkPort("etcd.peerPort", input.peerPort);
  checkPort("etcd.metricsPort", input.metricsPort);
  checkEtcdMembers(input.members, ports);
  const self = input.members.find((m) => m.name === input.member);
  if (!self) {
    throw new ConfigError("etcd.member", input.member, `is not one of the members (${input.members.map((m) => m.name).join(", ")})`, "pass the name of a listed member");
  }
  if (!isUnresolved(input.initialClusterToken) && (typeof input.initialClusterToken !== "string" || !TOKEN_TEXT.test(input.initialClusterToken))) {
    throw new ConfigError("etcd.initialClusterToken", input.initialClusterToken, "must be 1-128 letters, digits, '.', '_' or '-'", 'use "<cluster name>-etcd"');
  }
  const state = input.initialClusterState ?? "new";
  if (state !== "new" && state !== "existing") {
    throw new ConfigError("etcd.initialClusterState", state, 'must be "new" or "existing"', 'use "new" for founding members');
  }
  const tuning = resolveEtcdTuning(input);
  const dataDir = input.dataDir ?? ETCD_CONFIG_DEFAULTS.dataDir;
  checkAbsolute("etcd.dataDir", dataDir);
  const pkiDir = input.pkiDir ?? ETCD_CONFIG_DEFAULTS.pkiDir;
  checkAbsolute("etcd.pkiDir", pkiDir);
  const tls: EtcdTlsPaths = { ...etcdTlsPaths(pkiDir), ...input.tls };
  for (const [key, value] of Object.entries(tls)) checkAbsolute(`etcd.tls.${key}`, value);
  const suites = input.cipherSuites ?? ETCD_CIPHER_SUITES;
  if (suites.length === 0) throw new ConfigError("etcd.cipherSuites", suites, "must not be empty", "leave it unset for the ECDHE AEAD suites");

  const clientPort = self.clientPort ?? input.clientPort ?? ETCD_CONFIG_DEFAULTS.clientPort;
  const metricsPort = self.metricsPort ?? input.metricsPort ?? ETCD_CONFIG_DEFAULTS.metricsPort;
  const clientUrl = etcdClientUrl(self, ports);
  const listenClient = self.ip === "127.0.0.1" ? [clientUrl] : [clientUrl, `https://127.0.0.1:${clientPort}`];
  const security = (cert: string, key: string, ca: string) => ({
    "cert-file": cert,
    "key-file": key,
    "trusted-ca-file": ca,
    "client-cert-auth": true,
    "auto-tls": false,
  });
  const config = {
    name: self.name,
    "data-dir": dataDir,
    "listen-client-urls": listenClient.join(","),
    "advertise-client-urls": clientUrl,
    "listen-peer-urls": etcdPeerUrl(self, ports),
    "initial-advertise-peer-urls": etcdPeerUrl(self, ports),
    "initial-cluster": etcdInitialCluster(input.members, ports),
    "initial-cluster-state": state,
    "initial-cluster-token": input.initialClusterToken,
    "client-transport-security": security(tls.certFile, tls.keyFile, tls.trustedCaFile),
    "peer-transport-security": security(tls.peerCertFile, tls.peerKeyFile, tls.peerTrustedCaFile),
    "cipher-suites": [...suites],
    "strict-reconfig-check": true,
    "pre-vote": true,
    "experimental-initial-corrupt-check": true,
    "heartbeat-interval": tuning.heartbeatIntervalMs,
    "election-timeout": tuning.electionTimeoutMs,
    "quota-backend-bytes": tuning.quotaBackendBytes,
    "auto-compaction-mode": "periodic",
    "auto-compaction-retention": tuning.autoCompactionRetention,
    "listen-metrics-urls": `http://127.0.0.1:${metricsPort}`,
    logger: "zap",
    "log-outputs": ["stderr"],
    "log-level": "info",
  };
  // lineWidth 0: never fold; the bootstrap script reads and rewrites single-line top-level keys.
  return toYaml(config, { lineWidth: 0 });
}
