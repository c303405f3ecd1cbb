/**
 * Runs the real ha-roll-etcd script (bash, the real AWS CLI) against the AWS emulator's CloudWatch
 * (moto), fed by the real ha-publish-metrics on each member of a real 3-member etcd 3.5.21 cluster
 * (TLS; network namespaces where available), as the members' timers feed it in production:
 *
 * - members are refreshed strictly one at a time, each only after every member reported the full
 *   member count in its last two one-minute datapoints (the stopped member's absence shows as 2
 *   healthy members on the others until it is back);
 * - the roll stops before the next member when the cluster does not come back healthy.
 *
 * Time: the script asks CloudWatch for the last two one-minute datapoints over three minutes, so
 * the test controls the clock, in one file: the script's `date` (the real one) reads it through
 * libfaketime, the emulator's CloudWatch stamps datapoints with it (AwsEmulatorOptions.clockFile). Each "minute"
 * the members publish and the clock moves on 60 s, instead of waiting real minutes.
 *
 * The one stand-in left: moto 5.1.22 has no StartInstanceRefresh or DescribeInstanceRefreshes. The
 * node's `aws` passes every other call to the real CLI; these two must carry exactly the argument
 * vector the script must use (group, preferences, `--query`, `--output`), anything else under
 * `autoscaling` is recorded as a violation and fails. A refresh stops the member's etcd (the old
 * instance terminates) and, a minute later, starts it again on the same data (the new instance
 * claims the slot's volume), then reports Successful.
 */
import { ChildProcess, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { AwsEmulator, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { CommandResult, runCommand } from "../harness/etcd-cluster";
import { etcdBinariesCheck } from "../harness/real-components";
import { TierCheck, allOf, describeTier } from "../harness/tiers";
import { EtcdCa, TestCluster, issueEtcdCa, makeWorkDir, startTestCluster } from "../bootstrap/etcd/cluster";
import { netnsCheck } from "../bootstrap/etcd/netns";
import { renderedScript } from "../helpers/scripts";
import { publishMetrics } from "../monitoring/publish-node";

const NAMES = ["etcd-0", "etcd-1", "etcd-2"];
const GROUPS = NAMES.map((n) => `prod-${n}`);
const MODE: "netns" | "loopback" = netnsCheck().available ? "netns" : "loopback";
const PREFERENCES = '{"MinHealthyPercentage":0,"MaxHealthyPercentage":100,"SkipMatching":true}';

/** libfaketime from Debian's package (scripts/setup-test-env.sh installs it). */
const FAKETIME_LIB = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"].find((f) => existsSync(f));
const faketimeCheck: TierCheck = FAKETIME_LIB
  ? { available: true, reason: "" }
  : { available: false, reason: "no libfaketime: run `bash scripts/setup-test-env.sh` (Debian package libfaketime)" };

/** The aws the operator's machine runs: the real CLI, except the two calls moto cannot answer. */
function awsWrapper(realAws: string, state: string): string {
  return `#!/usr/bin/env bash
# Records every call with the (controlled) time it was made and the real time.
printf '%s %s %s\\n' "$(date -u +%s)" "$(/bin/date +%s.%N)" "$*" >> ${JSON.stringify(`${state}/calls.log`)}
[ "$1" = autoscaling ] || exec ${JSON.stringify(realAws)} "$@"
violation() { printf 'unexpected argv: %s\\n' "$*" | tee -a ${JSON.stringify(`${state}/violations`)} >&2; exit 97; }
group=$4
case "$group" in ${GROUPS.join("|")}) ;; *) violation "$@" ;; esac
if [ "$#" -eq 10 ] && [ "$2" = start-instance-refresh ] && [ "$3" = --auto-scaling-group-name ] && [ "$5" = --preferences ] && [ "$6" = '${PREFERENCES}' ] && [ "$7" = --query ] && [ "$8" = InstanceRefreshId ] && [ "$9" = --output ] && [ "\${10}" = text ]; then
  if [ -e ${JSON.stringify(state)}/"$group.status" ] && [ "$(cat ${JSON.stringify(state)}/"$group.status")" != Successful ]; then
    echo "An error occurred (InstanceRefreshInProgress) when calling the StartInstanceRefresh operation: An Instance Refresh is already in progress" >&2; exit 254
  fi
  id=$(cat /proc/sys/kernel/random/uuid)
  echo "$id" > ${JSON.stringify(state)}/"$group.id"
  echo Pending > ${JSON.stringify(state)}/"$group.status"
  echo "$id"; exit 0
fi
if [ "$#" -eq 10 ] && [ "$2" = describe-instance-refreshes ] && [ "$3" = --auto-scaling-group-name ] && [ "$5" = --instance-refresh-ids ] && [ -n "$6" ] && [ "$6" = "$(cat ${JSON.stringify(state)}/"$group.id" 2>/dev/null)" ] && [ "$7" = --query ] && [ "$8" = 'InstanceRefreshes[0].Status' ] && [ "$9" = --output ] && [ "\${10}" = text ]; then
  cat ${JSON.stringify(state)}/"$group.status"; exit 0
fi
violation "$@"
`;
}

describeTier(
  `ha-roll-etcd against moto's CloudWatch fed by a real etcd cluster (${MODE}; real bash, AWS CLI, etcdctl; controlled clock; exact-argv instance-refresh stand-in)`,
  allOf(etcdBinariesCheck(), awsEmulatorCheck(), faketimeCheck),
  { tierLabel: "node e2e" },
  () => {
    jest.setTimeout(900_000);
    let workDir!: string;
    let ca: EtcdCa;
    let tc: TestCluster | undefined;
    let emulator: AwsEmulator | undefined;
    let clockFile!: string;
    let clock = 0;

    const setClock = (seconds: number) => {
      clock = seconds;
      const d = new Date(seconds * 1000).toISOString();
      // Atomic: libfaketime reads the file at every clock call, and must never see it half written.
      writeFileSync(`${clockFile}.tmp`, `${d.slice(0, 10)} ${d.slice(11, 19)}\n`);
      renameSync(`${clockFile}.tmp`, clockFile);
    };

    /** emulator.aws, without blocking the event loop (so several run at once): parsed JSON output. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON, shaped per command
    const awsAsync = async (...args: string[]): Promise<any> => {
      const r = await runCommand(emulator!.awsCli, [...args, "--output", "json"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", ...emulator!.env }, timeoutMs: 60_000 });
      if (r.exitCode !== 0) throw new Error(`aws ${args.join(" ")} failed (${r.exitCode}): ${r.stderr}`);
      return r.stdout.trim() === "" ? undefined : JSON.parse(r.stdout);
    };

    beforeAll(async () => {
      workDir = makeWorkDir();
      clockFile = path.join(workDir, "clock");
      setClock(Math.floor(Date.now() / 60_000) * 60);
      [emulator, ca] = await Promise.all([
        startAwsEmulator({ clockFile }),
        issueEtcdCa(path.join(workDir, "ca"), NAMES.map((name, i) => ({ name, privateIp: `10.0.0.${i + 1}` }))),
      ]);
      tc = await startTestCluster({ mode: MODE, names: NAMES, ca, workDir });
    }, 300_000);

    afterAll(async () => {
      await tc?.destroy();
      await emulator?.stop();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    interface Tick {
      readonly at: number;
      /** EtcdHealthyMembers each publishing member sent this minute. */
      readonly healthy: Record<string, number>;
    }

    /**
     * One minute of the members' life: refreshes move on (a requested one stops the member; one
     * stopped a minute ago starts it again, unless `neverBack`, and reports Successful), every
     * running member publishes, then the clock moves 60 s.
     */
    async function minute(state: string, ticks: Tick[], neverBack = false): Promise<void> {
      for (const [i, group] of GROUPS.entries()) {
        const statusFile = path.join(state, `${group}.status`);
        const status = existsSync(statusFile) ? readFileSync(statusFile, "utf8").trim() : "";
        if (status === "Pending") {
          await tc!.cluster.stop(NAMES[i]);
          writeFileSync(statusFile, "InProgress\n");
        } else if (status === "InProgress") {
          if (!neverBack) {
            await tc!.cluster.restart(NAMES[i]);
            await tc!.cluster.waitHealthy(30_000);
          }
          writeFileSync(statusFile, "Successful\n");
        }
      }
      const running = NAMES.filter((n) => tc!.cluster.isRunning(n));
      const results = await Promise.all(running.map((n) => publishMetrics({ node: tc!.nodes.get(n)!, emulator: emulator!, clusterName: "prod" })));
      for (const [k, n] of running.entries()) {
        const r = results[k];
        if (r.exitCode !== 0) throw new Error(`ha-publish-metrics on ${n} failed (${r.exitCode}): ${r.stderr}`);
      }
      // What each member sent this minute, read back from the emulator: the members' reads run
      // concurrently (each is a separate AWS CLI process; in sequence they were a third of a minute's time).
      const metric = (n: string, start: string, end: string) =>
        awsAsync("cloudwatch", "get-metric-statistics", "--namespace", "HaControlPlane", "--metric-name", "EtcdHealthyMembers",
          "--dimensions", "Name=Cluster,Value=prod", `Name=Slot,Value=${n}`, "--start-time", start, "--end-time", end, "--period", "60", "--statistics", "Minimum");
      const sentAll = await Promise.all(running.map((n) => metric(n, new Date(clock * 1000).toISOString(), new Date((clock + 60) * 1000).toISOString())));
      const healthy: Record<string, number> = {};
      for (const [k, n] of running.entries()) {
        const sent = sentAll[k].Datapoints as Array<{ Minimum: number }>;
        if (sent.length !== 1) {
          const all = await metric(n, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z");
          throw new Error(`${n} published no EtcdHealthyMembers at ${new Date(clock * 1000).toISOString()}: ${JSON.stringify(all.Datapoints)}; stderr: ${results[k].stderr}`);
        }
        healthy[n] = sent[0].Minimum;
      }
      ticks.push({ at: clock, healthy });
      setClock(clock + 60);
    }

    interface Call {
      /** The controlled clock when the call was made (what the script's `date` read). */
      readonly at: number;
      /** The real time, in seconds: how long the script really waited between calls. */
      readonly real: number;
      readonly argv: string;
    }

    /** Every call the script made through the node's aws, in order. */
    const readCalls = (state: string): Call[] => {
      const file = path.join(state, "calls.log");
      if (!existsSync(file)) return [];
      return readFileSync(file, "utf8").trim().split("\n").map((l) => {
        const [at, real] = l.split(" ", 2);
        return { at: Number(at), real: Number(real), argv: l.slice(at.length + real.length + 2) };
      });
    };

    /**
     * The operator's machine for one scenario: `bin/aws` (the wrapper) and `bin/date` (the
     * controlled clock) under `workDir/label`; with `members`, every member running and healthy first.
     */
    async function prepare(label: string, members = true): Promise<{ state: string; env: Record<string, string> }> {
      const state = path.join(workDir, label);
      const bin = path.join(state, "bin");
      mkdirSync(bin, { recursive: true });
      writeFileSync(path.join(bin, "aws"), awsWrapper(emulator!.awsCli, state), { mode: 0o755 });
      // The script's clock: the real date under libfaketime, preloaded into date alone (a shell
      // under libfaketime shares its state with its subshells, and the first to exit tears it down).
      writeFileSync(path.join(bin, "date"), `#!/bin/sh\nLD_PRELOAD=${FAKETIME_LIB} FAKETIME_TIMESTAMP_FILE=${clockFile} FAKETIME_NO_CACHE=1 exec /bin/date "$@"\n`, { mode: 0o755 });
      if (members) {
        for (const n of NAMES) if (!tc!.cluster.isRunning(n)) await tc!.cluster.restart(n);
        await tc!.cluster.waitHealthy(30_000);
      }
      return { state, env: { ...emulator!.env, HOME: state, PATH: `${bin}:/usr/bin:/bin` } };
    }

    /** Waits (real time) until `check` holds, polling every 250 ms. */
    async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
      const end = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }

    const isHealthQuery = (c: Call) => c.argv.startsWith("cloudwatch get-metric-statistics");
    const isStart = (c: Call) => c.argv.startsWith("autoscaling start-instance-refresh");
    const isDescribe = (c: Call) => c.argv.startsWith("autoscaling describe-instance-refreshes");
    /** The real seconds between consecutive calls. */
    const gaps = (calls: Call[]) => calls.slice(1).map((c, k) => c.real - calls[k].real);

    /** Runs the roll while the members live minute by minute; returns its result, calls and minutes. */
    async function roll(label: string, env: Record<string, string>, neverBack = false, groups = GROUPS): Promise<{ result: CommandResult; calls: Call[]; ticks: Tick[]; violations: string }> {
      const { state, env: base } = await prepare(label);
      const ticks: Tick[] = [];
      // Every member up (whatever an earlier scenario left), then two minutes of history before the operator starts the roll.
      await minute(state, ticks);
      await minute(state, ticks);
      let done = false;
      const running = runCommand("bash", [renderedScript("ha-roll-etcd.sh"), "prod", ...groups], {
        env: { ...base, POLL_SECONDS: "1", ...env },
        timeoutMs: 840_000,
      }).finally(() => {
        done = true;
      });
      for (let i = 0; i < 40 && !done; i++) {
        await new Promise((r) => setTimeout(r, 2500));
        if (!done) await minute(state, ticks, neverBack);
      }
      const result = await running;
      const violations = existsSync(path.join(state, "violations")) ? readFileSync(path.join(state, "violations"), "utf8") : "";
      return { result, calls: readCalls(state), ticks, violations };
    }

    it("refuses to start without member groups (exit 2) or without a cluster name, calling AWS for nothing", async () => {
      const { state, env } = await prepare("usage", false);
      const run = (args: string[]) => runCommand("bash", [renderedScript("ha-roll-etcd.sh"), ...args], { env: { ...env, POLL_SECONDS: "1" }, timeoutMs: 60_000 });
      const noGroups = await run(["prod"]);
      expect({ exit: noGroups.exitCode, stderr: noGroups.stderr.trim() }).toEqual({ exit: 2, stderr: "ha-roll-etcd: name the member groups" });
      const nothing = await run([]);
      expect(nothing.exitCode).not.toBe(0);
      expect(nothing.stderr).toContain("usage: ha-roll-etcd <cluster> <member-group>...");
      expect(existsSync(path.join(state, "calls.log"))).toBe(false);
    });

    it("stops at once, starting nothing else, when AWS refuses a refresh (one already in progress on the group)", async () => {
      // Another operator's refresh of prod-etcd-0 is still being cancelled: StartInstanceRefresh fails.
      const state = path.join(workDir, "busy");
      mkdirSync(state, { recursive: true });
      writeFileSync(path.join(state, "prod-etcd-0.status"), "Cancelling\n");
      const { result, calls, violations } = await roll("busy", { HEALTH_TIMEOUT_SECONDS: "600", REFRESH_TIMEOUT_SECONDS: "600" });
      expect(violations).toBe("");
      expect(result.exitCode).toBe(254);
      expect(result.stderr.trim().split("\n").slice(-1)[0]).toMatch(/InstanceRefreshInProgress/);
      expect(calls.filter((c) => c.argv.startsWith("autoscaling")).map((c) => c.argv.split(" ").slice(0, 3).join(" "))).toEqual(["autoscaling start-instance-refresh --auto-scaling-group-name"]);
    });

    it("refreshes members one at a time, each after every member reported the full count in its last two minutes", async () => {
      const { result, calls, ticks, violations } = await roll("healthy", { HEALTH_TIMEOUT_SECONDS: "1200", REFRESH_TIMEOUT_SECONDS: "1200" });
      expect(violations).toBe("");
      expect({ exit: result.exitCode, tail: result.stderr.trim().split("\n").slice(-1) }).toEqual({ exit: 0, tail: ["ha-roll-etcd: all 3 members rolled"] });
      const starts = calls.filter(isStart);
      expect(starts.map((c) => /--auto-scaling-group-name (\S+)/.exec(c.argv)![1])).toEqual(GROUPS);
      // The member really went away during its refresh: the others counted 2.
      expect(ticks.some((t) => Object.values(t.healthy).includes(2))).toBe(true);
      for (const start of starts) {
        // The two minutes before the start (datapoints stamped before it): every member published 3.
        const before = ticks.filter((t) => t.at < start.at).slice(-2);
        expect(before).toHaveLength(2);
        for (const t of before) expect([start.argv, t.at, t.healthy]).toEqual([start.argv, t.at, Object.fromEntries(NAMES.map((n) => [n, 3]))]);
      }
      // What the operator reads, member by member and in order.
      const said = result.stderr.split("\n").filter((l) => /^ha-roll-etcd: (checking|refreshing|prod-etcd-\d replaced)/.test(l));
      expect(said).toEqual(GROUPS.flatMap((g) => [
        `ha-roll-etcd: checking the cluster is healthy before ${g}`,
        `ha-roll-etcd: refreshing ${g}`,
        `ha-roll-etcd: ${g} replaced; waiting for every member to see 3 healthy members`,
      ]));
      // One at a time: a refresh starts only after the previous one was reported Successful.
      for (let k = 1; k < starts.length; k++) {
        const between = calls.filter((c) => c.at >= starts[k - 1].at && c.at <= starts[k].at && c.argv.startsWith("autoscaling describe-instance-refreshes"));
        expect(between.length).toBeGreaterThan(0);
      }
    });

    it("stops before the next member when the cluster does not come back healthy", async () => {
      const { result, calls, violations } = await roll("unhealthy", { HEALTH_TIMEOUT_SECONDS: "300", REFRESH_TIMEOUT_SECONDS: "600" }, true);
      expect(violations).toBe("");
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/cluster not healthy; not rolling prod-etcd-1/);
      // Why: the slot it asked about and what it saw (etcd-0 never came back, so it has no datapoints).
      expect(result.stderr).toContain("ha-roll-etcd: etcd-0 sees healthy members: none (want 3 twice)");
      expect(calls.filter(isStart)).toHaveLength(1);
    });

    it("after the last member, waits HEALTH_TIMEOUT_SECONDS from its replacement for the cluster, polling every POLL_SECONDS, then fails", async () => {
      // One group rolled (MEMBERS names the cluster's size); its member never comes back.
      const { result, calls, violations } = await roll("last", { MEMBERS: "3", HEALTH_TIMEOUT_SECONDS: "240", REFRESH_TIMEOUT_SECONDS: "1200", POLL_SECONDS: "8" }, true, ["prod-etcd-2"]);
      expect(violations).toBe("");
      expect({ exit: result.exitCode, tail: result.stderr.trim().split("\n").slice(-1) }).toEqual({ exit: 1, tail: ["ha-roll-etcd: ERROR: cluster not healthy after the roll"] });
      const replaced = calls.filter(isDescribe).at(-1)!;
      const after = calls.filter((c) => isHealthQuery(c) && c.real > replaced.real);
      expect(after.length).toBeGreaterThan(1);
      // The deadline counts from the replacement, not from the refresh's start: the run ended once
      // the clock had passed replacement + 240 s. Its last query came within six clock minutes of
      // that (each 8 s poll lets the test's clock run on by a minute or more); a deadline counted from the refresh's start (1200 s, about two
      // minutes before the replacement) would have ended it only about 1,080 s after.
      expect(clock - replaced.at).toBeGreaterThanOrEqual(240);
      expect(after.at(-1)!.at - replaced.at).toBeLessThanOrEqual(240 + 360);
      // Each poll waited POLL_SECONDS (real time) before the next.
      expect(Math.min(...gaps(after))).toBeGreaterThanOrEqual(7.5);
    });

    it("by default polls every 20 s and gives each refresh 2400 s from its start", async () => {
      const { state, env } = await prepare("defaults");
      // Nothing published in the last three minutes: the cluster reads as unhealthy.
      setClock(clock + 600);
      let exited = false;
      const track = new Set<ChildProcess>();
      const running = runCommand("bash", [renderedScript("ha-roll-etcd.sh"), "prod", ...GROUPS], { env, timeoutMs: 400_000, track }).finally(() => {
        exited = true;
      });
      try {
        await until("two health queries", () => readCalls(state).filter(isHealthQuery).length >= 2 || exited, 60_000);
        expect(exited).toBe(false);
        expect(gaps(readCalls(state).filter(isHealthQuery))[0]).toBeGreaterThanOrEqual(19);
        // Two minutes of full counts: the next poll finds the cluster healthy and refreshes the first member.
        const ticks: Tick[] = [];
        await minute(state, ticks);
        await minute(state, ticks);
        await until("the first refresh", () => readCalls(state).some(isStart) || exited, 60_000);
        const start = readCalls(state).find(isStart)!;
        expect(start.argv).toContain("--auto-scaling-group-name prod-etcd-0");
        await until("two status queries", () => readCalls(state).filter(isDescribe).length >= 2 || exited, 60_000);
        expect(exited).toBe(false);
        expect(gaps(readCalls(state).filter(isDescribe))[0]).toBeGreaterThanOrEqual(19);
        // Still Pending (nothing moves it on here): at 2390 s it keeps waiting, past 2400 s it stops.
        setClock(start.at + 2390);
        const asked = readCalls(state).length;
        await until("a status query at 2390 s", () => readCalls(state).slice(asked).some(isDescribe) || exited, 60_000);
        await new Promise((r) => setTimeout(r, 2000));
        expect(exited).toBe(false);
        setClock(start.at + 2410);
        const result = await running;
        expect({ exit: result.exitCode, tail: result.stderr.trim().split("\n").slice(-1) }).toEqual({ exit: 1, tail: ["ha-roll-etcd: ERROR: refresh of prod-etcd-0 still Pending"] });
        expect(readCalls(state).filter(isStart)).toHaveLength(1);
      } finally {
        // A failed expectation leaves the script waiting: stop it and what it runs (a sleep, an aws call).
        for (const child of track) {
          spawnSync("pkill", ["-KILL", "-P", String(child.pid)]);
          child.kill("SIGKILL");
        }
        await running;
      }
    });
  },
);
