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
 *   promoted), so a write loop runs besides the reads: 0 failed reads and writes, no acknowledged
 *   write lost, and 3 voting members, all healthy, before the next node goes (quorum 2 of 3 is
 *   never at stake: one node at a time).
 * - 6 (member killed): the instance dies, not only etcd — the member's API server, controller-
 *   manager and scheduler die with it and the node reboots on its disk. Requests in flight at the
 *   killed API server fail (as do writes during the election); the promise is no acknowledged write
 *   lost, and the rebooted member holds every one.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ControlPlaneCluster, sleep, startClientLoop, summarize } from "./control-plane";

/** Prints a scenario's figures. */
export type Reporter = (scenario: string, figures: Record<string, unknown>) => void;

type EtcdStatus = Array<{ Endpoint: string; Status: { header: { member_id: number }; leader: number } }>;
type Member = { ID: number | string; name: string; peerURLs: string[]; isLearner?: boolean };

/** Waits until every API server is in service at the load balancer. */
export async function waitAllUp(cp: ControlPlaneCluster, timeoutMs: number): Promise<void> {
  for (const s of cp.apiSlots) await cp.lb.waitHealthy(s, timeoutMs);
}

/** The slot whose etcd member leads. */
export async function etcdLeaderSlot(cp: ControlPlaneCluster): Promise<string> {
  const status = JSON.parse((await cp.etcdctl(["endpoint", "status", "--cluster", "-w", "json"])).stdout) as EtcdStatus;
  const leader = status.find((e) => e.Status.header.member_id === e.Status.leader) as { Endpoint: string };
  const slot = cp.etcdSlots.find((s) => leader.Endpoint === `https://${cp.node(s).ip}:2379`);
  if (!slot) throw new Error(`no slot for the etcd leader ${leader.Endpoint}`);
  return slot;
}

/** [slot, isLearner] of every member, sorted. */
async function membership(cp: ControlPlaneCluster): Promise<Array<[string, boolean]>> {
  const members = JSON.parse((await cp.etcdctl(["member", "list", "-w", "json", "--hex"])).stdout).members as Member[];
  return members.map((m): [string, boolean] => [cp.etcdSlots.find((s) => m.peerURLs.includes(`https://${cp.node(s).ip}:2380`)) ?? m.name, m.isLearner === true]).sort();
}

/** Names of the ConfigMaps in `default` (through the load balancer). */
async function listedConfigMaps(cp: ControlPlaneCluster): Promise<Set<string>> {
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
  cp.process(slot, "kube-apiserver").child.kill("SIGKILL");
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
  for (const slot of cp.apiSlots) {
    await cp.lb.deregister(slot);
    await cp.terminateNode(slot, grace(slot));
    await cp.replaceNode(slot);
    await cp.waitApiReady(slot, 180_000);
    await cp.lb.register(slot);
    const registeredAt = Date.now();
    await cp.lb.waitHealthy(slot, cp.readmissionMs() + h.intervalSeconds * 1000 + 5000);
    readmission[slot] = Date.now() - registeredAt;
    if (cp.stacked) {
      membersAfter[slot] = await membership(cp);
      expect(membersAfter[slot]).toEqual(cp.etcdSlots.map((s) => [s, false]));
      expect((await cp.etcdctl(["endpoint", "health", "--cluster"])).exitCode).toBe(0);
    }
  }
  await sleep(3000);
  const [raw, rawWrites] = await Promise.all([loop.stop(), writes?.stop()]);
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
    ...phases,
    readmissionMs: readmission,
    readmissionConfiguredMs: cp.readmissionMs(),
    firstFailures: s.failures.slice(0, 5),
    ...(sw ? { writes: { sent: sw.sent, acknowledged: acked.length, failed: sw.failed, longestGapMs: sw.longestGapMs, lost: lost.length, firstFailures: sw.failures.slice(0, 3) }, etcdMembersAfterEachReplacement: membersAfter } : {}),
  });
  expect(s.sent).toBeGreaterThan(rate * 60);
  expect(s.failed).toBe(0);
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
