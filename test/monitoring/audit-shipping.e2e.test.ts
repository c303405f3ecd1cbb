/**
 * Runs the real ha-ship-audit-logs script (bash and python3, as nodes receive it) with the real AWS
 * CLI against the AWS emulator (moto's CloudWatch Logs), then reads back from CloudWatch Logs what
 * arrived: every complete audit line once, in order, with the event's own time; nothing of a line
 * still being written; nothing twice across runs and across kube-apiserver's rotation (audit.log
 * renamed to audit-<time>.log, a new audit.log opened); and no cursor advance when CloudWatch refuses
 * the batch.
 */
import { execFile } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { renderNodeEnv } from "../../lib";
import { AwsEmulator, EMULATOR_REGION, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { ViewMount, inView } from "../controlplane/node-view";
import { startImdsRegionStandIn } from "../harness/imds-region-standin";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-ship-audit-logs.sh");
const GROUP = "/ha-control-plane/prod/kube-apiserver-audit";

/** An audit event as kube-apiserver writes it (one JSON object a line). */
function auditLine(n: number, at: Date): string {
  return JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: `00000000-0000-0000-0000-${String(n).padStart(12, "0")}`,
    stage: "ResponseComplete",
    requestURI: `/api/v1/namespaces/default/secrets/s${n}`,
    verb: "get",
    user: { username: "system:admin" },
    requestReceivedTimestamp: at.toISOString(),
    stageTimestamp: new Date(at.getTime() + 3).toISOString().replace("Z", "000Z").replace(/\.(\d{3})000Z$/, ".$1123Z"),
  }) + "\n";
}

describeTier("ha-ship-audit-logs (real bash, python3 and AWS CLI against moto's CloudWatch Logs)", allOf(toolAvailable("python3", ["--version"]), toolAvailable("unshare", ["--version"]), toolAvailable("setpriv", ["--version"]), awsEmulatorCheck()), { tierLabel: "node e2e" }, () => {
  jest.setTimeout(120000);
  const dir = mkdtempSync(path.join(tmpdir(), "audit-ship-"));
  const logs = path.join(dir, "audit");
  let emulator: AwsEmulator;

  beforeAll(async () => {
    emulator = await startAwsEmulator();
    mkdirSync(logs, { mode: 0o700 });
    mkdirSync(path.join(dir, "run"));
    writeFileSync(path.join(dir, "node.env"), renderNodeEnv({ clusterName: "prod", nodeRole: "apiserver", slotName: "", secretPrefix: "prod/control-plane" }, { AUDIT_LOG_GROUP: GROUP }));
    writeFileSync(path.join(dir, "run/slot.env"), "SLOT_NAME='apiserver-1'\nSLOT_IP='10.0.0.11'\n");
    emulator.aws("logs", "create-log-group", "--log-group-name", GROUP);
    emulator.aws("logs", "create-log-stream", "--log-group-name", GROUP, "--log-stream-name", "apiserver-1");
  });
  afterAll(async () => {
    await emulator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const ship = (extraEnv: Record<string, string> = {}) =>
    run("bash", [SCRIPT], {
      env: {
        ...emulator.env,
        PATH: `${path.dirname(emulator.awsCli)}:/usr/bin:/bin`,
        // The run's temp root (test/harness/global-setup.js), not the system's: a script that left
        // its work directory behind would otherwise go unnoticed there.
        TMPDIR: tmpdir(),
        ENV_FILE: path.join(dir, "node.env"),
        STATE_DIR: path.join(dir, "run"),
        AUDIT_LOG_DIR: logs,
        AUDIT_CURSOR: path.join(dir, "state/audit-cursor.json"),
        ...extraEnv,
      },
      timeout: 60000,
    });
  const received = (stream = "apiserver-1"): Array<{ timestamp: number; message: string }> =>
    emulator.aws("logs", "get-log-events", "--log-group-name", GROUP, "--log-stream-name", stream, "--start-from-head").events;
  const ids = (stream?: string) => received(stream).map((e) => (JSON.parse(e.message) as { auditID: string }).auditID.slice(-3));

  const t0 = new Date(Date.now() - 60_000);
  const at = (n: number) => new Date(t0.getTime() + n * 10);

  it("ships every complete line once, with the event's time, and leaves a line being written for the next run", async () => {
    writeFileSync(path.join(logs, "audit.log"), auditLine(1, at(1)) + auditLine(2, at(2)) + auditLine(3, at(3)).slice(0, 40));
    await ship();
    expect(ids()).toEqual(["001", "002"]);
    expect(received()[0].timestamp).toBe(at(1).getTime() + 3);
    appendFileSync(path.join(logs, "audit.log"), auditLine(3, at(3)).slice(40) + auditLine(4, at(4)));
    await ship();
    await ship();
    expect(ids()).toEqual(["001", "002", "003", "004"]);
  });

  it("follows a rotation: the rest of the renamed file, then the new audit.log, nothing twice", async () => {
    appendFileSync(path.join(logs, "audit.log"), auditLine(5, at(5)));
    const rotated = path.join(logs, "audit-2026-11-30T10-00-00.000.log");
    renameSync(path.join(logs, "audit.log"), rotated);
    const past = new Date(Date.now() - 5000);
    utimesSync(rotated, past, past);
    writeFileSync(path.join(logs, "audit.log"), auditLine(6, at(6)) + auditLine(7, at(7)));
    await ship();
    expect(ids()).toEqual(["001", "002", "003", "004", "005", "006", "007"]);
  });

  /** A node.env naming a log group CloudWatch does not have; its path. */
  const missingGroupEnv = (): string => {
    const missing = path.join(dir, "node-missing-group.env");
    writeFileSync(missing, renderNodeEnv({ clusterName: "prod", nodeRole: "apiserver", slotName: "", secretPrefix: "prod/control-plane" }, { AUDIT_LOG_GROUP: "/ha-control-plane/prod/missing" }));
    return missing;
  };

  it("keeps its cursor when CloudWatch refuses the batch, and ships the events on the next run", async () => {
    appendFileSync(path.join(logs, "audit.log"), auditLine(8, at(8)));
    const cursor = readFileSync(path.join(dir, "state/audit-cursor.json"), "utf8");
    const missing = missingGroupEnv();
    await expect(ship({ ENV_FILE: missing })).rejects.toThrow(/ResourceNotFoundException/);
    expect(readFileSync(path.join(dir, "state/audit-cursor.json"), "utf8")).toBe(cursor);
    await ship();
    expect(ids()).toEqual(["001", "002", "003", "004", "005", "006", "007", "008"]);
  });

  it("says how many batches it shipped, and leaves nothing in the temp dir, after a success or a refusal", async () => {
    const scratch = path.join(dir, "tmp");
    mkdirSync(scratch);
    appendFileSync(path.join(logs, "audit.log"), auditLine(9, at(9)));
    const { stdout } = await ship({ TMPDIR: scratch });
    expect(stdout.trim()).toBe(`shipped 1 batch(es) of audit events to ${GROUP}/apiserver-1`);
    expect((await ship({ TMPDIR: scratch })).stdout.trim()).toBe(`shipped 0 batch(es) of audit events to ${GROUP}/apiserver-1`);
    appendFileSync(path.join(logs, "audit.log"), auditLine(10, at(10)));
    const missing = missingGroupEnv();
    await expect(ship({ ENV_FILE: missing, TMPDIR: scratch })).rejects.toThrow(/ResourceNotFoundException/);
    expect(readdirSync(scratch)).toEqual([]);
    await ship();
    expect(ids().slice(-2)).toEqual(["009", "010"]);
  });

  it("refuses to run without its log group, even with nothing to ship (a node misconfigured is loud every minute, not quiet until it has events)", async () => {
    const noGroup = path.join(dir, "node-no-group.env");
    writeFileSync(noGroup, renderNodeEnv({ clusterName: "prod", nodeRole: "apiserver", slotName: "", secretPrefix: "prod/control-plane" }));
    expect(readFileSync(noGroup, "utf8")).not.toMatch(/AUDIT_LOG_GROUP/);
    const cursor = readFileSync(path.join(dir, "state/audit-cursor.json"), "utf8");
    await expect(ship({ ENV_FILE: noGroup })).rejects.toThrow(/AUDIT_LOG_GROUP: parameter null or not set/);
    expect(readFileSync(path.join(dir, "state/audit-cursor.json"), "utf8")).toBe(cursor);
  });

  it("takes the region from the instance metadata (IMDSv2 token, then placement/region) when AWS_DEFAULT_REGION is unset", async () => {
    // A metadata stand-in on loopback: the token flow as IMDSv2 answers it, and the emulator's region.
    const imds = await startImdsRegionStandIn("127.0.0.1", EMULATOR_REGION);
    try {
      appendFileSync(path.join(logs, "audit.log"), auditLine(11, at(11)));
      const { stdout } = await ship({ AWS_DEFAULT_REGION: "", AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint });
      expect(stdout.trim()).toBe(`shipped 1 batch(es) of audit events to ${GROUP}/apiserver-1`);
      expect(imds.requests()).toEqual(["PUT /latest/api/token 200", "GET /latest/meta-data/placement/region 200"]);
      expect(ids().slice(-1)).toEqual(["011"]);
    } finally {
      imds.stop();
    }
  });

  it("runs with its node defaults: node.env, slot.env, the audit log directory and the cursor at the paths a node has them", async () => {
    // The control-plane tier's node view (a private mount namespace: nothing reaches the host), with
    // /etc an overlay whose upper layer is in the test's directory and /run, /var/log and /var/lib
    // empty tmpfs, then the node's files bound at their node paths.
    const files = path.join(dir, "node-paths");
    for (const d of ["upper", "work", "audit", "state"]) mkdirSync(path.join(files, d), { recursive: true });
    writeFileSync(path.join(files, "slot.env"), "SLOT_NAME='apiserver-2'\nSLOT_IP='10.0.16.11'\n");
    writeFileSync(path.join(files, "audit/audit.log"), auditLine(21, at(21)) + auditLine(22, at(22)));
    emulator.aws("logs", "create-log-stream", "--log-group-name", GROUP, "--log-stream-name", "apiserver-2");
    const mounts: ViewMount[] = [
      { kind: "fs", source: `overlay:lowerdir=/etc,upperdir=${path.join(files, "upper")},workdir=${path.join(files, "work")}`, target: "/etc", readOnly: false },
      ...["/run", "/var/log", "/var/lib"].map((target): ViewMount => ({ kind: "tmpfs", source: "", target, readOnly: false })),
      { kind: "file", source: path.join(dir, "node.env"), target: "/etc/ha-control-plane/node.env", readOnly: true },
      { kind: "file", source: path.join(files, "slot.env"), target: "/run/ha-control-plane/slot.env", readOnly: true },
      { kind: "dir", source: path.join(files, "audit"), target: "/var/log/kubernetes/audit", readOnly: false },
      { kind: "dir", source: path.join(files, "state"), target: "/var/lib/ha-control-plane", readOnly: false },
    ];
    const [command, ...args] = inView({ hostname: "apiserver-2", mounts }, ["bash", SCRIPT]);
    // Not the environment of the other tests: no ENV_FILE, STATE_DIR, AUDIT_LOG_DIR or AUDIT_CURSOR.
    const { stdout } = await run(command, args, { env: { ...emulator.env, PATH: `${path.dirname(emulator.awsCli)}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: "/nonexistent", TMPDIR: tmpdir() }, timeout: 60000 });
    expect(stdout.trim()).toBe(`shipped 1 batch(es) of audit events to ${GROUP}/apiserver-2`);
    expect(JSON.parse(readFileSync(path.join(files, "state/audit-cursor.json"), "utf8"))).toMatchObject({ offset: readFileSync(path.join(files, "audit/audit.log")).length });
    expect(ids("apiserver-2")).toEqual(["021", "022"]);
    // Nothing reached the host.
    expect([existsSync("/etc/ha-control-plane/node.env"), existsSync("/var/lib/ha-control-plane/audit-cursor.json")]).toEqual([false, false]);
  });

  it("refuses a hostile slot.env without calling AWS", async () => {
    const hostile = path.join(dir, "pwned");
    writeFileSync(path.join(dir, "run/slot.env"), `SLOT_NAME=$(touch ${hostile})\n`);
    await expect(ship()).rejects.toThrow(/refusing .*slot\.env/);
    expect(existsSync(hostile)).toBe(false);
    writeFileSync(path.join(dir, "run/slot.env"), "SLOT_NAME='apiserver-1'\nSLOT_IP='10.0.0.11'\n");
  });
});
