/**
 * Runs the real ha-publish-metrics script (bash, as nodes receive it) on a member of a real
 * 3-member etcd 3.5.21 cluster (TLS, configured by the library's renderers and started by its
 * bootstrap script), with the real etcdctl, curl, openssl and AWS CLI against the AWS emulator
 * (moto's CloudWatch), then reads back from CloudWatch what was actually sent: metric names,
 * dimensions, units and values. One follower is stopped first, so the health call must ask the
 * whole cluster (`endpoint health --cluster`, with the health-check client certificate) to count 2;
 * the leader-change and database-size values are checked against the member's own /metrics, read
 * by the test, and the certificate expiry against the certificates' notAfter read with node:crypto.
 *
 * chronyc is the one stand-in left (no chronyd runs here: it would need the host's clock): it
 * answers exactly `chronyc -c tracking` and records and fails on any other argument vector.
 */
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { AwsEmulator, EMULATOR_REGION, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { etcdBinariesCheck } from "../harness/real-components";
import { startImdsRegionStandIn } from "../harness/imds-region-standin";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { EtcdCa, TestCluster, TestNode, issueEtcdCa, makeWorkDir, startTestCluster } from "../bootstrap/etcd/cluster";
import { METRIC_NAMESPACE, publishMetrics, scrapeMetrics } from "./publish-node";
import { netnsCheck } from "../bootstrap/etcd/netns";

/** What the script must publish, written from its contract (units are CloudWatch StandardUnit names). */
const EXPECTED_UNITS: Record<string, string> = {
  ClockOffsetMilliseconds: "Milliseconds",
  CertificateDaysLeft: "Count",
  EtcdHealthyMembers: "Count",
  EtcdLeaderChanges: "Count",
  EtcdDbSizePercentOfQuota: "Percent",
};
const NAMES = ["etcd-0", "etcd-1", "etcd-2"];
// Namespaces where available (the script runs with its own defaults), else loopback.
const MODE: "netns" | "loopback" = netnsCheck().available ? "netns" : "loopback";
const QUOTA_BYTES = 2147483648;

/** A stand-in that answers `output` for exactly `argv` and records and fails on anything else. */
function strictStandIn(bin: string, name: string, argv: readonly string[], output: string, violations: string): void {
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  writeFileSync(
    path.join(bin, name),
    [
      "#!/usr/bin/env bash",
      `expected=(${argv.map(q).join(" ")})`,
      'if [ "$#" -ne "${#expected[@]}" ]; then ok=no; else ok=yes; for i in "${!expected[@]}"; do [ "${expected[$i]}" = "${@:$((i + 1)):1}" ] || ok=no; done; fi',
      'if [ "$ok" != yes ]; then',
      `  printf '%s: unexpected argv: %s\\n' ${name} "$*" | tee -a ${q(violations)} >&2`,
      "  exit 97",
      "fi",
      `printf '%s' ${q(output)}`,
    ].join("\n") + "\n",
  );
  chmodSync(path.join(bin, name), 0o755);
}

/** One sample of a Prometheus text exposition (first line of that name without labels). */
function sample(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  if (!m) throw new Error(`${name} not in the scrape`);
  return Number(m[1]);
}

describeTier(
  `ha-publish-metrics on a real etcd member (${MODE}; real bash, etcdctl, curl, openssl, AWS CLI against moto's CloudWatch; exact-argv chronyc)`,
  allOf(etcdBinariesCheck(), toolAvailable("openssl", ["version"]), toolAvailable("curl", ["--version"]), awsEmulatorCheck()),
  { tierLabel: "node e2e" },
  () => {
    jest.setTimeout(180000);
    let workDir!: string;
    let ca: EtcdCa;
    let tc: TestCluster | undefined;
    let emulator: AwsEmulator | undefined;
    let node!: TestNode;
    let bin!: string;
    let violations!: string;
    let stopped!: string;

    beforeAll(async () => {
      workDir = makeWorkDir();
      [emulator, ca] = await Promise.all([startAwsEmulator(), issueEtcdCa(path.join(workDir, "ca"), NAMES.map((name, i) => ({ name, privateIp: `10.0.0.${i + 1}` })))]);
      tc = await startTestCluster({ mode: MODE, names: NAMES, ca, workDir });
      node = tc.nodes.get("etcd-0")!;
      // Stop a follower other than the publishing member: no election, so leader changes stay put.
      const leader = (await tc.cluster.leader()).name;
      stopped = NAMES.find((n) => n !== "etcd-0" && n !== leader)!;
      await tc.cluster.stop(stopped);
      bin = path.join(workDir, "bin");
      mkdirSync(bin);
      violations = path.join(workDir, "stand-in-violations");
      strictStandIn(bin, "chronyc", ["-c", "tracking"], "A9FEA97B,169.254.169.123,3,1764158400.0,-0.000250000,0.000001,0.000002,1.0,0.1,0.01,0.001,0.002,64.0,Normal\n", violations);
    }, 180000);

    afterAll(async () => {
      await tc?.destroy();
      await emulator?.stop();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    const sent = (name: string, now: number): Array<{ value: number; unit: string }> => {
      const out = emulator!.aws(
        "cloudwatch", "get-metric-statistics", "--namespace", METRIC_NAMESPACE, "--metric-name", name,
        "--dimensions", "Name=Cluster,Value=e2e", "Name=Slot,Value=etcd-0",
        "--start-time", new Date(now - 3600_000).toISOString(), "--end-time", new Date(now + 3600_000).toISOString(),
        "--period", "60", "--statistics", "Maximum",
      ) as { Datapoints: Array<{ Maximum: number; Unit: string }> };
      return out.Datapoints.map((d) => ({ value: d.Maximum, unit: d.Unit }));
    };

    /** `stats` of `metric` for cluster `cluster` and slot etcd-0 over one-hour periods around `now`. */
    const hourStats = (cluster: string, metric: string, now: number, ...stats: string[]): Array<Record<string, number>> =>
      emulator!.aws(
        "cloudwatch", "get-metric-statistics", "--namespace", METRIC_NAMESPACE, "--metric-name", metric,
        "--dimensions", `Name=Cluster,Value=${cluster}`, "Name=Slot,Value=etcd-0",
        "--start-time", new Date(now - 3600_000).toISOString(), "--end-time", new Date(now + 3600_000).toISOString(),
        "--period", "3600", "--statistics", ...stats,
      ).Datapoints;

    it("sends clock offset, earliest certificate expiry and the member's etcd health to CloudWatch with their units and the Cluster and Slot dimensions", async () => {
      writeFileSync(path.join(node.stateDir, "etcd-leader-changes"), "0\n");
      const before = await scrapeMetrics(node);
      const result = await publishMetrics({ node, emulator: emulator!, clusterName: "e2e", pathFirst: [bin] });
      const after = await scrapeMetrics(node);
      expect(existsSync(violations) ? readFileSync(violations, "utf8") : "").toBe("");
      expect({ exit: result.exitCode, stderr: result.stderr }).toEqual({ exit: 0, stderr: "" });

      const listed = emulator!.aws("cloudwatch", "list-metrics", "--namespace", METRIC_NAMESPACE).Metrics as Array<{ MetricName: string; Dimensions: Array<{ Name: string; Value: string }> }>;
      expect(listed.map((m) => m.MetricName).sort()).toEqual(Object.keys(EXPECTED_UNITS).sort());
      for (const m of listed) expect([...m.Dimensions].sort((a, b) => a.Name.localeCompare(b.Name))).toEqual([{ Name: "Cluster", Value: "e2e" }, { Name: "Slot", Value: "etcd-0" }]);

      const now = Date.now();
      const one = (name: string) => {
        const points = sent(name, now);
        expect(points).toHaveLength(1);
        return points[0];
      };
      for (const [name, unit] of Object.entries(EXPECTED_UNITS)) expect([name, one(name).unit]).toEqual([name, unit]);
      expect(one("ClockOffsetMilliseconds").value).toBeCloseTo(0.25, 3);
      // Two of three members answer: the stopped one counts as unhealthy, seen from etcd-0.
      expect(one("EtcdHealthyMembers").value).toBe(2);
      // Leader changes since the last run (state file 0): the member's own counter.
      const changes = sample(before, "etcd_server_leader_changes_seen_total");
      expect(sample(after, "etcd_server_leader_changes_seen_total")).toBe(changes);
      expect(changes).toBeGreaterThanOrEqual(1);
      expect(one("EtcdLeaderChanges").value).toBe(changes);
      expect(one("EtcdDbSizePercentOfQuota").value).toBeCloseTo((sample(after, "etcd_mvcc_db_total_size_in_bytes") * 100) / QUOTA_BYTES, 2);
      // The earliest notAfter of the certificates under the PKI directory, in whole days.
      const certs = readdirSync(path.join(node.pkiDir, "etcd")).filter((f) => f.endsWith(".crt")).map((f) => new X509Certificate(readFileSync(path.join(node.pkiDir, "etcd", f))));
      const earliest = Math.min(...certs.map((c) => Date.parse(c.validTo)));
      expect(one("CertificateDaysLeft").value).toBe(Math.floor((earliest - Date.now()) / 86400_000));
    });

    it("reports no leader change on the next run, and all three members once the stopped one is back", async () => {
      await tc!.cluster.restart(stopped);
      await tc!.cluster.waitHealthy(30_000);
      const result = await publishMetrics({ node, emulator: emulator!, clusterName: "e2e", pathFirst: [bin] });
      expect(result.exitCode).toBe(0);
      const now = Date.now();
      // Both runs fall into one 60 s period: its maximum is this run's 3, its minimum the earlier 2.
      const health = hourStats("e2e", "EtcdHealthyMembers", now, "Maximum", "Minimum", "SampleCount");
      expect(health).toEqual([expect.objectContaining({ Maximum: 3, Minimum: 2, SampleCount: 2 })]);
      const changes = hourStats("e2e", "EtcdLeaderChanges", now, "Minimum", "SampleCount");
      expect(changes).toEqual([expect.objectContaining({ Minimum: 0, SampleCount: 2 })]);
    });

    /** A bin directory whose `aws` records its argv and fails, and whose chronyc has no answer (no chronyd). */
    function silentBin(name: string): { dir: string; calls: () => string } {
      const dir = path.join(workDir, name);
      mkdirSync(dir);
      const log = path.join(dir, "aws-calls");
      writeFileSync(path.join(dir, "aws"), `#!/bin/sh\nprintf '%s\\n' "$*" >>'${log}'\nexit 97\n`, { mode: 0o755 });
      writeFileSync(path.join(dir, "chronyc"), "#!/bin/sh\necho '506 Cannot talk to daemon' >&2\nexit 1\n", { mode: 0o755 });
      return { dir, calls: () => (existsSync(log) ? readFileSync(log, "utf8") : "") };
    }
    /** The metric names CloudWatch lists for cluster `cluster` (its Cluster dimension). */
    const listedFor = (cluster: string): string[] =>
      (emulator!.aws("cloudwatch", "list-metrics", "--namespace", METRIC_NAMESPACE, "--dimensions", `Name=Cluster,Value=${cluster}`).Metrics as Array<{ MetricName: string }>).map((m) => m.MetricName).sort();

    it("the first run after a boot (no leader-change state yet) publishes 0 leader changes, then keeps the member's counter", async () => {
      const state = path.join(node.stateDir, "etcd-leader-changes");
      rmSync(state, { force: true });
      const result = await publishMetrics({ node, emulator: emulator!, clusterName: "e2e-first-run", pathFirst: [bin] });
      expect({ exit: result.exitCode, stderr: result.stderr }).toEqual({ exit: 0, stderr: "" });
      const now = Date.now();
      const points = hourStats("e2e-first-run", "EtcdLeaderChanges", now, "Maximum", "SampleCount");
      expect(points).toEqual([expect.objectContaining({ Maximum: 0, SampleCount: 1 })]);
      // The state now holds the member's own counter, for the next run's difference.
      expect(Number(readFileSync(state, "utf8").trim())).toBe(sample(await scrapeMetrics(node), "etcd_server_leader_changes_seen_total"));
    });

    it("a node with nothing measurable (no chronyd answer, no certificate, no etcd) exits 0 without calling CloudWatch", async () => {
      const silent = silentBin("silent-bin");
      const emptyPki = path.join(workDir, "empty-pki");
      mkdirSync(emptyPki);
      const result = await publishMetrics({
        node,
        emulator: emulator!,
        clusterName: "e2e-nothing",
        pathFirst: [silent.dir],
        editEnv: (text) => text.replace(/^RUNS_ETCD=.*$/m, "RUNS_ETCD='false'").replace(/^PKI_DIR=.*$/m, `PKI_DIR='${emptyPki}'`),
      });
      expect({ exit: result.exitCode, stderr: result.stderr, awsCalls: silent.calls() }).toEqual({ exit: 0, stderr: "", awsCalls: "" });
    });

    it("refuses a node.env whose CLUSTER_NAME is empty: nothing is sent", async () => {
      const everything = () => emulator!.aws("cloudwatch", "list-metrics", "--namespace", METRIC_NAMESPACE).Metrics.length as number;
      const before = everything();
      const result = await publishMetrics({ node, emulator: emulator!, clusterName: "e2e-unnamed", pathFirst: [bin], editEnv: (text) => text.replace(/^CLUSTER_NAME=.*$/m, "CLUSTER_NAME=''") });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toMatch(/CLUSTER_NAME: parameter null or not set/);
      expect(everything()).toBe(before);
      expect(listedFor("e2e-unnamed")).toEqual([]);
    });

    it("without AWS_DEFAULT_REGION, takes the region from the instance metadata (IMDSv2, reached from the member's own network) and publishes", async () => {
      // A metadata service where the node reaches it: in the client namespace of the member's network
      // (loopback without namespaces). It answers IMDSv2's token exchange and placement/region only.
      const host = tc!.net === undefined ? "127.0.0.1" : tc!.net.clientIp;
      const imds = await startImdsRegionStandIn(host, EMULATOR_REGION, tc!.net?.clientNs);
      try {
        const result = await publishMetrics({ node, emulator: emulator!, clusterName: "e2e-imds-region", pathFirst: [bin], env: { AWS_DEFAULT_REGION: "", AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint } });
        expect({ exit: result.exitCode, stderr: result.stderr }).toEqual({ exit: 0, stderr: "" });
        expect(imds.requests()).toEqual(["PUT /latest/api/token 200", "GET /latest/meta-data/placement/region 200"]);
        expect(listedFor("e2e-imds-region")).toEqual(Object.keys(EXPECTED_UNITS).sort());
      } finally {
        imds.stop();
      }
    });

    it("stops when the instance metadata cannot give the region: no CloudWatch call without a region", async () => {
      const silent = silentBin("no-region-bin");
      // Port 9 (discard) has no listener in the member's network: the token request is refused.
      const result = await publishMetrics({ node, emulator: emulator!, clusterName: "e2e-no-region", pathFirst: [silent.dir], env: { AWS_DEFAULT_REGION: "", AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:9" } });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toMatch(/curl: \(7\)/);
      expect(silent.calls()).toBe("");
    });

    it("stand-in chronyc refuses any other argument vector (it cannot pass a wrong call)", async () => {
      const other = path.join(workDir, "other-violations");
      strictStandIn(bin, "chronyc-check", ["-c", "tracking"], "x", other);
      const { runCommand } = await import("../harness/etcd-cluster");
      const r = await runCommand(path.join(bin, "chronyc-check"), ["tracking"]);
      expect(r.exitCode).toBe(97);
      expect(readFileSync(other, "utf8")).toBe("chronyc-check: unexpected argv: tracking\n");
    });
  },
);
