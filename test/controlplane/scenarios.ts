/**
 * The control-plane scenarios that run on both topologies (issue 12): the separate-etcd reference
 * example (control-plane.cp.test.ts) and the stacked one (control-plane-stacked.cp.test.ts). Each
 * takes the running cluster and a reporter, asserts, and reports the figures it asserts.
 *
 * In the stacked topology an API node also hosts an etcd member, so an instance that dies or is
 * replaced takes a member with it. What the scenarios then assert in addition:
 * - 3 (holder's node killed): the takeover bound is unchanged, because etcd elects a new leader
 *   (at most 2 × election-timeout, from the rendered etcd.yaml) long before the lease can expire
 *   (leaseDuration − retryPeriod after the kill); the scenario asserts that inequality too.
 * - 5 (rolling replacement): each replacement also replaces a member (empty disk: learner,
 *   promoted), so a write loop runs besides the reads: 0 failed writes, no acknowledged write lost,
 *   and 3 voting members, all healthy, before the next node goes (quorum 2 of 3 is never at stake:
 *   one node at a time). Reads: 0 failed except "etcdserver: leader changed" when the leader's node
 *   goes (kubernetes/kubernetes#112152), bounded by what is in flight at that moment.
 * - 6 (member killed): the instance dies, not only etcd — the member's API server, controller-
 *   manager and scheduler die with it and the node reboots on its disk. Requests in flight at the
 *   killed API server fail (as do writes during the election); the promise is no acknowledged write
 *   lost, and the rebooted member holds every one.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { runCommand } from "../harness/etcd-cluster";
import { providerPlanCheck } from "../harness/provider-plan";
import { etcdBinariesCheck, inotifyLimitsCheck, kubernetesBinariesCheck, motoCheck } from "../harness/real-components";
import { allOf, toolAvailable } from "../harness/tiers";
import { IssuedFiles } from "../harness/openssl-pki";
import { applyClusterObjects } from "./cluster-objects";
import { ControlPlaneCluster, LoopSummary, SynthesizedCluster, sleep, startClientLoop, summarize } from "./control-plane";
import { JoinedWorker, KUBELET_DEVIATIONS, WORKER_HOST, joinWorker, stopWorker } from "./worker";

/**
 * What a control-plane file that runs the scenarios needs: the Kubernetes and etcd binaries, the
 * AWS emulator, haproxy, containerd (the worker of scenario 7) and the providers of the plan tier.
 */
export const CONTROL_PLANE_TIER_CHECK = allOf(inotifyLimitsCheck(), kubernetesBinariesCheck(), etcdBinariesCheck(), motoCheck(), toolAvailable("haproxy", ["-v"]), toolAvailable("containerd", ["--version"]), providerPlanCheck());

/** Prints a scenario's figures. */
export type Reporter = (scenario: string, figures: Record<string, unknown>) => void;

/** A reporter printing `[<label>] <scenario>: <figures as JSON>` (the line the README's figures come from). */
export function reporter(label = "control plane"): Reporter {
  return (scenario, figures) => console.log(`[${label}] ${scenario}: ${JSON.stringify(figures)}`);
}

type EtcdStatus = Array<{ Endpoint: string; Status: { header: { member_id: number; raft_term: number }; leader: number } }>;
type Member = { ID: number | string; name: string; peerURLs: string[]; isLearner?: boolean };

/**
 * The file's own cluster: started before its first test (bring-up seconds reported) from `spec`
 * (@default the reference example), handed to `use`, destroyed after its last test (wall seconds).
 */
export function clusterPerFile(report: Reporter, use: (cp: ControlPlaneCluster) => void, spec?: () => SynthesizedCluster): void {
  let cp: ControlPlaneCluster | undefined;
  const tierStart = Date.now();
  beforeAll(async () => {
    cp = await ControlPlaneCluster.start(spec?.());
    use(cp);
    report("bring-up", { seconds: (Date.now() - tierStart) / 1000 });
  }, 600_000);
  afterAll(async () => {
    // Exits of static pods the harness did not cause (the kubelet restarted them): visible in every file's figures.
    const crashes = (cp?.crashes ?? []).map((c) => `${c.slot}/${c.component} exit ${c.code ?? c.signal}: ${c.lastError.slice(0, 200)}`);
    await cp?.destroy();
    report("tier", { wallSeconds: (Date.now() - tierStart) / 1000, staticPodExits: crashes });
  }, 120_000);
}

/** Waits until every API server is in service at the load balancer. */
export async function waitAllUp(cp: ControlPlaneCluster, timeoutMs: number): Promise<void> {
  for (const s of cp.apiSlots) await cp.lb.waitHealthy(s, timeoutMs);
}

/**
 * Marks the end of every process log now; the returned function lists the lines of `component`'s
 * logs written since that match `pattern` (newest last, at most `max`): why a request failed.
 */
export function logsSince(cp: ControlPlaneCluster): (component: string, pattern: RegExp, max?: number) => string[] {
  const offsets = new Map(cp.processes.map((p) => [p.logFile, readFileSync(p.logFile).length]));
  return (component, pattern, max = 8) =>
    cp.processes
      .filter((p) => p.component === component)
      .flatMap((p) => readFileSync(p.logFile).subarray(offsets.get(p.logFile) ?? 0).toString("utf8").split("\n").filter((l) => pattern.test(l)).map((l) => `${p.slot}: ${l.slice(0, 300)}`))
      .slice(-max);
}

/**
 * Marks the load balancer's log and fail-open counters now; the returned function reports what
 * happened at the load balancer since: its health transitions (a target DOWN or UP, and why) and
 * the flows it sent while it failed open (every target unhealthy at once, as the NLB then routes to
 * all registered targets). Reported beside a client loop's figures: why requests failed or slowed.
 */
export async function lbWindow(cp: ControlPlaneCluster): Promise<() => Promise<{ transitions: string[]; failOpenSessions: number }>> {
  const from = cp.lb.transitions().next;
  const before = await cp.lb.failOpenSessions();
  return async () => ({
    transitions: cp.lb.transitions(from).lines,
    failOpenSessions: Object.entries(await cp.lb.failOpenSessions()).reduce((n, [k, v]) => n + v - (before[k] ?? 0), 0),
  });
}

/** The slot whose etcd member leads. */
export async function etcdLeaderSlot(cp: ControlPlaneCluster): Promise<string> {
  const status = JSON.parse((await cp.etcdctl(["endpoint", "status", "--cluster", "-w", "json"])).stdout) as EtcdStatus;
  const leader = status.find((e) => e.Status.header.member_id === e.Status.leader) as { Endpoint: string };
  const slot = cp.etcdSlots.find((s) => leader.Endpoint === `https://${cp.node(s).ip}:2379`);
  if (!slot) throw new Error(`no slot for the etcd leader ${leader.Endpoint}`);
  return slot;
}

/**
 * The highest raft term any member reports: etcd starts a new term for every election and every
 * leadership transfer, so the difference over an interval counts its leader changes (etcd's own
 * figure, including elections the test did not cause).
 */
export async function etcdRaftTerm(cp: ControlPlaneCluster): Promise<number> {
  const r = await cp.etcdctl(["endpoint", "status", "--cluster", "-w", "json"]);
  if (r.exitCode !== 0) throw new Error(`etcdctl endpoint status failed: ${r.stderr}`);
  return Math.max(...(JSON.parse(r.stdout) as EtcdStatus).map((e) => e.Status.header.raft_term));
}

/**
 * Reads may fail only as kube-apiserver fails a consistent read in flight while etcd's leader
 * changes: 500 "etcdserver: leader changed" (kubernetes/kubernetes#112152, open; the etcd client
 * does not retry it). Only that error, and at most what is in flight at each change: the read rate ×
 * the slowest successful read (at least 1) per leader change. 0 leader changes means 0 failures.
 */
export function expectOnlyLeaderChangedReadFailures(s: LoopSummary, leaderChanges: number, rate: number): void {
  for (const f of s.failures) expect([f.n, f.status, f.body?.includes("etcdserver: leader changed")]).toEqual([f.n, 500, true]);
  const inFlight = Math.max(1, Math.ceil((rate * s.slowestMs) / 1000));
  expect(s.failed).toBeLessThanOrEqual(leaderChanges * inFlight);
}

/** [slot, isLearner] of every member, sorted. */
async function membership(cp: ControlPlaneCluster): Promise<Array<[string, boolean]>> {
  const members = JSON.parse((await cp.etcdctl(["member", "list", "-w", "json", "--hex"])).stdout).members as Member[];
  return members.map((m): [string, boolean] => [cp.etcdSlots.find((s) => m.peerURLs.includes(`https://${cp.node(s).ip}:2380`)) ?? m.name, m.isLearner === true]).sort();
}

/** Names of the ConfigMaps in `default` (through the load balancer). */
export async function listedConfigMaps(cp: ControlPlaneCluster): Promise<Set<string>> {
  const r = await cp.kubectl(["get", "configmaps", "-n", "default", "-o", "name"]);
  if (r.exitCode !== 0) throw new Error(`listing configmaps failed: ${r.stderr}`);
  return new Set(r.stdout.split("\n").map((l) => l.replace(/^configmap\//, "")));
}

/** Keys under `prefix` that `slot`'s own member holds (serializable read), retried until `atLeast`. */
async function localKeys(cp: ControlPlaneCluster, slot: string, prefix: string, atLeast: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < 40; i++) {
    const r = await cp.etcdctl([`--endpoints=https://${cp.node(slot).ip}:2379`, "get", "--prefix", prefix, "--keys-only", "--consistency=s"]);
    n = r.stdout.split("\n").filter((l) => l.trim() !== "").length;
    if (n >= atLeast) break;
    await sleep(500);
  }
  return n;
}

/**
 * 3. Controller-manager and scheduler each hold one lease; kill the holder's node (every process
 * on it, its etcd member too when stacked) and another takes over within the lease duration.
 */
export async function leaderElectionTakeover(cp: ControlPlaneCluster, report: Reporter, label = "3 leader election"): Promise<void> {
  type Lease = { holderIdentity: string; leaseDurationSeconds: number; renewTime: string; acquireTime: string };
  const lease = async (name: string): Promise<Lease | undefined> => {
    const r = await cp.kubectl(["get", "lease", name, "-n", "kube-system", "-o", "json"]);
    return r.exitCode === 0 ? (JSON.parse(r.stdout).spec as Lease) : undefined;
  };
  const nodeOf = (holder: string) => cp.apiSlots.find((s) => holder.startsWith(`ip-${cp.node(s).ip.replace(/\./g, "-")}_`));
  const components = ["kube-controller-manager", "kube-scheduler"];
  const leases = await cp.kubectl(["get", "lease", "-n", "kube-system", "-o", "name"]);
  for (const name of components) expect(leases.stdout.split("\n").filter((l) => l === `lease.coordination.k8s.io/${name}`)).toHaveLength(1);
  // client-go leader election with the components' defaults (retry period 2 s): candidates poll
  // with wait.JitterUntil(…, RetryPeriod, JitterFactor = 1.2, …) (client-go v0.33.5
  // tools/leaderelection/leaderelection.go), so each poll comes 2 s to 2 s × (1 + 1.2) = 4.4 s
  // after the last, and a candidate takes the lease once leaseDuration has passed since it last
  // saw it change. From the holder's last renewal: at most one poll until a candidate observes
  // that renewal, leaseDuration, one poll until it acts.
  const retryPeriodMs = 2000 * (1 + 1.2);
  const figures: Record<string, unknown> = {};
  for (const name of components) {
    const before = await lease(name);
    expect(before).toBeDefined();
    const holder = nodeOf(before!.holderIdentity) as string;
    expect(holder).toBeDefined();
    const boundMs = before!.leaseDurationSeconds * 1000 + 2 * retryPeriodMs;
    // Stacked: the holder's etcd member dies too. etcd elects within 2 × election-timeout (a
    // follower's randomized timeout is in [T, 2T)); that must end before a candidate may take the
    // lease (leaseDuration − one retry period after the kill at the earliest), or the bound grows.
    const etcdElectionMs = cp.node(holder).runsEtcd ? 2 * Number(cp.etcdConfig(holder)["election-timeout"]) : 0;
    if (cp.node(holder).runsEtcd) expect(etcdElectionMs).toBeLessThan(before!.leaseDurationSeconds * 1000 - 2000);
    const killedAt = Date.now();
    await cp.killNode(holder);
    try {
      // The holder's final renewal (a read may fail while the API's etcd clients fail over).
      let last = await lease(name);
      while (last === undefined && Date.now() - killedAt < 15_000) {
        await sleep(250);
        last = await lease(name);
      }
      expect(last).toBeDefined();
      let after = last as Lease;
      while (nodeOf(after.holderIdentity) === holder && Date.now() - killedAt < boundMs + 30_000) {
        await sleep(250);
        after = (await lease(name)) ?? after;
      }
      const takeoverFromKillMs = Date.now() - killedAt;
      const takeoverFromRenewalMs = Date.parse(after.acquireTime) - Date.parse((last as Lease).renewTime);
      figures[name] = { from: holder, to: nodeOf(after.holderIdentity), takeoverFromRenewalMs, takeoverFromKillMs, leaseDurationSeconds: before!.leaseDurationSeconds, boundMs, ...(etcdElectionMs ? { etcdMemberKilled: true, etcdElectionBoundMs: etcdElectionMs } : {}) };
      expect(nodeOf(after.holderIdentity)).toBeDefined();
      expect(nodeOf(after.holderIdentity)).not.toBe(holder);
      expect(takeoverFromRenewalMs).toBeLessThanOrEqual(boundMs);
    } finally {
      // The node comes back (a replacement) before anything else runs.
      await cp.replaceNode(holder);
      await cp.waitApiReady(holder, 180_000);
    }
  }
  if (cp.stacked) expect(await membership(cp)).toEqual(cp.etcdSlots.map((s) => [s, false]));
  report(label, figures);
}

/** 4. A SIGKILLed API server leaves the load balancer within the synthesized detection time. */
export async function failureDetection(cp: ControlPlaneCluster, report: Reporter, label = "4 failure detection"): Promise<void> {
  const h = cp.spec.model.health;
  const slot = cp.apiSlots[0];
  await waitAllUp(cp, cp.readmissionMs() * 3);
  const killedAt = Date.now();
  // Killed by the harness (cp.stop): its kubelet does not restart it on its own; the test does, below.
  void cp.stop(cp.process(slot, "kube-apiserver"), "SIGKILL", 5000);
  const boundMs = cp.detectionMs() + h.timeoutSeconds * 1000;
  await cp.lb.waitStatus(slot, "DOWN", boundMs + 5000);
  const measured = Date.now() - killedAt;
  // The kubelet restarts the container: the same node, its same manifest.
  cp.startStaticPod(slot, path.join(cp.roots.get(slot) as string, "etc/kubernetes/manifests/kube-apiserver.yaml"));
  await cp.waitApiReady(slot, 180_000);
  const readyAt = Date.now();
  await cp.lb.waitHealthy(slot, cp.readmissionMs() + h.intervalSeconds * 1000 + 5000);
  const readmitted = Date.now() - readyAt;
  report(label, {
    detectionMeasuredMs: measured,
    detectionConfiguredMs: cp.detectionMs(),
    bound: `unhealthy threshold ${h.unhealthyThreshold} x interval ${h.intervalSeconds}s + timeout ${h.timeoutSeconds}s`,
    readmissionMeasuredMs: readmitted,
    readmissionConfiguredMs: cp.readmissionMs(),
  });
  expect(measured).toBeLessThanOrEqual(boundMs);
  expect(readmitted).toBeLessThanOrEqual(cp.readmissionMs() + h.intervalSeconds * 1000);
}

/**
 * 5. No request fails while an API server shuts down (SIGTERM) and while every API node is
 * replaced one at a time as the Auto Scaling group does it. Stacked: writes too, and the member
 * set is whole again before the next node goes.
 */
export async function drainAndRollingReplacement(cp: ControlPlaneCluster, report: Reporter, label = "5 graceful drain and rolling replacement"): Promise<void> {
  const h = cp.spec.model.health;
  await waitAllUp(cp, cp.readmissionMs() * 3);
  const manifest = (slot: string) => parse(readFileSync(path.join(cp.roots.get(slot) as string, "etc/kubernetes/manifests/kube-apiserver.yaml"), "utf8"));
  const grace = (slot: string) => Number(manifest(slot).spec.terminationGracePeriodSeconds ?? 30) * 1000;
  const rate = 20;
  const phases: Record<string, number> = {};
  const logs = logsSince(cp);
  const termBefore = await etcdRaftTerm(cp);
  const lb = await lbWindow(cp);
  const loop = startClientLoop(cp, { mode: "get", path: "/api/v1/namespaces/default", rate, maxSeconds: 900 });
  const writes = cp.stacked ? startClientLoop(cp, { mode: "create", path: "/api/v1/namespaces/default/configmaps", rate: 5, maxSeconds: 900, prefix: "s5" }) : undefined;
  await sleep(3000);

  // a) a node shutdown: the kubelet sends SIGTERM; --shutdown-delay-duration keeps it serving.
  const first = cp.apiSlots[1];
  const t0 = Date.now();
  const stopped = cp.stop(cp.process(first, "kube-apiserver"), "SIGTERM", grace(first));
  await cp.lb.waitStatus(first, "DOWN", cp.detectionMs() + h.timeoutSeconds * 1000 + 10_000);
  phases.sigtermToLbDownMs = Date.now() - t0;
  phases.sigtermToExitMs = await stopped;
  cp.startStaticPod(first, path.join(cp.roots.get(first) as string, "etc/kubernetes/manifests/kube-apiserver.yaml"));
  await cp.waitApiReady(first, 180_000);
  await cp.lb.waitHealthy(first, cp.readmissionMs() + h.intervalSeconds * 1000 + 5000);

  // b) rolling replacement as the Auto Scaling group does it: deregister (drain for the
  // deregistration delay), terminate (SIGTERM to every pod, and to etcd when stacked), a new node
  // with a fresh disk in the slot, registration, then the checkpoint: re-admission by the target
  // group.
  const readmission: Record<string, number> = {};
  const membersAfter: Record<string, Array<[string, boolean]>> = {};
  const leaderChanges: string[] = [];
  for (const slot of cp.apiSlots) {
    await cp.lb.deregister(slot);
    const leaderBefore = cp.stacked ? await etcdLeaderSlot(cp) : undefined;
    await cp.terminateNode(slot, grace(slot));
    await cp.replaceNode(slot);
    await cp.waitApiReady(slot, 180_000);
    // A replacement is a new target: admitted after healthyThreshold passing checks, as on the NLB.
    await cp.lb.registerNewTarget(slot);
    const registeredAt = Date.now();
    await cp.lb.waitHealthy(slot, cp.readmissionMs() + h.intervalSeconds * 1000 + 5000);
    readmission[slot] = Date.now() - registeredAt;
    expect([slot, readmission[slot] >= (h.healthyThreshold - 1) * h.intervalSeconds * 1000]).toEqual([slot, true]);
    if (cp.stacked) {
      const leaderAfter = await etcdLeaderSlot(cp);
      if (leaderAfter !== leaderBefore) leaderChanges.push(`${slot} replaced: ${leaderBefore} -> ${leaderAfter}`);
      membersAfter[slot] = await membership(cp);
      expect(membersAfter[slot]).toEqual(cp.etcdSlots.map((s) => [s, false]));
      expect((await cp.etcdctl(["endpoint", "health", "--cluster"])).exitCode).toBe(0);
    }
  }
  await sleep(3000);
  const [raw, rawWrites] = await Promise.all([loop.stop(), writes?.stop()]);
  const termChanges = (await etcdRaftTerm(cp)) - termBefore;
  const s = summarize(raw.results, raw.sent, (status) => status === 200);
  const sw = rawWrites && summarize(rawWrites.results, rawWrites.sent, (status) => status === 201);
  const acked = rawWrites ? rawWrites.results.filter((r) => r.status === 201).map((r) => `s5-${r.n}`) : [];
  const listed = rawWrites ? await listedConfigMaps(cp) : new Set<string>();
  const lost = acked.filter((n) => !listed.has(n));
  report(label, {
    rate,
    sent: s.sent,
    failed: s.failed,
    longestGapMs: s.longestGapMs,
    longestGapAtMs: s.longestGapAtMs,
    slowestMs: s.slowestMs,
    ...phases,
    readmissionMs: readmission,
    readmissionConfiguredMs: cp.readmissionMs(),
    firstFailures: s.failures.slice(0, 5),
    lb: await lb(),
    ...(sw ? { writes: { sent: sw.sent, acknowledged: acked.length, failed: sw.failed, longestGapMs: sw.longestGapMs, lost: lost.length, firstFailures: sw.failures.slice(0, 3) }, etcdMembersAfterEachReplacement: membersAfter, etcdLeaderChanges: leaderChanges } : {}),
    apiServerEtcdErrors: logs("kube-apiserver", /learner|etcdserver:|rpc error|leader changed/),
    etcdLeaderChangesByTerm: termChanges,
  });
  expect(s.sent).toBeGreaterThan(rate * 60);
  // Target 0. Stacked, replacing the etcd leader's node moves etcd's leadership (etcd hands it over
  // when it stops); separate, API servers do not touch etcd. Either way a read may fail only when
  // etcd's leader changed (raft term), as kube-apiserver fails it.
  expectOnlyLeaderChangedReadFailures(s, termChanges, rate);
  if (sw) {
    expect(acked.length).toBeGreaterThan(5 * 60);
    expect(sw.failed).toBe(0);
    expect(lost).toEqual([]);
  }
}

/**
 * 6. Kill the etcd leader's member while the API serves writes: no write acknowledged to the API is
 * lost, and the restarted member holds them all. Separate etcd: etcd alone is SIGKILLed and systemd
 * restarts it on its disk. Stacked: the whole instance dies (etcd, API server, controller-manager,
 * scheduler) and reboots on its disk.
 */
export async function etcdMemberKill(cp: ControlPlaneCluster, report: Reporter, label = "6 etcd member kill"): Promise<void> {
  await waitAllUp(cp, cp.readmissionMs() * 6);
  const h = cp.spec.model.health;
  const loop = startClientLoop(cp, { mode: "create", path: "/api/v1/namespaces/default/configmaps", rate: 10, maxSeconds: 300, prefix: "s6" });
  await sleep(3000);
  // The leader: its loss forces an election while writes are in flight (the harder case).
  const victim = await etcdLeaderSlot(cp);
  const wholeNode = cp.node(victim).role === "apiserver";
  const killedAt = Date.now();
  if (wholeNode) await cp.killNode(victim);
  else await cp.stop(cp.process(victim, "etcd"), "SIGKILL", 5000);
  await sleep(5000);
  // systemd restarts etcd.service (the bootstrap script again, then etcd on the same disk); a
  // stacked node reboots: etcd.service, then the kubelet's static pods.
  if (wholeNode) await cp.rebootNode(victim);
  else await cp.startEtcdNode(victim, { freshDisk: false });
  await cp.waitEtcdHealthy(60_000);
  const rejoinedMs = Date.now() - killedAt;
  if (wholeNode) {
    await cp.waitApiReady(victim, 180_000);
    await cp.lb.waitHealthy(victim, cp.readmissionMs() + h.intervalSeconds * 1000 + 5000);
  }
  await sleep(3000);
  const raw = await loop.stop();
  const s = summarize(raw.results, raw.sent, (status) => status === 201);
  const acked = raw.results.filter((r) => r.status === 201).map((r) => `s6-${r.n}`);
  const listed = await listedConfigMaps(cp);
  const lost = acked.filter((n) => !listed.has(n));
  // The restarted member itself holds every acknowledged write once it has caught up (local read).
  const onVictim = await localKeys(cp, victim, "/registry/configmaps/default/s6-", acked.length);
  report(label, { killed: `${victim} (leader${wholeNode ? ", whole node: etcd and the static pods" : ""})`, sent: s.sent, acknowledged: acked.length, failedWrites: s.failed, lost: lost.length, onRestartedMember: onVictim, rejoinedMs, firstFailures: s.failures.slice(0, 3) });
  expect(acked.length).toBeGreaterThan(50);
  expect(lost).toEqual([]);
  expect(onVictim).toBeGreaterThanOrEqual(acked.length);
}

/**
 * Certificate renewal without restarts (issue 18 finding 3): every leaf is re-issued (new key, new
 * serial) and stored as a new secret version, as a deploy inside the renewal window does; each node
 * then runs its hourly refresh (ha-refresh-secrets.service: the real ha-fetch-secrets, and on API
 * nodes the drop-in's `ha-kube-configure --refresh-kubeconfigs`), and the harness's kubelet
 * restarts the static pods whose manifest changed. A read and a write loop run through the load
 * balancer throughout.
 *
 * Asserted: 0 failed requests, no acknowledged write lost; every API server serves its new serial
 * within the API server's certificate-file resync (1 min: dynamiccertificates.FileRefreshDuration
 * in k8s.io/apiserver 0.33) and every etcd member its new client and peer serials at once (etcd
 * loads the files on each TLS handshake: client/pkg/transport TLSInfo.baseConfig); API servers and
 * etcd keep their processes (same PIDs). Controller-manager and scheduler read their client
 * certificate once, from the kubeconfig that embeds it, so they restart by design (kubeadm's
 * `certs renew` asks for the same): exactly they are restarted, their kubeconfigs embed the new
 * certificates, and a restarted process holds and renews each lease. kubelet.conf embeds a renewed
 * certificate too: the refresh try-restarts the kubelet (recorded; the harness runs no kubelet).
 */
export async function certificateRenewal(cp: ControlPlaneCluster, report: Reporter, label = "R certificate renewal"): Promise<void> {
  await waitAllUp(cp, cp.readmissionMs() * 3);
  const root = (slot: string) => cp.roots.get(slot) as string;
  const fileSerial = (file: string) => execFileSync("openssl", ["x509", "-in", file, "-noout", "-serial"], { encoding: "utf8" }).trim();
  const etcdClient = cp.issued.get("apiserver-etcd-client") as IssuedFiles;
  type Endpoint = { name: string; address: string; file: () => string; clientCert?: IssuedFiles };
  const endpoints: Endpoint[] = [];
  for (const slot of cp.apiSlots) endpoints.push({ name: `${slot} kube-apiserver :6443`, address: `${cp.node(slot).ip}:6443`, file: () => path.join(root(slot), "etc/kubernetes/pki/apiserver.crt") });
  for (const slot of cp.etcdSlots) {
    for (const [kind, port] of [["client", 2379], ["peer", 2380]] as const) {
      endpoints.push({ name: `${slot} etcd ${kind} :${port}`, address: `${cp.node(slot).ip}:${port}`, file: () => path.join(root(slot), cp.etcdConfig(slot)[`${kind}-transport-security`]["cert-file"]), clientCert: etcdClient });
    }
  }
  const served = async (e: Endpoint): Promise<string> => {
    const auth = e.clientCert ? `-cert ${e.clientCert.cert} -key ${e.clientCert.key}` : "";
    const r = await cp.inClient(["sh", "-c", `openssl s_client -connect ${e.address} -servername ${cp.apiServerName} ${auth} </dev/null 2>/dev/null | openssl x509 -noout -serial`]);
    return r.stdout.trim();
  };
  const embeddedSerial = (slot: string, kubeconfig: string) => {
    const conf = parse(readFileSync(path.join(root(slot), "etc/kubernetes", kubeconfig), "utf8"));
    const pem = Buffer.from(conf.users[0].user["client-certificate-data"], "base64").toString("utf8");
    return execFileSync("openssl", ["x509", "-noout", "-serial"], { input: pem, encoding: "utf8" }).trim();
  };
  const kubeconfigs = ["controller-manager.conf", "scheduler.conf", "kubelet.conf"];
  const before: Record<string, string> = {};
  for (const e of endpoints) {
    before[e.name] = await served(e);
    expect([e.name, before[e.name]]).toEqual([e.name, fileSerial(e.file())]); // the probe reads what is served
  }
  const embeddedBefore = Object.fromEntries(cp.apiSlots.flatMap((s) => kubeconfigs.map((k) => [`${s}/${k}`, embeddedSerial(s, k)])));
  const kept = cp.processes.filter((p) => (p.component === "kube-apiserver" || p.component === "etcd") && cp.liveProcesses(p.slot).includes(p));

  const logs = logsSince(cp);
  const termBefore = await etcdRaftTerm(cp);
  const lb = await lbWindow(cp);
  const reads = startClientLoop(cp, { mode: "get", path: "/api/v1/namespaces/default", rate: 20, maxSeconds: 600 });
  const writes = startClientLoop(cp, { mode: "create", path: "/api/v1/namespaces/default/configmaps", rate: 5, maxSeconds: 600, prefix: "rn" });
  await sleep(3000);
  await cp.reissueLeaves();
  // Node by node (the timer's randomized delay spreads them): refresh, the kubelet's restarts, then
  // each of the node's endpoints must serve the serial of its new file. The API server re-reads its
  // serving certificate on a file event or at its 1 min resync (bound: 60 s + 5 s for the probe);
  // etcd loads its files on each handshake (bound: the probe, 5 s).
  const perNode: Record<string, { changedFiles: number; systemctl: string[]; restarted: string[] }> = {};
  const servedNewAfterMs: Record<string, number> = {};
  const after: Record<string, string> = {};
  const boundMs = (e: Endpoint) => (e.name.includes("kube-apiserver") ? 60_000 + 5000 : 5000);
  for (const node of cp.spec.nodes) {
    const r = await cp.refreshSecrets(node.slot);
    const refreshedAt = Date.now();
    const restarted = await cp.syncStaticPods(node.slot);
    perNode[node.slot] = { changedFiles: r.stdout.split("\n").filter((l) => l.trim() !== "").length, systemctl: r.systemctl, restarted };
    for (const e of endpoints.filter((x) => x.name.startsWith(`${node.slot} `))) {
      const want = fileSerial(e.file());
      expect([e.name, want]).not.toEqual([e.name, before[e.name]]);
      for (;;) {
        after[e.name] = await served(e);
        if (after[e.name] === want || Date.now() - refreshedAt > boundMs(e)) break;
        await sleep(250);
      }
      servedNewAfterMs[e.name] = Date.now() - refreshedAt;
      expect([e.name, after[e.name], servedNewAfterMs[e.name] <= boundMs(e)]).toEqual([e.name, want, true]);
    }
  }
  const lastRestartAt = Date.now();

  // Controller-manager and scheduler: a restarted process (new certificate) holds and renews each lease.
  type Lease = { holderIdentity: string; leaseDurationSeconds: number; renewTime: string };
  const leases: Record<string, unknown> = {};
  for (const name of ["kube-controller-manager", "kube-scheduler"]) {
    const deadline = Date.now() + 15_000 + 2 * 2000 * (1 + 1.2) + 30_000;
    let lease: Lease | undefined;
    for (;;) {
      const r = await cp.kubectl(["get", "lease", name, "-n", "kube-system", "-o", "json"]);
      lease = r.exitCode === 0 ? (JSON.parse(r.stdout).spec as Lease) : undefined;
      if ((lease && Date.parse(lease.renewTime) > lastRestartAt) || Date.now() > deadline) break;
      await sleep(1000);
    }
    leases[name] = { holder: lease?.holderIdentity, renewedAfterLastRestartMs: lease ? Date.parse(lease.renewTime) - lastRestartAt : undefined };
    expect(lease && Date.parse(lease.renewTime)).toBeGreaterThan(lastRestartAt);
    expect(cp.apiSlots.some((s) => lease!.holderIdentity.startsWith(`ip-${cp.node(s).ip.replace(/\./g, "-")}_`))).toBe(true);
  }

  await sleep(3000);
  const [rawReads, rawWrites] = await Promise.all([reads.stop(), writes.stop()]);
  const sr = summarize(rawReads.results, rawReads.sent, (status) => status === 200);
  const sw = summarize(rawWrites.results, rawWrites.sent, (status) => status === 201);
  const leaderChanges = (await etcdRaftTerm(cp)) - termBefore;
  const acked = rawWrites.results.filter((r) => r.status === 201).map((r) => `rn-${r.n}`);
  const listed = await listedConfigMaps(cp);
  const lost = acked.filter((n) => !listed.has(n));
  const embeddedAfter = Object.fromEntries(cp.apiSlots.flatMap((s) => kubeconfigs.map((k) => [`${s}/${k}`, embeddedSerial(s, k)])));
  const samePids = kept.filter((p) => cp.liveProcesses(p.slot).includes(p)).map((p) => `${p.slot}/${p.component}:${p.child.pid}`);
  report(label, {
    reads: { sent: sr.sent, failed: sr.failed, longestGapMs: sr.longestGapMs, longestGapAtMs: sr.longestGapAtMs, slowestMs: sr.slowestMs, firstFailures: sr.failures.slice(0, 3) },
    writes: { sent: sw.sent, acknowledged: acked.length, failed: sw.failed, lost: lost.length, longestGapMs: sw.longestGapMs, slowestMs: sw.slowestMs, firstFailures: sw.failures.slice(0, 3) },
    loopStartedAt: "3 s before the re-issue",
    etcdLeaderChanges: leaderChanges,
    lb: await lb(),
    servedNewAfterMs,
    reloadBoundMs: { "kube-apiserver": 65_000, etcd: 5000 },
    serials: Object.fromEntries(endpoints.map((e) => [e.name, `${before[e.name]} -> ${after[e.name]}`])),
    perNode,
    leases,
    keptProcesses: `${samePids.length} of ${kept.length} (kube-apiserver, etcd)`,
    tlsErrors: [...logs("kube-apiserver", /certificate|x509|tls:/i, 5), ...logs("etcd", /certificate|x509|tls:|handshake/i, 5), ...logs("kube-controller-manager", /Unauthorized|x509|certificate/i, 3), ...logs("kube-scheduler", /Unauthorized|x509|certificate/i, 3)],
  });
  // No restart touches etcd: 0 failed reads unless etcd itself changed leaders (an election under load).
  expectOnlyLeaderChangedReadFailures(sr, leaderChanges, 20);
  expect(sw.failed).toBe(0);
  expect(lost).toEqual([]);
  expect(samePids).toHaveLength(kept.length);
  for (const node of cp.spec.nodes) {
    const api = node.role === "apiserver";
    expect([node.slot, perNode[node.slot].restarted.sort()]).toEqual([node.slot, api ? ["kube-controller-manager", "kube-scheduler"] : []]);
    expect([node.slot, perNode[node.slot].systemctl]).toEqual([node.slot, api ? ["try-restart --no-block kubelet.service"] : []]);
    expect(perNode[node.slot].changedFiles).toBeGreaterThan(0);
  }
  for (const slot of cp.apiSlots) {
    expect(embeddedAfter[`${slot}/controller-manager.conf`]).toBe(fileSerial(path.join(root(slot), "etc/kubernetes/pki/controller-manager.crt")));
    expect(embeddedAfter[`${slot}/scheduler.conf`]).toBe(fileSerial(path.join(root(slot), "etc/kubernetes/pki/scheduler.crt")));
    expect(embeddedAfter[`${slot}/kubelet.conf`]).toBe(fileSerial(path.join(root(slot), "etc/kubernetes/pki/apiserver-kubelet-client.crt")));
    for (const k of kubeconfigs) expect(embeddedAfter[`${slot}/${k}`]).not.toBe(embeddedBefore[`${slot}/${k}`]);
  }
}

/**
 * What a joining worker could change on the host if its view leaked: the directories kubeadm and the
 * kubelet write, the kernel tunables the kubelet sets, cgroups it would create, /run/xtables.lock.
 */
function hostState(): Record<string, unknown> {
  const list = (d: string) => (existsSync(d) ? readdirSync(d).sort() : null);
  const sys = (k: string) => readFileSync(`/proc/sys/${k}`, "utf8").trim();
  const cgroups = readdirSync("/sys/fs/cgroup").flatMap((h) => {
    try {
      return readdirSync(`/sys/fs/cgroup/${h}`).filter((e) => /kube|pods/.test(e)).map((e) => `${h}/${e}`);
    } catch {
      return [];
    }
  });
  return {
    etcKubernetes: list("/etc/kubernetes"),
    varLibKubelet: list("/var/lib/kubelet"),
    runContainerd: list("/run/containerd"),
    xtablesLock: existsSync("/run/xtables.lock"),
    tunables: ["vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"].map((k) => `${k}=${sys(k)}`),
    cgroups,
  };
}

/** Whether IPv4 `ip` lies in `cidr`. */
function inCidr(ip: string, cidr: string): boolean {
  const n = (a: string) => a.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

/**
 * Scenario 7 (second half): `terraform apply` of the reference cluster-objects stack
 * ({@link applyClusterObjects}), then a worker joins with its `join_command` output after writing
 * `discovery_kubeconfig` to the file it names (the README's commands; worker.ts). Asserted: the
 * Node registers; the kubelet's client certificate (CN system:node:<name>, O system:nodes) is issued
 * by the cluster CA through a CSR the controller-manager auto-approved; the KubeletConfiguration on
 * disk is the kubelet-config ConfigMap's and the kubelet listens as it says; the serving CSR meets
 * the kubelet-csr-approver's rules and stays Pending (no approver pod without a CNI); the host is
 * left unchanged. The worker is stopped afterwards (its Node object stays, NotReady).
 */
export async function workerJoin(cp: ControlPlaneCluster, report: Reporter, label = "7 worker join"): Promise<void> {
  const hostBefore = hostState();
  // The objects kubeadm join reads come from `terraform apply` of the cluster-objects stack
  // (cluster-objects.ts); the join file and command are its outputs, used as the README says.
  const applied = await applyClusterObjects(cp);
  let joined: JoinedWorker | undefined;
  try {
    joined = await joinWorker(cp, { joinCommand: applied.outputs.join_command, discoveryKubeconfig: applied.outputs.discovery_kubeconfig });
    const node = JSON.parse((await cp.kubectl(["get", "node", joined.nodeName, "-o", "json"])).stdout);
    // The node's client certificate (Kubernetes "TLS bootstrapping": CN system:node:<node name>,
    // O system:nodes), issued by the cluster CA through the kubelet's CSR.
    // kubelet-client-current.pem is a symlink to an absolute path on the node: resolved in the node root.
    const current = path.join(joined.root, "var/lib/kubelet/pki/kubelet-client-current.pem");
    const clientPem = readFileSync(path.join(joined.root, readlinkSync(current)), "utf8");
    const clientCert = new X509Certificate(clientPem.slice(clientPem.indexOf("-----BEGIN CERTIFICATE-----")));
    const ca = new X509Certificate(readFileSync(cp.kubernetesCa().cert));
    type Csr = { metadata: { name: string }; spec: { signerName: string; username: string; request: string }; status: { certificate?: string; conditions?: Array<{ type: string; reason?: string; message?: string }> } };
    const listCsrs = async () =>
      (JSON.parse((await cp.kubectl(["get", "csr", "-o", "json"])).stdout).items as Csr[]).map((c) => ({
        name: c.metadata.name,
        signer: c.spec.signerName,
        requestor: c.spec.username,
        conditions: (c.status.conditions ?? []).map((x) => `${x.type}/${x.reason ?? ""}: ${x.message ?? ""}`),
        issued: Boolean(c.status.certificate),
        request: c.spec.request,
      }));
    // The kubelet requests its serving certificate once it runs on its client certificate (bounded wait).
    let csrs = await listCsrs();
    for (const deadline = Date.now() + 60_000; !csrs.some((c) => c.signer === "kubernetes.io/kubelet-serving") && Date.now() < deadline; csrs = await listCsrs()) await sleep(500);
    const clientCsrs = csrs.filter((c) => c.signer === "kubernetes.io/kube-apiserver-client-kubelet");
    const servingCsrs = csrs.filter((c) => c.signer === "kubernetes.io/kubelet-serving");
    const hostAfter = hostState();
    report(label, {
      node: joined.nodeName,
      joinSeconds: joined.kubeadmMs / 1000,
      nodeRegisteredSeconds: joined.nodeRegisteredMs / 1000,
      nodeReady: (node.status.conditions as Array<{ type: string; status: string; reason: string }>).find((c) => c.type === "Ready"),
      kubeletDeviations: KUBELET_DEVIATIONS.map((d) => d.flag),
      applySeconds: applied.applyMs / 1000,
      kubeletKernelTunablesKeptOffHost: joined.kernelTunablesWritten,
      csrs: csrs.map(({ request, ...c }) => c), // eslint-disable-line @typescript-eslint/no-unused-vars
    });
    expect(node.metadata.name).toBe(joined.nodeName);
    expect(clientCert.subject.split("\n").sort()).toEqual([`CN=system:node:${joined.nodeName}`, "O=system:nodes"]);
    expect(clientCert.checkIssued(ca)).toBe(true);
    expect(clientCert.verify(ca.publicKey)).toBe(true);
    // Approved by the controller-manager's csrapproving controller (Kubernetes 1.33
    // pkg/controller/certificates/approver/sarapprove.go), not by the test (it approves nothing).
    expect(clientCsrs).toHaveLength(1);
    expect(clientCsrs[0].requestor).toMatch(/^system:bootstrap:[a-z0-9]{6}$/);
    expect(clientCsrs[0].conditions).toEqual(["Approved/AutoApproved: Auto approving kubelet client certificate after SubjectAccessReview."]);
    expect(clientCsrs[0].issued).toBe(true);
    // The KubeletConfiguration on disk is the kubelet-config ConfigMap's: kubeadm writes it back
    // with omitempty, so a zero value declared (readOnlyPort: 0) is absent, which v1beta1 reads as
    // the same 0 (no defaulting of readOnlyPort); every deviation is a flag (KUBELET_DEVIATIONS).
    const declared = parse(JSON.parse((await cp.kubectl(["get", "configmap", "kubelet-config", "-n", "kube-system", "-o", "json"])).stdout).data.kubelet as string) as Record<string, unknown>;
    const onDisk = parse(readFileSync(path.join(joined.root, "var/lib/kubelet/config.yaml"), "utf8")) as Record<string, unknown>;
    const omitted = Object.keys(declared).filter((k) => !(k in onDisk) && [0, false, ""].includes(declared[k] as never));
    expect(omitted).toEqual(["readOnlyPort"]);
    expect(onDisk).toMatchObject(Object.fromEntries(Object.entries(declared).filter(([k]) => !omitted.includes(k))));
    // And the kubelet behaves so: its port 10250 and healthz 127.0.0.1:10248, no read-only port 10255.
    const ss = await runCommand("ip", ["netns", "exec", cp.net.namespaces.get(WORKER_HOST) as string, "ss", "-Hltn"]);
    const listening = ss.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => l.trim().split(/\s+/)[3]);
    expect(listening).toContain("127.0.0.1:10248");
    expect(listening.filter((a) => a.endsWith(":10250"))).toHaveLength(1);
    expect(listening.filter((a) => a.endsWith(":10255"))).toEqual([]);
    // serverTLSBootstrap: the kubelet asks for its serving certificate with a kubelet-serving CSR;
    // the controller-manager signs those but never approves them (Kubernetes "Certificate Signing
    // Requests": kubernetes.io/kubelet-serving, "Never auto-approved by kube-controller-manager").
    // The approver the stack declares is a Deployment, and a cluster without a CNI runs no pod: the
    // CSR stays Pending here. What the approver checks is checked instead: the requester is the
    // node, every DNS name matches its -provider-regex and every IP lies in -provider-ip-prefixes.
    expect(servingCsrs).toHaveLength(1);
    expect(servingCsrs[0].requestor).toBe(`system:node:${joined.nodeName}`);
    expect(servingCsrs[0].conditions).toEqual([]);
    expect(servingCsrs[0].issued).toBe(false);
    const approver = JSON.parse((await cp.kubectl(["get", "deployment", "kubelet-csr-approver", "-n", "kube-system", "-o", "json"])).stdout);
    const args = approver.spec.template.spec.containers[0].args as string[];
    const arg = (name: string) => (args.find((a) => a.startsWith(`-${name}=`)) as string).slice(name.length + 2);
    const request = await runCommand("openssl", ["req", "-noout", "-text"], { input: Buffer.from(servingCsrs[0].request, "base64").toString("utf8") });
    const sans = /Subject Alternative Name:\s*\n\s*(.+)/.exec(request.stdout)?.[1].split(/,\s*/) ?? [];
    const dnsNames = sans.filter((x) => x.startsWith("DNS:")).map((x) => x.slice(4));
    const ips = sans.filter((x) => x.startsWith("IP Address:")).map((x) => x.slice(11));
    expect(dnsNames).toContain(joined.nodeName);
    for (const d of dnsNames) expect([d, new RegExp(arg("provider-regex")).test(d)]).toEqual([d, true]);
    expect(ips).toContain(cp.net.addresses.get("worker"));
    for (const ip of ips) expect([ip, arg("provider-ip-prefixes").split(",").some((prefix) => inCidr(ip, prefix))]).toEqual([ip, true]);
    expect(approver.status.readyReplicas ?? 0).toBe(0);
    expect(hostAfter).toEqual(hostBefore);
  } finally {
    if (joined) await stopWorker(cp, joined);
    await applied.workspace.cleanup();
  }
}

/**
 * Scenario 1: `/readyz` and admin kubectl through the load balancer; anonymous requests get 200 on
 * the health paths only and 401 elsewhere (kubeadm's hardening), at the load balancer and at each
 * API server; a TokenRequest token authenticates at every API server (same service-account key);
 * the front-proxy client certificate may assert a user by header, another client certificate may not.
 */
export async function accessChecks(cp: ControlPlaneCluster, report: Reporter, label = "1 access"): Promise<void> {
  expect((await cp.curl("lb", "/readyz")).status).toBe(200);
  const whoami = await cp.kubectl(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
  expect(whoami.stderr).toBe("");
  expect(whoami.stdout).toBe("kubernetes-admin");
  const ns = await cp.kubectl(["get", "namespaces", "-o", "name"]);
  expect(ns.stdout.split("\n")).toEqual(expect.arrayContaining(["namespace/default", "namespace/kube-system"]));

  // Anonymous: the library's promise (kubeadm hardening) is 200 on the health paths, 401 elsewhere.
  const healthPaths = ["/livez", "/readyz", "/healthz"];
  const otherPaths = ["/version", "/api", "/apis", "/metrics", "/api/v1/namespaces", "/openapi/v2"];
  const anonymous: Record<string, number> = {};
  for (const target of ["lb", ...cp.apiSlots]) {
    for (const p of [...healthPaths, ...otherPaths]) anonymous[`${target}${p}`] = (await cp.curl(target, p)).status;
  }
  for (const [k, status] of Object.entries(anonymous)) expect([k, status]).toEqual([k, healthPaths.some((p) => k.endsWith(p)) ? 200 : 401]);

  // Service accounts: a token from the TokenRequest API authenticates at every API server (same sa.pub).
  expect((await cp.kubectl(["create", "serviceaccount", "cp-tier", "-n", "default"])).exitCode).toBe(0);
  const token = (await cp.kubectl(["create", "token", "cp-tier", "-n", "default", "--duration=10m"])).stdout.trim();
  expect(token.split(".")).toHaveLength(3);
  const review = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
  const users: Record<string, string> = {};
  for (const slot of cp.apiSlots) {
    const r = await cp.curl(slot, "/apis/authentication.k8s.io/v1/selfsubjectreviews", { token, method: "POST", body: review });
    expect(r.status).toBe(201);
    users[slot] = JSON.parse(r.body).status.userInfo.username;
  }
  expect(Object.values(users)).toEqual(cp.apiSlots.map(() => "system:serviceaccount:default:cp-tier"));

  // Front proxy (aggregated APIs): the front-proxy client certificate may assert a user by header;
  // any other client certificate may not.
  const frontProxy = cp.issued.get("front-proxy-client") as IssuedFiles;
  const headers = ["X-Remote-User: proxied-user", "X-Remote-Group: proxied-group"];
  const proxied: Record<string, string> = {};
  for (const slot of cp.apiSlots) {
    const r = await cp.curl(slot, "/apis/authentication.k8s.io/v1/selfsubjectreviews", { cert: frontProxy, headers, method: "POST", body: review });
    expect(r.status).toBe(201);
    const info = JSON.parse(r.body).status.userInfo;
    proxied[slot] = info.username;
    expect(info.groups).toContain("proxied-group");
  }
  expect(Object.values(proxied)).toEqual(cp.apiSlots.map(() => "proxied-user"));
  const spoof = await cp.curl(cp.apiSlots[0], "/apis/authentication.k8s.io/v1/selfsubjectreviews", { cert: cp.issued.get("admin") as IssuedFiles, headers, method: "POST", body: review });
  expect(JSON.parse(spoof.body).status.userInfo.username).toBe("kubernetes-admin");
  report(label, { anonymousChecked: Object.keys(anonymous).length, serviceAccountUsers: users, frontProxyUsers: proxied });
}

/**
 * Scenario 2: a Secret read directly from etcd starts with the configured provider's prefix
 * (Kubernetes "Encrypting Confidential Data at Rest": `k8s:enc:<provider>:v1:<key name>:`).
 */
export async function encryptionAtRest(cp: ControlPlaneCluster, report: Reporter, label = "2 encryption at rest"): Promise<void> {
  const value = "cp-tier-plaintext-value";
  expect((await cp.kubectl(["create", "secret", "generic", "cp-tier-secret", "-n", "default", `--from-literal=password=${value}`])).exitCode).toBe(0);
  const config = parse(readFileSync(path.join(cp.roots.get(cp.apiSlots[0]) as string, "etc/kubernetes/encryption-config.yaml"), "utf8"));
  const provider = config.resources[0].providers[0] as Record<string, { keys: Array<{ name: string }> }>;
  const [providerName] = Object.keys(provider);
  // Kubernetes "Encrypting Confidential Data at Rest": stored values start with k8s:enc:<provider>:v1:<key name>:.
  const prefix = `k8s:enc:${providerName}:v1:${provider[providerName].keys[0].name}:`;
  const r = await cp.etcdctl(["get", "/registry/secrets/default/cp-tier-secret", "--print-value-only"]);
  expect(r.exitCode).toBe(0);
  expect(r.stdout.startsWith(prefix)).toBe(true);
  expect(r.stdout).not.toContain(value);
  expect(providerName).toBe("secretbox");
  report(label, { prefix, storedBytes: r.stdout.length });
}
