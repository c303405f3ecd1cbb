/**
 * Issue 18 finding 7, the AWS side: the real `ha-restore` (bash, as shipped) with the real AWS CLI
 * against the AWS emulator — an API group of three and three etcd member groups as the library
 * declares them, a versioned backup bucket with snapshots under several member prefixes.
 *
 * Asserted through the emulator's state, not the script's argv: the groups' suspended processes
 * (observed while the script runs and after it), the SSM commands it sent (document, targets, text,
 * order), and the presigned URL, fetched back from the emulator, whose bytes must have the pinned
 * SHA-256. What the emulator cannot show: moto records suspended processes but does not enforce
 * them (it launches and replaces nothing on its own anyway), and it runs no SSM command (every
 * invocation reports Success at once): the node steps run for real in the control-plane tier
 * (test/controlplane/restore.cp.test.ts).
 */
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { AwsEmulator, EMULATOR_REGION, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { describeTier } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-restore.sh");
const API_GROUP = "prod-apiserver";
const ETCD_GROUPS = ["prod-etcd-0", "prod-etcd-1", "prod-etcd-2"];
const allGroups = [API_GROUP, ...ETCD_GROUPS];
const BUCKET = "prod-etcd-backups";
const TARGET = `s3://${BUCKET}/snapshots`;
/** Every Auto Scaling process that launches, terminates or replaces instances (AWS, "Suspend and resume processes"): AddToLoadBalancer is the only one left running. */
const MUST_SUSPEND = ["Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy", "AZRebalance", "AlarmNotification", "ScheduledActions", "InstanceRefresh"].sort();
const NODE_STEPS = ["stop-api", "stop-etcd", "restore", "start-etcd", "start-api", "resume-backups"];

jest.setTimeout(900000);

interface Observation {
  readonly commands: number;
  readonly suspended: Record<string, string[]>;
}

describeTier("ha-restore (real bash and AWS CLI against the AWS emulator)", awsEmulatorCheck(), { tierLabel: "node e2e" }, () => {
  let aws: AwsEmulator;
  let dir: string;
  let subnet: string;
  const instancesOf: Record<string, string[]> = {};
  const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

  /** Uploads `bytes` as a snapshot under `key` with its SHA-256 as metadata (as ha-etcd-backup does); returns the SHA-256. */
  const upload = (key: string, bytes: string, withSum = true): string => {
    const file = path.join(dir, "upload.db");
    writeFileSync(file, bytes);
    const sum = sha256(file);
    aws.aws("s3api", "put-object", "--bucket", BUCKET, "--key", key, "--body", file, ...(withSum ? ["--metadata", `sha256=${sum}`] : []));
    return sum;
  };

  beforeAll(async () => {
    aws = await startAwsEmulator();
    dir = mkdtempSync(path.join(tmpdir(), "ha-restore-e2e-"));
    const vpc = aws.aws("ec2", "create-vpc", "--cidr-block", "10.0.0.0/16").Vpc.VpcId;
    subnet = aws.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.0.0/24", "--availability-zone", `${EMULATOR_REGION}a`).Subnet.SubnetId;
    for (const [group, size] of [[API_GROUP, 3], ...ETCD_GROUPS.map((g) => [g, 1])] as Array<[string, number]>) {
      const lt = aws.aws("ec2", "create-launch-template", "--launch-template-name", group, "--launch-template-data", JSON.stringify({ ImageId: "ami-12c6146b", InstanceType: "t3.micro" })).LaunchTemplate;
      aws.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", group, "--launch-template", JSON.stringify({ LaunchTemplateId: lt.LaunchTemplateId, Version: "$Default" }),
        "--min-size", String(size), "--max-size", String(size), "--desired-capacity", String(size), "--vpc-zone-identifier", subnet);
      instancesOf[group] = aws.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", group).AutoScalingGroups[0].Instances.map((i: { InstanceId: string }) => i.InstanceId).sort();
    }
    aws.aws("s3api", "create-bucket", "--bucket", BUCKET, "--create-bucket-configuration", `LocationConstraint=${EMULATOR_REGION}`);
    aws.aws("s3api", "put-bucket-versioning", "--bucket", BUCKET, "--versioning-configuration", "Status=Enabled");
  });
  afterAll(async () => {
    await aws?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) => ({ PATH: `${path.dirname(aws.awsCli)}:/usr/bin:/bin`, HOME: "/nonexistent", POLL_SECONDS: "1", STATE_FILE: path.join(dir, "restore.state"), ...aws.env, ...extra });
  const restore = async (args: string[], extra: Record<string, string> = {}) => {
    try {
      const { stdout, stderr } = await run("bash", [SCRIPT, ...args], { env: env(extra), timeout: 800000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const suspendedAll = (): Record<string, string[]> =>
    Object.fromEntries(
      aws.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", ...allGroups).AutoScalingGroups.map((g: { AutoScalingGroupName: string; SuspendedProcesses: Array<{ ProcessName: string }> }) => [
        g.AutoScalingGroupName,
        g.SuspendedProcesses.map((p) => p.ProcessName).sort(),
      ]),
    );
  const suspended = (group: string): string[] => suspendedAll()[group];
  const commands = () => aws.aws("ssm", "list-commands").Commands as Array<{ Comment: string; DocumentName: string; InstanceIds: string[]; Parameters: { commands: string[] } }>;

  it("refuses a snapshot without a recorded SHA-256 before touching any group", async () => {
    upload("snapshots/etcd-1/prod-20260101T000000Z.db", "no checksum", false);
    const r = await restore(["prod", TARGET, "etcd-1/prod-20260101T000000Z.db", API_GROUP, ...ETCD_GROUPS]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no recorded SHA-256/);
    for (const g of allGroups) expect(suspended(g)).toEqual([]);
    expect(commands()).toEqual([]);
    expect(existsSync(path.join(dir, "restore.state"))).toBe(false);
  });

  it("pins the newest snapshot once, suspends every replacement process for exactly the node steps, runs them in order on the right nodes, and resumes", async () => {
    // A name that sorts last but was uploaded first; then the real newest, under another member's prefix.
    upload("snapshots/zzzz/prod-99991231T000000Z.db", "old hostile");
    await new Promise((r) => setTimeout(r, 1500));
    const newest = upload("snapshots/etcd-2/prod-20260102T000000Z.db", "the newest snapshot bytes");

    const observations: Observation[] = [];
    let done = false;
    const watcher = (async () => {
      while (!done) {
        const o: Observation = { commands: commands().length, suspended: suspendedAll() };
        observations.push(o);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const started = Date.now();
    const r = await restore(["prod", TARGET, "latest", API_GROUP, ...ETCD_GROUPS]);
    done = true;
    await watcher;
    console.log(`ha-restore against the emulator in ${((Date.now() - started) / 1000).toFixed(1)} s (${observations.length} observations):\n${r.stderr}`);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`pinned s3://${BUCKET}/snapshots/etcd-2/prod-20260102T000000Z.db`);

    // The node steps, in order, each on the nodes it concerns, through AWS-RunShellScript.
    const sent = commands();
    expect(sent.map((c) => c.Comment)).toEqual(NODE_STEPS.map((s) => `ha-restore prod: ${s}`));
    expect(new Set(sent.map((c) => c.DocumentName))).toEqual(new Set(["AWS-RunShellScript"]));
    const members = ETCD_GROUPS.flatMap((g) => instancesOf[g]).sort();
    for (const c of sent) {
      const step = c.Comment.split(": ")[1];
      expect([step, [...c.InstanceIds].sort()]).toEqual([step, step.endsWith("-api") ? instancesOf[API_GROUP] : members]);
      expect(c.Parameters.commands[c.Parameters.commands.length - 1]).toBe(`/usr/local/sbin/ha-restore-node ${step}`);
    }
    // Every member gets the same pin: the URL serves exactly the bytes of the newest snapshot.
    const lines = sent[2].Parameters.commands;
    const value = (name: string) => (lines.find((l) => l.startsWith(`export ${name}=`)) as string).replace(`export ${name}=`, "").replace(/^'|'$/g, "");
    expect(value("SNAPSHOT_SHA256")).toBe(newest);
    expect(value("RESTORE_TOKEN")).toMatch(/^restore-\d{8}T\d{6}Z$/);
    const fetched = path.join(dir, "fetched.db");
    execFileSync("curl", ["-fsS", "-o", fetched, value("SNAPSHOT_URL")]);
    expect(sha256(fetched)).toBe(newest);

    // While any node step was out, every group had every replacement process suspended; after, none.
    const during = observations.filter((o) => o.commands > 0);
    expect(during.length).toBeGreaterThan(3);
    for (const o of during.filter((x) => x.commands < NODE_STEPS.length)) {
      for (const g of allGroups) expect([o.commands, g, o.suspended[g]]).toEqual([o.commands, g, MUST_SUSPEND]);
    }
    for (const g of allGroups) expect(suspended(g)).toEqual([]);
    expect(existsSync(path.join(dir, "restore.state"))).toBe(false);
  });

  it("after a failure leaves the processes suspended and says how to go on; a re-run keeps the first pin and token", async () => {
    const before = commands().length;
    // A member in Standby: the run stops after suspending, before any node step.
    const member = instancesOf[ETCD_GROUPS[1]][0];
    aws.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", ETCD_GROUPS[1], "--min-size", "0");
    aws.aws("autoscaling", "enter-standby", "--auto-scaling-group-name", ETCD_GROUPS[1], "--instance-ids", member, "--should-decrement-desired-capacity");
    const pinned = upload("snapshots/etcd-0/prod-20260103T000000Z.db", "pinned by the failed run");
    const failed = await restore(["prod", TARGET, "latest", API_GROUP, ...ETCD_GROUPS]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`${member} is Standby`));
    expect(failed.stderr).toMatch(/stay SUSPENDED/);
    expect(failed.stderr).toContain(`aws autoscaling resume-processes --auto-scaling-group-name ${API_GROUP}`);
    for (const g of allGroups) expect(suspended(g)).toEqual(MUST_SUSPEND);
    expect(commands()).toHaveLength(before);

    // A newer snapshot appears (a backup that ran before the timers stopped): the re-run still uses the pin.
    upload("snapshots/etcd-1/prod-20260104T000000Z.db", "newer, not pinned");
    aws.aws("autoscaling", "exit-standby", "--auto-scaling-group-name", ETCD_GROUPS[1], "--instance-ids", member);
    const rerun = await restore(["prod", TARGET, "latest", API_GROUP, ...ETCD_GROUPS]);
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toMatch(/continuing the restore restore-\d{8}T\d{6}Z pinned to s3:\/\/prod-etcd-backups\/snapshots\/etcd-0\/prod-20260103T000000Z\.db/);
    const restoreLines = commands()[before + 2].Parameters.commands;
    expect(restoreLines).toContain(`export SNAPSHOT_SHA256=${pinned}`);
    for (const g of allGroups) expect(suspended(g)).toEqual([]);
  });
});
