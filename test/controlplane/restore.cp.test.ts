/**
 * Issue 18 finding 7 in the control-plane tier: a whole-cluster restore with the real programs. The
 * reference example's three etcd members and API servers run as in control-plane.cp.test.ts; the
 * library's `ha-etcd-backup` takes the snapshot (file:// target, as supported), and every node step
 * `ha-restore` sends through SSM runs here through the real `ha-restore-node` (and the real
 * `ha-etcd-restore`, `etcdutl`, `ha-etcd-bootstrap`, `etcd`, `kube-apiserver`), in the operator's
 * order: stop-api on every API server, stop-etcd, restore, start-etcd on every member, start-api,
 * resume-backups. The snapshot reaches the members over HTTP from the client namespace, as the
 * presigned URL does (the pin and the URL are the operator's side: test/operations/restore.e2e.test.ts).
 *
 * systemd and the kubelet are not running here: a `systemctl` stand-in records each unit's wanted
 * state under the node's /run, and the test's supervisor acts on it as they would — a static pod
 * runs while the kubelet is active and its manifest is in the manifest directory, is stopped (TERM)
 * when the manifest leaves, and keeps running when the kubelet is stopped; etcd.service starts the
 * member through the harness (ha-fetch-secrets, ha-etcd-bootstrap, etcd) and stops it with TERM.
 *
 * Oracles: Kubernetes' API (objects, resourceVersion, a watch from a pre-restore resourceVersion
 * answered 410 Gone), the encryption-at-rest prefix in etcd (`k8s:enc:secretbox:v1:`), etcd's
 * `endpoint status` revision.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ChildProcess, spawn } from "node:child_process";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { etcdBinariesCheck, inotifyLimitsCheck, kubernetesBinariesCheck, motoCheck } from "../harness/real-components";
import { ControlPlaneCluster, RunningProcess, sleep, startClientLoop, summarize } from "./control-plane";
import { reporter } from "./scenarios";

const CHECK = allOf(inotifyLimitsCheck(), kubernetesBinariesCheck(), etcdBinariesCheck(), motoCheck(), toolAvailable("haproxy", ["-v"]));
const STATIC_PODS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"];
const UNITS_DIR = "run/ha-control-plane/test-units";
/** What `systemctl` stands in for: records the wanted state of each unit; the supervisor acts on it. */
const SYSTEMCTL = `#!/usr/bin/env bash
dir=/${UNITS_DIR}
mkdir -p "$dir"
echo "$*" >>"$dir/calls.log"
args=()
for a in "$@"; do case $a in --*) ;; *) args+=("$a") ;; esac; done
verb=\${args[0]}
case $verb in
  start) for u in "\${args[@]:1}"; do : >"$dir/$u.active"; done ;;
  stop) for u in "\${args[@]:1}"; do rm -f "$dir/$u.active"; done ;;
  is-active) [ -e "$dir/\${args[1]}.active" ] ;;
  *) echo "systemctl stand-in: $verb not supported" >&2; exit 1 ;;
esac
`;

const report = reporter();

describeTier("whole-cluster restore with ha-restore-node (control-plane tier)", CHECK, { tierLabel: "control plane" }, () => {
  let cp: ControlPlaneCluster;
  let server: ChildProcess | undefined;
  const tierStart = Date.now();

  beforeAll(async () => {
    cp = await ControlPlaneCluster.start();
    // The supervisor below is this file's kubelet (it restarts a pod whose manifest is there): the harness's own is off.
    cp.kubeletRestarts = false;
    report("restore bring-up", { seconds: (Date.now() - tierStart) / 1000 });
  }, 600_000);

  afterAll(async () => {
    if (server && server.exitCode === null) server.kill("SIGKILL");
    await cp?.destroy();
  }, 120_000);

  const root = (slot: string) => cp.roots.get(slot) as string;
  const active = (slot: string, unit: string) => existsSync(path.join(root(slot), UNITS_DIR, `${unit}.active`));
  const live = (slot: string, component: string): RunningProcess | undefined =>
    [...cp.processes].reverse().find((p) => p.slot === slot && p.component === component && p.child.exitCode === null && p.child.signalCode === null);

  /** The stand-in for systemd and the kubelet (see the file comment), until `stop()`. */
  function supervise(): { stop(): Promise<void>; errors: string[] } {
    let running = true;
    const errors: string[] = [];
    const busy = new Set<string>();
    const act = (key: string, f: () => Promise<unknown>) => {
      if (busy.has(key)) return;
      busy.add(key);
      f().catch((e: Error) => errors.push(`${key}: ${e.message}`)).finally(() => busy.delete(key));
    };
    const loop = (async () => {
      while (running) {
        for (const slot of cp.apiSlots) {
          if (!active(slot, "kubelet.service")) continue;
          for (const pod of STATIC_PODS) {
            const manifest = path.join(root(slot), "etc/kubernetes/manifests", `${pod}.yaml`);
            const p = live(slot, pod);
            if (existsSync(manifest) && !p) act(`${slot}/${pod}`, async () => cp.startStaticPod(slot, manifest));
            if (!existsSync(manifest) && p) act(`${slot}/${pod}`, () => cp.stop(p, "SIGTERM", 60_000));
          }
        }
        for (const slot of cp.etcdSlots) {
          const p = live(slot, "etcd");
          if (active(slot, "etcd.service") && !p) act(`${slot}/etcd`, () => cp.startEtcdNode(slot, { freshDisk: false }));
          if (!active(slot, "etcd.service") && p) act(`${slot}/etcd`, () => cp.stop(p, "SIGTERM", 60_000));
        }
        await sleep(250);
      }
    })();
    return {
      errors,
      async stop() {
        running = false;
        await loop;
        while (busy.size > 0) await sleep(100);
      },
    };
  }

  /**
   * The node's paths where the harness keeps them: /usr/local/sbin and /etc/systemd are the host's
   * inside the node view, so the node's scripts and unit files are named by their host paths.
   */
  const nodeEnv = (slot: string): Record<string, string> => ({
    SYSTEMCTL: "/etc/ha-control-plane/test-systemctl",
    HA_SBIN: path.join(root(slot), "usr/local/sbin"),
    ETCD_UNIT_FILE: path.join(root(slot), "etc/systemd/system/etcd.service"),
    WORK_DIR: "/var/lib/etcd/restore-work",
  });

  /** Runs `ha-restore-node <step>` on `slots` at once, in each node's view and network. */
  async function step(name: string, slots: readonly string[], extraEnv: Record<string, string> = {}): Promise<number> {
    const t0 = Date.now();
    const results = await Promise.all(
      slots.map((slot) =>
        cp.runScript(slot, "usr/local/sbin/ha-restore-node", {
          netns: true,
          args: [name],
          timeoutMs: 600_000,
          extraEnv: { ...nodeEnv(slot), ...extraEnv },
        }).then((r) => ({ slot, r })),
      ),
    );
    for (const { slot, r } of results) {
      if (r.exitCode !== 0) throw new Error(`ha-restore-node ${name} on ${slot} exited ${r.exitCode}:\n${r.stderr}`);
    }
    const ms = Date.now() - t0;
    report(`restore step ${name}`, { slots: slots.length, seconds: ms / 1000 });
    return ms;
  }

  const kubectlOk = async (args: string[], input?: string) => {
    const r = await cp.kubectl(args, 30_000, input);
    if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const rvOf = async (kind: string, name: string) => Number(await kubectlOk(["get", kind, name, "-n", "default", "-o", "jsonpath={.metadata.resourceVersion}"]));
  const configMaps = async () =>
    (await kubectlOk(["get", "configmaps", "-n", "default", "-l", "restore-test", "-o", "jsonpath={.items[*].metadata.name}"])).split(/\s+/).filter(Boolean).sort();

  it("brings back the data of the snapshot (and nothing after it), serves, decrypts Secrets, and moves revisions forward", async () => {
    // 1. Data before the snapshot.
    for (const n of [0, 1, 2]) await kubectlOk(["create", "configmap", `before-${n}`, "-n", "default", `--from-literal=n=${n}`]);
    await kubectlOk(["label", "configmap", "before-0", "before-1", "before-2", "-n", "default", "restore-test=1"]);
    await kubectlOk(["create", "secret", "generic", "restore-secret", "-n", "default", "--from-literal=password=before-snapshot"]);

    // 2. The snapshot: the library's backup script on every member (only the leader writes), file:// target.
    const backupDir = "/var/lib/etcd/backups-test";
    for (const slot of cp.etcdSlots) {
      const env = readFileSync(path.join(root(slot), "etc/ha-control-plane/node.env"), "utf8").replace(/^BACKUP_TARGET=.*$/m, `BACKUP_TARGET='file://${backupDir}'`).replace(/^METRIC_NAMESPACE=.*$/m, "");
      writeFileSync(path.join(root(slot), "etc/ha-control-plane/node-file-target.env"), env);
      writeFileSync(path.join(root(slot), "etc/ha-control-plane/test-systemctl"), SYSTEMCTL);
      chmodSync(path.join(root(slot), "etc/ha-control-plane/test-systemctl"), 0o755);
      const r = await cp.runScript(slot, "usr/local/sbin/ha-etcd-backup", { netns: true, extraEnv: { ENV_FILE: "/etc/ha-control-plane/node-file-target.env", WORK_DIR: "/var/lib/etcd/backup-work" } });
      expect([slot, r.exitCode, r.stderr]).toEqual([slot, 0, expect.any(String)]);
    }
    const taken = cp.etcdSlots.flatMap((slot) => {
      const d = path.join(root(slot), backupDir);
      return existsSync(d) ? readdirSync(d).filter((f) => f.endsWith(".db")).map((f) => path.join(d, f)) : [];
    });
    expect(taken).toHaveLength(1);
    const snapshot = taken[0];
    const sha = readFileSync(`${snapshot}.sha256`, "utf8").trim();
    for (const slot of cp.apiSlots) {
      mkdirSync(path.join(root(slot), "etc/ha-control-plane"), { recursive: true });
      writeFileSync(path.join(root(slot), "etc/ha-control-plane/test-systemctl"), SYSTEMCTL);
      chmodSync(path.join(root(slot), "etc/ha-control-plane/test-systemctl"), 0o755);
    }

    // 3. After the snapshot: more objects, a deletion, a changed Secret.
    await kubectlOk(["delete", "configmap", "before-1", "-n", "default"]);
    await kubectlOk(["create", "secret", "generic", "restore-secret", "-n", "default", "--from-literal=password=after-snapshot", "--dry-run=client", "-o", "yaml"]).then((y) => kubectlOk(["apply", "-f", "-"], y));
    await kubectlOk(["create", "configmap", "after-0", "-n", "default", "--from-literal=n=after"]);
    // The last write before the restore: its resourceVersion is the highest any client saw.
    await kubectlOk(["label", "configmap", "after-0", "-n", "default", "restore-test=1"]);
    const rvBeforeRestore = await rvOf("configmap", "after-0");
    expect(await configMaps()).toEqual(["after-0", "before-0", "before-2"]);

    // 4. The units as they run on the nodes; the snapshot served as the presigned URL would.
    for (const slot of cp.apiSlots) {
      mkdirSync(path.join(root(slot), UNITS_DIR), { recursive: true });
      writeFileSync(path.join(root(slot), UNITS_DIR, "kubelet.service.active"), "");
    }
    for (const slot of cp.etcdSlots) {
      mkdirSync(path.join(root(slot), UNITS_DIR), { recursive: true });
      for (const u of ["etcd.service", "ha-etcd-backup.timer"]) writeFileSync(path.join(root(slot), UNITS_DIR, `${u}.active`), "");
    }
    const port = 18080;
    server = spawn("ip", ["netns", "exec", cp.clientNs, "python3", "-m", "http.server", "--bind", cp.clientIp, String(port), "--directory", path.dirname(snapshot)], { stdio: "ignore" });
    const url = `http://${cp.clientIp}:${port}/${path.basename(snapshot)}`;
    for (let i = 0; i < 50 && (await cp.inClient(["curl", "-fsS", "-o", "/dev/null", url])).exitCode !== 0; i++) await sleep(200);

    // 5. The restore, step by step as ha-restore sends them, with a reader through the load balancer.
    const loop = startClientLoop(cp, { mode: "get", path: "/api/v1/namespaces/default/configmaps/before-0", rate: 5, maxSeconds: 900 });
    const supervisor = supervise();
    const t0 = Date.now();
    const token = "restore-20260101T000000Z";
    let apiDownMs = 0;
    try {
      apiDownMs += await step("stop-api", cp.apiSlots);
      // The port is closed; the processes finish their shutdown (as containers do after TERM).
      const stopped = Date.now() + 60_000;
      while (cp.apiSlots.some((slot) => STATIC_PODS.some((pod) => live(slot, pod))) && Date.now() < stopped) await sleep(250);
      for (const slot of cp.apiSlots) for (const pod of STATIC_PODS) expect([slot, pod, live(slot, pod)?.child.pid]).toEqual([slot, pod, undefined]);
      apiDownMs += await step("stop-etcd", cp.etcdSlots);
      const etcdStopped = Date.now() + 60_000;
      while (cp.etcdSlots.some((slot) => live(slot, "etcd")) && Date.now() < etcdStopped) await sleep(250);
      expect(cp.etcdSlots.map((s) => live(s, "etcd")?.child.pid)).toEqual(cp.etcdSlots.map(() => undefined));
      apiDownMs += await step("restore", cp.etcdSlots, { SNAPSHOT_URL: url, SNAPSHOT_SHA256: sha, RESTORE_TOKEN: token });
      // Re-running a step is safe: the restore marker makes it a no-op.
      const again = await cp.runScript(cp.etcdSlots[0], "usr/local/sbin/ha-restore-node", {
        netns: true, args: ["restore"],
        extraEnv: { ...nodeEnv(cp.etcdSlots[0]), SNAPSHOT_URL: url, SNAPSHOT_SHA256: sha, RESTORE_TOKEN: token },
      });
      expect(again.stderr).toMatch(/already restored with token restore-20260101T000000Z/);
      apiDownMs += await step("start-etcd", cp.etcdSlots);
      apiDownMs += await step("start-api", cp.apiSlots);
      await step("resume-backups", cp.etcdSlots);
    } finally {
      await supervisor.stop();
    }
    const wallMs = Date.now() - t0;
    expect(supervisor.errors).toEqual([]);
    for (const s of cp.apiSlots) await cp.lb.waitHealthy(s, cp.readmissionMs() * 2 + 30_000);
    const loopResult = await loop.stop();
    const reads = summarize(loopResult.results, loopResult.sent, (status) => status === 200);
    for (const slot of cp.etcdSlots) {
      const calls = readFileSync(path.join(root(slot), UNITS_DIR, "calls.log"), "utf8").trim().split("\n");
      expect(calls).toEqual(["stop ha-etcd-backup.timer ha-etcd-backup.service", "stop etcd.service", "start --no-block etcd.service", "start ha-etcd-backup.timer"]);
    }

    // 6. The data of the snapshot, and only it.
    expect(await configMaps()).toEqual(["before-0", "before-1", "before-2"]);
    const password = Buffer.from(await kubectlOk(["get", "secret", "restore-secret", "-n", "default", "-o", "jsonpath={.data.password}"]), "base64").toString();
    expect(password).toBe("before-snapshot");
    const raw = await cp.etcdctl(["get", "/registry/secrets/default/restore-secret", "--print-value-only"]);
    expect(raw.stdout.startsWith("k8s:enc:secretbox:v1:")).toBe(true);

    // 7. Time does not go backwards: a new write's resourceVersion is above every one seen before the
    // restore, and a watch from a pre-restore resourceVersion is told 410 Gone (re-list).
    await kubectlOk(["create", "configmap", "after-restore", "-n", "default", "--from-literal=n=new"]);
    const rvAfterRestore = await rvOf("configmap", "after-restore");
    expect(rvAfterRestore).toBeGreaterThan(rvBeforeRestore);
    const watch = await cp.curl("lb", `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rvBeforeRestore}&timeoutSeconds=2`, { cert: cp.issued.get("admin") });
    expect(watch.body).toMatch(/"code":410/);

    report("whole-cluster restore", {
      snapshotSha256: sha.slice(0, 12),
      restoreWallSeconds: wallMs / 1000,
      nodeStepsWhileApiDownSeconds: apiDownMs / 1000,
      readsThroughLb: reads.sent,
      failedReads: reads.failed,
      longestReadGapSeconds: reads.longestGapMs / 1000,
      resourceVersionBefore: rvBeforeRestore,
      resourceVersionAfter: rvAfterRestore,
    });
    rmSync(path.join(root(cp.etcdSlots[0]), "var/lib/etcd/restore-work"), { recursive: true, force: true });
  }, 1_500_000);
});
