/**
 * Issue 18 finding 1: a new API server goes into service only once its local /readyz passes. The
 * reference example's API server files (script and node.env, read from its bootstrap bundle and
 * user data) run under real bash with the real AWS CLI against the AWS emulator: a group and its
 * launch hook as synthesized, the group's instance held in Pending:Wait by a strict
 * CompleteLifecycleAction stand-in (test/harness/lifecycle-actions.ts: moto has no such
 * operation), a strict IMDSv2 stand-in, and a real HTTPS server (openssl-made certificate for
 * 127.0.0.1) standing in for kube-apiserver's /readyz.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync } from "node:fs";
import { createServer, Server } from "node:https";
import { createServer as createHttpServer } from "node:http";
import { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { AwsEmulator, ImdsStandIn, awsEmulatorCheck, startAwsEmulator, startImds } from "../harness/aws-emulator";
import { LifecycleActions, startLifecycleActions } from "../harness/lifecycle-actions";
import { describeTier } from "../harness/tiers";
import { nodeFilesOf, resources, synthStack } from "../helpers/synth";

const json = synthStack(new HaClusterStack(Testing.app(), "ref"));
const lt = resources(json, "aws_launch_template").find((l) => l.props.name === "prod-eu1-apiserver")!;
const files = nodeFilesOf(json, lt);
const fileOf = (p: string) => files.find((f) => f.path === p)!.content;
const hook = resources(json, "aws_autoscaling_lifecycle_hook")[0]?.props;
const GROUP = "prod-eu1-apiserver";

interface Run {
  readonly code: number;
  readonly stderr: string;
  readonly seconds: number;
}

/** A certificate and key for 127.0.0.1 made by the real openssl (self-signed: its own CA). */
function certificate(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", `/CN=${name}`, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  return { cert, key };
}

describeTier("ha-complete-lifecycle (real bash, AWS CLI, emulator, HTTPS /readyz)", awsEmulatorCheck(), { tierLabel: "node e2e" }, () => {
  let emu: AwsEmulator;
  let actions: LifecycleActions;
  let imds: ImdsStandIn;
  let instanceId: string;
  let dir: string;
  let server: Server | undefined;

  beforeAll(async () => {
    emu = await startAwsEmulator();
    actions = await startLifecycleActions(emu.endpoint, "eu-west-1");
    const vpc: string = emu.aws("ec2", "create-vpc", "--cidr-block", "10.0.0.0/16").Vpc.VpcId;
    const subnet: string = emu.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.0.0/20", "--availability-zone", "eu-west-1a").Subnet.SubnetId;
    const image: string = emu.aws("ec2", "describe-images", "--query", "Images[0].ImageId");
    emu.aws("ec2", "create-launch-template", "--launch-template-name", "prod-eu1-apiserver", "--launch-template-data", JSON.stringify({ ImageId: image, InstanceType: "m6i.large" }));
    emu.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP, "--launch-template", "LaunchTemplateName=prod-eu1-apiserver", "--min-size", "1", "--max-size", "1", "--desired-capacity", "1", "--vpc-zone-identifier", subnet);
    emu.aws("autoscaling", "put-lifecycle-hook", "--auto-scaling-group-name", GROUP, "--lifecycle-hook-name", hook.name, "--lifecycle-transition", hook.lifecycle_transition, "--heartbeat-timeout", String(hook.heartbeat_timeout), "--default-result", hook.default_result);
    instanceId = emu.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", GROUP).AutoScalingGroups[0].Instances[0].InstanceId;
    imds = await startImds(emu, instanceId);
  }, 90000);
  afterAll(async () => {
    await imds?.stop();
    await actions?.stop();
    await emu?.stop();
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "complete-lifecycle-"));
    actions.hold(GROUP, hook.name, instanceId);
  });
  afterEach(async () => {
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise((r) => server!.close(r));
      server = undefined;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Serves /readyz over HTTPS on 127.0.0.1 with `answer(n)` (the nth request, from 1): status code. */
  async function readyz(answer: (n: number) => number, name = "apiserver"): Promise<string> {
    const { cert, key } = certificate(dir, name);
    let n = 0;
    server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
      const status = req.url === "/readyz" ? answer(++n) : 404;
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(status === 200 ? "ok" : "[-]etcd failed: reason withheld\nreadyz check failed");
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
  }

  /** Runs the node's script as its unit would, `uptime` seconds after boot, trusting `caName`'s certificate. */
  function run(url: string, uptime: number, caName = "apiserver", change: { env?: Record<string, string | undefined>; nodeEnv?: (text: string) => string } = {}): Promise<Run> {
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    symlinkSync(emu.awsCli, path.join(bin, "aws"));
    const script = path.join(dir, "ha-complete-lifecycle");
    writeFileSync(script, fileOf("/usr/local/sbin/ha-complete-lifecycle"), { mode: 0o755 });
    writeFileSync(path.join(dir, "node.env"), (change.nodeEnv ?? ((t: string) => t))(fileOf("/etc/ha-control-plane/node.env")));
    writeFileSync(path.join(dir, "uptime"), `${uptime}.42 17.00\n`);
    const started = Date.now();
    return new Promise((resolve) => {
      execFile(
        "bash",
        [script],
        {
          env: {
            PATH: `${bin}:/usr/bin:/bin`,
            HOME: dir,
            ...emu.env,
            AWS_ENDPOINT_URL: actions.endpoint,
            AWS_DEFAULT_REGION: "",
            AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint,
            ENV_FILE: path.join(dir, "node.env"),
            UPTIME_FILE: path.join(dir, "uptime"),
            READYZ_URL: url,
            READYZ_CA: path.join(dir, `${caName}.crt`),
            READYZ_INTERVAL_SECONDS: "1",
            ...change.env,
          },
          timeout: 120000,
        },
        (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr: String(stderr), seconds: (Date.now() - started) / 1000 }),
      );
    });
  }

  /** Seconds the script has left when started `uptime` seconds after boot (from the synthesized node.env). */
  const deadline = () => Number(/^LAUNCH_READY_DEADLINE_SECONDS='(\d+)'$/m.exec(fileOf("/etc/ha-control-plane/node.env"))![1]);

  it("stand-in: answers CompleteLifecycleAction only for an active action of the named hook and group, once", async () => {
    // Asynchronous: the stand-in answers from this process's event loop.
    const complete = (args: string[]) =>
      new Promise<string>((resolve) => {
        execFile(emu.awsCli, ["autoscaling", "complete-lifecycle-action", ...args], { env: { PATH: "/usr/bin:/bin", HOME: dir, ...emu.env, AWS_ENDPOINT_URL: actions.endpoint }, timeout: 60000 }, (err, _stdout, stderr) => resolve(err ? String(stderr) : "ok"));
      });
    const base = ["--auto-scaling-group-name", GROUP, "--instance-id", instanceId, "--lifecycle-action-result", "CONTINUE"];
    expect(await complete(["--lifecycle-hook-name", "no-such-hook", ...base])).toContain("No Lifecycle Hook found");
    expect(await complete(["--lifecycle-hook-name", hook.name, ...base])).toBe("ok");
    expect(await complete(["--lifecycle-hook-name", hook.name, ...base])).toContain(`No active Lifecycle Action found with instance ID ${instanceId}`);
    actions.hold(GROUP, hook.name, instanceId);
    expect(await complete(["--lifecycle-hook-name", hook.name, "--auto-scaling-group-name", GROUP, "--instance-id", "i-0123456789abcdef0", "--lifecycle-action-result", "CONTINUE"])).toContain("No active Lifecycle Action");
    expect(await complete(["--lifecycle-hook-name", hook.name, "--auto-scaling-group-name", GROUP, "--instance-id", instanceId, "--lifecycle-action-result", "MAYBE"])).toContain("ValidationError");
  }, 60000);

  it("ships the script and its unit to API servers, with the hook and group it completes", () => {
    expect(hook).toMatchObject({ lifecycle_transition: "autoscaling:EC2_INSTANCE_LAUNCHING", default_result: "ABANDON" });
    const env = fileOf("/etc/ha-control-plane/node.env");
    expect(env).toContain(`LAUNCH_HOOK_NAME='${hook.name}'`);
    expect(env).toContain(`LAUNCH_HOOK_GROUP='${GROUP}'`);
    expect(deadline()).toBeLessThan(hook.heartbeat_timeout);
    expect(fileOf("/etc/systemd/system/ha-complete-lifecycle.service")).toMatch(/^After=.*kubelet\.service/m);
  });

  it("completes the launch hook with CONTINUE once /readyz passes", async () => {
    const url = await readyz((n) => (n <= 2 ? 500 : 200));
    const before = actions.completions.length;
    const r = await run(url, 60);
    expect(r.stderr).toContain(`${url} passed 3 times in a row: completing ${hook.name} with CONTINUE for ${instanceId}`);
    expect(r.stderr).toContain("launch hook completed");
    expect(r.code).toBe(0);
    expect(actions.completions.slice(before)).toEqual([{ group: GROUP, hook: hook.name, instanceId, result: "CONTINUE" }]);
  }, 60000);

  it("needs consecutive passes: a /readyz that flaps is not ready", async () => {
    const answers = [200, 500, 200, 200, 500];
    const url = await readyz((n) => answers[n - 1] ?? 500);
    const before = actions.completions.length;
    const r = await run(url, deadline() - 8);
    expect(r.code).not.toBe(0);
    expect(actions.completions.slice(before)).toEqual([]);
  }, 60000);

  it("completes nothing and fails after its deadline when /readyz never passes", async () => {
    const url = await readyz(() => 500);
    const before = actions.completions.length;
    const r = await run(url, deadline() - 4);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/did not pass .* within \d+s of boot: not completing the launch hook/);
    expect(r.seconds).toBeGreaterThanOrEqual(3);
    expect(r.seconds).toBeLessThan(30);
    expect(actions.completions.slice(before)).toEqual([]);
  }, 60000);

  it("does not count a /readyz served with a certificate the cluster CA did not sign", async () => {
    const url = await readyz(() => 200, "impostor");
    certificate(dir, "apiserver");
    const before = actions.completions.length;
    const r = await run(url, deadline() - 4, "apiserver");
    expect(r.code).not.toBe(0);
    expect(actions.completions.slice(before)).toEqual([]);
  }, 60000);

  /** An IMDSv2 server answering `instanceId` and `region` (token flow enforced), on 127.0.0.1. */
  async function metadata(instanceIdValue: string, region: string): Promise<{ endpoint: string; close: () => Promise<void> }> {
    const srv = createHttpServer((req, res) => {
      const token = req.method === "PUT" && req.url === "/latest/api/token" && req.headers["x-aws-ec2-metadata-token-ttl-seconds"] !== undefined;
      const authorized = req.method === "GET" && req.headers["x-aws-ec2-metadata-token"] === "t-1";
      const body = token ? "t-1" : !authorized ? undefined : req.url === "/latest/meta-data/instance-id" ? instanceIdValue : req.url === "/latest/meta-data/placement/region" ? region : undefined;
      res.writeHead(body === undefined ? (authorized || token ? 404 : 401) : 200);
      res.end(body ?? "");
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    return { endpoint: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => new Promise((r) => srv.close(() => r())) };
  }

  // Values from node.env, the unit's environment and IMDS are checked before use: each bad one is
  // refused by name (exit 1, nothing completed), before any /readyz or AWS call.
  const setIn = (name: string, value: string) => (t: string) => t.replace(new RegExp(`^${name}='[^']*'$`, "m"), `${name}='${value}'`);
  const refusals: ReadonlyArray<[string, string, { env?: Record<string, string | undefined>; nodeEnv?: (text: string) => string }]> = [
    ["LAUNCH_HOOK_NAME", "hook;reboot", { nodeEnv: setIn("LAUNCH_HOOK_NAME", "hook;reboot") }],
    ["LAUNCH_HOOK_GROUP", "group name", { nodeEnv: setIn("LAUNCH_HOOK_GROUP", "group name") }],
    ["LAUNCH_READY_DEADLINE_SECONDS", "600s", { nodeEnv: setIn("LAUNCH_READY_DEADLINE_SECONDS", "600s") }],
    ["READYZ_INTERVAL_SECONDS", "1;x", { env: { READYZ_INTERVAL_SECONDS: "1;x" } }],
    ["READYZ_PASSES", "-1", { env: { READYZ_PASSES: "-1" } }],
    ["AWS_EC2_METADATA_SERVICE_ENDPOINT", "https://169.254.169.254", { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: "https://169.254.169.254" } }],
  ];
  it.each(refusals)("refuses %s=%s by name, completing nothing", async (name, value, change) => {
    const url = await readyz(() => 200);
    const before = actions.completions.length;
    const r = await run(url, 60, "apiserver", change);
    expect([r.code, r.stderr.trim()]).toEqual([1, expect.stringContaining(`refusing ${name}=`)]);
    expect(r.stderr).toContain(value);
    expect(actions.completions.slice(before)).toEqual([]);
  }, 60000);

  it("refuses a READYZ_URL that is not this node's own API server", async () => {
    const before = actions.completions.length;
    const r = await run("https://10.0.0.10:6443/readyz", 60);
    expect([r.code, r.stderr]).toEqual([1, expect.stringContaining("refusing READYZ_URL='https://10.0.0.10:6443/readyz': not a valid url")]);
    expect(actions.completions.slice(before)).toEqual([]);
  }, 60000);

  // The instance id `null`: the group's own instance (known only once beforeAll ran).
  it.each<[string, string | null, string]>([
    ["instance-id", "i-bad;reboot", "eu-west-1"],
    ["placement/region", null, "EU_WEST_1"],
  ])("refuses a bad %s from IMDS by name, completing nothing", async (what, id, region) => {
    const md = await metadata(id ?? instanceId, region);
    try {
      const url = await readyz(() => 200);
      const before = actions.completions.length;
      const r = await run(url, 60, "apiserver", { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: md.endpoint } });
      expect([r.code, r.stderr]).toEqual([1, expect.stringContaining(`refusing ${what}=`)]);
      expect(actions.completions.slice(before)).toEqual([]);
    } finally {
      await md.close();
    }
  }, 60000);

  it.each([
    ["empty", ""],
    ["not a number", "abc 17.00\n"],
  ])("refuses an uptime it cannot read (%s): no deadline, no completion", async (_what, content) => {
    const url = await readyz(() => 200);
    const before = actions.completions.length;
    const bad = path.join(dir, "bad-uptime");
    writeFileSync(bad, content);
    const r = await run(url, 60, "apiserver", { env: { UPTIME_FILE: bad } });
    expect([r.code, r.stderr]).toEqual([1, expect.stringContaining(`cannot read the uptime from ${bad}`)]);
    expect(actions.completions.slice(before)).toEqual([]);
  }, 60000);

  it("takes an IMDS endpoint with a trailing slash (as AWS_EC2_METADATA_SERVICE_ENDPOINT may be written)", async () => {
    const md = await metadata(instanceId, "eu-west-1");
    try {
      const url = await readyz(() => 200);
      const before = actions.completions.length;
      const r = await run(url, 60, "apiserver", { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: `${md.endpoint}/` } });
      expect([r.code, actions.completions.slice(before)]).toEqual([0, [{ group: GROUP, hook: hook.name, instanceId, result: "CONTINUE" }]]);
    } finally {
      await md.close();
    }
  }, 60000);

  it("gives up after 5 refused completions (2, 4, 6 and 8 s apart), inside its deadline", async () => {
    // No lifecycle action is held for this instance: Auto Scaling refuses each completion.
    const md = await metadata("i-0123456789abcdef0", "eu-west-1");
    try {
      const url = await readyz(() => 200);
      const before = actions.completions.length;
      const r = await run(url, deadline() - 60, "apiserver", { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: md.endpoint } });
      expect([r.code, actions.completions.slice(before)]).toEqual([1, []]);
      expect(r.stderr).toMatch(/complete-lifecycle-action failed 5 times:\s+An error occurred \(ValidationError\)[^\n]*No active Lifecycle Action/);
      expect(r.stderr.match(/complete-lifecycle-action failed \(attempt \d\), retrying/g)).toHaveLength(4);
      expect(r.seconds).toBeGreaterThanOrEqual(20);
      expect(r.seconds).toBeLessThan(60);
    } finally {
      await md.close();
    }
  }, 120000);

  // The unit sets none of READYZ_CA, READYZ_INTERVAL_SECONDS and UPTIME_FILE: the script's defaults are what nodes run.
  it("by default trusts the cluster CA at PKI_DIR/ca.crt from node.env", async () => {
    const url = await readyz(() => 200, "ca");
    const before = actions.completions.length;
    const r = await run(url, 60, "ca", { env: { READYZ_CA: undefined }, nodeEnv: setIn("PKI_DIR", dir) });
    expect([r.code, actions.completions.slice(before).length]).toEqual([0, 1]);
  }, 60000);

  it("by default checks /readyz every 5 s (three passes: two waits)", async () => {
    const url = await readyz(() => 200);
    const before = actions.completions.length;
    const r = await run(url, 60, "apiserver", { env: { READYZ_INTERVAL_SECONDS: undefined } });
    expect([r.code, actions.completions.slice(before).length]).toEqual([0, 1]);
    expect(r.seconds).toBeGreaterThanOrEqual(10);
    expect(r.seconds).toBeLessThan(25);
  }, 60000);

  it("by default counts its deadline from this machine's /proc/uptime", async () => {
    const url = await readyz(() => 200);
    const up = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    const before = actions.completions.length;
    const r = await run(url, 60, "apiserver", { env: { UPTIME_FILE: undefined } });
    expect(r.stderr).not.toMatch(/cannot read the uptime/);
    const completed = actions.completions.slice(before).length;
    if (up > deadline() + 5) expect([r.code, completed, /did not pass .* within \d+s of boot/.test(r.stderr)]).toEqual([1, 0, true]);
    else if (up + 30 < deadline()) expect([r.code, completed]).toEqual([0, 1]);
    else expect([r.code, completed]).toEqual(r.code === 0 ? [0, 1] : [1, 0]);
  }, 60000);
});
