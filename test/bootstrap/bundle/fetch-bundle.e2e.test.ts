/**
 * The fetch step of the reference API server's user data, run by real bash with the real AWS CLI
 * against the AWS emulator (S3 with SSE-KMS) and a strict IMDSv2 stand-in: the synthesized bundle
 * object is fetched, checked and extracted; a tampered object is refused, nothing is extracted, and
 * the runcmd script cloud-init builds from the user data stops before any `systemctl` call.
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Testing } from "../../../lib/core";
import { HaClusterStack } from "../../../examples/ha-cluster/main";
import { AwsEmulator, ImdsStandIn, awsEmulatorCheck, startAwsEmulator, startImds, withRegionOnlyImds } from "../../harness/aws-emulator";
import { describeTier } from "../../harness/tiers";
import { bundleFilesOf, bundleObjectOf, cloudConfigOf, resources, synthStack } from "../../helpers/synth";

const json = synthStack(new HaClusterStack(Testing.app(), "ref"));
const lt = resources(json, "aws_launch_template").find((l) => l.props.name === "prod-eu1-apiserver")!;
const doc = cloudConfigOf(lt);
const object = bundleObjectOf(json, lt)!;
const fileOf = (p: string) => doc.write_files.find((f) => f.path === p)!.content;
const env = fileOf("/etc/ha-control-plane/node.env");
const envValue = (key: string) => new RegExp(`^${key}='([^']*)'$`, "m").exec(env)![1];
const BUCKET = envValue("HA_BUNDLE_BUCKET");
const KEY = envValue("HA_BUNDLE_KEY");
const SHA = envValue("HA_BUNDLE_SHA256");

/** The entries (files and directories) real tar lists in a .tar.gz. */
const tarEntries = (bytes: Buffer): number => execFileSync("tar", ["-tzf", "-"], { input: bytes, encoding: "utf8" }).trim().split("\n").length;

/** cloud-init's runcmd script (cloudinit.util.shellify): a list entry quoted word by word, a string entry as is. */
function shellify(runcmd: Array<string[] | string>): string {
  const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n${runcmd.map((c) => (typeof c === "string" ? c : c.map(quote).join(" "))).join("\n")}\n`;
}

interface Run {
  readonly code: number;
  readonly stderr: string;
}

describeTier("bootstrap bundle fetch (real bash, AWS CLI, emulator)", awsEmulatorCheck(), { tierLabel: "node e2e" }, () => {
  let emu: AwsEmulator;
  let imds: ImdsStandIn;
  let dir: string;
  let kmsKey: string;

  beforeAll(async () => {
    emu = await startAwsEmulator();
    const image: string = emu.aws("ec2", "describe-images", "--query", "Images[0].ImageId");
    const instanceId: string = emu.aws("ec2", "run-instances", "--image-id", image, "--instance-type", "m6i.large", "--count", "1").Instances[0].InstanceId;
    imds = await startImds(emu, instanceId);
    kmsKey = emu.aws("kms", "create-key", "--description", "cluster key").KeyMetadata.Arn;
    emu.aws("s3api", "create-bucket", "--bucket", BUCKET, "--create-bucket-configuration", "LocationConstraint=eu-west-1");
  }, 60000);
  afterAll(async () => {
    await imds?.stop();
    await emu?.stop();
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "fetch-bundle-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Puts `bytes` at the bundle key, SSE-KMS with the cluster key, as Terraform would. */
  function upload(bytes: Buffer): void {
    const body = path.join(dir, "upload.tar.gz");
    writeFileSync(body, bytes);
    emu.aws("s3api", "put-object", "--bucket", BUCKET, "--key", KEY, "--body", body, "--server-side-encryption", "aws:kms", "--ssekms-key-id", kmsKey);
  }

  /** Options of {@link runcmd}. */
  interface RuncmdOptions {
    /** Values of node.env to replace (the script sources node.env after reading its environment). */
    readonly nodeEnv?: Readonly<Record<string, string>>;
    /** Environment overrides; `undefined` removes the variable. */
    readonly env?: Readonly<Record<string, string | undefined>>;
    /** No `aws` on PATH: the node has to install the AWS CLI (with `snap` when this is true, else `apt-get`). */
    readonly withoutAws?: { readonly snap: boolean };
    /** Milliseconds before the run is killed. */
    readonly timeout?: number;
  }

  /**
   * Runs the user data's runcmd as cloud-init would (`sh` over the shellified entries), with the
   * fetch step's files from the user data under `dir`, and stand-ins that record every `systemctl`,
   * `mkdir`, `chmod`, `logger` and `sleep` call (the runcmd must not reach any but the fetch step's
   * own). `aws` is the real AWS CLI behind a wrapper that records each call with the region it
   * runs with. The environment is a node's (cloud-init sets no `AWS_DEFAULT_REGION`).
   */
  function runcmd(options: RuncmdOptions = {}): Promise<Run & { calls: string[] }> {
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    mkdirSync(path.join(dir, "root"));
    const calls = path.join(dir, "calls.log");
    writeFileSync(calls, "");
    const script = path.join(dir, "ha-fetch-bundle");
    writeFileSync(script, fileOf("/usr/local/sbin/ha-fetch-bundle"), { mode: 0o755 });
    let nodeEnv = env;
    for (const [k, v] of Object.entries(options.nodeEnv ?? {})) {
      expect(nodeEnv).toMatch(new RegExp(`^${k}=`, "m"));
      nodeEnv = nodeEnv.replace(new RegExp(`^${k}=.*$`, "m"), `${k}='${v}'`);
    }
    writeFileSync(path.join(dir, "node.env"), nodeEnv);
    const awsWrapper = path.join(dir, "aws-cli");
    writeFileSync(awsWrapper, `#!/bin/sh\necho "aws region=\${AWS_DEFAULT_REGION-<unset>} $*" >> ${calls}\nexec ${emu.awsCli} "$@"\n`, { mode: 0o755 });
    if (options.withoutAws === undefined) symlinkSync(awsWrapper, path.join(bin, "aws"));
    else {
      // The documented install commands (snap: `snap install aws-cli --classic`; Debian: the
      // awscli package), exactly; they put the CLI on PATH. Anything else fails loudly.
      const installer = (name: string, args: string) =>
        writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\n[ "$*" = "${args}" ] || { echo "${name} stand-in: unexpected arguments: $*" >&2; exit 64; }\nln -s ${awsWrapper} ${path.join(bin, "aws")}\n`, { mode: 0o755 });
      if (options.withoutAws.snap) installer("snap", "install aws-cli --classic");
      installer("apt-get", "install -y awscli");
    }
    for (const name of ["systemctl", "logger"]) writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\n`, { mode: 0o755 });
    // sleep: recorded, not slept; one whole number of seconds, as the script passes.
    writeFileSync(path.join(bin, "sleep"), `#!/bin/sh\necho "sleep $*" >> ${calls}\ncase "$#:$1" in 1:*[!0-9]*|1:) exit 64 ;; 1:*) exit 0 ;; *) exit 64 ;; esac\n`, { mode: 0o755 });
    for (const name of ["mkdir", "chmod"]) {
      // Inside the test directory the real program runs; anything else is only recorded.
      writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\ncase "$*" in *${dir}*) exec /usr/bin/env -u PATH /bin/${name} "$@" ;; esac\n`, { mode: 0o755 });
    }
    const entries = doc.runcmd.map((c, i) => (i === 0 && typeof c === "string" ? c.replace("/usr/local/sbin/ha-fetch-bundle", script) : c));
    expect(doc.runcmd[0]).toBe("/usr/local/sbin/ha-fetch-bundle || exit 1");
    const runcmdScript = path.join(dir, "runcmd");
    writeFileSync(runcmdScript, shellify(entries));
    chmodSync(runcmdScript, 0o755);
    const merged: Record<string, string | undefined> = {
      PATH: `${bin}:/usr/bin:/bin`,
      HOME: dir,
      TMPDIR: tmpdir(),
      ...emu.env,
      AWS_DEFAULT_REGION: undefined,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint,
      ENV_FILE: path.join(dir, "node.env"),
      BUNDLE_ROOT: path.join(dir, "root"),
      BUNDLE_DIR: path.join(dir, "bundle"),
      FETCH_ATTEMPTS: "1",
      ...options.env,
    };
    const childEnv = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
    return new Promise((resolve) => {
      execFile("/bin/sh", [runcmdScript], { env: childEnv, timeout: options.timeout ?? 60000 }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr, calls: readFileSync(calls, "utf8").trim().split("\n").filter((l) => l !== "") }),
      );
    });
  }

  function extracted(): string[] {
    const root = path.join(dir, "root");
    const out: string[] = [];
    const walk = (rel: string) => {
      for (const n of readdirSync(path.join(root, rel))) {
        const r = path.posix.join(rel, n);
        if (statSync(path.join(root, r)).isDirectory()) walk(r);
        else out.push(`/${r}`);
      }
    };
    walk("");
    return out.sort();
  }

  it("fetches the synthesized bundle with the region from IMDS, checks it and extracts every file with its mode, then runs the units", async () => {
    upload(Buffer.from(object.props.content_base64, "base64"));
    const r = await runcmd();
    expect(r.stderr).not.toMatch(/ERROR/);
    expect(r.code).toBe(0);
    // One download, with the region IMDS gave (the emulator's instance runs in the CLI's region).
    expect(r.calls.filter((c) => c.startsWith("aws "))).toEqual([`aws region=${emu.env.AWS_DEFAULT_REGION} s3api get-object --bucket ${BUCKET} --key ${KEY} ${dir}/bundle/${SHA}.tar.gz.part`]);
    // It says what it extracted: as many entries as tar lists in the object.
    expect(r.stderr).toContain(`ha-fetch-bundle: extracted bootstrap bundle ${SHA} (${tarEntries(Buffer.from(object.props.content_base64, "base64"))} files)`);
    // The checked bundle stays on the root disk, for root only.
    expect(readdirSync(path.join(dir, "bundle"))).toEqual([`${SHA}.tar.gz`]);
    expect(statSync(path.join(dir, "bundle")).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir, "bundle", `${SHA}.tar.gz`)).mode & 0o777).toBe(0o600);
    const expected = bundleFilesOf(object);
    expect(extracted()).toEqual(expected.map((f) => f.path).sort());
    for (const f of expected) {
      const p = path.join(dir, "root", f.path);
      expect(readFileSync(p, "utf8")).toBe(f.content);
      expect(`0${(statSync(p).mode & 0o777).toString(8)}`).toBe(f.permissions);
    }
    expect(imds.requests.some((q) => /^GET \/latest\/meta-data\/placement\/region 200$/.test(q))).toBe(true);
    // The runcmd went on after the fetch: the units are enabled, in the synthesized order.
    const systemctl = r.calls.filter((c) => c.startsWith("systemctl "));
    // (The Session Manager entry falls back to systemctl: there is no snap here.)
    const enabled = doc.runcmd.flatMap((c) => (!Array.isArray(c) ? [] : c[0] === "systemctl" ? [c.join(" ")] : c[0] === "sh" && c[2].includes("amazon-ssm-agent") ? ["systemctl enable --now amazon-ssm-agent"] : []));
    expect(systemctl).toEqual(enabled);
    expect(systemctl.length).toBeGreaterThan(3);
  }, 120000);

  it("refuses a tampered bundle: a clear error, nothing extracted, no unit enabled or started", async () => {
    const bytes = Buffer.from(object.props.content_base64, "base64");
    bytes[bytes.length - 20] ^= 0xff;
    upload(bytes);
    const r = await runcmd();
    expect(r.code).not.toBe(0);
    const line = new RegExp(`ERROR: bootstrap bundle s3://${BUCKET}/${KEY.replace(/[./]/g, "\\$&")} has SHA-256 [0-9a-f]{64}, user data expects ${envValue("HA_BUNDLE_SHA256")}: refusing it`);
    expect(r.stderr).toMatch(line);
    // The same line goes to the journal (logger -t ha-fetch-bundle).
    expect(r.calls.filter((c) => c.startsWith("logger "))).toEqual([expect.stringMatching(new RegExp(`^logger -t ha-fetch-bundle -- ${line.source}`))]);
    expect(extracted()).toEqual([]);
    expect(existsSync(path.join(dir, "bundle"))).toBe(true);
    expect(readdirSync(path.join(dir, "bundle"))).toEqual([]);
    expect(r.calls.filter((c) => c.startsWith("systemctl "))).toEqual([]);
    expect(r.calls.filter((c) => !c.startsWith("logger ") && !c.startsWith("aws ") && !c.includes(dir))).toEqual([]);
  }, 120000);

  it("refuses a bundle the node cannot download, extracting nothing", async () => {
    emu.aws("s3api", "delete-object", "--bucket", BUCKET, "--key", KEY);
    const r = await runcmd();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERROR: could not download s3:\/\/.+ after 1 attempts; nothing extracted/);
    expect(extracted()).toEqual([]);
    expect(r.calls.filter((c) => c.startsWith("systemctl "))).toEqual([]);
  }, 120000);
  it("retries a missing bundle 10 times, 6 s apart, by default, then gives up leaving nothing behind", async () => {
    emu.aws("s3api", "delete-object", "--bucket", BUCKET, "--key", KEY);
    // A bundle left by an earlier, interrupted run is not a checked one.
    mkdirSync(path.join(dir, "bundle"));
    writeFileSync(path.join(dir, "bundle", `${SHA}.tar.gz`), Buffer.from(object.props.content_base64, "base64"));
    writeFileSync(path.join(dir, "bundle", `${SHA}.tar.gz.part`), "partial");
    const r = await runcmd({ env: { FETCH_ATTEMPTS: undefined } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERROR: could not download s3:\/\/.+ after 10 attempts; nothing extracted/);
    const retries = r.stderr.split("\n").filter((l) => l.includes("; retrying"));
    expect(retries).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `ha-fetch-bundle: downloading s3://${BUCKET}/${KEY} failed (attempt ${n}); retrying`));
    expect(r.calls.filter((c) => c.startsWith("aws "))).toHaveLength(10);
    expect(r.calls.filter((c) => c.startsWith("sleep "))).toEqual(Array(9).fill("sleep 6"));
    expect(extracted()).toEqual([]);
    expect(readdirSync(path.join(dir, "bundle"))).toEqual([]);
    expect(r.calls.filter((c) => c.startsWith("systemctl "))).toEqual([]);
  }, 120000);

  // Values the library never writes into node.env: a bucket name outside the AWS naming rules
  // (3-63 characters: lowercase letters, digits, dots, hyphens; a letter or digit at each end),
  // a digest that is not 64 lowercase hex digits, a key that does not name the expected digest.
  const OTHER_SHA = "0".repeat(64);
  it.each([
    ["a bucket name with capitals and an underscore", { HA_BUNDLE_BUCKET: "Prod_Bundles" }, "HA_BUNDLE_BUCKET 'Prod_Bundles' is not an S3 bucket name"],
    ["a bucket name of 2 characters", { HA_BUNDLE_BUCKET: "ab" }, "HA_BUNDLE_BUCKET 'ab' is not an S3 bucket name"],
    ["an upper-case digest", { HA_BUNDLE_SHA256: SHA.toUpperCase() }, `HA_BUNDLE_SHA256 '${SHA.toUpperCase()}' is not a SHA-256 in hex`],
    ["a key naming another digest", { HA_BUNDLE_KEY: KEY.replace(SHA, OTHER_SHA) }, `HA_BUNDLE_KEY '${KEY.replace(SHA, OTHER_SHA)}' is not`],
    ["a key outside bundles/<role>/", { HA_BUNDLE_KEY: `uploads/${SHA}.tar.gz` }, `HA_BUNDLE_KEY 'uploads/${SHA}.tar.gz' is not`],
  ])("refuses %s before any request", async (_what, values, message) => {
    upload(Buffer.from(object.props.content_base64, "base64"));
    if ("HA_BUNDLE_KEY" in values) emu.aws("s3api", "copy-object", "--bucket", BUCKET, "--copy-source", `${BUCKET}/${KEY}`, "--key", values.HA_BUNDLE_KEY);
    const before = imds.requests.length;
    const r = await runcmd({ nodeEnv: values, timeout: 30000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`ha-fetch-bundle: ERROR: ${message}`);
    expect(imds.requests.length).toBe(before);
    expect(r.calls.filter((c) => c.startsWith("aws "))).toEqual([]);
    expect(extracted()).toEqual([]);
    expect(r.calls.filter((c) => c.startsWith("systemctl "))).toEqual([]);
  }, 60000);

  it("accepts an IMDS endpoint with a trailing slash and asks IMDS at /latest/...", async () => {
    upload(Buffer.from(object.props.content_base64, "base64"));
    const before = imds.requests.length;
    const r = await runcmd({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: `${imds.endpoint}/` } });
    expect(r.code).toBe(0);
    expect(imds.requests.slice(before)).toEqual(["PUT /latest/api/token 200", "GET /latest/meta-data/placement/region 200"]);
    expect(extracted()).toEqual(bundleFilesOf(object).map((f) => f.path).sort());
  }, 120000);

  it("refuses an IMDS endpoint that is not http://host[:port] (here with user info), asking nothing", async () => {
    upload(Buffer.from(object.props.content_base64, "base64"));
    const before = imds.requests.length;
    const endpoint = imds.endpoint.replace("http://", "http://node@");
    const r = await runcmd({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint }, timeout: 30000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`ha-fetch-bundle: ERROR: refusing AWS_EC2_METADATA_SERVICE_ENDPOINT '${endpoint}': not http://host[:port]`);
    expect(imds.requests.length).toBe(before);
    expect(extracted()).toEqual([]);
  }, 60000);

  it("refuses a region from the instance metadata that is not an AWS region name", async () => {
    upload(Buffer.from(object.props.content_base64, "base64"));
    // A metadata service answering with a bad region (IMDSv2's token dance, then the answer).
    const region = "eu-west-1 --endpoint-url http://203.0.113.9";
    await withRegionOnlyImds(region, async (endpoint) => {
      const r = await runcmd({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint }, timeout: 30000 });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`ha-fetch-bundle: ERROR: refusing region '${region}' from the instance metadata`);
      expect(r.calls.filter((c) => c.startsWith("aws "))).toEqual([]);
      expect(extracted()).toEqual([]);
    });
  }, 60000);

  it.each([
    ["with snap", true, "snap install aws-cli --classic"],
    ["without snap, from the Debian package", false, "apt-get install -y awscli"],
  ])("installs the AWS CLI when the image has none (%s), then fetches", async (_what, snap, install) => {
    upload(Buffer.from(object.props.content_base64, "base64"));
    const r = await runcmd({ withoutAws: { snap } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("ha-fetch-bundle: installing the AWS CLI");
    // (The runcmd's Session Manager entry asks snap too, after the fetch; the stand-in refuses it.)
    expect(r.calls.filter((c) => /^(snap|apt-get) install /.test(c))).toEqual([install]);
    expect(r.calls.filter((c) => c.startsWith("aws "))).toHaveLength(1);
    expect(extracted()).toEqual(bundleFilesOf(object).map((f) => f.path).sort());
  }, 120000);
});
