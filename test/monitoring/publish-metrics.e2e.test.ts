/**
 * Runs the real ha-publish-metrics script (bash, as nodes receive it) with the real AWS CLI against
 * the AWS emulator (moto's CloudWatch) and real certificates from openssl, then reads back from
 * CloudWatch what was actually sent: metric names, dimensions, units and values.
 *
 * chronyc, etcdctl and curl are stand-ins (no chronyd or TLS etcd member runs here) that accept
 * exactly the argument vector the script must use and fail loudly on anything else: the etcd health
 * call must ask the whole cluster (`endpoint health --cluster`) with the health-check client
 * certificate, and the scrape must hit the metrics listener the rendered etcd configuration opens
 * (`listen-metrics-urls`), not the client port.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { renderEtcdConfig, renderNodeEnv } from "../../lib";
import { AwsEmulator, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-publish-metrics.sh");
const NAMESPACE = "HaControlPlane";

/** What the script must publish, written from its contract (units are CloudWatch StandardUnit names). */
const EXPECTED_UNITS: Record<string, string> = {
  ClockOffsetMilliseconds: "Milliseconds",
  CertificateDaysLeft: "Count",
  EtcdHealthyMembers: "Count",
  EtcdLeaderChanges: "Count",
  EtcdDbSizePercentOfQuota: "Percent",
};

describeTier(
  "ha-publish-metrics (real bash, openssl and AWS CLI against moto's CloudWatch; exact-argv chrony, etcdctl and curl stand-ins)",
  allOf(toolAvailable("openssl", ["version"]), awsEmulatorCheck()),
  { tierLabel: "node e2e" },
  () => {
    jest.setTimeout(120000);
    const dir = mkdtempSync(path.join(tmpdir(), "metrics-"));
    const pki = path.join(dir, "pki");
    const violations = path.join(dir, "stub-violations");
    let emulator: AwsEmulator;
    let metricsUrl: string;

    afterAll(async () => {
      await emulator?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    beforeAll(async () => {
      emulator = await startAwsEmulator();
      const bin = path.join(dir, "bin");
      for (const d of [bin, path.join(pki, "etcd"), path.join(dir, "run")]) mkdirSync(d, { recursive: true });
      // The metrics listener etcd opens, read from the configuration the member is started with.
      const config = parseYaml(renderEtcdConfig({ member: "etcd-0", members: [{ name: "etcd-0", ip: "10.0.0.20" }], initialClusterToken: "prod" })) as Record<string, string>;
      metricsUrl = `${config["listen-metrics-urls"]}/metrics`;
      /** A stand-in that answers `output` for exactly `argv` and records and fails on anything else. */
      const strict = (name: string, argv: string[], output: string) => {
        const expected = argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
        writeFileSync(
          path.join(bin, name),
          [
            "#!/usr/bin/env bash",
            `expected=(${expected})`,
            'if [ "$#" -ne "${#expected[@]}" ] || [ "$*" != "${expected[*]}" ]; then',
            `  printf '%s: unexpected argv: %s\\n' ${name} "$*" | tee -a '${violations}' >&2`,
            "  exit 97",
            "fi",
            `printf '%s' '${output.replace(/'/g, "'\\''")}'`,
          ].join("\n") + "\n",
        );
        chmodSync(path.join(bin, name), 0o755);
      };
      strict("chronyc", ["-c", "tracking"], "A9FEA97B,169.254.169.123,3,1764158400.0,-0.000250000,0.000001,0.000002,1.0,0.1,0.01,0.001,0.002,64.0,Normal\n");
      strict(
        "etcdctl",
        ["--cacert", `${pki}/etcd/ca.crt`, "--cert", `${pki}/etcd/healthcheck-client.crt`, "--key", `${pki}/etcd/healthcheck-client.key`, "--endpoints", "https://127.0.0.1:2379", "--command-timeout=5s", "endpoint", "health", "--cluster"],
        "https://10.0.0.20:2379 is healthy: successfully committed proposal: took = 2ms\nhttps://10.0.16.20:2379 is healthy: successfully committed proposal: took = 3ms\nhttps://10.0.32.20:2379 is unhealthy: failed to commit proposal: context deadline exceeded\n",
      );
      strict("curl", ["-fsS", "--max-time", "5", metricsUrl], "etcd_server_leader_changes_seen_total 7\netcd_mvcc_db_total_size_in_bytes 536870912\n");
      // Two real certificates: the earlier expiry (10 days) wins.
      for (const [name, days] of [["ca", 3650], ["etcd/peer", 10]] as const) {
        await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name.replace("/", "-")}`, "-days", String(days), "-keyout", path.join(pki, `${name}.key`), "-out", path.join(pki, `${name}.crt`)]);
      }
      writeFileSync(path.join(dir, "node.env"), renderNodeEnv({ clusterName: "prod", nodeRole: "etcd", pkiDir: pki, metrics: { namespace: NAMESPACE, runsEtcd: true, etcdQuotaBytes: 2147483648 } }));
      writeFileSync(path.join(dir, "run/slot.env"), "SLOT_NAME=etcd-0\n");
      writeFileSync(path.join(dir, "run/etcd-leader-changes"), "5\n");
    });

    it("sends clock offset, earliest certificate expiry and etcd health to CloudWatch with their units and the Cluster and Slot dimensions", async () => {
      await run("bash", [SCRIPT], {
        env: { ...emulator.env, HOME: dir, PATH: `${path.join(dir, "bin")}:${path.dirname(emulator.awsCli)}:/usr/bin:/bin`, ENV_FILE: path.join(dir, "node.env"), STATE_DIR: path.join(dir, "run") },
        timeout: 60000,
      });
      expect(existsSync(violations) ? readFileSync(violations, "utf8") : "").toBe("");

      const listed = emulator.aws("cloudwatch", "list-metrics", "--namespace", NAMESPACE).Metrics as Array<{ MetricName: string; Dimensions: Array<{ Name: string; Value: string }> }>;
      expect(listed.map((m) => m.MetricName).sort()).toEqual(Object.keys(EXPECTED_UNITS).sort());
      for (const m of listed) expect([...m.Dimensions].sort((a, b) => a.Name.localeCompare(b.Name))).toEqual([{ Name: "Cluster", Value: "prod" }, { Name: "Slot", Value: "etcd-0" }]);

      const now = Date.now();
      const sent = (name: string): { value: number; unit: string } => {
        const out = emulator.aws(
          "cloudwatch", "get-metric-statistics", "--namespace", NAMESPACE, "--metric-name", name,
          "--dimensions", "Name=Cluster,Value=prod", "Name=Slot,Value=etcd-0",
          "--start-time", new Date(now - 3600_000).toISOString(), "--end-time", new Date(now + 3600_000).toISOString(),
          "--period", "60", "--statistics", "Maximum",
        ) as { Datapoints: Array<{ Maximum: number; Unit: string }> };
        expect(out.Datapoints).toHaveLength(1);
        return { value: out.Datapoints[0].Maximum, unit: out.Datapoints[0].Unit };
      };
      for (const [name, unit] of Object.entries(EXPECTED_UNITS)) expect([name, sent(name).unit]).toEqual([name, unit]);
      expect(sent("ClockOffsetMilliseconds").value).toBeCloseTo(0.25, 3);
      expect(sent("CertificateDaysLeft").value).toBeGreaterThanOrEqual(9);
      expect(sent("CertificateDaysLeft").value).toBeLessThanOrEqual(10);
      expect(sent("EtcdHealthyMembers").value).toBe(2);
      expect(sent("EtcdLeaderChanges").value).toBe(2);
      expect(sent("EtcdDbSizePercentOfQuota").value).toBe(25);
    });
  },
);
