/**
 * The fetch step of the reference API server's user data, run by real bash with the real AWS CLI
 * against the AWS emulator (S3 with SSE-KMS) and a strict IMDSv2 stand-in: the synthesized bundle
 * object is fetched, checked and extracted; a tampered object is refused, nothing is extracted, and
 * the runcmd script cloud-init builds from the user data stops before any `systemctl` call.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Testing } from "../../../lib/core";
import { HaClusterStack } from "../../../examples/ha-cluster/main";
import { AwsEmulator, ImdsStandIn, awsEmulatorCheck, startAwsEmulator, startImds } from "../../harness/aws-emulator";
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

  /**
   * Runs the user data's runcmd as cloud-init would (`sh` over the shellified entries), with the
   * fetch step's files from the user data under `dir`, and stand-ins that record every `systemctl`,
   * `mkdir`, `chmod` and `logger` call (the runcmd must not reach any but the fetch step's own).
   */
  function runcmd(): Promise<Run & { calls: string[] }> {
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    mkdirSync(path.join(dir, "root"));
    const calls = path.join(dir, "calls.log");
    writeFileSync(calls, "");
    const script = path.join(dir, "ha-fetch-bundle");
    writeFileSync(script, fileOf("/usr/local/sbin/ha-fetch-bundle"), { mode: 0o755 });
    writeFileSync(path.join(dir, "node.env"), env);
    symlinkSync(emu.awsCli, path.join(bin, "aws"));
    for (const name of ["systemctl", "logger"]) writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\n`, { mode: 0o755 });
    for (const name of ["mkdir", "chmod"]) {
      // Inside the test directory the real program runs; anything else is only recorded.
      writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\ncase "$*" in *${dir}*) exec /usr/bin/env -u PATH /bin/${name} "$@" ;; esac\n`, { mode: 0o755 });
    }
    const entries = doc.runcmd.map((c, i) => (i === 0 && typeof c === "string" ? c.replace("/usr/local/sbin/ha-fetch-bundle", script) : c));
    expect(doc.runcmd[0]).toBe("/usr/local/sbin/ha-fetch-bundle || exit 1");
    const runcmdScript = path.join(dir, "runcmd");
    writeFileSync(runcmdScript, shellify(entries));
    chmodSync(runcmdScript, 0o755);
    return new Promise((resolve) => {
      execFile(
        "/bin/sh",
        [runcmdScript],
        {
          env: {
            PATH: `${bin}:/usr/bin:/bin`,
            HOME: dir,
            ...emu.env,
            AWS_DEFAULT_REGION: "",
            AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint,
            ENV_FILE: path.join(dir, "node.env"),
            BUNDLE_ROOT: path.join(dir, "root"),
            BUNDLE_DIR: path.join(dir, "bundle"),
            FETCH_ATTEMPTS: "1",
          },
          timeout: 120000,
        },
        (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr, calls: readFileSync(calls, "utf8").trim().split("\n").filter((l) => l !== "") }),
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
    expect(r.calls.filter((c) => !c.startsWith("logger ") && !c.includes(dir))).toEqual([]);
  }, 120000);

  it("refuses a bundle the node cannot download, extracting nothing", async () => {
    emu.aws("s3api", "delete-object", "--bucket", BUCKET, "--key", KEY);
    const r = await runcmd();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERROR: could not download s3:\/\/.+ after 1 attempts; nothing extracted/);
    expect(extracted()).toEqual([]);
    expect(r.calls.filter((c) => c.startsWith("systemctl "))).toEqual([]);
  }, 120000);
});
