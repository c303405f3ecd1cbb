/**
 * Finding 2 (issue 14) with the real programs: the library's ha-etcd-backup and ha-etcd-restore
 * scripts, the real AWS CLI against moto, a real etcd 3.5.21 member on loopback with client TLS
 * (configured by the library's renderers, started by its bootstrap script, certificates from
 * openssl), the real etcdctl with the health-check client certificate the script names, and the
 * real etcdutl.
 *
 * - the bucket is created in moto from the synthesized Object Lock configuration; a locked version
 *   cannot be deleted (moto enforces Object Lock retention);
 * - the backup script uploads to the member's own prefix with SSE-KMS naming the cluster key, the
 *   SHA-256 as metadata, and publishes EtcdSnapshotsUploaded;
 * - `ha-etcd-restore latest` takes the newest LastModified, not the name that sorts last (a hostile
 *   `zzzz/…9999…` key uploaded earlier), and refuses a newer version whose bytes do not match the
 *   recorded checksum before touching the data directory.
 * moto does not evaluate bucket-policy conditions: the policy side is backup-attacks.test.ts.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { EtcdBackups } from "../../lib";
import { AwsEmulator, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { allOf, describeTier, TierCheck } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";
import { only, synth } from "../helpers/synth";
import { TestCluster, TestNode, issueEtcdCa, startTestCluster } from "../bootstrap/etcd/cluster";
import { localEndpoints } from "../monitoring/publish-node";

const ETCD_BIN = process.env.HA_CP_ETCD_BIN ?? "/var/cache/cdktf-ha-control-plane/etcd-3.5.21/bin";
const etcdCheck: TierCheck = existsSync(path.join(ETCD_BIN, "etcdutl"))
  ? { available: true, reason: "" }
  : { available: false, reason: `no etcd binaries in ${ETCD_BIN}: run \`bash scripts/setup-test-env.sh\`` };

describeTier("etcd backup and restore scripts against moto (real AWS CLI, TLS etcd member, etcdctl, etcdutl)", allOf(awsEmulatorCheck(), etcdCheck), { tierLabel: "emulator e2e" }, () => {
  let emulator!: AwsEmulator;
  let tc: TestCluster | undefined;
  let node!: TestNode;
  let dir!: string;
  let keyArn!: string;
  let env!: Record<string, string>;
  let clientUrl!: string;
  const bucketProps = synth((s) => new EtcdBackups(s, "Backups", { clusterName: "prod", bucketName: "prod-etcd-backups-e2e", encryptionKey: { keyArn: "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555" } }));
  const bucket = "prod-etcd-backups-e2e";

  const etcdctl = async (...args: string[]) => {
    const r = await tc!.cluster.etcdctl(args);
    if (r.exitCode !== 0) throw new Error(`etcdctl ${args.join(" ")}: ${r.stderr}`);
  };
  const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
  const script = (name: string, args: string[], extra: Record<string, string>) => spawnSync("bash", [renderedScript(name), ...args], { env: { ...env, ...extra }, encoding: "utf8", timeout: 60000 });

  beforeAll(async () => {
    emulator = await startAwsEmulator();
    dir = mkdtempSync(path.join(tmpdir(), "etcd-backup-e2e-"));
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(path.join(bin, "logger"), "#!/usr/bin/env bash\nexit 0\n");
    chmodSync(path.join(bin, "logger"), 0o755);
    env = { ...emulator.env, HOME: dir, PATH: `${bin}:${path.dirname(emulator.awsCli)}:${ETCD_BIN}:/usr/bin:/bin`, ENV_FILE: "/dev/null" };
    keyArn = emulator.aws("kms", "create-key").KeyMetadata.Arn;

    // The bucket exactly as synthesized: Object Lock on at creation, versioning, default retention.
    const lock = only(bucketProps, "aws_s3_bucket_object_lock_configuration").props.rule.default_retention;
    expect(only(bucketProps, "aws_s3_bucket").props.object_lock_enabled).toBe(true);
    emulator.aws("s3api", "create-bucket", "--bucket", bucket, "--create-bucket-configuration", "LocationConstraint=eu-west-1", "--object-lock-enabled-for-bucket");
    emulator.aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled");
    const sse = only(bucketProps, "aws_s3_bucket_server_side_encryption_configuration").props.rule[0].apply_server_side_encryption_by_default;
    expect(sse.sse_algorithm).toBe("aws:kms");
    emulator.aws("s3api", "put-bucket-encryption", "--bucket", bucket, "--server-side-encryption-configuration", JSON.stringify({ Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keyArn }, BucketKeyEnabled: true }] }));
    emulator.aws("s3api", "put-object-lock-configuration", "--bucket", bucket, "--object-lock-configuration", JSON.stringify({ ObjectLockEnabled: "Enabled", Rule: { DefaultRetention: { Mode: lock.mode, Days: lock.days } } }));

    const ca = await issueEtcdCa(path.join(dir, "ca"), [{ name: "etcd-0", privateIp: "10.0.0.10" }]);
    tc = await startTestCluster({ mode: "loopback", names: ["etcd-0"], ca, workDir: dir });
    node = tc.nodes.get("etcd-0")!;
    clientUrl = localEndpoints(node).client;
  }, 90000);

  afterAll(async () => {
    await tc?.destroy();
    await emulator?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const restoreEnv = () => ({
    SLOT_NAME: "etcd-0", SLOT_IP: "10.0.0.10", INITIAL_CLUSTER: "etcd-0=https://10.0.0.10:2380", BACKUP_TARGET: `s3://${bucket}/snapshots`,
    RESTORE_TOKEN: "restore-1", ETCD_DATA_DIR: path.join(dir, "restored"), STOP_ETCD: "true", WORK_DIR: path.join(dir, "restore-work"), STATE_DIR: path.join(dir, "no-state"),
  });

  it("uploads to the member's prefix with SSE-KMS, the checksum, and a metric; restore takes the newest LastModified; a tampered version is refused; a locked version cannot be deleted", async () => {
    // An earlier upload whose name sorts last (what "latest by name" would take).
    await etcdctl("put", "/e2e/value", "hostile");
    const hostile = path.join(dir, "hostile.db");
    await etcdctl("snapshot", "save", hostile);
    emulator.aws("s3api", "put-object", "--bucket", bucket, "--key", "snapshots/zzzz/prod-99991231T000000Z.db", "--body", hostile, "--server-side-encryption", "aws:kms", "--ssekms-key-id", keyArn, "--metadata", `sha256=${sha256(hostile)}`);
    await new Promise((r) => setTimeout(r, 1500));

    await etcdctl("put", "/e2e/value", "good");
    const backup = script("ha-etcd-backup.sh", [], {
      CLUSTER_NAME: "prod", BACKUP_TARGET: `s3://${bucket}/snapshots`, SLOT_NAME: "etcd-0", METRIC_NAMESPACE: "HaControlPlane",
      PKI_DIR: node.pkiDir, ETCD_ENDPOINT: clientUrl, WORK_DIR: path.join(dir, "backup-work"),
    });
    expect(backup.stderr).not.toMatch(/ERROR/);
    expect(backup.status).toBe(0);
    const name = backup.stdout.trim();
    expect(name).toMatch(/^etcd-0\/prod-\d{8}T\d{6}Z\.db$/);
    const head = emulator.aws("s3api", "head-object", "--bucket", bucket, "--key", `snapshots/${name}`);
    expect(head).toMatchObject({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: keyArn, ObjectLockMode: "GOVERNANCE" });
    expect(head.Metadata.sha256).toMatch(/^[0-9a-f]{64}$/);
    const metrics = emulator.aws("cloudwatch", "list-metrics", "--namespace", "HaControlPlane", "--metric-name", "EtcdSnapshotsUploaded");
    expect(metrics.Metrics).toEqual([expect.objectContaining({ Dimensions: [{ Name: "Cluster", Value: "prod" }] })]);

    const restored = script("ha-etcd-restore.sh", ["latest"], restoreEnv());
    expect(restored.stderr).toContain(`latest snapshot (newest LastModified): ${name}`);
    expect(restored.status).toBe(0);
    expect(existsSync(path.join(dir, "restored/member/snap/db"))).toBe(true);

    // A compromised member writes a newer version of the same key: garbage claiming the old checksum.
    writeFileSync(path.join(dir, "garbage.db"), "not a snapshot");
    emulator.aws("s3api", "put-object", "--bucket", bucket, "--key", `snapshots/${name}`, "--body", path.join(dir, "garbage.db"), "--server-side-encryption", "aws:kms", "--ssekms-key-id", keyArn, "--metadata", `sha256=${head.Metadata.sha256}`);
    const before = readdirSync(dir).filter((f) => f.startsWith("restored.before-restore-")).length;
    const refused = script("ha-etcd-restore.sh", ["latest"], restoreEnv());
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/refusing it/);
    expect(readdirSync(dir).filter((f) => f.startsWith("restored.before-restore-")).length).toBe(before);
    expect(existsSync(path.join(dir, "restored/member/snap/db"))).toBe(true);

    // The good version is still there and locked: deleting it is refused.
    const versions = emulator.aws("s3api", "list-object-versions", "--bucket", bucket, "--prefix", `snapshots/${name}`).Versions;
    expect(versions).toHaveLength(2);
    const original = versions.find((v: { IsLatest: boolean }) => !v.IsLatest);
    expect(() => emulator.aws("s3api", "delete-object", "--bucket", bucket, "--key", `snapshots/${name}`, "--version-id", original.VersionId)).toThrow(/AccessDenied/);
    expect(emulator.aws("s3api", "head-object", "--bucket", bucket, "--key", `snapshots/${name}`, "--version-id", original.VersionId).Metadata.sha256).toBe(head.Metadata.sha256);
  }, 120000);
});
