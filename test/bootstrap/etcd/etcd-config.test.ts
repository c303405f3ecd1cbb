/**
 * lib/bootstrap/etcd/config.ts at its edges, against tables written from outside the library:
 *
 * - etcd "Tuning" (etcd.io/docs/v3.5/tuning): heartbeat 100 ms and election 1000 ms by default,
 *   "the upper limit of election timeout is 50000ms"; etcd refuses an election timeout under 5
 *   heartbeats ("--election-timeout[...] should be at least as 5 times as --heartbeat-interval").
 * - etcd "Maintenance" (space quota): 2 GiB default, 8 GiB suggested maximum.
 * - TCP ports 1-65535 (RFC 793 / RFC 6335); etcd's IANA ports 2379 (client) and 2380 (peer),
 *   kubeadm's metrics port 2381.
 * - IPv4 dotted decimal (RFC 791; inet_pton refuses leading zeros and octets above 255).
 * - etcd member names: a lower-case DNS name (RFC 1123: labels of letters, digits and '-', dots
 *   between them, at most 63 characters here: the library's documented limit).
 * - Go's crypto/tls names of the ECDHE AEAD TLS 1.2 suites.
 */
import { parse } from "yaml";
import { refusal } from "../../helpers/refusal";
import { Lazy } from "../../../lib/core";
import {
  ETCD_CIPHER_SUITES,
  ETCD_CONFIG_DEFAULTS,
  EtcdConfigInput,
  EtcdMemberEndpoint,
  checkEtcdMembers,
  etcdClientUrl,
  etcdClientUrls,
  etcdInitialCluster,
  etcdPeerUrl,
  etcdTlsPaths,
  renderEtcdConfig,
  resolveEtcdTuning,
} from "../../../lib/bootstrap/etcd/config";

const MEMBERS: EtcdMemberEndpoint[] = [
  { name: "etcd-0", ip: "10.0.1.10" },
  { name: "etcd-1", ip: "10.0.2.10" },
  { name: "etcd-2", ip: "10.0.3.10" },
];
const BASE: EtcdConfigInput = { member: "etcd-1", members: MEMBERS, initialClusterToken: "prod-etcd" };
const render = (over: Partial<EtcdConfigInput> = {}) => parse(renderEtcdConfig({ ...BASE, ...over })) as Record<string, unknown>;

describe("etcd defaults and cipher suites", () => {
  it("are etcd's own defaults and kubeadm's layout", () => {
    expect(ETCD_CONFIG_DEFAULTS).toEqual({
      clientPort: 2379,
      peerPort: 2380,
      metricsPort: 2381,
      dataDir: "/var/lib/etcd/data",
      pkiDir: "/etc/kubernetes/pki",
      heartbeatIntervalMs: 100,
      electionTimeoutMs: 1000,
      quotaBackendBytes: 2147483648,
      maxQuotaBackendBytes: 8589934592,
      autoCompactionRetention: "1h",
    });
  });
  it("are exactly Go's ECDHE AEAD TLS 1.2 suites, rendered in full", () => {
    const go = [
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    ];
    expect([...ETCD_CIPHER_SUITES]).toEqual(go);
    expect(render()["cipher-suites"]).toEqual(go);
    expect(render({ cipherSuites: ["TLS_AES_128_GCM_SHA256"] })["cipher-suites"]).toEqual(["TLS_AES_128_GCM_SHA256"]);
  });
  it("lay the TLS files out as kubeadm does", () => {
    expect(etcdTlsPaths()).toEqual({
      certFile: "/etc/kubernetes/pki/etcd/server.crt",
      keyFile: "/etc/kubernetes/pki/etcd/server.key",
      trustedCaFile: "/etc/kubernetes/pki/etcd/ca.crt",
      peerCertFile: "/etc/kubernetes/pki/etcd/peer.crt",
      peerKeyFile: "/etc/kubernetes/pki/etcd/peer.key",
      peerTrustedCaFile: "/etc/kubernetes/pki/etcd/ca.crt",
    });
    expect(etcdTlsPaths("/p").keyFile).toBe("/p/etcd/server.key");
  });
});

describe("URLs", () => {
  it("use the member's port, then the cluster's, then 2379/2380", () => {
    const m = { name: "a", ip: "10.0.0.1" };
    expect([etcdClientUrl(m), etcdPeerUrl(m)]).toEqual(["https://10.0.0.1:2379", "https://10.0.0.1:2380"]);
    expect([etcdClientUrl(m, { clientPort: 1, peerPort: 2 }), etcdPeerUrl(m, { clientPort: 1, peerPort: 2 })]).toEqual(["https://10.0.0.1:1", "https://10.0.0.1:2"]);
    const own = { ...m, clientPort: 3, peerPort: 4 };
    expect([etcdClientUrl(own, { clientPort: 1, peerPort: 2 }), etcdPeerUrl(own, { clientPort: 1, peerPort: 2 })]).toEqual(["https://10.0.0.1:3", "https://10.0.0.1:4"]);
    expect(etcdClientUrls(MEMBERS)).toEqual(["https://10.0.1.10:2379", "https://10.0.2.10:2379", "https://10.0.3.10:2379"]);
    expect(etcdClientUrls(MEMBERS, { clientPort: 12379 })).toEqual(["https://10.0.1.10:12379", "https://10.0.2.10:12379", "https://10.0.3.10:12379"]);
    expect(etcdInitialCluster(MEMBERS.slice(0, 2), { peerPort: 12380 })).toBe("etcd-0=https://10.0.1.10:12380,etcd-1=https://10.0.2.10:12380");
  });
  it("render the cluster-wide ports into every URL and the metrics port on 127.0.0.1", () => {
    const c = render({ clientPort: 12379, peerPort: 12380, metricsPort: 12381 });
    expect(c).toMatchObject({
      "listen-client-urls": "https://10.0.2.10:12379,https://127.0.0.1:12379",
      "advertise-client-urls": "https://10.0.2.10:12379",
      "listen-peer-urls": "https://10.0.2.10:12380",
      "initial-advertise-peer-urls": "https://10.0.2.10:12380",
      "initial-cluster": "etcd-0=https://10.0.1.10:12380,etcd-1=https://10.0.2.10:12380,etcd-2=https://10.0.3.10:12380",
      "listen-metrics-urls": "http://127.0.0.1:12381",
    });
  });
  it("overrides each TLS path on its own, and roots the rest in pkiDir", () => {
    const c = render({ pkiDir: "/srv/pki", tls: { keyFile: "/k/server.key", peerCertFile: "/k/peer.crt" } });
    expect(c["client-transport-security"]).toEqual({ "cert-file": "/srv/pki/etcd/server.crt", "key-file": "/k/server.key", "trusted-ca-file": "/srv/pki/etcd/ca.crt", "client-cert-auth": true, "auto-tls": false });
    expect(c["peer-transport-security"]).toEqual({ "cert-file": "/k/peer.crt", "key-file": "/srv/pki/etcd/peer.key", "trusted-ca-file": "/srv/pki/etcd/ca.crt", "client-cert-auth": true, "auto-tls": false });
  });
});

describe("tuning (etcd's documented limits)", () => {
  it.each<[string, Parameters<typeof resolveEtcdTuning>[0]]>([
    ["heartbeat 10 ms, election 50 ms (5 heartbeats)", { heartbeatIntervalMs: 10, electionTimeoutMs: 50 }],
    ["heartbeat 5000 ms, election 25000 ms", { heartbeatIntervalMs: 5000, electionTimeoutMs: 25000 }],
    ["election 50000 ms (etcd's upper limit)", { heartbeatIntervalMs: 100, electionTimeoutMs: 50000 }],
    ["quota 64 MiB", { quotaBackendBytes: 67108864 }],
    ["quota 8 GiB", { quotaBackendBytes: 8589934592 }],
    ["retention 30m", { autoCompactionRetention: "30m" }],
    ["retention 120h", { autoCompactionRetention: "120h" }],
  ])("accepts %s", (_t, input) => {
    expect(resolveEtcdTuning(input)).toEqual({ heartbeatIntervalMs: 100, electionTimeoutMs: 1000, quotaBackendBytes: 2147483648, autoCompactionRetention: "1h", ...input });
  });

  it.each<[string, Parameters<typeof resolveEtcdTuning>[0], string]>([
    ["heartbeat 9 ms", { heartbeatIntervalMs: 9, electionTimeoutMs: 1000 }, 'etcd.heartbeatIntervalMs is 9: must be a whole number of milliseconds from 10 to 5000; use 100 (etcd\'s default), or about the peer round-trip time'],
    ["heartbeat 5001 ms", { heartbeatIntervalMs: 5001, electionTimeoutMs: 50000 }, "etcd.heartbeatIntervalMs is 5001: must be a whole number of milliseconds from 10 to 5000"],
    ["heartbeat 100.5 ms", { heartbeatIntervalMs: 100.5 }, "etcd.heartbeatIntervalMs is 100.5: must be a whole number"],
    ["election 50001 ms", { electionTimeoutMs: 50001 }, "etcd.electionTimeoutMs is 50001: must be a whole number of milliseconds, at most 50000 (etcd's limit); use 1000 (etcd's default)"],
    ["election 1000.5 ms", { electionTimeoutMs: 1000.5 }, "etcd.electionTimeoutMs is 1000.5: must be a whole number of milliseconds, at most 50000 (etcd's limit); use 1000 (etcd's default)"],
    ["election 499 ms over a 100 ms heartbeat", { electionTimeoutMs: 499 }, "etcd.electionTimeoutMs is 499: must be at least 5 times etcd.heartbeatIntervalMs (100), or etcd refuses to start and elections flap; use 1000 (10 heartbeats)"],
    ["election 1999 ms over a 400 ms heartbeat", { heartbeatIntervalMs: 400, electionTimeoutMs: 1999 }, "etcd.electionTimeoutMs is 1999: must be at least 5 times etcd.heartbeatIntervalMs (400), or etcd refuses to start and elections flap; use 4000 (10 heartbeats)"],
    ["quota 64 MiB - 1", { quotaBackendBytes: 67108863 }, "etcd.quotaBackendBytes is 67108863: must be a whole number of bytes from 64 MiB to 8 GiB (8589934592), etcd's suggested maximum; use 2147483648 (2 GiB) and compact/defragment, or at most 8589934592"],
    ["quota 8 GiB + 1", { quotaBackendBytes: 8589934593 }, "etcd.quotaBackendBytes is 8589934593: must be a whole number of bytes"],
    ["retention 0h", { autoCompactionRetention: "0h" }, 'etcd.autoCompactionRetention is "0h": must be a positive duration in hours or minutes, like 1h or 30m; use "1h"'],
    ["retention 1s", { autoCompactionRetention: "1s" }, 'etcd.autoCompactionRetention is "1s": must be a positive duration'],
    ["retention 1h30m", { autoCompactionRetention: "1h30m" }, 'etcd.autoCompactionRetention is "1h30m": must be a positive duration'],
    ["retention x1h", { autoCompactionRetention: "x1h" }, 'etcd.autoCompactionRetention is "x1h": must be a positive duration'],
    ["retention 1", { autoCompactionRetention: "1" }, 'etcd.autoCompactionRetention is "1": must be a positive duration'],
    ["retention 60 (a number)", { autoCompactionRetention: 60 as unknown as string }, "etcd.autoCompactionRetention is 60: must be a positive duration"],
  ])("refuses %s", (_t, input, message) => {
    expect(refusal(() => resolveEtcdTuning(input)).message.startsWith(message)).toBe(true);
  });
});

describe("members", () => {
  it.each(["etcd-0", "a", "0", "apiserver-2", "etcd.eu-west-1a", `a${"b".repeat(61)}c`])("accepts the member name %j", (name) => {
    expect(() => checkEtcdMembers([{ name, ip: "10.0.0.1" }])).not.toThrow();
  });
  it.each(["", "-etcd", "etcd-", ".etcd", "etcd.", "Etcd", "etcd_0", "etcd 0", `a${"b".repeat(62)}c`, 5 as unknown as string])("refuses the member name %j", (name) => {
    const e = refusal(() => checkEtcdMembers([{ name, ip: "10.0.0.1" }]));
    expect(e.message).toBe(`etcd.members[0].name is ${JSON.stringify(name)}: must be a lower-case DNS label (letters, digits, '-', '.'); use names like "etcd-0"`);
  });
  it.each(["0.0.0.0", "10.0.0.1", "255.255.255.255", "192.168.100.199", "1.20.249.9", "203.0.113.7", "249.1.1.1", "250.1.1.1", "199.1.1.1", "99.1.1.1"])("accepts the IPv4 address %s", (ip) => {
    expect(() => checkEtcdMembers([{ name: "a", ip }])).not.toThrow();
  });
  it.each(["256.0.0.1", "10.0.0.256", "10.0.0", "10.0.0.1.2", "010.0.0.1", "10.00.0.1", "10.0.0.01", "1.2.3.4 ", " 1.2.3.4", "::1", "10.0.0.a", "300.1.1.1", "260.1.1.1", "1.2.3.4/32", ""])(
    "refuses the IPv4 address %j",
    (ip) => {
      const e = refusal(() => checkEtcdMembers([{ name: "a", ip }]));
      expect(e.message).toBe(`etcd.members[0].ip is ${JSON.stringify(ip)}: must be an IPv4 address; use the member's fixed private IP`);
    },
  );
  it("refuses a non-string address and 0 or 8 members (etcd clusters of 1 to 7)", () => {
    expect(refusal(() => checkEtcdMembers([{ name: "a", ip: 10 as unknown as string }])).prop).toBe("etcd.members[0].ip");
    expect(refusal(() => checkEtcdMembers([])).message).toBe("etcd.members is 0: must list 1 to 7 members; use 3 or 5 members");
    const eight = Array.from({ length: 8 }, (_, i) => ({ name: `m${i}`, ip: `10.0.0.${i + 1}` }));
    expect(refusal(() => checkEtcdMembers(eight)).message).toBe("etcd.members is 8: must list 1 to 7 members; use 3 or 5 members");
    expect(() => checkEtcdMembers(eight.slice(0, 7))).not.toThrow();
    expect(refusal(() => checkEtcdMembers(undefined as unknown as EtcdMemberEndpoint[])).message).toBe("etcd.members is undefined: must list 1 to 7 members; use 3 or 5 members");
  });
  it("names duplicate names and shared peer URLs with their index", () => {
    expect(refusal(() => checkEtcdMembers([MEMBERS[0], MEMBERS[1], { name: "etcd-1", ip: "10.0.9.9" }])).message).toBe('etcd.members[2].name is "etcd-1": is used by two members; give every member its own name');
    expect(refusal(() => checkEtcdMembers([MEMBERS[0], MEMBERS[1], { name: "etcd-2", ip: "10.0.2.10" }])).message).toBe(
      'etcd.members[2].ip is "10.0.2.10": shares the peer URL https://10.0.2.10:2380 with another member; give every member its own address',
    );
    expect(() => checkEtcdMembers([MEMBERS[0], { name: "etcd-1", ip: "10.0.1.10", peerPort: 2390 }])).not.toThrow();
    expect(refusal(() => checkEtcdMembers([MEMBERS[0], { name: "etcd-1", ip: "10.0.1.10", peerPort: 2390 }], { peerPort: 2390 })).prop).toBe("etcd.members[1].ip");
  });
  it("lets two token addresses through (known at apply)", () => {
    const t = () => Lazy.stringValue({ produce: () => "10.0.0.1" });
    expect(() => checkEtcdMembers([{ name: "a", ip: t() }, { name: "b", ip: t() }])).not.toThrow();
  });
  it.each<[keyof EtcdMemberEndpoint, number]>([
    ["clientPort", 0],
    ["clientPort", 65536],
    ["peerPort", 0],
    ["metricsPort", 65536],
    ["metricsPort", 2381.5],
  ])("refuses member %s %p as a TCP port", (key, port) => {
    const e = refusal(() => checkEtcdMembers([{ name: "a", ip: "10.0.0.1", [key]: port }]));
    expect(e.message).toBe(`etcd.members[0].${key} is ${port}: must be a TCP port from 1 to 65535; use the default (client 2379, peer 2380, metrics 2381)`);
  });
  it("accepts ports 1 and 65535", () => {
    expect(() => checkEtcdMembers([{ name: "a", ip: "10.0.0.1", clientPort: 1, peerPort: 65535, metricsPort: 1 }])).not.toThrow();
    expect(() => render({ clientPort: 1, peerPort: 65535, metricsPort: 65535 })).not.toThrow();
  });
});

describe("renderEtcdConfig refusals name the prop and the fix", () => {
  it.each<[string, Partial<EtcdConfigInput>, string]>([
    ["client port 65536", { clientPort: 65536 }, "etcd.clientPort is 65536: must be a TCP port from 1 to 65535"],
    ["peer port 0", { peerPort: 0 }, "etcd.peerPort is 0: must be a TCP port from 1 to 65535"],
    ["metrics port 70000", { metricsPort: 70000 }, "etcd.metricsPort is 70000: must be a TCP port from 1 to 65535"],
    ["a member not listed", { member: "etcd-9" }, 'etcd.member is "etcd-9": is not one of the members (etcd-0, etcd-1, etcd-2); pass the name of a listed member'],
    ["an empty token", { initialClusterToken: "" }, 'etcd.initialClusterToken is "": must be 1-128 letters, digits, \'.\', \'_\' or \'-\'; use "<cluster name>-etcd"'],
    ["a 129-character token", { initialClusterToken: "t".repeat(129) }, "etcd.initialClusterToken is"],
    ["a token with a slash", { initialClusterToken: "a/b" }, 'etcd.initialClusterToken is "a/b"'],
    ["a token with a trailing newline", { initialClusterToken: "prod\n" }, "etcd.initialClusterToken is"],
    ["a number token", { initialClusterToken: 5 as unknown as string }, "etcd.initialClusterToken is 5"],
    ["an unknown state", { initialClusterState: "join" as "new" }, 'etcd.initialClusterState is "join": must be "new" or "existing"; use "new" for founding members'],
    ["a data dir with a space", { dataDir: "/var/lib/etcd data" }, 'etcd.dataDir is "/var/lib/etcd data": must be an absolute path without white space or quotes; use a path like /var/lib/etcd/data'],
    ["a data dir with a double quote", { dataDir: '/var/"etcd' }, "etcd.dataDir is"],
    ["a data dir with a backslash", { dataDir: "/var/etcd\\x" }, "etcd.dataDir is"],
    ["a data dir with a tab", { dataDir: "/var/etcd\tx" }, "etcd.dataDir is"],
    ["a relative pki dir", { pkiDir: "pki" }, 'etcd.pkiDir is "pki": must be an absolute path'],
    ["a number pki dir", { pkiDir: 5 as unknown as string }, "etcd.pkiDir is 5: must be an absolute path"],
    ["a relative peer key", { tls: { peerKeyFile: "peer.key" } }, 'etcd.tls.peerKeyFile is "peer.key": must be an absolute path'],
    ["no cipher suites", { cipherSuites: [] }, "etcd.cipherSuites is []: must not be empty; leave it unset for the ECDHE AEAD suites"],
    ["a bad heartbeat", { heartbeatIntervalMs: 1 }, "etcd.heartbeatIntervalMs is 1"],
  ])("refuses %s", (_t, over, message) => {
    const e = refusal(() => renderEtcdConfig({ ...BASE, ...over }));
    expect(e.message.startsWith(message)).toBe(true);
  });

  it("accepts a 128-character token with every allowed character class, a token token, and the state existing", () => {
    expect(render({ initialClusterToken: `aZ0._-${"t".repeat(122)}` })["initial-cluster-token"]).toHaveLength(128);
    const tok = Lazy.stringValue({ produce: () => "x y" });
    expect(renderEtcdConfig({ ...BASE, initialClusterToken: tok })).toContain("initial-cluster-token:");
    expect(render({ initialClusterState: "existing" })["initial-cluster-state"]).toBe("existing");
  });

  it("lets token paths and ports through", () => {
    const path = Lazy.stringValue({ produce: () => "relative" });
    const port = Lazy.numberValue({ produce: () => 0 });
    expect(() => renderEtcdConfig({ ...BASE, dataDir: path, clientPort: port })).not.toThrow();
  });

  it("uses the member's own client and metrics ports before the cluster's", () => {
    const c = render({ member: "a", members: [{ name: "a", ip: "10.0.0.1", clientPort: 5001, metricsPort: 5003 }, { name: "b", ip: "10.0.0.2" }], clientPort: 6001, metricsPort: 6003 });
    expect(c["listen-client-urls"]).toBe("https://10.0.0.1:5001,https://127.0.0.1:5001");
    expect(c["listen-metrics-urls"]).toBe("http://127.0.0.1:5003");
    const d = render({ member: "b", members: [{ name: "a", ip: "10.0.0.1", clientPort: 5001, metricsPort: 5003 }, { name: "b", ip: "10.0.0.2" }], clientPort: 6001, metricsPort: 6003 });
    expect(d["listen-client-urls"]).toBe("https://10.0.0.2:6001,https://127.0.0.1:6001");
    expect(d["listen-metrics-urls"]).toBe("http://127.0.0.1:6003");
  });

  it("renders single-line YAML even for long values", () => {
    const text = renderEtcdConfig({ ...BASE, dataDir: `/${"d".repeat(200)}` });
    expect(text).toContain(`data-dir: /${"d".repeat(200)}\n`);
  });
});
