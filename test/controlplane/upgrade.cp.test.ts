/**
 * Kubernetes minor upgrade in the control-plane tier (issue 18 finding 1): the reference topology
 * (3 API servers behind the load balancer, 3 external etcd members) running 1.33.5 is upgraded to
 * 1.34.2 as the README's runbook does it: `kubernetesVersion: "1.34.2"` with
 * `kubernetesVersionDeployed: "1.33.5"` synthesizes a new API launch template (and bootstrap
 * bundle, nothing else), and the API group's instance refresh replaces one server at a time with a
 * node booted from the new template, running the 1.34.2 binaries its manifests' images name (the
 * harness stands in for the kubelet and runs the program of the image's release; see
 * `kubernetesBinary` in control-plane.ts).
 *
 * Each replacement as the refresh with the launch hook does it (README *The launch gate*):
 * deregister (drain), terminate (SIGTERM to every pod), boot the new node, hold it until its own
 * `/readyz` passes as many times in a row, as often, as its rendered `ha-complete-lifecycle` asks
 * (the script itself runs against the emulator in the e2e and boot tiers), then register it and
 * move on only once the load balancer has it in service (asserted to be within the refresh's
 * synthesized checkpoint delay, so the real refresh waits at least as long).
 *
 * Asserted: 0 failed reads (20/s) and 0 failed writes (ConfigMaps, 5/s) through the load balancer
 * (replacing an API server does not touch etcd in this topology: no leader-change excuse), no
 * acknowledged write lost, a window in which 1.33.5 and 1.34.2 servers serve together behind the
 * load balancer, and every server reporting gitVersion v1.34.2 at the end; kube-proxy and CoreDNS
 * of the cluster-objects stack follow the version (the images the real kubeadm 1.34.2 lists).
 * The skew guard (a skipped minor, a downgrade) is tested in test/validation/upgrade-guards.test.ts;
 * here it is checked once on the reference example.
 *
 * The assertions fail when the gate is missing: with the roll moving on as soon as a replacement
 * launches (registered at once, its pods starting 60 s after launch, as a slow boot does), the
 * three old servers were gone before a new one served and a run failed 700 of 4,639 reads and 175
 * of 1,160 writes (ECONNRESET at the load balancer, 35 s without an answer). Without the
 * readiness wait alone, but a boot as fast as the harness's (3–13 s), nothing failed: the drain
 * and termination of the next server (51 s) outlast it; the gate is what bounds a slow boot.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ConfigError } from "../../lib/errors";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { Testing } from "../../lib/core";
import { kubernetesUpgradeBinariesCheck, realComponentPaths } from "../harness/real-components";
import { allOf, describeTier } from "../harness/tiers";
import { runCommand } from "../harness/etcd-cluster";
import { synthesizeClusterObjects } from "./cluster-objects";
import { ControlPlaneCluster, SynthesizedCluster, sleep, startClientLoop, summarize, synthesizeReference } from "./control-plane";
import { CONTROL_PLANE_TIER_CHECK, clusterPerFile, etcdRaftTerm, expectOnlyLeaderChangedReadFailures, lbWindow, listedConfigMaps, reporter, waitAllUp } from "./scenarios";

const report = reporter("control plane, upgrade");
const FROM = "1.33.5";
const TO = "1.34.2";
const READ_RATE = 20;
const WRITE_RATE = 5;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every string value under `v` (the synthesized JSON). */
function strings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v !== null && typeof v === "object") return Object.values(v).flatMap(strings);
  return [];
}

/** `<type>.<name>` of every resource whose synthesized configuration differs between `a` and `b`. */
function changedResources(a: Json, b: Json): string[] {
  const types = new Set([...Object.keys(a.resource ?? {}), ...Object.keys(b.resource ?? {})]);
  const out: string[] = [];
  for (const t of types) {
    const names = new Set([...Object.keys(a.resource?.[t] ?? {}), ...Object.keys(b.resource?.[t] ?? {})]);
    for (const n of names) if (JSON.stringify(a.resource?.[t]?.[n]) !== JSON.stringify(b.resource?.[t]?.[n])) out.push(`${t}.${n}`);
  }
  return out.sort();
}

describeTier(`Kubernetes upgrade ${FROM} -> ${TO} of the reference example`, allOf(CONTROL_PLANE_TIER_CHECK, kubernetesUpgradeBinariesCheck()), { tierLabel: "control plane" }, () => {
  let cp: ControlPlaneCluster;
  let next: SynthesizedCluster;
  clusterPerFile(report, (c) => (cp = c));

  it("U1. the version change is a new API launch template and bundle only (manifests name the new images); add-ons follow; skipping a minor or downgrading is refused", async () => {
    next = synthesizeReference({ kubernetesVersion: TO, kubernetesVersionDeployed: FROM });
    // What the deploy changes: the API servers' launch template and their bootstrap bundle, nothing else
    // (no etcd template, no secret, no load balancer setting).
    const changed = changedResources(cp.spec.synth, next.synth);
    expect(changed).toEqual([
      expect.stringMatching(/^aws_launch_template\.ControlPlane_ApiServers_LaunchTemplate_/),
      expect.stringMatching(/^aws_s3_object\.ControlPlane_BootstrapBundles_Bundle-apiserver_/),
    ]);
    const fileChanges: Record<string, string[]> = {};
    for (const node of cp.spec.nodes) {
      const after = next.nodes.find((n) => n.slot === node.slot)!;
      expect(after.files.map((f) => f.path)).toEqual(node.files.map((f) => f.path));
      const diff = node.files.filter((f) => after.files.find((g) => g.path === f.path)!.content !== f.content);
      fileChanges[node.slot] = diff.map((f) => f.path);
      for (const f of diff) {
        const now = after.files.find((g) => g.path === f.path)!.content;
        // Each changed file differs by the version only (node.env also by its bundle's new key and digest).
        const bundleLines = /^HA_BUNDLE_(KEY|SHA256)=.*$/gm;
        expect(f.content.replaceAll(FROM, TO).replace(bundleLines, "")).toBe(now.replace(bundleLines, ""));
      }
      if (node.role === "etcd") expect(diff).toEqual([]);
      else {
        expect(fileChanges[node.slot].sort()).toEqual(
          ["/etc/ha-control-plane/node.env", ...["kube-apiserver", "kube-controller-manager", "kube-scheduler"].map((c) => `/etc/ha-control-plane/manifests/${c}.yaml`)].sort(),
        );
        for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
          const pod = parse(after.files.find((f) => f.path === `/etc/ha-control-plane/manifests/${c}.yaml`)!.content) as Json;
          expect(pod.spec.containers[0].image).toBe(`registry.k8s.io/${c}:v${TO}`);
        }
        expect(after.files.find((f) => f.path === "/etc/ha-control-plane/node.env")!.content).toContain(`KUBERNETES_VERSION='${TO}'`);
      }
    }
    // Add-ons follow kubernetesVersion: kube-proxy and CoreDNS are the images the real kubeadm 1.34.2 lists.
    const listed = await runCommand(path.join(realComponentPaths().kubeUpgradeBin, "kubeadm"), ["config", "images", "list", "--kubernetes-version", `v${TO}`]);
    expect(listed.exitCode).toBe(0);
    const kubeadmImages = listed.stdout.split("\n").filter((l) => /\/(kube-proxy|coredns\/coredns):/.test(l)).sort();
    expect(kubeadmImages).toHaveLength(2);
    const addonImages = (props: { kubernetesVersion?: string; kubernetesVersionDeployed?: string }) =>
      [...new Set(strings(synthesizeClusterObjects(props)).filter((s) => /^registry\.k8s\.io\/(kube-proxy|coredns\/coredns):/.test(s)))].sort();
    const before = addonImages({});
    const afterImages = addonImages({ kubernetesVersion: TO, kubernetesVersionDeployed: FROM });
    expect(afterImages).toEqual(kubeadmImages);
    expect(before).not.toEqual(afterImages);
    // The skew guard on the reference example: a skipped minor and a downgrade are refused.
    const refusal = (kubernetesVersion: string) => {
      try {
        new HaClusterStack(Testing.app(), "guard", { kubernetesVersion, kubernetesVersionDeployed: FROM });
        return "accepted";
      } catch (err) {
        return err instanceof ConfigError ? `ConfigError ${err.message.split("\n")[0].slice(0, 120)}` : String(err);
      }
    };
    const guard = { "1.35.0": refusal("1.35.0"), "1.32.9": refusal("1.32.9") };
    expect(guard["1.35.0"]).toMatch(/^ConfigError .*kubernetesVersion/);
    expect(guard["1.32.9"]).toMatch(/^ConfigError .*kubernetesVersion/);
    report("U1 synthesis", { changedResources: changed, fileChanges, addonsBefore: before, addonsAfter: afterImages, kubeadm: kubeadmImages, guard });
  }, 120_000);

  it(`U2. rolls the API servers to ${TO} one at a time, gated on /readyz, with the API serving throughout: 0 failed reads and writes, no write lost, both versions serving together, all on ${TO} at the end`, async () => {
    expect(next).toBeDefined();
    const h = cp.spec.model.health;
    await waitAllUp(cp, cp.readmissionMs() * 3);
    // The refresh's settings, as synthesized: one server at a time, a checkpoint after each.
    const group = Object.values(next.synth.resource.aws_autoscaling_group as Record<string, Json>).find((g) => g.instance_refresh !== undefined) as Json;
    const prefs = group.instance_refresh.preferences as Json;
    expect([prefs.min_healthy_percentage, prefs.max_healthy_percentage]).toEqual([100, 100]);
    const checkpointDelayMs = Number(prefs.checkpoint_delay) * 1000;
    // The launch gate's parameters, from the rendered script of the new template.
    const gateScript = next.nodes.find((n) => n.role === "apiserver")!.files.find((f) => f.path === "/usr/local/sbin/ha-complete-lifecycle")!.content;
    const gateParam = (name: string) => Number(new RegExp(`^${name}=\\$\\{${name}:-(\\d+)\\}$`, "m").exec(gateScript)?.[1]);
    const gate = { passes: gateParam("READYZ_PASSES"), intervalMs: gateParam("READYZ_INTERVAL_SECONDS") * 1000 };
    expect(gate.passes).toBeGreaterThan(0);
    expect(gate.intervalMs).toBeGreaterThan(0);
    const grace = (slot: string) => Number((parse(readFileSync(path.join(cp.roots.get(slot) as string, "etc/kubernetes/manifests/kube-apiserver.yaml"), "utf8")) as Json).spec.terminationGracePeriodSeconds ?? 30) * 1000;

    // /version of every server and the load balancer's view, once a second.
    const samples: Array<{ t: number; version: Record<string, string | undefined>; up: Record<string, boolean> }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const t = Date.now();
        const [status, ...versions] = await Promise.all([cp.lb.status(), ...cp.apiSlots.map((s) => cp.curl(s, "/version", { cert: cp.issued.get("admin") }))]);
        const version: Record<string, string | undefined> = {};
        const up: Record<string, boolean> = {};
        cp.apiSlots.forEach((s, i) => {
          version[s] = versions[i].status === 200 ? String((JSON.parse(versions[i].body) as Json).gitVersion) : undefined;
          up[s] = status[s] === "UP";
        });
        samples.push({ t, version, up });
        await sleep(Math.max(0, 1000 - (Date.now() - t)));
      }
    })();

    const termBefore = await etcdRaftTerm(cp);
    const lb = await lbWindow(cp);
    const rollStart = Date.now();
    const reads = startClientLoop(cp, { mode: "get", path: "/api/v1/namespaces/default", rate: READ_RATE, maxSeconds: 900 });
    const writes = startClientLoop(cp, { mode: "create", path: "/api/v1/namespaces/default/configmaps", rate: WRITE_RATE, maxSeconds: 900, prefix: "up" });
    await sleep(3000);
    cp.deployLaunchTemplates(next);
    const perNode: Record<string, Json> = {};
    for (const slot of cp.apiSlots) {
      const t0 = Date.now();
      await cp.lb.deregister(slot);
      await cp.terminateNode(slot, grace(slot));
      const bootAt = Date.now();
      await cp.replaceNode(slot);
      await cp.waitApiReady(slot, 180_000);
      const readyAt = Date.now();
      // The launch gate: `passes` consecutive 200s of the node's own /readyz, `intervalMs` apart.
      let passes = 0;
      while (passes < gate.passes) {
        passes = (await cp.curl(slot, "/readyz")).status === 200 ? passes + 1 : 0;
        if (passes < gate.passes) await sleep(gate.intervalMs);
        if (Date.now() - bootAt > 300_000) throw new Error(`${slot}: the launch gate did not pass within 300 s`);
      }
      const gateAt = Date.now();
      await cp.lb.registerNewTarget(slot);
      const readmissionMs = await cp.lb.waitHealthy(slot, cp.readmissionMs() + h.intervalSeconds * 1000 + 5000);
      perNode[slot] = {
        drainAndTerminateSeconds: (bootAt - t0) / 1000,
        readySeconds: (readyAt - bootAt) / 1000,
        gateSeconds: (gateAt - bootAt) / 1000,
        readmissionSeconds: readmissionMs / 1000,
        // What each running process is: the program it runs reports its release.
        binaries: cp.liveProcesses(slot).map((p) => {
          const program = p.child.spawnargs.find((a) => a.endsWith(`/${p.component}`));
          return `${p.component} ${program ? execFileSync(program, ["--version"], { encoding: "utf8" }).trim() : "?"}`;
        }),
      };
      // A new target needs healthyThreshold passing checks; the refresh waits checkpoint_delay after
      // each server: at least the re-admission measured here.
      expect(readmissionMs).toBeGreaterThanOrEqual((h.healthyThreshold - 1) * h.intervalSeconds * 1000);
      expect(readmissionMs).toBeLessThanOrEqual(checkpointDelayMs);
    }
    await sleep(3000);
    const [rawReads, rawWrites] = await Promise.all([reads.stop(), writes.stop()]);
    const etcdLeaderChanges = (await etcdRaftTerm(cp)) - termBefore;
    sampling = false;
    await sampler;
    const rollSeconds = (Date.now() - rollStart) / 1000;
    const sr = summarize(rawReads.results, rawReads.sent, (s) => s === 200);
    const sw = summarize(rawWrites.results, rawWrites.sent, (s) => s === 201);
    const acked = rawWrites.results.filter((r) => r.status === 201).map((r) => `up-${r.n}`);
    const listedNames = await listedConfigMaps(cp);
    const lost = acked.filter((n) => !listedNames.has(n));

    // The mixed-version window: samples in which servers of both releases are in service at the LB.
    const servingVersions = (s: (typeof samples)[number]) => new Set(cp.apiSlots.filter((slot) => s.up[slot] && s.version[slot] !== undefined).map((slot) => s.version[slot]));
    let mixedMs = 0;
    let mixedFrom: number | undefined;
    let mixedTo: number | undefined;
    for (let i = 0; i + 1 < samples.length; i++) {
      const v = servingVersions(samples[i]);
      if (v.has(`v${FROM}`) && v.has(`v${TO}`)) {
        mixedMs += samples[i + 1].t - samples[i].t;
        mixedFrom ??= samples[i].t;
        mixedTo = samples[i + 1].t;
      }
    }
    // Each server's version over time: its transitions (seconds after the roll started).
    const timeline: Record<string, string[]> = {};
    for (const slot of cp.apiSlots) {
      let last: string | undefined = "start";
      timeline[slot] = [];
      for (const s of samples) {
        const now = `${s.version[slot] ?? "down"}${s.up[slot] ? "" : " (not in service)"}`;
        if (now !== last) timeline[slot].push(`${((s.t - rollStart) / 1000).toFixed(1)}s ${now}`);
        last = now;
      }
    }
    const final: Record<string, string> = {};
    for (const slot of cp.apiSlots) {
      const r = await cp.curl(slot, "/version", { cert: cp.issued.get("admin") });
      final[slot] = r.status === 200 ? String((JSON.parse(r.body) as Json).gitVersion) : `HTTP ${r.status}`;
    }
    report("U2 rolling upgrade", {
      reads: { rate: READ_RATE, sent: sr.sent, failed: sr.failed, longestGapMs: sr.longestGapMs, slowestMs: sr.slowestMs, firstFailures: sr.failures.slice(0, 5) },
      writes: { rate: WRITE_RATE, sent: sw.sent, acknowledged: acked.length, failed: sw.failed, lost: lost.length, longestGapMs: sw.longestGapMs, firstFailures: sw.failures.slice(0, 3) },
      etcdLeaderChanges,
      lb: await lb(),
      mixedVersionSeconds: mixedMs / 1000,
      mixedWindow: mixedFrom === undefined ? "none" : `${((mixedFrom - rollStart) / 1000).toFixed(1)}s-${(((mixedTo as number) - rollStart) / 1000).toFixed(1)}s`,
      perNode,
      gate,
      checkpointDelaySeconds: checkpointDelayMs / 1000,
      readmissionConfiguredSeconds: cp.readmissionMs() / 1000,
      versionTimeline: timeline,
      finalVersions: final,
      rollSeconds,
    });
    expect(sr.sent).toBeGreaterThan(READ_RATE * 60);
    // Replacing API servers does not touch etcd: 0 failed reads unless etcd elects under load.
    expectOnlyLeaderChangedReadFailures(sr, etcdLeaderChanges, READ_RATE);
    expect(acked.length).toBeGreaterThan(WRITE_RATE * 60);
    expect(sw.failed).toBe(0);
    expect(lost).toEqual([]);
    // Old and new servers served side by side (the skew the guard allows), for more than one sample.
    expect(mixedMs).toBeGreaterThan(0);
    expect(samples.filter((s) => servingVersions(s).has(`v${FROM}`) && servingVersions(s).has(`v${TO}`)).length).toBeGreaterThan(1);
    expect(Object.values(final)).toEqual(cp.apiSlots.map(() => `v${TO}`));
    for (const slot of cp.apiSlots) expect([slot, perNode[slot].binaries]).toEqual([slot, ["kube-apiserver", "kube-controller-manager", "kube-scheduler"].map((c) => `${c} Kubernetes v${TO}`)]);
    await waitAllUp(cp, cp.readmissionMs() * 2);
  }, 900_000);
});
