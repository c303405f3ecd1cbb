/**
 * Apply tier: `terraform apply` of a synthesized stack against the AWS API emulator (moto server,
 * see ./aws-emulator.ts), then a second plan that must be a no-op, then `destroy`.
 *
 * The stack is prepared by {@link prepareForOfflinePlan} (the plan tier's preparation: backend
 * removed, providers that are not in the filesystem mirror cut out and their references replaced by
 * typed placeholders). Then every AWS provider configuration is pointed at the emulator: an
 * `endpoints` entry for every service the stack's AWS resources and data sources use (a type with no
 * known service fails loudly, see {@link SERVICE_OF_TYPE}), path-style S3, fake credentials and the
 * skip_* flags — except that the provider does ask the emulator's STS for the account id, because
 * without it the provider cannot tell the account's own security groups from another account's and
 * writes `123456789012/sg-…` references (a perpetual diff that would be ours, not the emulator's).
 *
 * Each workspace has its own temporary directory, CLI configuration (filesystem mirror only, no
 * network) and `TF_DATA_DIR`; `cleanup()` removes it. Every failure carries terraform's own text.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { AddressInfo, createServer as createNetServer } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AwsEmulator, EMULATOR_REGION, MOTO_ASG_LAUNCHED_VERSION, MOTO_COMPLETE_LIFECYCLE_ACTION, MOTO_SETUP_COMMAND, motoVenv } from "./aws-emulator";
import {
  AWS_PROVIDER_SOURCE,
  type JsonObject,
  type JsonValue,
  type PreparedStack,
  childEnv,
  cliConfigText,
  findProviderMirror,
  mirrorProviders,
  normalizeProviderSource,
  prepareForOfflinePlan,
} from "./provider-plan";

// ---------------------------------------------------------------------------------------------------
// The emulator as the apply tier needs it
// ---------------------------------------------------------------------------------------------------

/** The part of an emulator handle the apply tier uses (a subset of ./aws-emulator.ts's `AwsEmulator`). */
export type ApplyEmulator = Pick<AwsEmulator, "endpoint" | "env" | "awsCli" | "aws" | "ec2" | "stop"> & {
  /** CA bundle (the emulator's self-signed certificate) clients verify its HTTPS endpoint with. */
  readonly caBundle: string;
  /** The TCP port on 127.0.0.1 the emulator listens on. */
  readonly port: number;
  /** One IAM query API call (unsigned; moto does not check signatures); returns the XML. */
  iam(action: string, params?: Readonly<Record<string, string>>): Promise<string>;
  /** The last lines moto printed besides its access log (tracebacks, 5xx answers). */
  diagnostics(): string;
};

/** Options of {@link startApplyEmulator}. */
export interface ApplyEmulatorOptions {
  /**
   * More IP addresses the emulator's certificate names (the boot tier's nodes reach it at an
   * address inside their network, forwarded to 127.0.0.1).
   * @default - 127.0.0.1 only
   */
  readonly extraIpSans?: readonly string[];
}

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

/**
 * Starts moto on a free loopback port with AWS managed IAM policies loaded, and waits until it
 * answers. By default moto knows no managed policy, so attaching
 * `arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore` fails with NoSuchEntity where AWS accepts
 * it; moto reads the switch only from its environment at start (`MOTO_IAM_LOAD_MANAGED_POLICIES`,
 * not settable through `/moto-api/config` in 5.1.22). `startAwsEmulator()` of ./aws-emulator.ts has
 * no way to pass it (a jest worker's `process.env` is a copy that child processes do not inherit),
 * so this is a minimal start/stop of the same virtualenv's `moto_server`; once aws-emulator.ts takes
 * extra environment, use it instead.
 */
/**
 * moto_server with one gap closed: moto 5.1.22 evaluates S3 bucket policies without most of their
 * conditions (its put_bucket_policy docstring: "Conditions are not taken into account"; an operator
 * it does not know, such as `Bool`, is ignored, so the statement applies), and the stacks'
 * `Deny … Bool aws:SecureTransport false` then denied every request. This emulator serves only
 * HTTPS, so a statement whose `Bool`/`BoolIfExists` condition on `aws:SecureTransport` does not hold
 * for `true` is dropped before moto evaluates the policy — exactly what AWS does for an HTTPS
 * request; every other statement and condition is left to moto as it is.
 */
const MOTO_HTTPS_START = [
  "import json, sys",
  "from moto.s3.models import FakeBucket",
  "from moto.iam.access_control import IAMPolicy, PermissionResult",
  "CONTEXT = {'aws:SecureTransport': 'true'}",
  "def applies(statement):",
  "    for op, pairs in (statement.get('Condition') or {}).items():",
  "        if op in ('Bool', 'BoolIfExists'):",
  "            for key, want in pairs.items():",
  "                wanted = [str(w).lower() for w in (want if isinstance(want, list) else [want])]",
  "                if key in CONTEXT and CONTEXT[key] not in wanted:",
  "                    return False",
  "    return True",
  "def get_permission(self, action, resource):",
  "    if self.policy is None:",
  "        return PermissionResult.NEUTRAL",
  "    doc = json.loads(self.policy.decode())",
  "    statements = doc['Statement'] if isinstance(doc['Statement'], list) else [doc['Statement']]",
  "    doc['Statement'] = [st for st in statements if applies(st)]",
  "    if not doc['Statement']:",
  "        return PermissionResult.NEUTRAL",
  "    return IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource)",
  "FakeBucket.get_permission = get_permission",
  ...MOTO_ASG_LAUNCHED_VERSION,
  ...MOTO_COMPLETE_LIFECYCLE_ACTION,
  // moto 5.1.22 formats MACs as `02:00:00:19702x:…` (see ./aws-emulator.ts); EC2's are six hex octets.
  "import random",
  "import moto.ec2.models.elastic_network_interfaces as eni",
  "eni.random_mac_address = lambda: '02:' + ':'.join('%02x' % random.randint(0, 255) for _ in range(5))",
  "from moto.server import main",
  "sys.exit(main())",
].join("\n");

export async function startApplyEmulator(options: ApplyEmulatorOptions = {}): Promise<ApplyEmulator> {
  const venv = motoVenv();
  if (venv === undefined) throw new Error(`the AWS emulator is not installed: run \`${MOTO_SETUP_COMMAND}\``);
  const awsCli = join(venv, "bin", "aws");
  const port = await freePort();
  // HTTPS, as AWS: the stacks' bucket policies deny requests with aws:SecureTransport false, and
  // moto evaluates that condition. A self-signed certificate for 127.0.0.1, verified by every client
  // (terraform's custom_ca_bundle, the AWS CLI's AWS_CA_BUNDLE, the readiness probe): no "insecure".
  const tlsDir = mkdtempSync(join(tmpdir(), "apply-emulator-tls-"));
  const caBundle = join(tlsDir, "cert.pem");
  const keyFile = join(tlsDir, "key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
    "-addext", `subjectAltName=${["127.0.0.1", ...(options.extraIpSans ?? [])].map((ip) => `IP:${ip}`).join(",")}`, "-keyout", keyFile, "-out", caBundle], { stdio: "ignore" });
  const child = spawn(join(venv, "bin", "python3"), ["-c", MOTO_HTTPS_START, "-H", "127.0.0.1", "-p", String(port), "--ssl-cert", caBundle, "--ssl-key", keyFile], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: "true" },
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.on("exit", kill);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-256 * 1024);
  });
  // moto's stderr is mostly one access-log line per request; what explains a failed apply is the
  // rest (Python tracebacks) and the requests answered 5xx.
  const diagnostics = (): string =>
    stderr
      .split("\n")
      .filter((l) => l.trim() !== "" && !/" [234]\d\d -?\s*$|" [234]\d\d \d+\s*$/.test(l))
      .slice(-15)
      .join("\n");
  const endpoint = `https://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    process.removeListener("exit", kill);
    rmSync(tlsDir, { recursive: true, force: true });
  };
  const ca = readFileSync(caBundle);
  const ready = (): Promise<boolean> =>
    new Promise((resolve) => {
      const req = httpsRequest(`${endpoint}/moto-api/data.json`, { ca, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on("error", () => resolve(false));
      req.on("timeout", () => req.destroy());
      req.end();
    });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (await ready()) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server on 127.0.0.1:${port} did not answer: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_DEFAULT_REGION: EMULATOR_REGION,
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CA_BUNDLE: caBundle,
  };
  // One query API call, unsigned (moto dispatches on the service named in the credential scope).
  const query = (service: string, version: string) => (action: string, params: Readonly<Record<string, string>> = {}): Promise<string> =>
    new Promise((resolve, reject) => {
      const body = new URLSearchParams({ Action: action, Version: version, ...params }).toString();
      const req = httpsRequest(`${endpoint}/`, {
        method: "POST",
        ca,
        timeout: 30_000,
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `AWS4-HMAC-SHA256 Credential=testing/20250101/${service === "iam" ? "us-east-1" : EMULATOR_REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
        },
      }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`emulator ${service} ${action} answered ${res.statusCode}: ${text.slice(0, 500)}`))));
      });
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error(`emulator ${service} ${action}: timeout`)));
      req.end(body);
    });
  return {
    endpoint,
    caBundle,
    port,
    ec2: query("ec2", "2016-11-15"),
    iam: query("iam", "2010-05-08"),
    env,
    awsCli,
    diagnostics,
    aws(...args: string[]) {
      const out = execFileSync(awsCli, [...args, "--output", "json"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", ...env },
        encoding: "utf8",
        timeout: 60_000,
        maxBuffer: 256 * 1024 * 1024,
      });
      return out.trim() === "" ? undefined : JSON.parse(out);
    },
    stop,
  };
}

// ---------------------------------------------------------------------------------------------------
// Which AWS service each type talks to
// ---------------------------------------------------------------------------------------------------

/**
 * AWS resource / data source types and the `endpoints` key of the AWS provider they call: a key
 * ending in `_` is a prefix (`aws_iam_` covers every IAM type), any other key is one exact type (so
 * `aws_route` does not cover `aws_route53_zone`). Only types whose service has been applied against
 * moto are listed: a stack with a type that is not here fails at preparation, so an unchecked
 * service never reaches the real AWS endpoint and is never silently skipped. An exact key wins over
 * a prefix. `null`: computed by the provider itself, no API call.
 */
export const SERVICE_OF_TYPE: Readonly<Record<string, string | null>> = {
  aws_autoscaling_: "autoscaling",
  aws_cloudwatch_log_group: "logs",
  aws_cloudwatch_log_stream: "logs",
  aws_cloudwatch_metric_alarm: "cloudwatch",
  aws_ebs_volume: "ec2",
  aws_eip: "ec2",
  aws_internet_gateway: "ec2",
  aws_nat_gateway: "ec2",
  aws_network_interface: "ec2",
  aws_route: "ec2",
  aws_route_table: "ec2",
  aws_route_table_association: "ec2",
  aws_security_group: "ec2",
  aws_subnet: "ec2",
  aws_vpc: "ec2",
  aws_vpc_security_group_ingress_rule: "ec2",
  aws_vpc_security_group_egress_rule: "ec2",
  aws_launch_template: "ec2",
  aws_ami: "ec2",
  aws_availability_zones: "ec2",
  aws_iam_policy_document: null,
  aws_iam_: "iam",
  aws_kms_: "kms",
  aws_lb: "elbv2",
  aws_lb_listener: "elbv2",
  aws_lb_target_group: "elbv2",
  aws_s3_: "s3",
  aws_secretsmanager_: "secretsmanager",
  aws_sns_: "sns",
  aws_caller_identity: "sts",
  aws_partition: null,
  aws_region: null,
};

/**
 * AWS resource types cut out because the emulator cannot create them, each with the reason. Empty:
 * every AWS resource type of the reference and stacked stacks is created by moto 5.1.22. A type
 * added here is cut with its references replaced by placeholders, and the apply tier's test pins
 * this list, so a new gap is a visible change.
 */
export const EMULATOR_CUT_TYPES: Readonly<Record<string, string>> = {};

/** Local name of the provider that cut-out resources are routed to (it exists nowhere). */
const EMULATOR_CUT_PROVIDER = "emulatorcut";

/** The provider `endpoints` key for an AWS type (undefined: unknown type; null: no API call). */
export function serviceOfType(type: string): string | null | undefined {
  if (Object.prototype.hasOwnProperty.call(SERVICE_OF_TYPE, type) && !type.endsWith("_")) return SERVICE_OF_TYPE[type];
  const prefix = Object.keys(SERVICE_OF_TYPE)
    .filter((p) => p.endsWith("_") && type.startsWith(p))
    .sort((a, b) => b.length - a.length)[0];
  return prefix === undefined ? undefined : SERVICE_OF_TYPE[prefix];
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** AWS types (resources and data sources) present in a prepared stack. */
function awsTypes(json: JsonObject): string[] {
  const types = new Set<string>();
  for (const block of ["resource", "data"]) {
    const section = json[block];
    if (!isObject(section)) continue;
    for (const type of Object.keys(section)) if (type.startsWith("aws_")) types.add(type);
  }
  return [...types].sort();
}

// ---------------------------------------------------------------------------------------------------
// Preparation
// ---------------------------------------------------------------------------------------------------

/** A stack prepared for the emulator. */
export interface EmulatorPreparedStack extends PreparedStack {
  /** The `endpoints` block given to every AWS provider configuration (service → emulator URL). */
  readonly endpoints: Readonly<Record<string, string>>;
  /** AWS resource addresses cut out because of {@link EMULATOR_CUT_TYPES}. */
  readonly emulatorCut: readonly string[];
}

/**
 * {@link prepareForOfflinePlan}, then every AWS provider configuration pointed at `endpoint`.
 * Throws when the stack uses an AWS type with no known service.
 */
export function prepareForEmulator(
  synth: object | string,
  endpoint: string,
  availableProviders: readonly string[],
  cutTypes: Readonly<Record<string, string>> = EMULATOR_CUT_TYPES,
  caBundle?: string,
): EmulatorPreparedStack {
  const input: JsonObject = typeof synth === "string" ? (JSON.parse(synth) as JsonObject) : (structuredClone(synth) as JsonObject);
  // The emulator's gaps are cut like the resources of an unavailable provider: each is routed to a
  // provider that is not in the mirror, so the plan tier's machinery removes it, replaces every
  // reference to it by a typed placeholder and reports it.
  const emulatorCut: string[] = [];
  const resources = input.resource;
  if (isObject(resources)) {
    for (const type of Object.keys(cutTypes)) {
      const instances = resources[type];
      if (!isObject(instances)) continue;
      for (const [name, body] of Object.entries(instances)) {
        if (!isObject(body)) continue;
        emulatorCut.push(`${type}.${name}`);
        body.provider = `${EMULATOR_CUT_PROVIDER}.cut`;
      }
    }
  }
  if (emulatorCut.length > 0) {
    const terraform = isObject(input.terraform) ? input.terraform : (input.terraform = {});
    const required = isObject(terraform.required_providers) ? terraform.required_providers : (terraform.required_providers = {});
    required[EMULATOR_CUT_PROVIDER] = { source: "emulator-cut/emulatorcut" };
  }
  const prepared = prepareForOfflinePlan(input, { availableProviders });

  const unknown = awsTypes(prepared.json).filter((t) => serviceOfType(t) === undefined);
  if (unknown.length > 0) {
    throw new Error(
      `prepareForEmulator: no emulator service known for ${unknown.join(", ")}: apply it against moto, then add it to ` +
        `SERVICE_OF_TYPE (or, if moto cannot create it, to EMULATOR_CUT_TYPES with the reason) in test/harness/terraform-apply.ts`,
    );
  }
  const services = new Set(awsTypes(prepared.json).map(serviceOfType).filter((s): s is string => typeof s === "string"));
  services.add("sts"); // the account id (see the file comment)
  const endpoints = Object.fromEntries([...services].sort().map((s) => [s, endpoint]));

  const providers = prepared.json.provider;
  if (isObject(providers)) {
    const requiredProviders = isObject(prepared.json.terraform) && isObject(prepared.json.terraform.required_providers) ? prepared.json.terraform.required_providers : {};
    for (const [name, configs] of Object.entries(providers)) {
      const req = requiredProviders[name];
      const source = normalizeProviderSource(isObject(req) && typeof req.source === "string" ? req.source : name);
      if (source !== AWS_PROVIDER_SOURCE || !Array.isArray(configs)) continue;
      providers[name] = configs.map((config) => ({
        ...(config as JsonObject),
        endpoints: [{ ...endpoints }],
        s3_use_path_style: true,
        ...(caBundle ? { custom_ca_bundle: caBundle } : {}),
        skip_requesting_account_id: false,
        max_retries: 2,
      }));
    }
  }
  return { ...prepared, endpoints, emulatorCut: emulatorCut.sort() };
}

// ---------------------------------------------------------------------------------------------------
// Running terraform
// ---------------------------------------------------------------------------------------------------

/** Output of one terraform command. */
export interface TerraformRun {
  readonly args: readonly string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly seconds: number;
}

/** A terraform command failed; the message carries terraform's own output. */
export class TerraformCommandError extends Error {
  /** The failed command's output. */
  public readonly run: TerraformRun;

  constructor(message: string, run: TerraformRun) {
    super(message);
    this.name = "TerraformCommandError";
    this.run = run;
    Object.setPrototypeOf(this, TerraformCommandError.prototype);
  }
}

/** Terraform's text of a run: stderr then stdout. */
export function terraformText(run: TerraformRun): string {
  return [run.stderr.trim(), run.stdout.trim()].filter(Boolean).join("\n");
}

/** One changed path of a planned update, e.g. `service_linked_role_arn` or `launch_template[0].version`. */
export interface PlannedChange {
  /** Resource address. */
  readonly address: string;
  readonly type: string;
  /** Terraform's actions for the resource (`["update"]`, `["delete", "create"]`, …). */
  readonly actions: readonly string[];
  /** The attribute path that differs (`*` when the resource is created, deleted or replaced). */
  readonly path: string;
  readonly before: unknown;
  /** `"(known after apply)"` when terraform cannot know it yet. */
  readonly after: unknown;
  /** The resource's whole planned value (for matchers that need its other attributes). */
  readonly resourceAfter?: unknown;
}

/**
 * A difference between the emulator's answer and the configuration that is the emulator's doing,
 * not the stack's: after checking moto's source, each is listed with what moto does.
 */
export interface KnownEmulatorDrift {
  /** Short name, pinned by the apply test. */
  readonly id: string;
  readonly type: string;
  /** What moto does, and the consequence. */
  readonly reason: string;
  /** Whether this entry explains `change`; `all` is every change of the plan. */
  matches(change: PlannedChange, all: readonly PlannedChange[]): boolean;
}

const UNKNOWN = "(known after apply)";

const AUTOSCALING_DEFAULT_SLR = /^arn:aws:iam::\d{12}:role\/aws-service-role\/autoscaling\.amazonaws\.com\/AWSServiceRoleForAutoScaling$/;

function withoutLaunchTemplateSpec(value: unknown): unknown {
  return Array.isArray(value) ? value.filter((s) => !(isObject(s as JsonValue) && (s as JsonObject).resource_type === "launch-template")) : value;
}

/** True when `change` is the moto launch-template tag echo (see {@link KNOWN_EMULATOR_DRIFT}). */
function isTagSpecEcho(change: PlannedChange): boolean {
  return (
    change.type === "aws_launch_template" &&
    change.path === "tag_specifications" &&
    Array.isArray(change.before) &&
    (change.before as JsonValue[]).some((s) => isObject(s) && s.resource_type === "launch-template") &&
    JSON.stringify(withoutLaunchTemplateSpec(change.before)) === JSON.stringify(change.after)
  );
}

/** A security group rule that references a group, whose description reads back as null. */
function isReferencedGroupDescription(change: PlannedChange): boolean {
  const after = change.resourceAfter;
  return (
    change.path === "description" &&
    change.before === null &&
    typeof change.after === "string" &&
    isObject(after as JsonValue) &&
    typeof (after as JsonObject).referenced_security_group_id === "string"
  );
}

/**
 * Every emulator drift the second plan may show, each checked against moto 5.1.22's source. Any
 * other planned change fails the idempotency check.
 */
export const KNOWN_EMULATOR_DRIFT: readonly KnownEmulatorDrift[] = [
  {
    id: "asg-service-linked-role",
    type: "aws_autoscaling_group",
    reason:
      "moto ignores ServiceLinkedRoleARN and always answers the default AWSServiceRoleForAutoScaling ARN " +
      "(moto/autoscaling/models.py), so the group's custom-suffix role is shown as changing on every plan",
    matches: (c) => c.path === "service_linked_role_arn" && typeof c.before === "string" && AUTOSCALING_DEFAULT_SLR.test(c.before) && c.after !== c.before,
  },
  {
    id: "asg-default-instance-warmup",
    type: "aws_autoscaling_group",
    reason: "moto does not store DefaultInstanceWarmup and answers 0, so a configured warm-up is shown as changing on every plan",
    matches: (c) => c.path === "default_instance_warmup" && (c.before === 0 || c.before === null) && typeof c.after === "number",
  },
  {
    id: "lifecycle-hook-placeholder-targets",
    type: "aws_autoscaling_lifecycle_hook",
    reason:
      "moto fills a hook created without a notification target with its own sample values " +
      "(arn:aws:sqs:us-east-1:123456789012:my-queue, arn:aws:iam::1234567890:role/my-auto-scaling-role), so the unset " +
      "notification_target_arn and role_arn show as changing to null on every plan",
    matches: (c) =>
      (c.path === "notification_target_arn" && c.before === "arn:aws:sqs:us-east-1:123456789012:my-queue" && c.after === null) ||
      (c.path === "role_arn" && c.before === "arn:aws:iam::1234567890:role/my-auto-scaling-role" && c.after === null),
  },
  {
    id: "asg-capacity-reservation-unset",
    type: "aws_autoscaling_group",
    reason:
      "moto answers no CapacityReservationSpecification, so the state holds null where the unset configuration holds \"\"; " +
      "terraform's plan text does not show it (the SDK treats them alike), only the JSON plan of a group updated for another reason",
    matches: (c) => c.path === "capacity_reservation_specification[0].capacity_reservation_preference" && c.before === null && c.after === "",
  },
  {
    id: "sg-rule-referenced-group-description",
    type: "aws_vpc_security_group_ingress_rule",
    reason:
      "moto's DescribeSecurityGroupRules returns the description only of CIDR rules (moto/ec2/models/security_groups.py reads " +
      "it from the IP range), so a rule that references a security group loses its description on every read",
    matches: (c) => isReferencedGroupDescription(c),
  },
  {
    id: "sg-rule-referenced-group-description",
    type: "aws_vpc_security_group_egress_rule",
    reason: "as for aws_vpc_security_group_ingress_rule",
    matches: (c) => isReferencedGroupDescription(c),
  },
  {
    id: "launch-template-tag-echo",
    type: "aws_launch_template",
    reason:
      "moto copies CreateLaunchTemplate's own TagSpecifications (resource type launch-template, which tag the template) " +
      "into the version's LaunchTemplateData (moto/ec2/responses/launch_templates.py), so the provider reads an extra " +
      "tag_specifications block and plans a new template version",
    matches: (c) => isTagSpecEcho(c),
  },
  {
    id: "launch-template-version-follows-echo",
    type: "aws_launch_template",
    reason: "consequence of launch-template-tag-echo: the planned new version makes default_version / latest_version unknown",
    matches: (c, all) =>
      (c.path === "default_version" || c.path === "latest_version") &&
      c.after === UNKNOWN &&
      all.some((o) => o.address === c.address && isTagSpecEcho(o)),
  },
  {
    id: "asg-template-version-follows-echo",
    type: "aws_autoscaling_group",
    reason:
      "consequence of launch-template-tag-echo: a group that follows a template's latest_version sees it unknown " +
      "(only when some template of the plan has the echo)",
    matches: (c, all) => c.path === "launch_template[0].version" && c.after === UNKNOWN && all.some(isTagSpecEcho),
  },
];

/** Result of the second plan ({@link TerraformApplyWorkspace.replan}). */
export interface ReplanResult {
  /** `terraform plan -detailed-exitcode`: 0 no changes, 2 changes. */
  readonly exitCode: number;
  /** Every changed path of every resource with a non-no-op action, and every changed output. */
  readonly changes: readonly PlannedChange[];
  /** Changes explained by {@link KNOWN_EMULATOR_DRIFT}, with the entry's id. */
  readonly explained: readonly (PlannedChange & { readonly drift: string })[];
  /** Changes nothing explains: must be empty for an idempotent stack. */
  readonly unexplained: readonly PlannedChange[];
  /** Terraform's plan text. */
  readonly text: string;
}

function diffPaths(before: unknown, after: unknown, unknown: unknown, path: string, out: Array<{ path: string; before: unknown; after: unknown }>): void {
  if (unknown === true) {
    out.push({ path, before, after: UNKNOWN });
    return;
  }
  const bothArrays = Array.isArray(before) && Array.isArray(after);
  const bothObjects = isObject(before as JsonValue) && isObject(after as JsonValue);
  if (bothArrays && (before as unknown[]).length === (after as unknown[]).length) {
    (before as unknown[]).forEach((b, i) => diffPaths(b, (after as unknown[])[i], Array.isArray(unknown) ? unknown[i] : undefined, `${path}[${i}]`, out));
    return;
  }
  if (bothObjects) {
    const b = before as JsonObject;
    const a = after as JsonObject;
    const u = isObject(unknown as JsonValue) ? (unknown as JsonObject) : {};
    for (const key of new Set([...Object.keys(b), ...Object.keys(a), ...Object.keys(u)])) {
      diffPaths(b[key], a[key], u[key], path ? `${path}.${key}` : key, out);
    }
    return;
  }
  if (JSON.stringify(before ?? null) !== JSON.stringify(after ?? null)) out.push({ path, before, after });
}

/** The changed paths of a `terraform show -json` plan. */
export function plannedChanges(plan: JsonObject): PlannedChange[] {
  const out: PlannedChange[] = [];
  const changes = Array.isArray(plan.resource_changes) ? plan.resource_changes : [];
  for (const rc of changes) {
    if (!isObject(rc) || !isObject(rc.change)) continue;
    const actions = Array.isArray(rc.change.actions) ? (rc.change.actions as string[]) : [];
    if (actions.length === 1 && (actions[0] === "no-op" || actions[0] === "read")) continue;
    const base = { address: String(rc.address), type: String(rc.type), actions, resourceAfter: rc.change.after };
    if (actions.length !== 1 || actions[0] !== "update") {
      out.push({ ...base, path: "*", before: rc.change.before, after: rc.change.after });
      continue;
    }
    const paths: Array<{ path: string; before: unknown; after: unknown }> = [];
    diffPaths(rc.change.before, rc.change.after, rc.change.after_unknown, "", paths);
    for (const p of paths) out.push({ ...base, ...p });
  }
  const outputs = isObject(plan.output_changes) ? plan.output_changes : {};
  for (const [name, oc] of Object.entries(outputs)) {
    if (!isObject(oc) || !isObject(oc.change as JsonValue)) continue;
    const change = oc as unknown as { actions: string[]; before: unknown; after: unknown };
    if (change.actions.length === 1 && change.actions[0] === "no-op") continue;
    out.push({ address: `output.${name}`, type: "output", actions: change.actions, path: "*", before: change.before, after: change.after });
  }
  return out;
}

/** Options of {@link TerraformApplyWorkspace.create}. */
export interface ApplyWorkspaceOptions {
  /** Filesystem mirror. @default findProviderMirror() */
  readonly mirror?: string;
  /** Timeout of each terraform command. @default 600000 */
  readonly commandTimeoutMs?: number;
  /** Keep the working directory (also with `KEEP_PLAN_DIR=1`). @default false */
  readonly keepDir?: boolean;
  /** Parallel resource operations (`-parallelism`). @default 10 */
  readonly parallelism?: number;
}

/**
 * One terraform working directory for a stack applied against the emulator. Typical use:
 * `create` → `apply` → assertions on the emulator → `replan` → `destroy` → `cleanup`.
 */
export class TerraformApplyWorkspace {
  /**
   * Prepares `synth` for the emulator at `emulator.endpoint`, writes it to a fresh temporary
   * directory and runs `terraform init` from the filesystem mirror.
   */
  public static async create(
    synth: object | string,
    emulator: Pick<AwsEmulator, "endpoint"> & { readonly caBundle?: string; readonly diagnostics?: () => string },
    options: ApplyWorkspaceOptions = {},
  ): Promise<TerraformApplyWorkspace> {
    const mirror = options.mirror ?? findProviderMirror();
    if (!mirror) throw new Error("TerraformApplyWorkspace: no filesystem mirror with hashicorp/aws (run `bash scripts/setup-test-env.sh`)");
    const mirrored = mirrorProviders(mirror).map((p) => p.source);
    const prepared = prepareForEmulator(synth, emulator.endpoint, mirrored, EMULATOR_CUT_TYPES, emulator.caBundle);
    const dir = await mkdtemp(join(tmpdir(), "terraform-apply-"));
    const workspace = new TerraformApplyWorkspace(dir, prepared, options, emulator.diagnostics);
    try {
      await workspace.writeJson(prepared.json);
      await writeFile(workspace.cliConfig, cliConfigText(mirror, mirrored));
      await workspace.run(["init", "-input=false", "-backend=false", "-no-color"]);
    } catch (err) {
      await workspace.cleanup();
      throw err;
    }
    return workspace;
  }

  /** What was given to terraform (the stack after preparation). */
  public readonly prepared: EmulatorPreparedStack;
  /** Every terraform command run so far, with its duration. */
  public readonly runs: TerraformRun[] = [];
  private readonly cliConfig: string;
  private readonly keep: boolean;
  private readonly timeoutMs: number;
  private readonly parallelism: number;

  private constructor(
    /** The working directory. */
    public readonly dir: string,
    prepared: EmulatorPreparedStack,
    options: ApplyWorkspaceOptions,
    private readonly emulatorDiagnostics?: () => string,
  ) {
    this.prepared = prepared;
    this.cliConfig = join(dir, "terraform.tfrc");
    this.keep = options.keepDir === true || process.env.KEEP_PLAN_DIR === "1";
    this.timeoutMs = options.commandTimeoutMs ?? 600_000;
    this.parallelism = options.parallelism ?? 10;
  }

  /** `terraform apply -auto-approve`; throws with terraform's text on failure. */
  public async apply(): Promise<TerraformRun> {
    return this.run(["apply", "-auto-approve", "-input=false", "-no-color", `-parallelism=${this.parallelism}`]);
  }

  /**
   * `terraform plan -detailed-exitcode` after an apply, with the changed paths classified against
   * {@link KNOWN_EMULATOR_DRIFT}. Throws when the plan itself fails (exit code 1).
   */
  public async replan(): Promise<ReplanResult> {
    const plan = await this.run(["plan", "-detailed-exitcode", "-input=false", "-no-color", "-out=replan.tfplan", `-parallelism=${this.parallelism}`], [0, 2]);
    const show = await this.run(["show", "-json", "-no-color", "replan.tfplan"]);
    const changes = plannedChanges(JSON.parse(show.stdout) as JsonObject);
    const explained: Array<PlannedChange & { drift: string }> = [];
    const unexplained: PlannedChange[] = [];
    for (const change of changes) {
      const drift = KNOWN_EMULATOR_DRIFT.find((d) => d.type === change.type && d.matches(change, changes));
      if (drift) explained.push({ ...change, drift: drift.id });
      else unexplained.push(change);
    }
    return { exitCode: plan.code, changes, explained, unexplained, text: plan.stdout };
  }

  /** `terraform destroy -auto-approve`. Resolves with the run whatever the exit code (refusals are asserted on). */
  public async destroy(): Promise<TerraformRun> {
    return this.run(["destroy", "-auto-approve", "-input=false", "-no-color", `-parallelism=${this.parallelism}`], "any");
  }

  /** `terraform show -json` of the state. */
  public async state(): Promise<JsonObject> {
    return JSON.parse((await this.run(["show", "-json", "-no-color"])).stdout) as JsonObject;
  }

  /** The configuration terraform sees now. */
  public async readJson(): Promise<JsonObject> {
    return JSON.parse(await readFile(join(this.dir, "main.tf.json"), "utf8")) as JsonObject;
  }

  /** Rewrites the configuration (e.g. to switch protection off before a destroy). */
  public async edit(change: (json: JsonObject) => void): Promise<void> {
    const json = await this.readJson();
    change(json);
    await this.writeJson(json);
  }

  /** Removes the working directory (unless kept). */
  public async cleanup(): Promise<void> {
    if (!this.keep) await rm(this.dir, { recursive: true, force: true });
  }

  private async writeJson(json: JsonObject): Promise<void> {
    await writeFile(join(this.dir, "main.tf.json"), `${JSON.stringify(json, null, 2)}\n`);
  }

  /** Runs terraform; throws a {@link TerraformCommandError} unless the exit code is accepted. */
  private async run(args: string[], accept: readonly number[] | "any" = [0]): Promise<TerraformRun> {
    const started = Date.now();
    const result = await new Promise<TerraformRun>((resolve) => {
      execFile("terraform", args, { cwd: this.dir, env: childEnv(this.dir, this.cliConfig), timeout: this.timeoutMs, maxBuffer: 512 * 1024 * 1024 }, (error, stdout, stderr) => {
        const failure = error as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
        resolve({
          args,
          code: failure ? (typeof failure.code === "number" ? failure.code : -1) : 0,
          stdout: String(stdout),
          stderr: String(stderr) + (failure && typeof failure.code !== "number" ? `\n${failure.message}` : ""),
          timedOut: Boolean(failure?.killed),
          seconds: (Date.now() - started) / 1000,
        });
      });
    });
    this.runs.push(result);
    if (accept !== "any" && !accept.includes(result.code)) {
      const where = this.keep ? `in ${this.dir}` : "(set KEEP_PLAN_DIR=1 to keep the working directory)";
      const reason = result.timedOut ? `timed out after ${this.timeoutMs} ms` : `exit code ${result.code}`;
      // stderr holds terraform's diagnostics: last, where a truncated log (CI shows the head and the
      // tail) still shows them; before them the end of stdout (progress lines) and what the
      // emulator printed besides its access log.
      const stdoutTail = result.stdout.trim().split("\n").slice(-8).join("\n");
      const emulator = this.emulatorDiagnostics?.().trim();
      const parts = [stdoutTail, emulator ? `emulator:\n${emulator}` : "", `terraform:\n${result.stderr.trim()}`];
      throw new TerraformCommandError(`terraform ${args[0]} failed (${reason}) ${where}:\n${parts.filter(Boolean).join("\n")}`, result);
    }
    return result;
  }
}

