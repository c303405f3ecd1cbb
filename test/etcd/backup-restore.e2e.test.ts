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
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { EtcdBackups } from "../../lib";
import { AwsEmulator, EMULATOR_REGION, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { startImdsRegionStandIn } from "../harness/imds-region-standin";
import { allOf, describeTier, TierCheck, toolAvailable } from "../harness/tiers";
import { inView } from "../controlplane/node-view";
import { renderedScript } from "../helpers/scripts";
import { only, synth } from "../helpers/synth";
import { TestCluster, TestNode, issueEtcdCa, startTestCluster } from "../bootstrap/etcd/cluster";
import { localEndpoints } from "../monitoring/publish-node";

const ETCD_BIN = process.env.HA_CP_ETCD_BIN ?? "/var/cache/cdktf-ha-control-plane/etcd-3.5.21/bin";
const etcdCheck: TierCheck = existsSync(path.join(ETCD_BIN, "etcdutl"))
  ? { available: true, reason: "" }
  : { available: false, reason: `no etcd binaries in ${ETCD_BIN}: run \`bash scripts/setup-test-env.sh\`` };

describeTier("etcd backup and restore scripts against moto (real AWS CLI, TLS etcd member, etcdctl, etcdutl)", allOf(awsEmulatorCheck(), etcdCheck, toolAvailable("unshare", ["--version"]), toolAvailable("setpriv", ["--version"])), { tierLabel: "emulator e2e" }, () => {
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

  // Runs of the backup script on their own: what it leaves, where it writes by default, and each refusal.
  const backupEnv = () => ({ CLUSTER_NAME: "prod", SLOT_NAME: "etcd-0", PKI_DIR: node.pkiDir, ETCD_ENDPOINT: clientUrl });
  const without = (e: Record<string, string>, ...keys: string[]) => Object.fromEntries(Object.entries(e).filter(([k]) => !keys.includes(k)));
  const backupRun = (e: Record<string, string>) => spawnSync("bash", [renderedScript("ha-etcd-backup.sh")], { env: e, encoding: "utf8", timeout: 60000 });
  const objectsUnder = (prefix: string) => emulator.aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix).Contents ?? [];
  const mode = (file: string) => statSync(file).mode & 0o777;

  it("to file://, by default in /var/lib/etcd-backup (mode 0700), left empty; the copy and its .sha256 are private, the checksum matches, etcd reads it back", () => {
    // The default work directory is a node path: the run gets the control-plane tier's node view (a
    // private mount namespace) with the test's directory at /var/lib.
    const varLib = path.join(dir, "var-lib");
    mkdirSync(varLib);
    const target = path.join(dir, "file-target");
    const e = without({ ...env, ...backupEnv(), BACKUP_TARGET: `file://${target}` }, "WORK_DIR");
    const [command, ...args] = inView({ hostname: "etcd-0", mounts: [{ kind: "dir", source: varLib, target: "/var/lib", readOnly: false }] }, ["bash", renderedScript("ha-etcd-backup.sh")]);
    const r = spawnSync(command, args, { env: e, encoding: "utf8", timeout: 60000 });
    expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: 0 });
    const name = r.stdout.trim();
    expect(name).toMatch(/^prod-\d{8}T\d{6}Z\.db$/);
    expect(r.stderr).toContain(`ha-etcd-backup: snapshot ${name} uploaded to file://${target}`);
    expect(mode(path.join(varLib, "etcd-backup"))).toBe(0o700);
    expect(readdirSync(path.join(varLib, "etcd-backup"))).toEqual([]);
    expect(readdirSync(target).sort()).toEqual([name, `${name}.sha256`]);
    expect(mode(target)).toBe(0o700);
    expect(mode(path.join(target, name))).toBe(0o600);
    expect(mode(path.join(target, `${name}.sha256`))).toBe(0o600);
    expect(readFileSync(path.join(target, `${name}.sha256`), "utf8")).toBe(`${sha256(path.join(target, name))}\n`);
    const status = spawnSync(path.join(ETCD_BIN, "etcdutl"), ["snapshot", "status", path.join(target, name), "-w", "json"], { encoding: "utf8" });
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout).totalKey).toBeGreaterThan(0);
  }, 60000);

  it("to s3:// on a node whose environment names no region: the region comes from the instance metadata (IMDSv2)", async () => {
    // Without a region the CLI's S3 calls still work here (it falls back to us-east-1 and moto serves
    // every region on one endpoint), but a node in a private subnet reaches S3 only through its own
    // region's gateway endpoint: the script must ask the metadata for the region, which the
    // stand-in's log shows.
    const imds = await startImdsRegionStandIn("127.0.0.1", EMULATOR_REGION);
    try {
      const r = backupRun({ ...env, ...backupEnv(), AWS_DEFAULT_REGION: "", AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint, BACKUP_TARGET: `s3://${bucket}/snapshots`, WORK_DIR: path.join(dir, "imds-work") });
      expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: 0 });
      const name = r.stdout.trim();
      expect(name).toMatch(/^etcd-0\/prod-\d{8}T\d{6}Z\.db$/);
      expect(emulator.aws("s3api", "head-object", "--bucket", bucket, "--key", `snapshots/${name}`).SSEKMSKeyId).toBe(keyArn);
      // The stand-in's log is read on the event loop, which spawnSync held: let it catch up.
      for (let i = 0; i < 50 && imds.requests().length < 2; i++) await new Promise((res) => setTimeout(res, 100));
      expect(imds.requests()).toEqual(["PUT /latest/api/token 200", "GET /latest/meta-data/placement/region 200"]);
    } finally {
      imds.stop();
    }
  }, 60000);

  it("refuses a snapshot etcd cannot read back: nothing is uploaded and nothing is left behind", () => {
    // The real etcdctl, whose saved snapshot is then overwritten (a disk that returns garbage).
    const wrapper = path.join(dir, "bin", "etcdctl-garbage");
    writeFileSync(wrapper, `#!/usr/bin/env bash\n"${path.join(ETCD_BIN, "etcdctl")}" "$@"; rc=$?\nif [[ " $* " == *" snapshot save "* ]]; then printf 'not a snapshot' >"\${@: -1}"; fi\nexit $rc\n`);
    chmodSync(wrapper, 0o755);
    const target = path.join(dir, "garbage-target");
    const work = path.join(dir, "garbage-work");
    const r = backupRun({ ...env, ...backupEnv(), ETCDCTL: wrapper, BACKUP_TARGET: `file://${target}`, WORK_DIR: work });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(work)).toEqual([]);
  }, 60000);

  it("refuses a member prefix that is not a DNS label, a bucket whose default key is not KMS, and a target that is neither s3:// nor file://; uploads nothing", () => {
    const badPrefix = backupRun({ ...env, ...backupEnv(), SLOT_NAME: "Etcd_0", BACKUP_TARGET: `s3://${bucket}/snapshots`, WORK_DIR: path.join(dir, "w1") });
    expect(badPrefix.status).toBe(1);
    expect(badPrefix.stderr).toContain("ERROR: no member prefix: SLOT_NAME or NODE_ROLE must be a DNS label, not 'Etcd_0'");
    expect(objectsUnder("snapshots/Etcd_0")).toEqual([]);

    // A bucket encrypting with S3-managed keys (AES256): the upload must not fall back to it.
    const plain = "prod-etcd-backups-sse-s3";
    emulator.aws("s3api", "create-bucket", "--bucket", plain, "--create-bucket-configuration", "LocationConstraint=eu-west-1");
    emulator.aws("s3api", "put-bucket-encryption", "--bucket", plain, "--server-side-encryption-configuration", JSON.stringify({ Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] }));
    const sseS3 = backupRun({ ...env, ...backupEnv(), BACKUP_TARGET: `s3://${plain}/snapshots`, WORK_DIR: path.join(dir, "w2") });
    expect(sseS3.status).toBe(1);
    expect(sseS3.stderr).toContain("ERROR: the bucket's default key must be a KMS key ARN");
    expect(emulator.aws("s3api", "list-objects-v2", "--bucket", plain).Contents ?? []).toEqual([]);

    const gs = backupRun({ ...env, ...backupEnv(), BACKUP_TARGET: "gs://prod-backups/snapshots", WORK_DIR: path.join(dir, "w3") });
    expect(gs.status).toBe(1);
    expect(gs.stderr).toContain("ERROR: BACKUP_TARGET must be s3://… or file://…, not gs://prod-backups/snapshots");
    expect(gs.stdout).toBe("");
    expect(readdirSync(path.join(dir, "w3"))).toEqual([]);
  }, 90000);

  it("reads its settings from ENV_FILE (default /etc/ha-control-plane/node.env), names a missing BACKUP_TARGET, and takes kubeadm's certificate paths by default", () => {
    const noEnvFile = backupRun(without({ ...env, ...backupEnv(), BACKUP_TARGET: "file:///nonexistent" }, "ENV_FILE"));
    expect(noEnvFile.status).not.toBe(0);
    expect(noEnvFile.stderr).toContain("/etc/ha-control-plane/node.env");

    const envFile = path.join(dir, "node.env");
    writeFileSync(envFile, "CLUSTER_NAME=prod\n");
    const missing = backupRun({ ...env, ENV_FILE: envFile });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain("BACKUP_TARGET missing");

    // Settings only in the file; no certificate settings: kubeadm's layout under /etc/kubernetes/pki.
    writeFileSync(envFile, `CLUSTER_NAME=prod\nBACKUP_TARGET=file://${path.join(dir, "env-file-target")}\n`);
    const defaults = backupRun({ ...env, ENV_FILE: envFile, ETCD_ENDPOINT: clientUrl });
    expect(defaults.status).not.toBe(0);
    expect(defaults.stderr).toContain("/etc/kubernetes/pki/etcd/healthcheck-client.crt");
    expect(defaults.stderr).not.toMatch(/unbound variable|BACKUP_TARGET missing/);
  }, 60000);

  it("asks the local member by default (https://127.0.0.1:2379) and stops when it cannot reach it, rather than taking that for 'not the leader'", () => {
    // Nothing of this test listens on 127.0.0.1:2379; etcdctl gives up at the script's 30 s command timeout.
    const r = backupRun(without({ ...env, ...backupEnv(), BACKUP_TARGET: `file://${path.join(dir, "unreachable-target")}`, WORK_DIR: path.join(dir, "w4") }, "ETCD_ENDPOINT"));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Failed to get the status of endpoint https://127.0.0.1:2379");
    expect(r.stderr).not.toContain("not the leader");
    expect(r.stdout).toBe("");
  }, 90000);
});
