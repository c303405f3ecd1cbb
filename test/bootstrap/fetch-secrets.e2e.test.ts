/**
 * Runs the real ha-fetch-secrets script (bash + python3) with the real AWS CLI against the AWS
 * emulator's Secrets Manager (moto), holding a secret shaped like the one ClusterPki stores: files
 * land 0600 in the PKI directory, unchanged files are not rewritten, a renewed certificate written
 * to the secret (a new version) reaches the node, and a secret that tries to escape the directory
 * is refused. Without AWS_DEFAULT_REGION the region comes from the instance metadata (the real curl
 * against the strict IMDSv2 stand-in of an instance that exists in the emulator).
 *
 * The node's `aws` is a recording wrapper that execs the real CLI: it lets the slot.env refusals
 * prove that no AWS call was made at all.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { renderNodeEnv } from "../../lib";
import { AwsEmulator, EMULATOR_REGION, awsEmulatorCheck, startAwsEmulator, startImds } from "../harness/aws-emulator";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-fetch-secrets.sh");
const SECRET_ID = "prod/control-plane/etcd-1";

describeTier(
  "ha-fetch-secrets (real bash, python3 and AWS CLI against moto's Secrets Manager; IMDS stand-in)",
  allOf(toolAvailable("python3", ["--version"]), toolAvailable("curl", ["--version"]), awsEmulatorCheck()),
  { tierLabel: "node e2e" },
  () => {
    jest.setTimeout(120000);
    const dirs: string[] = [];
    let emulator!: AwsEmulator;
    beforeAll(async () => {
      emulator = await startAwsEmulator();
    }, 60000);
    afterAll(async () => {
      await emulator?.stop();
      dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    });

    /** Stores `files` as the slot's secret (a new version of it when it exists). */
    function store(files: Record<string, string>): void {
      const value = JSON.stringify({ files });
      try {
        emulator.aws("secretsmanager", "put-secret-value", "--secret-id", SECRET_ID, "--secret-string", value);
      } catch {
        emulator.aws("secretsmanager", "create-secret", "--name", SECRET_ID, "--secret-string", value);
      }
    }

    async function node(files: Record<string, string>) {
      await emulator.reset();
      store(files);
      const dir = mkdtempSync(path.join(tmpdir(), "fetch-secrets-"));
      dirs.push(dir);
      const bin = path.join(dir, "bin");
      mkdirSync(bin);
      mkdirSync(path.join(dir, "run"));
      writeFileSync(path.join(bin, "aws"), `#!/usr/bin/env bash\nprintf '%s\\n' "$*" >> "${dir}/calls.log"\nexec ${JSON.stringify(emulator.awsCli)} "$@"\n`);
      writeFileSync(path.join(bin, "logger"), "#!/usr/bin/env bash\nexit 0\n");
      for (const f of ["aws", "logger"]) chmodSync(path.join(bin, f), 0o755);
      writeFileSync(path.join(dir, "node.env"), renderNodeEnv({ clusterName: "prod", nodeRole: "etcd", slotName: "etcd-1", secretPrefix: "prod/control-plane", pkiDir: path.join(dir, "pki") }));
      writeFileSync(path.join(dir, "run/slot.env"), "SLOT_NAME=etcd-1\nSLOT_IP=10.0.16.20\n");
      const fetch = (env: Record<string, string> = { AWS_DEFAULT_REGION: EMULATOR_REGION }) => {
        const withoutRegion = Object.fromEntries(Object.entries(emulator.env).filter(([k]) => k !== "AWS_DEFAULT_REGION"));
        return run("bash", [SCRIPT], {
          env: { ...withoutRegion, HOME: dir, PATH: `${bin}:/usr/bin:/bin`, ENV_FILE: path.join(dir, "node.env"), STATE_DIR: path.join(dir, "run"), ...env },
          timeout: 30000,
        });
      };
      return { dir, fetch };
    }

    it("writes the slot's files 0600 and reports them, asking Secrets Manager for exactly its own secret", async () => {
      const n = await node({ "etcd/ca.crt": "CA\n", "etcd/peer.key": "KEY\n", "etcd/peer.crt": "CERT\n" });
      const { stdout } = await n.fetch();
      expect(stdout.trim().split("\n").sort()).toEqual(["etcd/ca.crt", "etcd/peer.crt", "etcd/peer.key"]);
      expect(readFileSync(path.join(n.dir, "pki/etcd/peer.key"), "utf8")).toBe("KEY\n");
      for (const f of ["etcd/ca.crt", "etcd/peer.key", "etcd/peer.crt"]) expect(statSync(path.join(n.dir, "pki", f)).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(n.dir, "pki")).mode & 0o777).toBe(0o700);
      expect(readFileSync(path.join(n.dir, "calls.log"), "utf8")).toBe(`secretsmanager get-secret-value --secret-id ${SECRET_ID} --query SecretString --output text\n`);
    });

    it("fails, writing nothing, when the slot's secret does not exist", async () => {
      const n = await node({ "etcd/ca.crt": "CA\n" });
      emulator.aws("secretsmanager", "delete-secret", "--secret-id", SECRET_ID, "--force-delete-without-recovery");
      const err = await n.fetch().then(() => undefined, (e: { stderr: string }) => e);
      expect(err?.stderr).toMatch(/ResourceNotFoundException/);
      expect(err?.stderr).toContain(`ha-fetch-secrets: ERROR: cannot read secret ${SECRET_ID} (the AWS CLI's error is above): no certificate written\n`);
      expect(existsSync(path.join(n.dir, "pki/etcd/ca.crt"))).toBe(false);
    });

    it("fails, writing nothing, when the slot's secret is scheduled for deletion (Secrets Manager refuses its value during the recovery window)", async () => {
      const n = await node({ "etcd/ca.crt": "CA\n" });
      emulator.aws("secretsmanager", "delete-secret", "--secret-id", SECRET_ID, "--recovery-window-in-days", "7");
      const err = await n.fetch().then(() => undefined, (e: { stderr: string }) => e);
      expect(err?.stderr).toMatch(/InvalidRequestException/);
      expect(err?.stderr).toContain(`ha-fetch-secrets: ERROR: cannot read secret ${SECRET_ID} (the AWS CLI's error is above): no certificate written\n`);
      expect(existsSync(path.join(n.dir, "pki"))).toBe(false);
    });

    it("rewrites only what changed on a refresh (a renewed certificate stored as a new secret version)", async () => {
      const n = await node({ "etcd/ca.crt": "CA\n", "etcd/peer.crt": "CERT\n" });
      await n.fetch();
      const before = statSync(path.join(n.dir, "pki/etcd/ca.crt")).ino;
      expect((await n.fetch()).stdout).toBe("");
      store({ "etcd/ca.crt": "CA\n", "etcd/peer.crt": "RENEWED\n" });
      expect((await n.fetch()).stdout.trim()).toBe("etcd/peer.crt");
      expect(readFileSync(path.join(n.dir, "pki/etcd/peer.crt"), "utf8")).toBe("RENEWED\n");
      expect(statSync(path.join(n.dir, "pki/etcd/ca.crt")).ino).toBe(before);
    });

    it("takes the region from the instance metadata (IMDSv2) when AWS_DEFAULT_REGION is unset", async () => {
      const n = await node({ "etcd/ca.crt": "CA\n" });
      const image = emulator.aws("ec2", "describe-images").Images[0].ImageId as string;
      const instanceId = emulator.aws("ec2", "run-instances", "--image-id", image, "--instance-type", "t3.small", "--placement", `AvailabilityZone=${EMULATOR_REGION}b`).Instances[0].InstanceId as string;
      const imds = await startImds(emulator, instanceId);
      try {
        const { stdout } = await n.fetch({ AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint });
        expect(stdout.trim()).toBe("etcd/ca.crt");
        expect(imds.requests).toEqual(["PUT /latest/api/token 200", "GET /latest/meta-data/placement/region 200"]);
      } finally {
        await imds.stop();
      }
    });

    it("refuses a metadata endpoint that is not http://host[:port] before calling anything", async () => {
      const n = await node({ "etcd/ca.crt": "CA\n" });
      await expect(n.fetch({ AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://x/$(touch pwned)" })).rejects.toThrow(/refusing AWS_EC2_METADATA_SERVICE_ENDPOINT/);
      expect(existsSync(path.join(n.dir, "calls.log"))).toBe(false);
    });

    it.each([
      ["a command substitution", "SLOT_NAME=$(touch PWNED)"],
      ["a command list", "SLOT_NAME=etcd-1; touch PWNED"],
      ["a quoted command list", "SLOT_NAME='etcd-1'; touch PWNED"],
      ["an unknown key", "PATH=/tmp/evil"],
    ])("parses slot.env and refuses %s in it without running anything", async (_what, line) => {
      const n = await node({ "etcd/ca.crt": "CA\n" });
      writeFileSync(path.join(n.dir, "run/slot.env"), `${line.replace("PWNED", path.join(n.dir, "pwned"))}\nSLOT_IP=10.0.16.20\n`);
      await expect(n.fetch()).rejects.toThrow(/refusing .*slot\.env/);
      expect(existsSync(path.join(n.dir, "pwned"))).toBe(false);
      expect(existsSync(path.join(n.dir, "calls.log"))).toBe(false);
    });

    it("refuses a secret that would write outside the PKI directory", async () => {
      const n = await node({ "../../etc/passwd": "x" });
      await expect(n.fetch()).rejects.toThrow(/refusing to write outside/);
      expect(existsSync(path.join(n.dir, "etc/passwd"))).toBe(false);
    });
  },
);
