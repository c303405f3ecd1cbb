/**
 * The control-plane tier with the stacked topology (the reference example with
 * `etcdTopology: STACKED`): one etcd member on each API server node, from the same node files as in
 * production (etcd.service and its bootstrap script next to the static pods). Scenarios: the
 * cluster forms and serves through the load balancer, with scenario 1's access checks (S1a) and
 * scenario 2's encryption at rest (S1e); an API node's member is replaced with an
 * empty disk under load (learner on 127.0.0.1, promoted, then on the slot address: the local API
 * server's --etcd-servers includes that address) with 0 failed requests and no write lost; a
 * worker joins after `terraform apply` of the cluster-objects stack (S7, as scenario 7; it runs
 * while all three API nodes and members are whole, before any node is killed or replaced); and
 * scenarios 3-6 and R of the reference example (scenarios.ts), where a node that dies or is
 * replaced takes its etcd member with it (see scenarios.ts for what is asserted in addition).
 */
import { readFileSync } from "node:fs";
import { EtcdTopology } from "../../lib";
import { describeTier } from "../harness/tiers";
import { ControlPlaneCluster, sleep, startClientLoop, summarize, synthesizeReference } from "./control-plane";
import { CONTROL_PLANE_TIER_CHECK, accessChecks, clusterPerFile, certificateRenewal, drainAndRollingReplacement, encryptionAtRest, etcdLeaderSlot, etcdMemberKill, etcdRaftTerm, expectOnlyLeaderChangedReadFailures, failureDetection, leaderElectionTakeover, workerJoin, reporter } from "./scenarios";


const report = reporter("control plane, stacked");

describeTier("control plane of the reference example, stacked etcd", CONTROL_PLANE_TIER_CHECK, { tierLabel: "control plane" }, () => {
  let cp: ControlPlaneCluster;
  clusterPerFile(report, (c) => (cp = c), () => synthesizeReference({ etcdTopology: EtcdTopology.STACKED }));

  it("S1. every API node runs an etcd member (3 voters on the API slot addresses); /readyz and kubectl through the load balancer", async () => {
    expect(cp.etcdSlots).toEqual(cp.apiSlots);
    expect(cp.apiSlots).toHaveLength(3);
    type Member = { name: string; peerURLs: string[]; isLearner?: boolean };
    const members = JSON.parse((await cp.etcdctl(["member", "list", "-w", "json"])).stdout).members as Member[];
    expect(members.map((m) => [m.name, m.peerURLs, m.isLearner === true]).sort()).toEqual(cp.apiSlots.map((s) => [s, [`https://${cp.node(s).ip}:2380`], false]).sort());
    expect((await cp.curl("lb", "/readyz")).status).toBe(200);
    const ns = await cp.kubectl(["get", "namespaces", "-o", "name"]);
    expect(ns.stdout.split("\n")).toEqual(expect.arrayContaining(["namespace/default", "namespace/kube-system"]));
    const cm = await cp.kubectl(["create", "configmap", "stacked-s1", "-n", "default", "--from-literal=k=v"]);
    expect(cm.exitCode).toBe(0);
  }, 120_000);

  it("S1a. anonymous only on health paths, at the load balancer and each API server; service-account tokens and the front proxy work (as scenario 1)", () => accessChecks(cp, report, "S1a access"), 120_000);

  it("S1e. stores Secrets encrypted with the configured provider, read directly from the stacked members (as scenario 2)", () => encryptionAtRest(cp, report, "S1e encryption at rest"), 60_000);

  it("S2. replaces an API node's etcd member with an empty disk while the API serves: 0 failed requests, no acknowledged write lost", async () => {
    const logOffsets = new Map(cp.processes.map((p) => [p.logFile, readFileSync(p.logFile).length]));
    const termBefore = await etcdRaftTerm(cp);
    const reads = startClientLoop(cp, { mode: "get", path: "/api/v1/namespaces/default", rate: 20, maxSeconds: 600 });
    const writes = startClientLoop(cp, { mode: "create", path: "/api/v1/namespaces/default/configmaps", rate: 5, maxSeconds: 600, prefix: "st2" });
    await sleep(3000);
    const leader = await etcdLeaderSlot(cp);
    const slot = cp.etcdSlots.find((s) => s !== leader) as string;
    await cp.stop(cp.process(slot, "etcd"), "SIGTERM", 30_000);
    const t = Date.now();
    const out: string[] = [];
    // The member's data is lost; the node (its API server, controller-manager, scheduler) stays.
    await cp.startEtcdNode(slot, { freshDisk: false, emptyDataDir: true, output: out });
    await cp.waitEtcdHealthy(60_000);
    const replacedMs = Date.now() - t;
    await sleep(3000);
    const [rawReads, rawWrites] = await Promise.all([reads.stop(), writes.stop()]);
    const sr = summarize(rawReads.results, rawReads.sent, (s) => s === 200);
    const sw = summarize(rawWrites.results, rawWrites.sent, (s) => s === 201);
    const leaderChanges = (await etcdRaftTerm(cp)) - termBefore;
    const acked = rawWrites.results.filter((x) => x.status === 201).map((x) => `st2-${x.n}`);
    const listed = new Set((await cp.kubectl(["get", "configmaps", "-n", "default", "-o", "name"])).stdout.split("\n").map((l) => l.replace(/^configmap\//, "")));
    const lost = acked.filter((n) => !listed.has(n));
    const learnerErrors = cp.processes
      .filter((p) => p.component === "kube-apiserver")
      .flatMap((p) => readFileSync(p.logFile).subarray(logOffsets.get(p.logFile) ?? 0).toString("utf8").split("\n"))
      .filter((l) => l.includes("not supported for learner"));
    report("S2 member replacement on an API node", {
      slot,
      replacedMs,
      reads: { sent: sr.sent, failed: sr.failed, longestGapMs: sr.longestGapMs, firstFailures: sr.failures.slice(0, 3) },
      writes: { sent: sw.sent, acknowledged: acked.length, failed: sw.failed, lost: lost.length, firstFailures: sw.failures.slice(0, 3) },
      learnerErrors: learnerErrors.length,
      etcdLeaderChanges: leaderChanges,
      script: out.join("").split("\n").filter((l) => /removing|adding|promoting|learner|voter/.test(l)),
    });
    expect(out.join("")).toContain("clients on 127.0.0.1 only until it is promoted");
    expect(out.join("")).toContain("promoting learner");
    // The replaced member does not lead: reads fail only if etcd elects under load, as kube-apiserver fails them.
    expectOnlyLeaderChangedReadFailures(sr, leaderChanges, 20);
    expect(sw.failed).toBe(0);
    expect(acked.length).toBeGreaterThan(20);
    expect(lost).toEqual([]);
    expect(learnerErrors).toEqual([]);
  }, 600_000);

  // Scenario 7 of the reference example (scenarios.ts), in the same place in the order: after the
  // member replacement of S2 (its member is a voter again, every API node serves) and before S4-S6
  // kill or replace nodes.
  it("S7. a worker joins with the README's command after `terraform apply` of the cluster-objects stack: discovery, TLS bootstrap approved by the controller-manager, a Node registered", () => workerJoin(cp, report, "S7 worker join"), 600_000);

  // Scenarios 3-6 of the reference example (scenarios.ts), on nodes that each host an API server and
  // an etcd member: what a node's death or replacement means for both is asserted there.
  it("S4. a SIGKILLed API server leaves the load balancer within the synthesized detection time", () => failureDetection(cp, report, "S4 failure detection"), 300_000);

  it("S5. drops no read or write while an API server shuts down and while all three API nodes (each with its etcd member) are replaced one at a time; the member set is whole before the next goes", () => drainAndRollingReplacement(cp, report, "S5 graceful drain and rolling replacement"), 900_000);

  it("S3. controller-manager and scheduler each hold one lease; when the holder's node (with its etcd member) dies, another takes over within the lease duration", () => leaderElectionTakeover(cp, report, "S3 leader election"), 600_000);

  it("S6. loses no acknowledged write when the node of the etcd leader dies (member and API server) while the API serves writes", () => etcdMemberKill(cp, report, "S6 etcd leader's node killed"), 600_000);

  it("SR. renews every leaf certificate while the API serves: new serials served by every API server and etcd member without restarting them; controller-manager and scheduler restarted by the refresh; 0 failed requests", () => certificateRenewal(cp, report, "SR certificate renewal"), 600_000);
});
