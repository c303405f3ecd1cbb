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
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { AwsEmulator, EMULATOR_REGION, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { startFaultProxy } from "../harness/fault-proxy";
import { describeTier } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-restore.sh");
const API_GROUP = "prod-apiserver";
const ETCD_GROUPS = ["prod-etcd-0", "prod-etcd-1", "prod-etcd-2"];
const allGroups = [API_GROUP, ...ETCD_GROUPS];
const BUCKET = "prod-etcd-backups";
const TARGET = `s3://${BUCKET}/snapshots`;
/**
 * Every Auto Scaling process that launches, terminates or replaces instances (AWS, "Suspend and
 * resume processes"): AddToLoadBalancer is the only one left running. In the order ha-restore names
 * them (its log and its resume hint); MUST_SUSPEND sorted, as compared with the emulator's.
 */
const MUST_SUSPEND_ORDERED = ["Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy", "AZRebalance", "AlarmNotification", "ScheduledActions", "InstanceRefresh"];
const MUST_SUSPEND = [...MUST_SUSPEND_ORDERED].sort();
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

  /** A group's instance ids, in the group's order (the order ha-restore reads them in). */
  const instancesIn = (group: string): string[] => aws.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", group).AutoScalingGroups[0].Instances.map((i: { InstanceId: string }) => i.InstanceId);
  /** Creates an Auto Scaling group (its own launch template) in the fixture's subnet; returns its instance ids, in the group's order. */
  const createGroup = (group: string, min: number, max: number, desired: number): string[] => {
    const lt = aws.aws("ec2", "create-launch-template", "--launch-template-name", group, "--launch-template-data", JSON.stringify({ ImageId: "ami-12c6146b", InstanceType: "t3.micro" })).LaunchTemplate;
    aws.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", group, "--launch-template", JSON.stringify({ LaunchTemplateId: lt.LaunchTemplateId, Version: "$Default" }),
      "--min-size", String(min), "--max-size", String(max), "--desired-capacity", String(desired), "--vpc-zone-identifier", subnet);
    return instancesIn(group);
  };

  beforeAll(async () => {
    aws = await startAwsEmulator();
    dir = mkdtempSync(path.join(tmpdir(), "ha-restore-e2e-"));
    const vpc = aws.aws("ec2", "create-vpc", "--cidr-block", "10.0.0.0/16").Vpc.VpcId;
    subnet = aws.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.0.0/24", "--availability-zone", `${EMULATOR_REGION}a`).Subnet.SubnetId;
    for (const [group, size] of [[API_GROUP, 3], ...ETCD_GROUPS.map((g) => [g, 1])] as Array<[string, number]>) {
      instancesOf[group] = createGroup(group, size, size, size).sort();
    }
    aws.aws("s3api", "create-bucket", "--bucket", BUCKET, "--create-bucket-configuration", `LocationConstraint=${EMULATOR_REGION}`);
    aws.aws("s3api", "put-bucket-versioning", "--bucket", BUCKET, "--versioning-configuration", "Status=Enabled");
  });
  afterAll(async () => {
    await aws?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // POLL_SECONDS is the script's default (5 s): moto reports every invocation Success at once, so a
  // run polls again only where a test makes an answer wait.
  const env = (extra: Record<string, string> = {}) => ({ PATH: `${path.dirname(aws.awsCli)}:/usr/bin:/bin`, HOME: "/nonexistent", STATE_FILE: path.join(dir, "restore.state"), ...aws.env, ...extra });
  const restore = async (args: string[], extra: Record<string, string> = {}, cwd?: string) => {
    try {
      const { stdout, stderr } = await run("bash", [SCRIPT, ...args], { env: env(extra), timeout: 800000, cwd });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const suspendedAll = (): Record<string, string[]> => suspendedOf(allGroups);
  const suspended = (group: string): string[] => suspendedAll()[group];
  /** Each group's suspended processes, sorted. */
  const suspendedOf = (groups: string[]): Record<string, string[]> =>
    Object.fromEntries(
      aws.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", ...groups).AutoScalingGroups.map((g: { AutoScalingGroupName: string; SuspendedProcesses: Array<{ ProcessName: string }> }) => [
        g.AutoScalingGroupName,
        g.SuspendedProcesses.map((p) => p.ProcessName).sort(),
      ]),
    );
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
  /** Resumes every group's processes and removes the state file a failed run left (the next test starts clean). */
  const cleanUp = (groups: string[], stateFile = path.join(dir, "restore.state")) => {
    for (const g of groups) aws.aws("autoscaling", "resume-processes", "--auto-scaling-group-name", g);
    rmSync(stateFile, { force: true });
  };
  const said = (stderr: string) => stderr.trim().split("\n");

  it.each([
    ["three arguments", ["prod", TARGET, "latest"], {}],
    ["a cluster name that is not a DNS label", ["Prod", TARGET, "latest", API_GROUP], {}],
    ["a target that is not s3://", ["prod", `gs://${BUCKET}/snapshots`, "latest", API_GROUP], {}],
    ["a snapshot key with a space", ["prod", TARGET, "etcd-0/a b.db", API_GROUP], {}],
    ["a group name with a space", ["prod", TARGET, "latest", API_GROUP, "prod etcd-0"], {}],
    ["POLL_SECONDS not a number", ["prod", TARGET, "latest", API_GROUP], { POLL_SECONDS: "5s" }],
    ["STEP_TIMEOUT_SECONDS 0", ["prod", TARGET, "latest", API_GROUP], { STEP_TIMEOUT_SECONDS: "0" }],
    ["URL_EXPIRES_SECONDS not a number", ["prod", TARGET, "latest", API_GROUP], { URL_EXPIRES_SECONDS: "1h" }],
  ])("refuses %s with its usage (exit 2), touching nothing", async (_what, args, extra) => {
    const before = commands().length;
    const r = await restore(args, extra);
    expect({ code: r.code, said: said(r.stderr) }).toEqual({ code: 2, said: ["usage: ha-restore <cluster> <s3://bucket/prefix> <latest|snapshot key> <api-group> [<etcd-group>...]"] });
    for (const g of allGroups) expect(suspended(g)).toEqual([]);
    expect(commands()).toHaveLength(before);
    expect(existsSync(path.join(dir, "restore.state"))).toBe(false);
  });

  it.each([
    ["a damaged state file", "not a state file\n", "latest", `${"{STATE}"} is not a restore state file of ha-restore; move it away to start over`],
    ["a pin of another target", `TARGET=s3://other-bucket/snapshots\nKEY=snapshots/etcd-0/prod-20260101T000000Z.db\nVERSION=\nSHA256=${"a".repeat(64)}\nTOKEN=restore-20260101T000000Z\n`, "latest", `${"{STATE}"} pins a snapshot of s3://other-bucket/snapshots, not ${TARGET}; move it away to start over`],
    ["a pin of another snapshot", `TARGET=${TARGET}\nKEY=snapshots/etcd-0/prod-20260101T000000Z.db\nVERSION=\nSHA256=${"a".repeat(64)}\nTOKEN=restore-20260101T000000Z\n`, "etcd-1/prod-20260104T000000Z.db", `${"{STATE}"} pins snapshots/etcd-0/prod-20260101T000000Z.db from an earlier run; re-run with it (or latest), or move the file away to start over`],
  ])("stops on %s left by an earlier run, before suspending anything", async (_what, content, snapshot, message) => {
    const stateFile = path.join(dir, "restore.state");
    writeFileSync(stateFile, content);
    try {
      const before = commands().length;
      const r = await restore(["prod", TARGET, snapshot, API_GROUP, ...ETCD_GROUPS]);
      expect({ code: r.code, said: said(r.stderr) }).toEqual({ code: 1, said: [`ha-restore: ERROR: ${message.replace("{STATE}", stateFile)}`] });
      expect(readFileSync(stateFile, "utf8")).toBe(content);
      for (const g of allGroups) expect(suspended(g)).toEqual([]);
      expect(commands()).toHaveLength(before);
    } finally {
      rmSync(stateFile, { force: true });
    }
  });

  it("stacked etcd (no member groups): a named snapshot, every step on the API servers, what it says at each step", async () => {
    const sum = upload("snapshots/etcd-1/prod-20260105T000000Z.db", "a named snapshot, not the newest");
    upload("snapshots/etcd-2/prod-20260106T000000Z.db", "newer");
    const before = commands().length;
    const t0 = Math.floor(Date.now() / 1000);
    const r = await restore(["prod", TARGET, "etcd-1/prod-20260105T000000Z.db", API_GROUP]);
    const t1 = Math.ceil(Date.now() / 1000);
    expect(r.code).toBe(0);
    const sent = commands().slice(before);
    expect(sent.map((c) => c.Comment)).toEqual(NODE_STEPS.map((s) => `ha-restore prod: ${s}`));
    for (const c of sent) expect([c.Comment, [...c.InstanceIds].sort()]).toEqual([c.Comment, instancesOf[API_GROUP]]);
    expect(sent[2].Parameters.commands).toContain(`export SNAPSHOT_SHA256=${sum}`);
    const api = instancesOf[API_GROUP];
    const lines = said(r.stderr);
    const expected: RegExp[] = [
      new RegExp(`^ha-restore: pinned s3://${BUCKET}/snapshots/etcd-1/prod-20260105T000000Z\\.db \\(version \\S+, last modified \\S+, SHA-256 ${sum}\\) for every member; token restore-\\d{8}T\\d{6}Z$`),
      new RegExp(`^ha-restore: suspended ${MUST_SUSPEND_ORDERED.join(" ")} on ${API_GROUP}$`),
      new RegExp(`^ha-restore: API servers: (i-[0-9a-f]+ ?){3}; etcd members: (i-[0-9a-f]+ ?){3}$`),
      ...NODE_STEPS.flatMap((step) => [new RegExp(`^ha-restore: ${step} on (i-[0-9a-f]+ ?){3} \\(command [0-9a-f-]{36}\\)$`), new RegExp(`^ha-restore: ${step} done on every node in \\d+ s$`)]),
      new RegExp(`^ha-restore: restored s3://${BUCKET}/snapshots/etcd-1/prod-20260105T000000Z\\.db \\(token restore-\\d{8}T\\d{6}Z\\): API down \\d+ s, whole restore \\d+ s; processes resumed$`),
      /^ha-restore: Secrets decrypt only with the encryption key versions of the snapshot's time \(README: Disaster recovery\)$/,
    ];
    expect(lines).toHaveLength(expected.length);
    lines.forEach((l, k) => expect(l).toMatch(expected[k]));
    // The API servers are the members: the same instances, named in both places.
    const named = /API servers: ([^;]+); etcd members: (.+)$/.exec(lines[2])!;
    expect([named[1].split(" ").sort(), named[2].split(" ").sort()]).toEqual([api, api]);
    // The URL lives an hour by default (URL_EXPIRES_SECONDS), each step's node command 1800 s (STEP_TIMEOUT_SECONDS).
    const url = (sent[2].Parameters.commands.find((l) => l.startsWith("export SNAPSHOT_URL=")) as string).replace("export SNAPSHOT_URL=", "").replace(/^'|'$/g, "");
    // The CLI signs it with SigV2 here (an absolute Expires, in seconds since the epoch); SigV4 would give X-Amz-Expires.
    const query = new URL(url).searchParams;
    if (query.has("X-Amz-Expires")) expect(query.get("X-Amz-Expires")).toBe("3600");
    else {
      expect(Number(query.get("Expires"))).toBeGreaterThanOrEqual(t0 + 3600);
      expect(Number(query.get("Expires"))).toBeLessThanOrEqual(t1 + 3600);
    }
    for (const c of sent) expect((c.Parameters as unknown as { executionTimeout: string[] }).executionTimeout).toEqual(["1800"]);
    for (const g of allGroups) expect(suspended(g)).toEqual([]);
  });

  it("stops when an API server is not InService: the restore never goes on without it (in_service's refusal used to end only its subshell)", async () => {
    const group = "prod-apiserver-standby";
    const [, standby] = createGroup(group, 1, 2, 2);
    aws.aws("autoscaling", "enter-standby", "--auto-scaling-group-name", group, "--instance-ids", standby, "--should-decrement-desired-capacity");
    const named = [group, ...ETCD_GROUPS];
    const before = commands().length;
    try {
      const r = await restore(["prod", TARGET, "latest", ...named]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`ha-restore: ERROR: ${group}: ${standby} is Standby; wait until every instance is InService, then re-run\n`);
      expect(r.stderr).not.toContain("API servers:");
      expect(commands()).toHaveLength(before);
    } finally {
      cleanUp(named);
      aws.aws("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", group, "--force-delete");
    }
  });

  it.each([
    ["an API group without an instance", "prod-apiserver-empty", 0, (g: string) => [g, ...ETCD_GROUPS], (g: string) => `${g} has no instance`],
    ["a member group of two instances", "prod-etcd-wide", 2, (g: string) => [API_GROUP, g], (g: string) => `${g} has 2 instances; a member group has one`],
  ])("stops on %s after suspending, before any node step, and says how to go on", async (_what, group, size, groups, message) => {
    createGroup(group, size, size, size);
    const named = groups(group);
    const before = commands().length;
    try {
      const r = await restore(["prod", TARGET, "latest", ...named]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`ha-restore: ERROR: ${message(group)}\n`);
      expect(r.stderr).toContain(`ha-restore: the Auto Scaling processes of ${named.join(" ")} stay SUSPENDED`);
      for (const g of named) expect(r.stderr).toContain(`ha-restore:   aws autoscaling resume-processes --auto-scaling-group-name ${g} --scaling-processes ${MUST_SUSPEND_ORDERED.join(" ")}\n`);
      for (const g of named) expect([g, suspendedOf(named)[g]]).toEqual([g, MUST_SUSPEND]);
      expect(commands()).toHaveLength(before);
    } finally {
      cleanUp(named);
      aws.aws("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", group, "--force-delete");
    }
  });

  it("a node step that fails stops the restore there: the node's output, the processes left suspended, the pin kept in ./ha-restore-<cluster>.state (0600); an invocation not yet visible is polled again; a refused send-command removes its input file", async () => {
    const proxy = await startFaultProxy(aws.endpoint);
    const cwd = path.join(dir, "operator");
    const tmp = path.join(dir, "operator-tmp");
    mkdirSync(cwd);
    mkdirSync(tmp);
    const stateFile = path.join(cwd, "ha-restore-prod.state");
    const run2 = async () => {
      const e = { ...env({ AWS_ENDPOINT_URL: proxy.endpoint, TMPDIR: tmp }) } as Record<string, string>;
      delete e.STATE_FILE;
      try {
        const { stderr } = await run("bash", [SCRIPT, "prod", TARGET, "latest", API_GROUP, ...ETCD_GROUPS], { env: e, cwd, timeout: 300000 });
        return { code: 0, stderr };
      } catch (err) {
        const x = err as { code: number; stderr: string };
        return { code: x.code, stderr: x.stderr };
      }
    };
    try {
      upload("snapshots/etcd-0/prod-20260107T000000Z.db", "the snapshot this run pins");
      const before = commands().length;
      // The servers in the order the script reads them (the group's order): the first polled, the last.
      const order = instancesIn(API_GROUP);
      expect(order).toHaveLength(3);
      const [first, victim] = [order[0], order[2]];
      // Right after send-command the first server's invocation does not exist yet, and the last one's is
      // still InProgress: both are polled again POLL_SECONDS (5 s) later; the middle one is done at once.
      proxy.inject({ target: "AmazonSSM.GetCommandInvocation", code: "InvocationDoesNotExist", times: 1, bodyContains: first });
      proxy.answer({ target: "AmazonSSM.GetCommandInvocation", times: 1, bodyContains: victim, body: { CommandId: "00000000-0000-0000-0000-000000000000", InstanceId: victim, Status: "InProgress", StatusDetails: "InProgress" } });
      // Then the last server's stop-api has failed (its answer, as SSM gives it, twice: the status, then the output).
      const nodeError = "ha-restore-node stop-api: ERROR: the API server still listens on port 6443 after 180s";
      proxy.answer({ target: "AmazonSSM.GetCommandInvocation", times: 2, bodyContains: victim, body: { CommandId: "00000000-0000-0000-0000-000000000000", InstanceId: victim, Status: "Failed", StatusDetails: "Failed", ResponseCode: 1, StandardOutputContent: "", StandardErrorContent: `${nodeError}\n` } });
      const failed = await run2();
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain(`ha-restore: API servers: ${order.join(" ")}; `);
      // Each of the two servers was polled again POLL_SECONDS (5 s) after its first poll; the middle one once.
      const pollsOf = (instance: string) => proxy.log.filter((l) => l.target === "AmazonSSM.GetCommandInvocation" && JSON.parse(l.body).InstanceId === instance);
      const [firstPolls, victimPolls] = [pollsOf(first), pollsOf(victim)];
      expect(firstPolls.map((l) => l.injected)).toEqual(["InvocationDoesNotExist", undefined]);
      expect(victimPolls.map((l) => l.injected)).toEqual(["answer", "answer", "answer"]);
      expect(firstPolls[1].at - firstPolls[0].at).toBeGreaterThanOrEqual(5000);
      expect(victimPolls[1].at - victimPolls[0].at).toBeGreaterThanOrEqual(5000);
      expect(pollsOf(order[1]).map((l) => l.injected)).toEqual([undefined]);
      expect(proxy.log.filter((l) => l.injected !== undefined).map((l) => l.injected).sort()).toEqual(["InvocationDoesNotExist", "answer", "answer", "answer"]);
      expect(failed.stderr).toContain(`ha-restore: stop-api on ${victim} ended Failed; its output:\n`);
      expect(failed.stderr).toContain(nodeError);
      expect(failed.stderr).toContain(`ha-restore: ERROR: stop-api failed on ${victim}\n`);
      expect(failed.stderr).toContain("stay SUSPENDED");
      expect(commands().slice(before).map((c) => c.Comment)).toEqual(["ha-restore prod: stop-api"]);
      for (const g of allGroups) expect(suspended(g)).toEqual(MUST_SUSPEND);
      expect(statSync(stateFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(stateFile, "utf8")).toMatch(new RegExp(`^TARGET=${TARGET}\nKEY=snapshots/\\S+\\.db\nVERSION=\\S*\nSHA256=[0-9a-f]{64}\nTOKEN=restore-\\d{8}T\\d{6}Z\n$`));
      expect(readdirSync(tmp)).toEqual([]);

      // The re-run continues from the state file; SSM refuses the command: nothing sent, no input file left.
      const pin = readFileSync(stateFile, "utf8");
      proxy.inject({ target: "AmazonSSM.SendCommand", code: "AccessDeniedException", times: 1 });
      const refused = await run2();
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("ha-restore: continuing the restore");
      expect(refused.stderr).toContain("ha-restore: ERROR: stop-api: send-command failed\n");
      expect(commands().slice(before)).toHaveLength(1);
      expect(readFileSync(stateFile, "utf8")).toBe(pin);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      await proxy.stop();
      cleanUp(allGroups, stateFile);
    }
  });
});
