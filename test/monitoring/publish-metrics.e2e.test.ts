/**
 * Runs the real ha-publish-metrics script (DRY_RUN prints the CloudWatch payload) with a real
 * certificate from openssl and stub chronyc / etcdctl / curl, and checks what it would publish.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { renderNodeEnv } from "../../lib";
import { describeTier, toolAvailable } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-publish-metrics.sh");

describeTier("ha-publish-metrics (real bash and openssl, stubbed chrony and etcd)", toolAvailable("openssl", ["version"]), { mandatoryInCi: true, tierLabel: "node e2e" }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "metrics-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    const bin = path.join(dir, "bin");
    for (const d of [bin, path.join(dir, "pki/etcd"), path.join(dir, "run")]) mkdirSync(d, { recursive: true });
    const stub = (name: string, body: string) => {
      writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\n${body}\n`);
      chmodSync(path.join(bin, name), 0o755);
    };
    stub("chronyc", 'echo "A9FEA97B,169.254.169.123,3,1764158400.0,-0.000250000,0.000001,0.000002,1.0,0.1,0.01,0.001,0.002,64.0,Normal"');
    stub("etcdctl", 'printf "https://10.0.0.20:2379 is healthy: took = 2ms\\nhttps://10.0.16.20:2379 is healthy: took = 3ms\\nhttps://10.0.32.20:2379 is unhealthy: failed\\n"');
    stub("curl", 'printf "etcd_server_leader_changes_seen_total 7\\netcd_mvcc_db_total_size_in_bytes 536870912\\n"');
    // Two real certificates: the earlier expiry (10 days) wins.
    for (const [name, days] of [["ca", 3650], ["etcd/peer", 10]] as const) {
      await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name.replace("/", "-")}`, "-days", String(days), "-keyout", path.join(dir, `pki/${name}.key`), "-out", path.join(dir, `pki/${name}.crt`)]);
    }
    writeFileSync(path.join(dir, "node.env"), renderNodeEnv({ clusterName: "prod", nodeRole: "etcd", pkiDir: path.join(dir, "pki"), metrics: { namespace: "HaControlPlane", runsEtcd: true, etcdQuotaBytes: 2147483648 } }));
    writeFileSync(path.join(dir, "run/slot.env"), "SLOT_NAME=etcd-0\n");
    writeFileSync(path.join(dir, "run/etcd-leader-changes"), "5\n");
  });

  it("publishes clock offset, earliest certificate expiry and etcd health with Cluster and Slot dimensions", async () => {
    const { stdout } = await run("bash", [SCRIPT], {
      env: { PATH: `${path.join(dir, "bin")}:/usr/bin:/bin`, ENV_FILE: path.join(dir, "node.env"), STATE_DIR: path.join(dir, "run"), DRY_RUN: "true" },
      timeout: 20000,
    });
    const metrics = JSON.parse(stdout) as Array<{ MetricName: string; Value: number; Dimensions: Array<{ Name: string; Value: string }> }>;
    const value = (name: string) => metrics.find((m) => m.MetricName === name)?.Value;
    expect(value("ClockOffsetMilliseconds")).toBeCloseTo(0.25, 3);
    expect(value("CertificateDaysLeft")).toBeGreaterThanOrEqual(9);
    expect(value("CertificateDaysLeft")).toBeLessThanOrEqual(10);
    expect(value("EtcdHealthyMembers")).toBe(2);
    expect(value("EtcdLeaderChanges")).toBe(2);
    expect(value("EtcdDbSizePercentOfQuota")).toBe(25);
    for (const m of metrics) expect(m.Dimensions).toEqual([{ Name: "Cluster", Value: "prod" }, { Name: "Slot", Value: "etcd-0" }]);
  });
});
