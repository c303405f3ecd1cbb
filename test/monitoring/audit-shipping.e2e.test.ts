/**
 * Runs the real ha-ship-audit-logs script (bash and python3, as nodes receive it) with the real AWS
 * CLI against the AWS emulator (moto's CloudWatch Logs), then reads back from CloudWatch Logs what
 * arrived: every complete audit line once, in order, with the event's own time; nothing of a line
 * still being written; nothing twice across runs and across kube-apiserver's rotation (audit.log
 * renamed to audit-<time>.log, a new audit.log opened); and no cursor advance when CloudWatch refuses
 * the batch.
 */
import { execFile } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { renderNodeEnv } from "../../lib";
import { AwsEmulator, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
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

describeTier("ha-ship-audit-logs (real bash, python3 and AWS CLI against moto's CloudWatch Logs)", allOf(toolAvailable("python3", ["--version"]), awsEmulatorCheck()), { tierLabel: "node e2e" }, () => {
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
        ENV_FILE: path.join(dir, "node.env"),
        STATE_DIR: path.join(dir, "run"),
        AUDIT_LOG_DIR: logs,
        AUDIT_CURSOR: path.join(dir, "state/audit-cursor.json"),
        ...extraEnv,
      },
      timeout: 60000,
    });
  const received = (): Array<{ timestamp: number; message: string }> =>
    emulator.aws("logs", "get-log-events", "--log-group-name", GROUP, "--log-stream-name", "apiserver-1", "--start-from-head").events;
  const ids = () => received().map((e) => (JSON.parse(e.message) as { auditID: string }).auditID.slice(-3));

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

  it("keeps its cursor when CloudWatch refuses the batch, and ships the events on the next run", async () => {
    appendFileSync(path.join(logs, "audit.log"), auditLine(8, at(8)));
    const cursor = readFileSync(path.join(dir, "state/audit-cursor.json"), "utf8");
    const missing = path.join(dir, "node-missing-group.env");
    writeFileSync(missing, renderNodeEnv({ clusterName: "prod", nodeRole: "apiserver", slotName: "", secretPrefix: "prod/control-plane" }, { AUDIT_LOG_GROUP: "/ha-control-plane/prod/missing" }));
    await expect(ship({ ENV_FILE: missing })).rejects.toThrow(/ResourceNotFoundException/);
    expect(readFileSync(path.join(dir, "state/audit-cursor.json"), "utf8")).toBe(cursor);
    await ship();
    expect(ids()).toEqual(["001", "002", "003", "004", "005", "006", "007", "008"]);
  });

  it("refuses a hostile slot.env without calling AWS", async () => {
    const hostile = path.join(dir, "pwned");
    writeFileSync(path.join(dir, "run/slot.env"), `SLOT_NAME=$(touch ${hostile})\n`);
    await expect(ship()).rejects.toThrow(/refusing .*slot\.env/);
    expect(existsSync(hostile)).toBe(false);
    writeFileSync(path.join(dir, "run/slot.env"), "SLOT_NAME='apiserver-1'\nSLOT_IP='10.0.0.11'\n");
  });
});
