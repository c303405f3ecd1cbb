/**
 * The AWS API emulator (moto in server mode) and a strict IMDSv2 stand-in, for running node scripts
 * with the real AWS CLI.
 *
 * - `startAwsEmulator()` starts `moto_server` from the project's virtualenv
 *   (`bash scripts/setup-test-env.sh moto`) on 127.0.0.1 and a free port, waits until it answers,
 *   and returns the endpoint, the environment for the AWS CLI and `stop()`. The process is killed on
 *   `stop()` and, failing that, when the test process exits.
 * - `startImds(emulator, instanceId)` serves the instance metadata of one emulated instance, read
 *   from the emulator's state at each request (an interface attached later shows up, as on EC2).
 *   Strict like IMDSv2 with `http_tokens = "required"`: a token comes only from
 *   `PUT /latest/api/token` with a TTL header of 1-21600 seconds; a GET without a valid, unexpired
 *   token answers 401; unknown paths answer 404.
 *
 * One moto bug is corrected at start: moto 5.1.22 formats MAC addresses as `02:00:00:19702x:...`
 * (`{n}02x` for `{n:02x}`); EC2's are six lower-case hex octets, so the harness starts moto with that
 * one generator fixed. Other gaps the scripts meet are listed in test/README.md.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { AddressInfo, createServer as createNetServer } from "node:net";
import { IncomingMessage, Server, ServerResponse, createServer } from "node:http";
import * as path from "node:path";
import { TierCheck } from "./tiers";

/** The command that builds the emulator's virtualenv. */
export const MOTO_SETUP_COMMAND = "bash scripts/setup-test-env.sh moto";

/** Region the emulator's resources live in. */
export const EMULATOR_REGION = "eu-west-1";

/** The moto virtualenv directory (`HA_CP_MOTO_VENV`, else what the setup script prints), if built. */
export function motoVenv(): string | undefined {
  let dir = process.env.HA_CP_MOTO_VENV;
  if (dir === undefined) {
    try {
      const out = execFileSync("bash", [path.join(__dirname, "../../scripts/setup-test-env.sh"), "--print-env"], { encoding: "utf8", timeout: 20000 });
      dir = /^export HA_CP_MOTO_VENV=(.+)$/m.exec(out)?.[1];
    } catch {
      return undefined;
    }
  }
  if (dir === undefined || !existsSync(path.join(dir, ".complete")) || !existsSync(path.join(dir, "bin/moto_server")) || !existsSync(path.join(dir, "bin/aws"))) return undefined;
  return dir;
}

/** Whether the emulator tier can run here (the moto virtualenv with the AWS CLI exists). */
export function awsEmulatorCheck(): TierCheck {
  const dir = motoVenv();
  return dir !== undefined
    ? { available: true, reason: "" }
    : { available: false, reason: `no moto virtualenv (moto_server and aws): run \`${MOTO_SETUP_COMMAND}\`` };
}

/** A running emulator. */
export interface AwsEmulator {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Environment for the AWS CLI: endpoint, fake credentials, region. */
  readonly env: Readonly<Record<string, string>>;
  /** Path of the real AWS CLI. */
  readonly awsCli: string;
  /** Runs the AWS CLI against the emulator; returns parsed JSON output (or `undefined` when empty). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON, shaped per command
  aws(...args: string[]): any;
  /** One EC2 query API call (unsigned; moto does not check signatures); returns the XML. */
  ec2(action: string, params?: Readonly<Record<string, string>>): Promise<string>;
  /** Forgets every resource (moto's reset). */
  reset(): Promise<void>;
  /** Stops the server. */
  stop(): Promise<void>;
}

/**
 * EC2 Auto Scaling reports, for each instance, the launch template version it was launched with
 * (DescribeAutoScalingGroups `Instances[].LaunchTemplate.Version`); moto 5.1.22 reports the group's
 * template's current default version for every instance, which hides any drift. These lines make
 * moto record the version the group's version spec (`$Default`, `$Latest` or a number) resolved to
 * when the instance was launched, and report that.
 */
export const MOTO_ASG_LAUNCHED_VERSION: readonly string[] = [
  "import moto.autoscaling.models as asg_models",
  "_instance_state_init = asg_models.InstanceState.__init__",
  "def _record_launched_version(self, *args, **kwargs):",
  "    _instance_state_init(self, *args, **kwargs)",
  "    group = self.auto_scaling_group",
  "    template = getattr(group, 'ec2_launch_template', None)",
  "    self.launched_version = None if template is None else template.get_version(group.launch_template_version or '$Default').number",
  "def _launched_template(self):",
  "    group = self.auto_scaling_group",
  "    if group is None or group.ec2_launch_template is None:",
  "        return None",
  "    template = group.ec2_launch_template",
  "    return {'LaunchTemplateId': template.id, 'LaunchTemplateName': template.name, 'Version': str(self.launched_version)}",
  "asg_models.InstanceState.__init__ = _record_launched_version",
  "asg_models.InstanceState.launch_template = property(_launched_template)",
];

/**
 * Auto Scaling's CompleteLifecycleAction, which moto 5.1.22 does not implement (it answers 500), as
 * the API reference describes it (autoscaling 2011-01-01): AutoScalingGroupName, LifecycleHookName
 * (`[A-Za-z0-9\-_\/]+`, 1–255) and LifecycleActionResult (`CONTINUE` or `ABANDON`) required, with
 * InstanceId (or LifecycleActionToken); the group must exist, the hook must be on it and be a launch
 * hook (`autoscaling:EC2_INSTANCE_LAUNCHING`), and the instance must be one of the group's. A group
 * instance has one active launch action per launch hook: the first completion ends it, a second one
 * gets AWS's `ValidationError: No active Lifecycle Action found with instance ID …`. Not modelled:
 * the hook's heartbeat timeout (the boot tier checks a node's deadline against it itself) and what
 * ABANDON does to the instance (accepted and ends the action, nothing more).
 */
export const MOTO_COMPLETE_LIFECYCLE_ACTION: readonly string[] = [
  "import re as _re",
  "from moto.autoscaling.responses import AutoScalingResponse",
  "from moto.autoscaling.exceptions import ValidationError as _AsgValidationError",
  "from moto.core.responses import EmptyResult as _EmptyResult",
  "LIFECYCLE_COMPLETIONS = []",
  "def _complete_lifecycle_action(self):",
  "    group = self._get_param('AutoScalingGroupName')",
  "    hook = self._get_param('LifecycleHookName')",
  "    result = self._get_param('LifecycleActionResult')",
  "    instance = self._get_param('InstanceId')",
  "    token = self._get_param('LifecycleActionToken')",
  "    for name, value in (('autoScalingGroupName', group), ('lifecycleHookName', hook), ('lifecycleActionResult', result)):",
  "        if not value:",
  "            raise _AsgValidationError(f\"1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null\")",
  "    if not _re.fullmatch(r'[A-Za-z0-9\\-_\\/]{1,255}', hook):",
  "        raise _AsgValidationError(f\"1 validation error detected: Value '{hook}' at 'lifecycleHookName' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9\\-_\\/]+\")",
  "    if result not in ('CONTINUE', 'ABANDON'):",
  "        raise _AsgValidationError(f'Invalid LifecycleActionResult: {result}')",
  "    if not instance and not token:",
  "        raise _AsgValidationError('Either InstanceId or LifecycleActionToken must be specified')",
  "    if not instance:",
  "        raise _AsgValidationError(f'No active Lifecycle Action found with token {token}')",
  "    backend = self.autoscaling_backend",
  "    asg = backend.autoscaling_groups.get(group)",
  "    if asg is None:",
  "        raise _AsgValidationError(f'Group {group} not found')",
  "    found = backend.lifecycle_hooks.get(f'{group}_{hook}')",
  "    if found is None or found.auto_scaling_group_name != group or found.lifecycle_transition != 'autoscaling:EC2_INSTANCE_LAUNCHING':",
  "        raise _AsgValidationError(f'No Lifecycle Hook found with name {hook} for group {group}')",
  "    members = [state.instance.id for state in asg.instance_states]",
  "    if instance not in members or any(c['group'] == group and c['hook'] == hook and c['instanceId'] == instance for c in LIFECYCLE_COMPLETIONS):",
  "        raise _AsgValidationError(f'No active Lifecycle Action found with instance ID {instance}')",
  "    LIFECYCLE_COMPLETIONS.append({'group': group, 'hook': hook, 'instanceId': instance, 'result': result})",
  "    return _EmptyResult()",
  "AutoScalingResponse.complete_lifecycle_action = _complete_lifecycle_action",
];

/**
 * TerminateInstanceInAutoScalingGroup: EC2 Auto Scaling keeps the instance in the group, its
 * LifecycleState `Terminating` (`Terminating:Wait` under a termination hook), while it deregisters
 * it from the group's target groups (their deregistration delay) and runs the hooks; only then does
 * it leave the group. With `--should-decrement-desired-capacity` the desired capacity drops at once
 * and no replacement launches. moto 5.1.22 removes the instance at once, so a caller's wait for it to
 * leave never runs. With HA_CP_MOTO_TERMINATING_SECONDS=N (AwsEmulatorOptions.terminatingSeconds)
 * these lines keep it listed as `Terminating` for N seconds, not counted against the desired
 * capacity, then remove and terminate it as moto does. Not modelled: termination hooks themselves,
 * target group deregistration, and what AWS answers to terminating an instance again while it drains
 * (here: nothing changes).
 */
export const MOTO_ASG_TERMINATING: readonly string[] = [
  "_terminating_seconds = float(os.environ.get('HA_CP_MOTO_TERMINATING_SECONDS') or 0)",
  "if _terminating_seconds > 0:",
  "    import threading",
  "    _set_desired = asg_models.FakeAutoScalingGroup.set_desired_capacity",
  "    def _set_desired_capacity(self, new_capacity):",
  "        leaving = [s for s in self.instance_states if s.lifecycle_state == 'Terminating']",
  "        self.instance_states = [s for s in self.instance_states if s.lifecycle_state != 'Terminating']",
  "        try:",
  "            return _set_desired(self, new_capacity)",
  "        finally:",
  "            self.instance_states = self.instance_states + leaving",
  "    asg_models.FakeAutoScalingGroup.set_desired_capacity = _set_desired_capacity",
  "    _terminate = asg_models.AutoScalingBackend.terminate_instance",
  "    def _terminate_instance(self, instance_id, should_decrement):",
  "        state = next(s for g in self.autoscaling_groups.values() for s in g.instance_states if s.instance.id == instance_id)",
  "        if state.lifecycle_state == 'Terminating':",
  "            return asg_models.TerminateInstanceActivity(state.instance, state.instance.autoscaling_group.desired_capacity)",
  "        group = state.instance.autoscaling_group",
  "        original_size = group.desired_capacity",
  "        state.lifecycle_state = 'Terminating'",
  "        if should_decrement:",
  "            group.desired_capacity = original_size - 1",
  "        def _leave():",
  "            group.instance_states = [s for s in group.instance_states if s is not state]",
  "            self.ec2_backend.delete_tags([instance_id], {asg_models.ASG_NAME_TAG: group.name})",
  "            self.ec2_backend.terminate_instances([instance_id])",
  "            group.set_desired_capacity(group.desired_capacity)",
  "        timer = threading.Timer(_terminating_seconds, _leave)",
  "        timer.daemon = True",
  "        timer.start()",
  "        return asg_models.TerminateInstanceActivity(state.instance, original_size)",
  "    asg_models.AutoScalingBackend.terminate_instance = _terminate_instance",
];

/**
 * SSM SendCommand with `InstanceIds` and no `Targets` runs on exactly those instances (AWS, "Run
 * commands using the instance IDs"); moto 5.1.22 resolves the missing targets with an empty EC2
 * filter, which matches every instance in the region, and adds them all. These lines resolve no
 * targets to no instances.
 */
export const MOTO_SSM_NO_TARGETS: readonly string[] = [
  "import moto.ssm.models as ssm_models",
  "_targets = ssm_models.Command._get_instance_ids_from_targets",
  "ssm_models.Command._get_instance_ids_from_targets = lambda self: _targets(self) if self.targets else []",
];

const MOTO_START = [
  "import os, random, sys",
  "import moto.ec2.models.elastic_network_interfaces as eni",
  "eni.random_mac_address = lambda: '02:' + ':'.join('%02x' % random.randint(0, 255) for _ in range(5))",
  ...MOTO_ASG_LAUNCHED_VERSION,
  ...MOTO_ASG_TERMINATING,
  ...MOTO_SSM_NO_TARGETS,
  // A controlled clock for CloudWatch's datapoint stamps (AwsEmulatorOptions.clockFile).
  "clock = os.environ.get('HA_CP_MOTO_CLOCK_FILE')",
  "if clock:",
  "    import datetime, moto.cloudwatch.models as cw",
  "    cw.utcnow = lambda: datetime.datetime.strptime(open(clock).read().strip(), '%Y-%m-%d %H:%M:%S')",
  "from moto.server import main",
  "sys.exit(main())",
].join("\n");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Kills `child` when the test process exits, whatever the path out. */
function killOnExit(child: ChildProcess): () => void {
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.on("exit", kill);
  return () => process.removeListener("exit", kill);
}

/** Options of {@link startAwsEmulator}. */
export interface AwsEmulatorOptions {
  /**
   * Extra environment of the moto process, e.g. a controlled clock (libfaketime's `LD_PRELOAD` and
   * `FAKETIME_TIMESTAMP_FILE`) for tests whose subject reads CloudWatch periods.
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * A file holding `YYYY-MM-DD HH:MM:SS` (UTC, libfaketime's FAKETIME_TIMESTAMP_FILE format): CloudWatch
   * stamps the datapoints it receives with that time instead of the real one, so a test can move time
   * on a minute at once for a subject that reads one-minute periods.
   * @default - the real clock
   */
  readonly clockFile?: string;
  /**
   * Seconds an instance terminated through Auto Scaling stays in its group as `Terminating` before it
   * leaves (target group deregistration and termination hooks, {@link MOTO_ASG_TERMINATING}).
   * @default - it leaves at once, as in moto
   */
  readonly terminatingSeconds?: number;
}

/** Starts moto on a free loopback port and waits until it answers. */
export async function startAwsEmulator(options: AwsEmulatorOptions = {}): Promise<AwsEmulator> {
  const venv = motoVenv();
  if (venv === undefined) throw new Error(`the AWS emulator is not installed: run \`${MOTO_SETUP_COMMAND}\``);
  const python = path.join(venv, "bin/python3");
  const awsCli = path.join(venv, "bin/aws");
  let lastError = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(python, ["-c", MOTO_START, "-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...options.env, ...(options.clockFile ? { HA_CP_MOTO_CLOCK_FILE: options.clockFile } : {}), ...(options.terminatingSeconds ? { HA_CP_MOTO_TERMINATING_SECONDS: String(options.terminatingSeconds) } : {}) } });
    const forget = killOnExit(child);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30000;
    let up = false;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const res = await fetch(`${endpoint}/moto-api/data.json`);
        if (res.ok) {
          up = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!up) {
      child.kill("SIGKILL");
      forget();
      lastError = `moto_server on port ${port} did not answer: ${stderr.trim().split("\n").slice(-3).join(" | ")}`;
      continue;
    }
    const env = {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      AWS_DEFAULT_REGION: EMULATOR_REGION,
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      AWS_EC2_METADATA_DISABLED: "true",
    };
    return {
      endpoint,
      env,
      awsCli,
      aws(...args: string[]) {
        const out = execFileSync(awsCli, [...args, "--output", "json"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", ...env }, encoding: "utf8", timeout: 60000, maxBuffer: 256 * 1024 * 1024 });
        return out.trim() === "" ? undefined : JSON.parse(out);
      },
      async ec2(action: string, params: Readonly<Record<string, string>> = {}) {
        const body = new URLSearchParams({ Action: action, Version: "2016-11-15", ...params });
        const res = await fetch(endpoint, {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            authorization: `AWS4-HMAC-SHA256 Credential=testing/20250101/${EMULATOR_REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
          },
          body,
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`emulator ${action} answered ${res.status}: ${text.slice(0, 500)}`);
        return text;
      },
      async reset() {
        const res = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
        if (!res.ok) throw new Error(`moto reset answered ${res.status}`);
      },
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
          await exited;
          clearTimeout(timer);
        }
        forget();
      },
    };
  }
  throw new Error(`the AWS emulator did not start: ${lastError}`);
}

/** Text of every `<tag>…</tag>` in `xml` (moto's EC2 XML has no attributes on these elements). */
export function xmlValues(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, "g"))].map((m) => m[1]);
}

/** The `<item>` blocks directly under `<set>` in `xml` (first level only). */
export function xmlItems(xml: string, set: string): string[] {
  const start = xml.indexOf(`<${set}>`);
  if (start < 0) return [];
  const items: string[] = [];
  let depth = 0;
  let itemStart = -1;
  const re = /<(\/?)(item|[A-Za-z]+Set)>/g;
  re.lastIndex = start + set.length + 2;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    if (m[1] === "" ) {
      if (depth === 0 && m[2] === "item") itemStart = m.index;
      depth++;
    } else {
      if (depth === 0) break;
      depth--;
      if (depth === 0 && m[2] === "item") items.push(xml.slice(itemStart, re.lastIndex));
    }
  }
  return items;
}

/** One network interface of an emulated instance, as IMDS and the tests see it. */
export interface EmulatedInterface {
  readonly id: string;
  readonly mac: string;
  readonly privateIp: string;
  readonly deviceIndex: number;
  readonly subnetId: string;
}

/** What the IMDS stand-in and {@link attachedInterfaces} need of an emulator: its EC2 query API. */
export type Ec2QueryApi = Pick<AwsEmulator, "ec2"> & {
  /**
   * One IAM query API call, for the role behind the instance profile (role credentials).
   * @default - the stand-in serves no `iam/` metadata
   */
  iam?(action: string, params?: Readonly<Record<string, string>>): Promise<string>;
};

/** The interfaces attached to `instanceId`, read from the emulator. */
export async function attachedInterfaces(emulator: Ec2QueryApi, instanceId: string): Promise<EmulatedInterface[]> {
  const xml = await emulator.ec2("DescribeNetworkInterfaces", { "Filter.1.Name": "attachment.instance-id", "Filter.1.Value.1": instanceId });
  return xmlItems(xml, "networkInterfaceSet").map((item) => ({
    id: xmlValues(item, "networkInterfaceId")[0],
    mac: xmlValues(item, "macAddress")[0],
    privateIp: xmlValues(item, "privateIpAddress")[0],
    deviceIndex: Number(xmlValues(item, "deviceIndex")[0]),
    subnetId: xmlValues(item, "subnetId")[0],
  }));
}

/** Options of {@link startImds}. */
export interface ImdsOptions {
  /**
   * Listen on this Unix socket instead of a loopback port (the boot tier forwards a node's
   * 169.254.169.254:80 to it from inside the node's network namespace).
   * @default - a free loopback port
   */
  readonly socketPath?: string;
  /**
   * Serve the instance's tags under `tags/instance/` (launch template
   * `metadata_options.instance_metadata_tags = "enabled"`); otherwise those paths answer 404, as EC2.
   * @default false
   */
  readonly instanceTags?: boolean;
  /**
   * Instance profile of the instance when the emulator does not record one (moto 5.1.22 launches an
   * Auto Scaling group's instances without their launch template's profile; EC2 attaches it).
   * @default - the one DescribeInstances shows
   */
  readonly instanceProfileArn?: string;
}

/** A running IMDS stand-in. */
export interface ImdsStandIn {
  /** `http://127.0.0.1:<port>`: the value for `AWS_EC2_METADATA_SERVICE_ENDPOINT` (with `socketPath`: `unix:<path>`). */
  readonly endpoint: string;
  /** Every request as `METHOD path status`. */
  readonly requests: readonly string[];
  stop(): Promise<void>;
}

const MAX_TOKEN_TTL_SECONDS = 21600;

/** Role credentials the stand-in hands out, per role (stable for the stand-in's life, like EC2's within their validity). */
function roleCredentials(): string {
  const key = `ASIA${randomBytes(8).toString("hex").toUpperCase()}`;
  return JSON.stringify({
    Code: "Success",
    LastUpdated: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    Type: "AWS-HMAC",
    AccessKeyId: key,
    SecretAccessKey: randomBytes(30).toString("base64"),
    Token: randomBytes(64).toString("base64"),
    Expiration: new Date(Date.now() + 6 * 3600_000).toISOString().replace(/\.\d+Z$/, "Z"),
  });
}

/**
 * A metadata service that answers only IMDSv2's token exchange and `placement/region`, with
 * `region` as given (a test's bad value): everything else 404. Run `use(endpoint)` against it; the
 * server is closed afterwards whatever `use` does.
 */
export async function withRegionOnlyImds<T>(region: string, use: (endpoint: string) => Promise<T>): Promise<T> {
  const server = createServer((req, res) => {
    if (req.method === "PUT" && req.url === "/latest/api/token") res.end("token");
    else if (req.method === "GET" && req.url === "/latest/meta-data/placement/region" && req.headers["x-aws-ec2-metadata-token"] === "token") res.end(region);
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * Starts a strict IMDSv2 stand-in for `instanceId` on a free loopback port (or a Unix socket).
 * With an emulator that answers IAM queries it also serves `iam/info` and
 * `iam/security-credentials/<role>` for the instance profile's role, as EC2 does.
 */
export async function startImds(emulator: Ec2QueryApi, instanceId: string, options: ImdsOptions = {}): Promise<ImdsStandIn> {
  const tokens = new Map<string, number>();
  const requests: string[] = [];
  const credentials = new Map<string, string>();

  // The instance's own record (zone, profile, tags) does not change while it runs: read once, so
  // the answers come as fast as EC2's (the AWS CLI gives IMDS 1 s and one attempt by default).
  let instance: Promise<string> | undefined;
  const describeInstance = (): Promise<string> => (instance ??= emulator.ec2("DescribeInstances", { "InstanceId.1": instanceId }).catch((err: Error) => {
    instance = undefined;
    throw err;
  }));
  let profile: Promise<string> | undefined;

  async function iamItem(instXml: string, item: string): Promise<string | undefined> {
    const profileArn = /<iamInstanceProfile>[\s\S]*?<arn>([^<]+)<\/arn>/.exec(instXml)?.[1] ?? options.instanceProfileArn;
    const iam = emulator.iam;
    if (profileArn === undefined || iam === undefined) return undefined;
    const profileName = profileArn.replace(/^.*:instance-profile\/(?:.*\/)?/, "");
    const profileXml = await (profile ??= iam("GetInstanceProfile", { InstanceProfileName: profileName }));
    const role = xmlValues(profileXml, "RoleName")[0];
    if (item === "iam/info") {
      const profileId = xmlValues(profileXml, "InstanceProfileId")[0];
      return JSON.stringify({ Code: "Success", LastUpdated: new Date().toISOString().replace(/\.\d+Z$/, "Z"), InstanceProfileArn: profileArn, InstanceProfileId: profileId });
    }
    if (role === undefined) return undefined;
    if (item === "iam/security-credentials/" || item === "iam/security-credentials") return role;
    if (item !== `iam/security-credentials/${role}`) return undefined;
    let creds = credentials.get(role);
    if (creds === undefined) credentials.set(role, (creds = roleCredentials()));
    return creds;
  }

  async function metadata(item: string): Promise<string | undefined> {
    const instXml = await describeInstance();
    if (item.startsWith("iam/")) return iamItem(instXml, item);
    if (item.startsWith("tags/instance")) {
      if (!options.instanceTags) return undefined;
      const tagSet = /<tagSet>([\s\S]*?)<\/tagSet>/.exec(instXml)?.[1] ?? "";
      const tags = new Map([...tagSet.matchAll(/<key>([^<]*)<\/key>\s*<value>([^<]*)<\/value>/g)].map((m) => [m[1], m[2]]));
      if (item === "tags/instance" || item === "tags/instance/") return [...tags.keys()].join("\n");
      return tags.get(item.slice("tags/instance/".length));
    }
    const zone = xmlValues(instXml, "availabilityZone")[0];
    const enis = await attachedInterfaces(emulator, instanceId);
    const primary = enis.find((e) => e.deviceIndex === 0);
    if (zone === undefined || primary === undefined) return undefined;
    const fixed: Record<string, string> = {
      "instance-id": instanceId,
      "placement/availability-zone": zone,
      "placement/region": zone.replace(/[a-z]$/, ""),
      "local-ipv4": primary.privateIp,
      mac: primary.mac,
      "network/interfaces/macs/": enis.map((e) => `${e.mac}/`).join("\n"),
    };
    if (item in fixed) return fixed[item];
    const m = /^network\/interfaces\/macs\/([0-9a-f:]{17})\/(.+)$/.exec(item);
    const eni = m ? enis.find((e) => e.mac === m[1]) : undefined;
    if (!m || eni === undefined) return undefined;
    const subnetXml = await emulator.ec2("DescribeSubnets", { "SubnetId.1": eni.subnetId });
    const perInterface: Record<string, string> = {
      "device-number": String(eni.deviceIndex),
      "interface-id": eni.id,
      "local-ipv4s": eni.privateIp,
      "subnet-id": eni.subnetId,
      "subnet-ipv4-cidr-block": xmlValues(subnetXml, "cidrBlock")[0],
      "vpc-id": xmlValues(subnetXml, "vpcId")[0],
    };
    return perInterface[m[2]];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const url = req.url ?? "";
    const send = (status: number, body = "") => {
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(body);
      return status;
    };
    if (url === "/latest/api/token") {
      if (req.method !== "PUT") return send(405);
      // EC2 refuses token requests that went through a proxy.
      if (req.headers["x-forwarded-for"] !== undefined) return send(403);
      const ttlText = req.headers["x-aws-ec2-metadata-token-ttl-seconds"];
      const ttl = typeof ttlText === "string" && /^[0-9]+$/.test(ttlText) ? Number(ttlText) : NaN;
      if (!(ttl >= 1 && ttl <= MAX_TOKEN_TTL_SECONDS)) return send(400);
      const token = randomBytes(24).toString("base64url");
      tokens.set(token, Date.now() + ttl * 1000);
      return send(200, token);
    }
    if (req.method !== "GET") return send(405);
    const token = req.headers["x-aws-ec2-metadata-token"];
    const expiry = typeof token === "string" ? tokens.get(token) : undefined;
    if (expiry === undefined || expiry < Date.now()) return send(401);
    const m = /^\/latest\/meta-data\/(.+)$/.exec(url);
    const value = m ? await metadata(m[1]) : undefined;
    return value === undefined ? send(404) : send(200, value);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res)
      .then((status) => requests.push(`${req.method} ${req.url} ${status}`))
      .catch((err: Error) => {
        requests.push(`${req.method} ${req.url} 500 ${err.message}`);
        res.writeHead(500);
        res.end();
      });
  });
  let endpoint: string;
  if (options.socketPath !== undefined) {
    const socketPath = options.socketPath;
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    endpoint = `unix:${socketPath}`;
  } else {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const close = () => server.close();
  process.on("exit", close);
  return {
    endpoint,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        process.removeListener("exit", close);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
