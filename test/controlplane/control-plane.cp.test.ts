/**
 * The control-plane tier (issue 12): the reference example's etcd members, API servers,
 * controller-managers and schedulers run as real processes from the files the nodes receive, behind
 * haproxy configured from the synthesized target group (see control-plane.ts for how). Each scenario
 * prints the figures it asserts. Expected values come from Kubernetes (anonymous paths, the
 * encryption-at-rest prefix `k8s:enc:<provider>:v1:<key name>:`, leader-election timing) and from
 * the synthesized target group (detection and re-admission times), never from the library's helpers.
 */
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { describeTier } from "../harness/tiers";
import { ControlPlaneCluster, sleep, startClientLoop, summarize } from "./control-plane";
import { CONTROL_PLANE_TIER_CHECK, accessChecks, certificateRenewal, drainAndRollingReplacement, encryptionAtRest, etcdLeaderSlot, etcdMemberKill, etcdRaftTerm, expectOnlyLeaderChangedReadFailures, failureDetection, leaderElectionTakeover, waitAllUp, workerJoin, reporter } from "./scenarios";



/** Prints a scenario's figures (jest shows console output with the file). */
const report = reporter();

describeTier("control plane of the reference example", CONTROL_PLANE_TIER_CHECK, { tierLabel: "control plane" }, () => {
  let cp: ControlPlaneCluster;
  const tierStart = Date.now();

  beforeAll(async () => {
    cp = await ControlPlaneCluster.start();
    report("bring-up", { seconds: (Date.now() - tierStart) / 1000, droppedTokenSans: cp.droppedSans.length, tlsServerName: cp.apiServerName });
  }, 600_000);

  afterAll(async () => {
    await cp?.destroy();
    report("tier", { wallSeconds: (Date.now() - tierStart) / 1000 });
  }, 120_000);

  it("1. serves /readyz through the load balancer; admin kubectl works; anonymous only on health paths; service-account tokens and the front proxy work", () => accessChecks(cp, report), 120_000);

  it("2. stores Secrets encrypted with the configured provider (read directly from etcd)", () => encryptionAtRest(cp, report), 60_000);

  it("7. a worker joins with the README's command: discovery, TLS bootstrap approved by the controller-manager, a Node registered", () => workerJoin(cp, report), 600_000);

  it("4. a SIGKILLed API server leaves the load balancer within the synthesized detection time", () => failureDetection(cp, report), 300_000);

  it("5. drops no request while an API server shuts down and while all three are replaced one at a time", () => drainAndRollingReplacement(cp, report), 900_000);

  it("3. controller-manager and scheduler each hold one lease; another node takes over within the lease duration", () => leaderElectionTakeover(cp, report), 600_000);

  it("6. loses no acknowledged write when an etcd member is killed while the API serves writes", () => etcdMemberKill(cp, report), 600_000);

  it("6b. replaces an etcd member with an empty disk and rejoins a removed member with data, through the bootstrap script (learner, then promote), while the API serves: no acknowledged write lost, 0 failed requests (the learner takes no client traffic)", async () => {
    await waitAllUp(cp, cp.readmissionMs() * 6);
    type Member = { ID: number | string; name: string; peerURLs: string[]; isLearner?: boolean };
    const members = async (): Promise<Member[]> => JSON.parse((await cp.etcdctl(["member", "list", "-w", "json", "--hex"])).stdout).members as Member[];
    const slotOf = (m: Member) => cp.etcdSlots.find((s) => m.peerURLs.includes(`https://${cp.node(s).ip}:2380`)) as string;
    const logOffsets = new Map(cp.processes.map((p) => [p.logFile, readFileSync(p.logFile).length])); // diagnostics from here on
    const termBefore = await etcdRaftTerm(cp);
    const reads = startClientLoop(cp, { mode: "get", path: "/api/v1/namespaces/default", rate: 20, maxSeconds: 600 });
    const writes = startClientLoop(cp, { mode: "create", path: "/api/v1/namespaces/default/configmaps", rate: 5, maxSeconds: 600, prefix: "s6b" });
    await sleep(3000);
    const figures: Record<string, unknown> = {};
    const idHex = (m: Member) => String(m.ID); // --hex: IDs as hex strings (JSON numbers lose uint64 precision)

    // a) The instance in a slot is replaced (its shutdown stops etcd.service: SIGTERM) and a new one
    // boots with an empty disk. A follower, so the change needs no election (losing the leader is 6).
    const leader = await etcdLeaderSlot(cp);
    const empty = cp.etcdSlots.find((s) => s !== leader) as string;
    const oldId = idHex((await members()).find((m) => slotOf(m) === empty) as Member);
    await cp.stop(cp.process(empty, "etcd"), "SIGTERM", 30_000);
    let t = Date.now();
    const outA: string[] = [];
    await cp.startEtcdNode(empty, { freshDisk: true, output: outA });
    await cp.waitEtcdHealthy(60_000);
    const afterA = await members();
    figures.emptyDisk = { slot: empty, oldId, newId: idHex(afterA.find((m) => slotOf(m) === empty) as Member), replacedMs: Date.now() - t, script: outA.join("").split("\n").filter((l) => /removing|adding|joining|promoting|refused/.test(l)) };
    expect(outA.join("")).toContain(`removing the old entry ${oldId}`);
    expect(outA.join("")).toContain("as a learner");
    expect(outA.join("")).toContain("clients on 127.0.0.1 only until it is promoted");
    expect(outA.join("")).toContain("promoting learner");
    expect(afterA.map((m) => [slotOf(m), m.isLearner === true]).sort()).toEqual(cp.etcdSlots.map((s) => [s, false]));
    expect(idHex(afterA.find((m) => slotOf(m) === empty) as Member)).not.toBe(oldId);
    await sleep(3000);

    // b) A member removed from the cluster while its node was down (stopped for maintenance; the
    // entry removed by an operator or a replacement elsewhere) boots again with its disk: etcd would
    // exit "member has already been removed" on every restart.
    const leader2 = await etcdLeaderSlot(cp);
    const removed = cp.etcdSlots.find((s) => s !== leader2 && s !== empty) as string;
    const removedId = idHex((await members()).find((m) => slotOf(m) === removed) as Member);
    await cp.stop(cp.process(removed, "etcd"), "SIGTERM", 30_000);
    let r = await cp.etcdctl(["member", "remove", removedId]);
    for (let i = 0; i < 20 && r.exitCode !== 0; i++) {
      await sleep(1000); // strict reconfig check: a peer connected for less than 5 s
      r = await cp.etcdctl(["member", "remove", removedId]);
    }
    expect(r.exitCode).toBe(0);
    const dataDir = path.join(cp.roots.get(removed) as string, "var/lib/etcd");
    t = Date.now();
    const outB: string[] = [];
    await cp.startEtcdNode(removed, { freshDisk: false, output: outB });
    await cp.waitEtcdHealthy(60_000);
    const aside = readdirSync(dataDir).filter((d) => /^data\.removed-/.test(d));
    const afterB = await members();
    figures.removedWithData = { slot: removed, oldId: removedId, newId: idHex(afterB.find((m) => slotOf(m) === removed) as Member), rejoinedMs: Date.now() - t, movedAside: aside, script: outB.join("").split("\n").filter((l) => /removed|adding|joining|promoting|refused/.test(l)) };
    expect(outB.join("")).toContain("(removed): moving");
    expect(aside).toHaveLength(1);
    expect(readdirSync(path.join(dataDir, aside[0]))).toContain("member");
    expect(afterB.map((m) => [slotOf(m), m.isLearner === true]).sort()).toEqual(cp.etcdSlots.map((s) => [s, false]));

    await sleep(3000);
    const [rawReads, rawWrites] = await Promise.all([reads.stop(), writes.stop()]);
    const sr = summarize(rawReads.results, rawReads.sent, (status) => status === 200);
    const sw = summarize(rawWrites.results, rawWrites.sent, (status) => status === 201);
    const leaderChanges = (await etcdRaftTerm(cp)) - termBefore;
    const acked = rawWrites.results.filter((x) => x.status === 201).map((x) => `s6b-${x.n}`);
    const listed = new Set((await cp.kubectl(["get", "configmaps", "-n", "default", "-o", "name"])).stdout.split("\n").map((l) => l.replace(/^configmap\//, "")));
    const lost = acked.filter((n) => !listed.has(n));
    // Both new members hold every acknowledged write in their own store (serializable reads).
    const local: Record<string, number> = {};
    for (const slot of [empty, removed]) {
      for (let i = 0; i < 40; i++) {
        const g = await cp.etcdctl([`--endpoints=https://${cp.node(slot).ip}:2379`, "get", "--prefix", "/registry/configmaps/default/s6b-", "--keys-only", "--consistency=s"]);
        local[slot] = g.stdout.split("\n").filter((l) => l.trim() !== "").length;
        if (local[slot] >= acked.length) break;
        await sleep(500);
      }
    }
    const learnerErrors = cp.processes
      .filter((p) => p.component === "kube-apiserver")
      .flatMap((p) => readFileSync(p.logFile).subarray(logOffsets.get(p.logFile) ?? 0).toString("utf8").split("\n"))
      .filter((l) => l.includes("not supported for learner"));
    report("6b etcd member replacement", {
      ...figures,
      reads: { sent: sr.sent, failed: sr.failed, longestGapMs: sr.longestGapMs, firstFailures: sr.failures.slice(0, 3) },
      writes: { sent: sw.sent, acknowledged: acked.length, failed: sw.failed, longestGapMs: sw.longestGapMs, lost: lost.length, firstFailures: sw.failures.slice(0, 3) },
      onNewMembers: local,
      etcdLeaderChanges: leaderChanges,
      // Why a request failed, if one did: what the API servers logged about etcd.
      apiServerEtcdErrors: cp.processes.filter((p) => p.component === "kube-apiserver").flatMap((p) => readFileSync(p.logFile).subarray(logOffsets.get(p.logFile) ?? 0).toString("utf8").split("\n").filter((l) => /learner|etcdserver:|rpc error/.test(l)).map((l) => `${p.slot}: ${l.slice(0, 300)}`)).slice(-6),
    });
    // 0 failed requests: a joining member is a learner only while its client listener is on
    // 127.0.0.1 (the bootstrap script's learner phase); before that fix, 1-2 requests balanced to
    // the learner got "etcdserver: rpc not supported for learner" in about half of the runs. Neither
    // replaced member leads, so etcd's leader changes only if it elects under load: only then may a
    // read fail, as kube-apiserver fails it.
    expectOnlyLeaderChangedReadFailures(sr, leaderChanges, 20);
    expect(sw.failed).toBe(0);
    expect(learnerErrors).toEqual([]);
    expect(lost).toEqual([]);
    for (const slot of [empty, removed]) expect(local[slot]).toBeGreaterThanOrEqual(acked.length);
  }, 600_000);

  it("R. renews every leaf certificate while the API serves: new serials served by every API server and etcd member without restarting them; controller-manager and scheduler restarted by the refresh (their kubeconfigs embed the certificate); 0 failed requests", () => certificateRenewal(cp, report, "R certificate renewal"), 600_000);

  // The harness's kubelet is a stand-in: it must restart as the real one does (Kubernetes docs, "Pod
  // Lifecycle", container restarts: the first crash at once, then an exponential back-off from 10 s),
  // or a test would pass (or fail) on a pod the real kubelet would have brought back at another time.
  it("K. the harness's kubelet restarts a static pod that exits on its own as the kubelet does: the first exit at once, the next after the 10 s back-off", async () => {
    // A slot whose scheduler has not exited in the last 10 min (the kubelet resets its back-off after that).
    const recent = (s: string) => cp.crashes.some((c) => c.slot === s && c.component === "kube-scheduler" && Date.now() - c.at < 600_000);
    const slot = [...cp.apiSlots].reverse().find((s) => !recent(s));
    if (slot === undefined) throw new Error(`every API slot's kube-scheduler exited in the last 10 min: ${JSON.stringify(cp.crashes)}`);
    const running = () => cp.liveProcesses(slot).find((p) => p.component === "kube-scheduler");
    const restartAfter = async (limitMs: number): Promise<number> => {
      const before = running();
      if (!before) throw new Error(`no kube-scheduler on ${slot}`);
      before.child.kill("SIGKILL"); // not cp.stop(): an exit the harness did not ask for
      await before.exited;
      const exitedAt = Date.now();
      for (;;) {
        const now = running();
        if (now && now !== before) return Date.now() - exitedAt;
        if (Date.now() - exitedAt > limitMs) throw new Error(`kube-scheduler on ${slot} not restarted within ${limitMs} ms`);
        await sleep(100);
      }
    };
    const first = await restartAfter(5_000);
    await sleep(1_000);
    const second = await restartAfter(20_000);
    const exits = cp.crashes.filter((c) => c.slot === slot && c.component === "kube-scheduler").slice(-2);
    report("K harness kubelet restarts", { firstRestartMs: first, secondRestartMs: second, exits: exits.map((c) => ({ signal: c.signal, backoffMs: c.backoffMs })) });
    expect(exits.map((c) => [c.signal, c.backoffMs])).toEqual([["SIGKILL", 0], ["SIGKILL", 10_000]]);
    expect(first).toBeLessThan(2_000);
    expect(second).toBeGreaterThanOrEqual(9_900); // Node's timers may fire a millisecond early; exitedAt is taken after the exit handler ran
    expect(second).toBeLessThan(12_000);
  }, 120_000);
});
