/**
 * Real etcd, configured only through the library: 3 members whose configs come from the renderers'
 * parameters, certificates issued with openssl from the PKI spec model, every start decided by the
 * library's bootstrap script (etcd-member-bootstrap.sh). Each member runs in its own network
 * namespace on a private 10.x network (peers dial from their own address, as on EC2); where
 * namespaces cannot be created the suite falls back to loopback (peer certificates then also carry
 * 127.0.0.1, see LOOPBACK_PEER_SOURCE_ADDRESS). `ETCD_E2E_NETWORK=loopback` forces the fallback.
 *
 * One story, in order: quorum with mutual TLS; losing a member loses no acknowledged write; it
 * rejoins from its data dir; a member with an empty disk is replaced by the script; a snapshot
 * restores into fresh members; losing 2 of 3 stops writes until one returns.
 */
import { rmSync, existsSync, readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { CA_IDS, buildClusterCertificates } from "../../../lib";
import { etcdClientUrl, etcdInitialCluster, etcdPeerUrl } from "../../../lib/bootstrap/etcd";
import { renderedScript } from "../../helpers/scripts";
import { EtcdTestCluster, runCommand } from "../../harness/etcd-cluster";
import { issueWithOpenssl } from "../../harness/openssl-pki";
import { etcdBinariesCheck } from "../../harness/real-components";
import { allOf, describeTier, toolAvailable } from "../../harness/tiers";
import { EtcdCa, TestCluster, TestNode, issueEtcdCa, makeWorkDir, startTestCluster } from "./cluster";
import { netnsCheck, ownedNamespaces } from "./netns";

const VERSION_ARGS: Record<string, string[]> = { etcd: ["--version"], etcdctl: ["version"], openssl: ["version"], bash: ["--version"], curl: ["--version"] };
const tools = Object.entries(VERSION_ARGS).map(([tool, args]) => toolAvailable(tool, args));
// etcd 3.5.21 (the version nodes install) from scripts/setup-test-env.sh, first on PATH.
const check = allOf(etcdBinariesCheck(), ...tools);
const tier = { tierLabel: "etcd e2e" } as const;

const netns = process.env.ETCD_E2E_NETWORK === "loopback" ? { available: false, reason: "ETCD_E2E_NETWORK=loopback" } : netnsCheck();
const MODE: "netns" | "loopback" = netns.available ? "netns" : "loopback";
if (!netns.available && check.available) {
  console.warn(`etcd e2e: network namespaces unavailable (${netns.reason}); members run on loopback, peer certificates get 127.0.0.1`);
}

const NAMES = ["etcd-0", "etcd-1", "etcd-2"];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls serializable reads through `member` until its own store holds `expected` (bounded); returns it. */
async function localCopy(cluster: EtcdTestCluster, member: string, expected: ReadonlyMap<string, string>): Promise<Map<string, string>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const local = await cluster.getPrefix("/e2e/w/", { endpoints: [member], consistency: "s" });
    if ([...expected].every(([k, v]) => local.get(k) === v) || Date.now() > deadline) return local;
    await sleep(200);
  }
}

function lostFrom(stored: ReadonlyMap<string, string>, acked: ReadonlyMap<string, string>): string[] {
  return [...acked].filter(([k, v]) => stored.get(k) !== v).map(([k]) => k);
}

/** The JSON line etcd logs at start with its effective configuration. */
function startupSettings(logFile: string): Record<string, unknown> {
  const lines = readFileSync(logFile, "utf8").split("\n").filter((l) => l.includes('"msg":"starting an etcd server"'));
  if (lines.length === 0) throw new Error(`no start-up line in ${logFile}`);
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

/** Runs a command on a node (in its namespace). */
function onNode(node: TestNode, command: string, args: readonly string[]) {
  return node.ns ? runCommand("ip", ["netns", "exec", node.ns, command, ...args], { timeoutMs: 10_000 }) : runCommand(command, args, { timeoutMs: 10_000 });
}

describeTier(`etcd members from the library's renderers and bootstrap script (${MODE})`, check, tier, () => {
  let workDir: string;
  let ca: EtcdCa;
  let tc: TestCluster;
  let restored: TestCluster | undefined;
  const acked = new Map<string, string>();
  const ackedWhileDown = new Map<string, string>();
  let victim = "";
  const pids: number[] = [];

  beforeAll(async () => {
    workDir = makeWorkDir();
    ca = await issueEtcdCa(path.join(workDir, "ca"), NAMES.map((name, i) => ({ name, privateIp: `10.0.0.${i + 1}` })));
    tc = await startTestCluster({ mode: MODE, names: NAMES, ca, workDir, lateMember: NAMES[2] });
  }, 60_000);

  afterAll(async () => {
    await restored?.destroy();
    await tc?.destroy();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("forms a quorum over mutual TLS (a late founding node joins the running cluster); refuses clients without a certificate or from another CA", async () => {
    const { cluster } = tc;
    for (const early of NAMES.slice(0, 2)) expect(tc.bootstrapOutput.get(early)).toContain("founds the cluster");
    const late = tc.bootstrapOutput.get(NAMES[2]) ?? "";
    expect(late).toContain(`joining as ${NAMES[2]}`);
    console.info(`etcd e2e: late founding member: ${late.split("\n").filter((l) => /removing|adding|joining/.test(l)).join(" | ")}`);
    const members = await cluster.memberList();
    expect(members.map((m) => m.name).sort()).toEqual(NAMES);
    for (const m of members) {
      expect(m.isLearner).toBe(false);
      expect(m.peerUrls).toEqual([etcdPeerUrl(tc.members.find((x) => x.name === m.name)!)]);
      expect(m.clientUrls.every((u) => u.startsWith("https://"))).toBe(true);
    }
    if (MODE === "netns") expect(members.flatMap((m) => m.peerUrls).every((u) => /^https:\/\/10\.\d+\.\d+\.\d+:2380$/.test(u))).toBe(true);
    await tc.cluster.leader();
    await cluster.put("/e2e/tls", "secret", { endpoints: [NAMES[0]] });
    expect(await cluster.get("/e2e/tls", { endpoints: [NAMES[2]] })).toBe("secret");

    const refusal = { dialTimeoutMs: 1000, commandTimeoutMs: 1000 };
    const noCert = await cluster.etcdctl(["get", "/e2e/tls"], { ...refusal, tls: { caFile: ca.ca.cert } });
    expect(noCert.exitCode).not.toBe(0);
    expect(noCert.stdout).not.toContain("secret");

    // A second etcd CA issued from the same spec model: its client certificate must not be accepted.
    const other = buildClusterCertificates({ clusterName: "other", apiServers: [], etcdMembers: [], stackedEtcd: false, apiServerNames: [], serviceCidr: "10.96.0.0/12", clusterDomain: "cluster.local" });
    const otherDir = path.join(workDir, "other-ca");
    const otherCa = await issueWithOpenssl(other.cas.find((c) => c.id === CA_IDS.etcd)!, otherDir);
    const otherClient = await issueWithOpenssl(other.leaves.find((l) => l.id === "apiserver-etcd-client")!, otherDir, otherCa);
    const foreign = await cluster.etcdctl(["get", "/e2e/tls"], { ...refusal, tls: { caFile: ca.ca.cert, certFile: otherClient.cert, keyFile: otherClient.key } });
    expect(foreign.exitCode).not.toBe(0);
    expect(foreign.stdout).not.toContain("secret");

    const m = tc.layout.members[0];
    const plain = await cluster.etcdctl(["get", "/e2e/tls"], { ...refusal, endpoints: [`http://${m.address}:${m.clientPort}`], tls: null });
    expect(plain.exitCode).not.toBe(0);
  }, 30_000);

  it("runs with the rendered settings: timings, quota, compaction, pre-vote, TLS, metrics on 127.0.0.1 only", async () => {
    for (const spec of tc.layout.members) {
      const s = startupSettings(spec.logFile);
      expect(s).toMatchObject({
        name: spec.name,
        "heartbeat-interval": "100ms",
        "election-timeout": "1s",
        "quota-backend-bytes": 2147483648,
        "pre-vote": true,
        "initial-corrupt-check": true,
        "auto-compaction-mode": "periodic",
        "auto-compaction-retention": "1h0m0s",
        "initial-cluster-state": spec.name === NAMES[2] ? "existing" : "new", // the late node joined
      });
      const member = tc.members.find((x) => x.name === spec.name)!;
      const metricsPort = member.metricsPort ?? 2381;
      expect(s["listen-metrics-urls"]).toEqual([`http://127.0.0.1:${metricsPort}`]);
      const log = readFileSync(spec.logFile, "utf8");
      expect(log).toMatch(/"msg":"starting with client TLS","tls-info":"[^"]*client-cert-auth = true/);
      expect(log).toMatch(/"msg":"starting with peer TLS","tls-info":"[^"]*client-cert-auth = true/);
      const node = tc.nodes.get(spec.name)!;
      const health = await onNode(node, "curl", ["-fsS", "--max-time", "3", `http://127.0.0.1:${metricsPort}/health`]);
      expect(health.stdout).toContain('"health":"true"');
      if (MODE === "netns") {
        // Not on the member's network address: only a local scraper sees metrics.
        const outside = await runCommand("ip", ["netns", "exec", tc.net!.clientNs, "curl", "-fsS", "--max-time", "2", `http://${spec.address}:2381/health`], { timeoutMs: 10_000 });
        expect(outside.exitCode).not.toBe(0);
      }
    }
  }, 30_000);

  it("keeps accepting writes when a member is killed and loses none that were acknowledged", async () => {
    const { cluster } = tc;
    victim = (await cluster.leader()).name; // the leader: writes must wait out an election
    const survivors = NAMES.filter((n) => n !== victim);
    let seq = 0;
    let down = false;
    let stop = false;
    let failed = 0;
    const writer = (async () => {
      while (!stop) {
        const key = `/e2e/w/${String(seq).padStart(5, "0")}`;
        const value = `v${seq}`;
        const via = down ? survivors[seq % 2] : NAMES[seq % 3];
        const wasDown = down;
        seq++;
        try {
          await cluster.put(key, value, { endpoints: [via], commandTimeoutMs: 3000 });
          acked.set(key, value);
          if (wasDown) ackedWhileDown.set(key, value);
        } catch {
          failed++;
        }
      }
    })();
    const until = async (cond: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!cond() && Date.now() < deadline) await sleep(25);
    };
    await until(() => acked.size >= 20, 15_000);
    const ackedBeforeKill = new Map(acked);
    await cluster.kill(victim);
    down = true;
    await until(() => ackedWhileDown.size >= 20, 20_000);
    stop = true;
    await writer;

    expect(ackedBeforeKill.size).toBeGreaterThanOrEqual(20);
    expect(ackedWhileDown.size).toBeGreaterThanOrEqual(20);
    for (const via of survivors) {
      const stored = await cluster.getPrefix("/e2e/w/", { endpoints: [via] });
      expect({ via, lostBeforeKill: lostFrom(stored, ackedBeforeKill), lost: lostFrom(stored, acked) }).toEqual({ via, lostBeforeKill: [], lost: [] });
    }
      console.info(`etcd e2e: killed leader ${victim}; ${ackedBeforeKill.size} writes acknowledged before, ${ackedWhileDown.size} after, ${failed} refused during the election, 0 lost`);
  }, 45_000);

  it("restarts the killed member on its data dir: it rejoins and serves the writes it missed", async () => {
    const { cluster } = tc;
    const before = await cluster.memberList();
    const r = await tc.bootstrap(victim); // ExecStartPre at every start
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain("holds member data");
    await cluster.restart(victim);
    await cluster.waitHealthy(30_000);
    expect(await cluster.memberList({ endpoints: [victim] })).toEqual(before);
    const local = await localCopy(cluster, victim, acked);
    expect(lostFrom(local, ackedWhileDown)).toEqual([]);
    expect(lostFrom(local, acked)).toEqual([]);
  }, 45_000);

  it("replaces a member whose disk is empty with the bootstrap script: remove old entry, add as a learner, promote, join", async () => {
    const { cluster } = tc;
    const leader = (await cluster.leader()).name;
    // Neither the leader nor the member restarted a moment ago: its peers then include a member
    // connected for less than 5 s, which etcd's strict reconfig check refuses for a while.
    const target = NAMES.find((n) => n !== leader && n !== victim)!;
    const before = await cluster.memberList();
    const oldId = before.find((m) => m.name === target)!.id;
    await cluster.kill(target);
    await cluster.wipe(target);
    const node = tc.nodes.get(target)!;
    expect(existsSync(node.dataDir)).toBe(false);

    // A node that dies between `member add` and its etcd joining (here: etcd cannot start) runs the
    // script again at its next start: the pending entry is reused, never added twice (a 4th entry
    // would cost the cluster its quorum margin).
    const first = await tc.bootstrap(target, { HA_ETCD_BINARY: "/bin/false" });
    expect({ exit: first.exitCode, stderr: first.stderr }).toMatchObject({ exit: 1, stderr: expect.stringContaining("etcd exited during the learner phase") });
    expect(first.stderr).toContain(`removing the old entry ${oldId} of ${target}`);
    expect(first.stderr).toContain(`adding ${target} (${etcdPeerUrl(tc.members.find((m) => m.name === target)!)}) as a learner`);
    const pending = await cluster.memberList({ endpoints: NAMES.filter((n) => n !== target) });
    expect(pending).toHaveLength(3);
    expect(pending.filter((m) => m.name === "")).toHaveLength(1);
    expect(pending.filter((m) => m.name === "")[0].isLearner).toBe(true);

    // The learner phase: etcd on loopback clients only until promoted, then the running config.
    const again = await tc.bootstrap(target);
    expect({ exit: again.exitCode, stderr: again.stderr }).toMatchObject({ exit: 0, stderr: expect.stringContaining("promoting learner") });
    expect(again.stderr).not.toContain("adding");
    expect(again.stderr).toContain("clients on 127.0.0.1 only until it is promoted");
    const config = readFileSync(node.configFile, "utf8");
    expect(config).toMatch(/^initial-cluster-state: existing$/m);
    expect(config).toContain(`${target}=${etcdPeerUrl(tc.members.find((m) => m.name === target)!)}`);

    await cluster.startMember(tc.layout.member(target), { launch: () => ({ configFile: node.configFile }), initialCluster: "(written by ha-etcd-bootstrap)" });
    await cluster.waitHealthy(30_000);
    const after = await cluster.memberList();
    expect(after.every((m) => !m.isLearner)).toBe(true);
    expect(after.map((m) => m.name).sort()).toEqual(NAMES);
    const replaced = after.find((m) => m.name === target)!;
    expect(replaced.id).not.toBe(oldId);
    expect(after.filter((m) => m.name !== target)).toEqual(before.filter((m) => m.name !== target));
    const local = await localCopy(cluster, target, acked);
    expect(lostFrom(local, acked)).toEqual([]);
    const retried = /refused for now/.test(first.stderr);
      console.info(`etcd e2e: replaced ${target} (${oldId} -> ${replaced.id})${retried ? " after strict-reconfig refusals" : ""}`);
  }, 90_000);

  it("rejoins a member that was removed while its disk holds data: the script moves the data aside and adds it as a learner", async () => {
    const { cluster } = tc;
    const leader = (await cluster.leader()).name;
    const target = NAMES.find((n) => n !== leader)!;
    const before = await cluster.memberList();
    const oldId = before.find((m) => m.name === target)!.id;
    const others = NAMES.filter((n) => n !== target);
    let removed: Awaited<ReturnType<typeof cluster.etcdctl>> | undefined;
    for (let i = 0; i < 20 && removed?.exitCode !== 0; i++) {
      if (i > 0) await sleep(1000); // strict reconfig check: a peer connected for less than 5 s
      removed = await cluster.etcdctl(["member", "remove", oldId], { endpoints: others });
    }
    expect(removed?.exitCode).toBe(0);
    await cluster.kill(target); // (etcd stops itself once it learns it was removed; a restart loops on that)
    const node = tc.nodes.get(target)!;
    expect(existsSync(path.join(node.dataDir, "member"))).toBe(true);

    const r = await tc.bootstrap(target);
    expect({ exit: r.exitCode, stderr: r.stderr }).toMatchObject({ exit: 0, stderr: expect.stringContaining("(removed): moving") });
    const aside = readdirSync(path.dirname(node.dataDir)).filter((d) => d.startsWith(`${path.basename(node.dataDir)}.removed-`));
    expect(aside).toHaveLength(1);
    expect(existsSync(path.join(path.dirname(node.dataDir), aside[0], "member/wal"))).toBe(true);
    expect(r.stderr).toContain("promoting learner");
    await cluster.startMember(tc.layout.member(target), { launch: () => ({ configFile: node.configFile }), initialCluster: "(written by ha-etcd-bootstrap)" });
    await cluster.waitHealthy(30_000);
    const after = await cluster.memberList();
    expect(after.map((m) => [m.name, m.isLearner]).sort()).toEqual(NAMES.map((n) => [n, false]));
    expect(after.find((m) => m.name === target)!.id).not.toBe(oldId);
    expect(lostFrom(await localCopy(cluster, target, acked), acked)).toEqual([]);
  }, 90_000);

  it("backs up with the library's backup script (leader only) and restores three fresh members with its restore script", async () => {
    const { cluster } = tc;
    await cluster.put("/e2e/w/snapshot-marker", "present");
    acked.set("/e2e/w/snapshot-marker", "present");
    const expected = await cluster.getPrefix("/e2e/");
    const backupDir = path.join(tc.layout.rootDir, "backups");
    const backupTarget = `file://${backupDir}`;
    const oldIds = new Set((await cluster.memberList()).map((m) => m.id));

    // Every member runs the timer; only the leader's run takes a snapshot.
    const taken: string[] = [];
    for (const name of NAMES) {
      const node = tc.nodes.get(name)!;
      const self = tc.members.find((m) => m.name === name)!;
      const env = [
        "CLUSTER_NAME=e2e", `BACKUP_TARGET=${backupTarget}`, `ENV_FILE=/dev/null`, `WORK_DIR=${path.join(node.dir, "backup-work")}`,
        `ETCD_ENDPOINT=${etcdClientUrl(self)}`, `ETCD_CACERT=${tc.clientTls.caFile}`, `ETCD_CERT=${tc.clientTls.certFile}`, `ETCD_KEY=${tc.clientTls.keyFile}`,
        `PATH=${process.env.PATH}`,
      ];
      const argv = ["env", "-i", ...env, "bash", renderedScript("ha-etcd-backup.sh")];
      const r = node.ns ? await runCommand("ip", ["netns", "exec", node.ns, ...argv], { timeoutMs: 60_000 }) : await runCommand(argv[0], argv.slice(1), { timeoutMs: 60_000 });
      expect({ name, exit: r.exitCode, stderr: r.stderr.slice(-400) }).toMatchObject({ exit: 0 });
      if (r.stdout.trim().length > 0) taken.push(r.stdout.trim());
      else expect(r.stderr).toContain("ha-etcd-backup: not the leader: another member takes this snapshot");
    }
    expect(taken).toHaveLength(1);
    expect(taken[0]).toMatch(/^e2e-\d{8}T\d{6}Z\.db$/);
    expect(existsSync(path.join(backupDir, taken[0]))).toBe(true);

    // Fresh machines in the same slots: same addresses, empty disks, certificates from the same CA;
    // each runs the restore script with the latest snapshot and the same new cluster token.
    const subnet = MODE === "netns" ? tc.members[0].ip.split(".").slice(0, 3).join(".") : undefined;
    restored = await startTestCluster({
      mode: MODE,
      names: NAMES,
      ca,
      workDir,
      subnet,
      prepareDataDir: async (node, members, token) => {
        const self = members.find((m) => m.name === node.name)!;
        const env = {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          ENV_FILE: "/dev/null",
          STATE_DIR: path.join(node.dir, "no-state"),
          SLOT_NAME: node.name,
          SLOT_IP: self.ip,
          INITIAL_CLUSTER: etcdInitialCluster(members),
          BACKUP_TARGET: backupTarget,
          RESTORE_TOKEN: token,
          ETCD_DATA_DIR: node.dataDir,
          ETCD_PEER_PORT: String(self.peerPort ?? 2380),
          STOP_ETCD: "true",
          WORK_DIR: path.join(node.dir, "restore-work"),
        };
        const r = await runCommand("bash", [renderedScript("ha-etcd-restore.sh"), "latest"], { timeoutMs: 60_000, env });
        if (r.exitCode !== 0) throw new Error(`ha-etcd-restore for ${node.name} failed: ${r.stderr}`);
      },
    });
    const members = await restored.cluster.memberList();
    expect(members.map((m) => m.name).sort()).toEqual(NAMES);
    expect(members.some((m) => oldIds.has(m.id))).toBe(false); // a new cluster, not the old one's members
    for (const name of NAMES) {
      expect(startupSettings(restored.layout.member(name).logFile)["member-initialized"]).toBe(true);
      const got = await restored.cluster.getPrefix("/e2e/", { endpoints: [name] });
      expect(got).toEqual(expected);
    }
    await restored.destroy();
    restored = undefined;
  }, 120_000);

  it("stops writes when 2 of 3 members are down (no split brain) and recovers when one returns", async () => {
    const { cluster } = tc;
    await cluster.waitHealthy(20_000);
    const survivor = (await cluster.leader()).name;
    const down = NAMES.filter((n) => n !== survivor);
    for (const n of down) await cluster.kill(n);

    // The former leader steps down (check-quorum) instead of serving alone: no second history.
    let leaderless = false;
    for (const deadline = Date.now() + 10_000; !leaderless && Date.now() < deadline; await sleep(200)) {
      const [status] = await cluster.endpointStatus([survivor]);
      leaderless = !("error" in status) && status.leaderId === "0";
    }
    expect(leaderless).toBe(true);
    // Not acknowledged. (An unacknowledged write is indeterminate, not lost: it may still commit
    // once a quorum is back, so only acknowledgement is asserted.)
    const write = await cluster.etcdctl(["put", "/e2e/minority", "x"], { endpoints: [survivor], commandTimeoutMs: 2000 });
    expect(write.exitCode).not.toBe(0);
    const read = await cluster.etcdctl(["get", "/e2e/tls"], { endpoints: [survivor], commandTimeoutMs: 2000 });
    expect(read.exitCode).not.toBe(0); // linearizable reads need a quorum too

    // A node with an empty disk must not found a new cluster while the old one lacks quorum.
    const fresh = await tc.renderFreshDisk(down[0], path.join(tc.nodes.get(down[0])!.dir, "fresh-disk"));
    const refused = await tc.bootstrap(down[0], { ENV_FILE: fresh.envFile, HA_ETCD_QUORUM_WAIT: "0", HA_ETCD_COMMAND_TIMEOUT: "2s" });
    expect({ exit: refused.exitCode, stderr: refused.stderr }).toMatchObject({ exit: 1, stderr: expect.stringContaining("no quorum") });
    expect(existsSync(fresh.configFile)).toBe(false);

    const back = down[0];
    expect((await tc.bootstrap(back)).exitCode).toBe(0);
    await cluster.restart(back);
    await cluster.waitHealthy(30_000, [survivor, back]);
    await cluster.put("/e2e/w/after-recovery", "ok", { endpoints: [survivor] });
    acked.set("/e2e/w/after-recovery", "ok");
    const stored = await cluster.getPrefix("/e2e/w/", { endpoints: [back] });
    expect(lostFrom(stored, acked)).toEqual([]);

    expect((await tc.bootstrap(down[1])).exitCode).toBe(0);
    await cluster.restart(down[1]);
    await cluster.waitHealthy(30_000);
    expect(lostFrom(await localCopy(cluster, down[1], acked), acked)).toEqual([]);
    pids.push(...cluster.pids);
  }, 90_000);

  it("leaves no etcd process and no network namespace behind", async () => {
    await tc.destroy();
    for (const pid of pids) {
      let code: string | undefined;
      try {
        process.kill(pid, 0);
      } catch (err) {
        code = (err as NodeJS.ErrnoException).code;
      }
      expect({ pid, code }).toEqual({ pid, code: "ESRCH" });
    }
    expect(ownedNamespaces()).toEqual([]);
    expect(existsSync(tc.layout.rootDir)).toBe(false);
  });
});
