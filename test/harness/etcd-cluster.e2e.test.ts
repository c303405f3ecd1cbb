/**
 * Proof that the tier-3 etcd harness itself is sound, before library-rendered configs rely on it:
 * a hand-written 3-member cluster forms, replicates, survives a SIGKILLed leader without losing an
 * acknowledged write, re-admits the killed member, accepts a replacement for a member that lost its
 * disk, and leaves no process behind. A second cluster repeats the formation with mutual TLS on
 * client and peer listeners; a third case proves start-up failures are reported fast and readably.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import {
  type EtcdClientTls,
  EtcdTestCluster,
  EtcdTestLayout,
  LOOPBACK_PEER_SOURCE_ADDRESS,
  configFileLaunch,
  etcdFlags,
  flagLaunch,
  runCommand,
} from "./etcd-cluster";
import { etcdBinariesCheck } from "./real-components";
import { describeTier, toolAvailable } from "./tiers";

// Debian ships etcdctl separately (etcd-client); a host with only the server must skip, not crash.
// etcd 3.5.21 from scripts/setup-test-env.sh (global setup puts it first on PATH).
const etcdCheck = etcdBinariesCheck();
const tier = { tierLabel: "etcd e2e" } as const;

/** Throws unless `pid` is gone; ESRCH is the only acceptable answer from signal 0. */
function expectNoProcess(pid: number): void {
  let code: string | undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    code = (err as NodeJS.ErrnoException).code;
  }
  expect({ pid, code }).toEqual({ pid, code: "ESRCH" });
}

/**
 * Polls (bounded) serializable reads through `member` until its own store holds every expected
 * write, and returns what it holds. Serializable reads never leave the member, so this proves the
 * data was replicated to it rather than fetched from the leader.
 */
async function localCopy(cluster: EtcdTestCluster, member: string, expected: ReadonlyMap<string, string>): Promise<Map<string, string>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const local = await cluster.getPrefix("/harness/w/", { endpoints: [member], consistency: "s" });
    if ([...expected].every(([k, v]) => local.get(k) === v) || Date.now() > deadline) return local;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describeTier("etcd harness: 3-member plain-HTTP cluster from config files", etcdCheck, tier, () => {
  let layout: EtcdTestLayout;
  let cluster: EtcdTestCluster;
  let names: string[];
  // Shared across the ordered tests below: the scenario is one story (form, fail, heal, clean up).
  let victim = "";
  const acked = new Map<string, string>();
  const ackedWhileDown = new Map<string, string>();

  beforeAll(async () => {
    layout = await EtcdTestLayout.create({ members: 3 });
    names = layout.members.map((m) => m.name);
    cluster = new EtcdTestCluster(layout);
    // Config files rather than flags: that is the path library-rendered configs will take.
    await cluster.start({ launch: configFileLaunch });
    await cluster.waitHealthy(20_000);
  }, 30_000);

  afterAll(async () => {
    await cluster?.cleanup();
  });

  it("forms a cluster of 3 distinct loopback members with exactly one leader", async () => {
    const addresses = new Set(layout.members.map((m) => m.address));
    expect(addresses.size).toBe(3);
    const members = await cluster.memberList();
    expect(members.map((m) => m.name).sort()).toEqual([...names].sort());
    expect(members.every((m) => !m.isLearner)).toBe(true);

    const leader = await cluster.leader();
    expect(names).toContain(leader.name);
    const statuses = await cluster.endpointStatus();
    const leaderViews = new Set(statuses.map((s) => ("error" in s ? `error: ${s.error}` : s.leaderId)));
    expect([...leaderViews]).toEqual([leader.id]);
  });

  it("replicates a write through member 1 to a read through member 3", async () => {
    const value = `v-${randomBytes(4).toString("hex")}`;
    await cluster.put("/harness/replication", value, { endpoints: [names[0]] });
    expect(await cluster.get("/harness/replication", { endpoints: [names[2]] })).toBe(value);
    // A key that starts with "-" must not be mistaken for a flag by etcdctl.
    await cluster.put("-dash", "-value", { endpoints: [names[1]] });
    expect(await cluster.get("-dash", { endpoints: [names[2]] })).toBe("-value");
  });

  it("keeps accepting writes after the leader is SIGKILLed and loses no acknowledged write", async () => {
    // The leader is the harshest single victim: writes must wait out an election.
    victim = (await cluster.leader()).name;
    const survivors = names.filter((n) => n !== victim);
    let seq = 0;
    let down = false;
    let stop = false;
    let failedWhileDown = 0;
    // One writer runs across the kill, so some writes are in flight when the leader dies; only
    // acknowledged (exit 0) writes are promises the cluster must keep.
    const writer = (async () => {
      while (!stop) {
        const key = `/harness/w/${String(seq).padStart(5, "0")}`;
        const value = `value-${seq}`;
        const via = down ? survivors[seq % 2] : names[seq % 3];
        seq++;
        const wasDown = down;
        try {
          await cluster.put(key, value, { endpoints: [via], commandTimeoutMs: 3000 });
          acked.set(key, value);
          if (wasDown) ackedWhileDown.set(key, value);
        } catch {
          if (wasDown) failedWhileDown++;
        }
      }
    })();
    const until = async (cond: () => boolean, ms: number): Promise<void> => {
      const deadline = Date.now() + ms;
      while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    };
    await until(() => acked.size >= 10, 10_000);
    const ackedBeforeKill = acked.size;
    await cluster.kill(victim);
    down = true;
    await until(() => ackedWhileDown.size >= 10, 20_000);
    stop = true;
    await writer;

    expect(ackedBeforeKill).toBeGreaterThanOrEqual(10);
    expect(ackedWhileDown.size).toBeGreaterThanOrEqual(10);
    expect(cluster.isRunning(victim)).toBe(false);
    await cluster.waitHealthy(10_000, survivors);
    for (const via of survivors) {
      const stored = await cluster.getPrefix("/harness/w/", { endpoints: [via] });
      const lost = [...acked].filter(([k, v]) => stored.get(k) !== v).map(([k]) => k);
      expect({ via, lost, acked: acked.size }).toEqual({ via, lost: [], acked: acked.size });
    }
    // Not asserted (it depends on election timing), but useful when reading a slow run's output.
    if (failedWhileDown > 0) console.info(`etcd harness: ${failedWhileDown} write(s) failed during the election`);
  }, 45_000);

  it("restarts the killed member on its data dir; it rejoins and serves the writes it missed", async () => {
    expect(victim).not.toBe("");
    const membersBefore = await cluster.memberList();
    await cluster.restart(victim);
    await cluster.waitHealthy(20_000);
    // Same identity (member ID), no extra member: it came back from its data dir, not as a new node.
    expect(await cluster.memberList({ endpoints: [victim] })).toEqual(membersBefore);

    const local = await localCopy(cluster, victim, acked);
    const missing = [...ackedWhileDown.keys()].filter((k) => local.get(k) !== ackedWhileDown.get(k));
    expect(missing).toEqual([]);
    expect([...acked].filter(([k, v]) => local.get(k) !== v)).toEqual([]);
  }, 40_000);

  it("replaces a member that lost its disk (stop, wipe, member remove/add, start as existing)", async () => {
    const { name: leaderName } = await cluster.leader();
    const lost = names.find((n) => n !== leaderName) as string;
    const survivors = names.filter((n) => n !== lost);
    const old = cluster.spec(lost);
    const oldId = (await cluster.memberList()).find((m) => m.name === lost)?.id;
    await cluster.stop(lost);
    await cluster.wipe(lost);
    expect(fs.existsSync(old.dataDir)).toBe(false);

    await cluster.memberRemove(lost, { endpoints: survivors });
    // Stable identity: same name, address and ports; only the data (and so the member ID) is new.
    const replacement = await layout.allocateMember(lost, { address: old.address, clientPort: old.clientPort, peerPort: old.peerPort });
    await cluster.memberAdd(replacement, { endpoints: survivors });
    await cluster.startMember(replacement, { launch: configFileLaunch });
    await cluster.waitHealthy(20_000);

    const members = await cluster.memberList();
    expect(members.map((m) => m.name).sort()).toEqual([...names].sort());
    expect(members.find((m) => m.name === lost)?.id).not.toBe(oldId);
    const local = await localCopy(cluster, lost, acked);
    expect([...acked].filter(([k, v]) => local.get(k) !== v)).toEqual([]);
  }, 40_000);

  it("leaves no process and no temp dir behind after cleanup", async () => {
    const pids = cluster.pids;
    // Initial 3 members, the restarted victim and the replacement.
    expect(pids.length).toBe(5);
    await cluster.cleanup();
    for (const pid of pids) expectNoProcess(pid);
    expect(fs.existsSync(layout.rootDir)).toBe(false);
    await cluster.cleanup(); // idempotent: afterAll calls it again
  });
});

/**
 * Minimal openssl PKI for the TLS proof: one CA, per-member server and peer certificates with the
 * member's IP as SAN, and one client certificate. EC keys keep generation fast.
 */
async function makeTestPki(layout: EtcdTestLayout): Promise<EtcdClientTls> {
  const dir = path.join(layout.rootDir, "pki");
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const openssl = async (args: string[]): Promise<void> => {
    const r = await runCommand("openssl", args, { timeoutMs: 20_000, cwd: dir });
    if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = { cert: path.join(dir, "ca.crt"), key: path.join(dir, "ca.key") };
  await openssl([
    "req", "-x509", ...ec, "-keyout", ca.key, "-out", ca.cert, "-subj", "/CN=etcd-harness-test-ca", "-days", "1",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const issue = async (name: string, cn: string, eku: string, ips: readonly string[] = []): Promise<{ cert: string; key: string }> => {
    const base = path.join(dir, name);
    const ext = [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${eku}`,
      ...(ips.length > 0 ? [`subjectAltName=${ips.map((ip) => `IP:${ip}`).join(",")}`] : []),
    ].join("\n");
    await fsp.writeFile(`${base}.ext`, `${ext}\n`);
    await openssl(["req", "-new", ...ec, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${cn}`]);
    // Random serials instead of -CAcreateserial: certificates are issued concurrently.
    await openssl([
      "x509", "-req", "-in", `${base}.csr`, "-CA", ca.cert, "-CAkey", ca.key, "-set_serial", `0x${randomBytes(12).toString("hex")}`,
      "-days", "1", "-out", `${base}.crt`, "-extfile", `${base}.ext`,
    ]);
    return { cert: `${base}.crt`, key: `${base}.key` };
  };
  await Promise.all(
    layout.members.map(async (m) => {
      const [server, peer] = await Promise.all([
        issue(`${m.name}-server`, m.name, "serverAuth", [m.address]),
        // Peers dial each other, so the peer certificate is both a server and a client certificate;
        // the loopback source address is needed because all peer connections on one host come from it.
        issue(`${m.name}-peer`, m.name, "serverAuth,clientAuth", [m.address, LOOPBACK_PEER_SOURCE_ADDRESS]),
      ]);
      layout.setTls(m.name, {
        client: { certFile: server.cert, keyFile: server.key, trustedCaFile: ca.cert },
        peer: { certFile: peer.cert, keyFile: peer.key, trustedCaFile: ca.cert },
      });
    }),
  );
  const client = await issue("client", "etcd-harness-client", "clientAuth");
  return { caFile: ca.cert, certFile: client.cert, keyFile: client.key };
}

// openssl is mandatory in CI as well, so requiring both keeps the CI failure semantics intact.
const tlsCheck = etcdCheck.available ? toolAvailable("openssl", ["version"]) : etcdCheck;

describeTier("etcd harness: 3-member mutual-TLS cluster from flags", tlsCheck, tier, () => {
  let layout: EtcdTestLayout;
  let cluster: EtcdTestCluster;
  let clientTls: EtcdClientTls;

  beforeAll(async () => {
    layout = await EtcdTestLayout.create({ members: 3 });
    clientTls = await makeTestPki(layout);
    cluster = new EtcdTestCluster(layout, { clientTls });
    await cluster.start({ launch: flagLaunch });
    await cluster.waitHealthy(20_000);
  }, 30_000);

  afterAll(async () => {
    // Without a cluster (PKI generation failed) the layout's temp root still has to go.
    await (cluster ? cluster.cleanup() : layout?.removeRootDir());
  });

  it("forms over https peer URLs and serves https clients holding a CA-signed certificate", async () => {
    const members = await cluster.memberList();
    expect(members).toHaveLength(3);
    for (const m of members) {
      expect(m.peerUrls.every((u) => u.startsWith("https://"))).toBe(true);
      expect(m.clientUrls.every((u) => u.startsWith("https://"))).toBe(true);
    }
    const [first, , third] = layout.members.map((m) => m.name);
    await cluster.put("/harness/tls", "secret", { endpoints: [first] });
    expect(await cluster.get("/harness/tls", { endpoints: [third] })).toBe("secret");
  });

  it("refuses a client without a certificate and a plain-HTTP client", async () => {
    const refusal = { dialTimeoutMs: 1000, commandTimeoutMs: 1000 };
    const noCert = await cluster.etcdctl(["get", "/harness/tls"], { ...refusal, tls: { caFile: clientTls.caFile } });
    expect(noCert.exitCode).not.toBe(0);
    expect(noCert.stdout).not.toContain("secret");

    const m = layout.members[0];
    const plain = await cluster.etcdctl(["get", "/harness/tls"], { ...refusal, endpoints: [`http://${m.address}:${m.clientPort}`], tls: null });
    expect(plain.exitCode).not.toBe(0);
    expect(plain.stdout).not.toContain("secret");
  });

  it("control: the same certificate-less request succeeds against a member that differs only by client certificate auth off", async () => {
    // Proves the refusal above comes from client certificate authentication, not from something
    // else in the setup. etcd 3.5 requires client certificates as soon as a client trusted CA is
    // configured (observed: "tls: certificate required" with --client-cert-auth absent), so the
    // control drops both --client-cert-auth and --trusted-ca-file; everything else is identical.
    const ctlLayout = await EtcdTestLayout.create({ members: 1 });
    const ctlTls = await makeTestPki(ctlLayout);
    const ctl = new EtcdTestCluster(ctlLayout, { clientTls: ctlTls });
    try {
      await ctl.start({
        launch: async (member, bootstrap) => {
          const launch = await flagLaunch(member, bootstrap);
          const flags = launch.flags!.filter((f) => f !== "--client-cert-auth" && !f.startsWith("--trusted-ca-file="));
          expect(launch.flags!.length - flags.length).toBe(2);
          return { flags };
        },
      });
      await ctl.waitHealthy(20_000);
      await ctl.put("/harness/tls", "secret");
      const noCert = await ctl.etcdctl(["get", "/harness/tls"], { dialTimeoutMs: 1000, commandTimeoutMs: 1000, tls: { caFile: ctlTls.caFile } });
      expect(noCert.exitCode).toBe(0);
      expect(noCert.stdout).toContain("secret");
    } finally {
      await ctl.cleanup();
    }
  }, 40_000);

  it("leaves no process behind after cleanup", async () => {
    const pids = cluster.pids;
    expect(pids).toHaveLength(3);
    await cluster.cleanup();
    for (const pid of pids) expectNoProcess(pid);
  });
});

describeTier("etcd harness: diagnostics", etcdCheck, tier, () => {
  let cluster: EtcdTestCluster | undefined;

  afterAll(async () => {
    await cluster?.cleanup();
  });

  it("fails waitHealthy fast, with the member's log tail, when a member cannot start", async () => {
    const layout = await EtcdTestLayout.create({ members: 1 });
    cluster = new EtcdTestCluster(layout);
    await cluster.start({ launch: (m, b) => ({ flags: [...etcdFlags(m, b), "--no-such-flag"] }) });
    const started = Date.now();
    const failure = await cluster.waitHealthy(20_000).then(() => undefined, (err: Error) => err);
    expect(failure?.message).toMatch(/etcd-1 exited \(code [1-9]/);
    expect(failure?.message).toContain("flag provided but not defined: -no-such-flag");
    // Fail-fast, not a 20 s timeout.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
