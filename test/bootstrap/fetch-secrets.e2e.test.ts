/**
 * Runs the real ha-fetch-secrets script (bash + python3) with the real AWS CLI against the AWS
 * emulator's Secrets Manager (moto), holding a secret shaped like the one ClusterPki stores: files
 * land 0600 in the PKI directory, unchanged files are not rewritten, a renewed certificate written
 * to the secret (a new version) reaches the node, and a secret that tries to escape the directory
 * is refused. Without AWS_DEFAULT_REGION the region comes from the instance metadata (the real curl
 * against the strict IMDSv2 stand-in of an instance that exists in the emulator).
 *
 * The node's `aws` is a recording wrapper that execs the real CLI: it lets the slot.env refusals
 * prove that no AWS call was made at all. `logger` records what goes to the journal. The script
 * runs with systemd's default UMask= (0022), as its unit does.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { renderNodeEnv } from "../../lib";
import { AwsEmulator, EMULATOR_REGION, awsEmulatorCheck, startAwsEmulator, startImds, withRegionOnlyImds } from "../harness/aws-emulator";
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
      writeFileSync(path.join(bin, "logger"), `#!/usr/bin/env bash\nprintf '%s\\n' "$*" >> "${dir}/journal.log"\n`);
      for (const f of ["aws", "logger"]) chmodSync(path.join(bin, f), 0o755);
      writeFileSync(path.join(dir, "node.env"), renderNodeEnv({ clusterName: "prod", nodeRole: "etcd", slotName: "etcd-1", secretPrefix: "prod/control-plane", pkiDir: path.join(dir, "pki") }));
      writeFileSync(path.join(dir, "run/slot.env"), "SLOT_NAME=etcd-1\nSLOT_IP=10.0.16.20\n");
      const fetch = (env: Record<string, string> = { AWS_DEFAULT_REGION: EMULATOR_REGION }) => {
        const withoutRegion = Object.fromEntries(Object.entries(emulator.env).filter(([k]) => k !== "AWS_DEFAULT_REGION"));
        return run("bash", ["-c", 'umask 0022 && exec bash "$0"', SCRIPT], {
          env: { ...withoutRegion, HOME: dir, PATH: `${bin}:/usr/bin:/bin`, TMPDIR: tmpdir(), ENV_FILE: path.join(dir, "node.env"), STATE_DIR: path.join(dir, "run"), ...env },
          timeout: 30000,
        });
      };
      const journal = () => (existsSync(path.join(dir, "journal.log")) ? readFileSync(path.join(dir, "journal.log"), "utf8") : "");
      return { dir, fetch, journal };
    }

    it("writes the slot's files 0600 and reports them, asking Secrets Manager for exactly its own secret", async () => {
      const n = await node({ "etcd/ca.crt": "CA\n", "etcd/peer.key": "KEY\n", "etcd/peer.crt": "CERT\n" });
      const { stdout, stderr } = await n.fetch();
      expect(stdout.trim().split("\n").sort()).toEqual(["etcd/ca.crt", "etcd/peer.crt", "etcd/peer.key"]);
      // What changed goes to stderr and the journal too.
      const line = `updated from ${SECRET_ID}: etcd/ca.crt etcd/peer.crt etcd/peer.key `;
      expect(stderr).toBe(`ha-fetch-secrets: ${line}\n`);
      expect(n.journal()).toBe(`-t ha-fetch-secrets -- ${line}\n`);
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
      const again = await n.fetch();
      expect(again.stdout).toBe("");
      expect(again.stderr).toBe("ha-fetch-secrets: certificates of etcd-1 unchanged\n");
      store({ "etcd/ca.crt": "CA\n", "etcd/peer.crt": "RENEWED\n" });
      expect((await n.fetch()).stdout.trim()).toBe("etcd/peer.crt");
      expect(readFileSync(path.join(n.dir, "pki/etcd/peer.crt"), "utf8")).toBe("RENEWED\n");
      expect(statSync(path.join(n.dir, "pki/etcd/ca.crt")).ino).toBe(before);
    });

    it.each([
      ["", "http://host:port"],
      ["/", "http://host:port/"],
    ])("takes the region from the instance metadata (IMDSv2) when AWS_DEFAULT_REGION is unset (endpoint %j appended: %s)", async (suffix) => {
      const n = await node({ "etcd/ca.crt": "CA\n" });
      const image = emulator.aws("ec2", "describe-images").Images[0].ImageId as string;
      const instanceId = emulator.aws("ec2", "run-instances", "--image-id", image, "--instance-type", "t3.small", "--placement", `AvailabilityZone=${EMULATOR_REGION}b`).Instances[0].InstanceId as string;
      const imds = await startImds(emulator, instanceId);
      try {
        const { stdout } = await n.fetch({ AWS_EC2_METADATA_SERVICE_ENDPOINT: `${imds.endpoint}${suffix}` });
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

    it("refuses a metadata endpoint with user info even when it would answer, asking it nothing", async () => {
      const n = await node({ "etcd/ca.crt": "CA\n" });
      const image = emulator.aws("ec2", "describe-images").Images[0].ImageId as string;
      const instanceId = emulator.aws("ec2", "run-instances", "--image-id", image, "--instance-type", "t3.small").Instances[0].InstanceId as string;
      const imds = await startImds(emulator, instanceId);
      try {
        const endpoint = imds.endpoint.replace("http://", "http://node@");
        const err = await n.fetch({ AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint }).then(() => undefined, (e: { code: number; stderr: string }) => e);
        expect(err?.code).toBe(1);
        expect(err?.stderr).toBe(`ha-fetch-secrets: refusing AWS_EC2_METADATA_SERVICE_ENDPOINT '${endpoint}': not http://host[:port]\n`);
        expect(imds.requests).toEqual([]);
        expect(existsSync(path.join(n.dir, "calls.log"))).toBe(false);
        expect(existsSync(path.join(n.dir, "pki"))).toBe(false);
      } finally {
        await imds.stop();
      }
    });

    it("refuses a region from the instance metadata that is not an AWS region name, calling no AWS API", async () => {
      const n = await node({ "etcd/ca.crt": "CA\n" });
      // A metadata service answering with a bad region after IMDSv2's token exchange.
      const region = "eu-west-1 --endpoint-url http://203.0.113.9";
      await withRegionOnlyImds(region, async (endpoint) => {
        const err = await n.fetch({ AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint }).then(() => undefined, (e: { code: number; stderr: string }) => e);
        expect(err?.code).toBe(1);
        expect(err?.stderr).toBe(`ha-fetch-secrets: refusing region '${region}' from the instance metadata\n`);
        expect(n.journal()).toBe(`-t ha-fetch-secrets -- refusing region '${region}' from the instance metadata\n`);
        expect(existsSync(path.join(n.dir, "calls.log"))).toBe(false);
        expect(existsSync(path.join(n.dir, "pki"))).toBe(false);
      });
    });

    it("refuses to run before ha-claim-slot has named the slot (no SLOT_NAME anywhere), calling no AWS API", async () => {
      const n = await node({ "etcd/ca.crt": "CA\n" });
      writeFileSync(path.join(n.dir, "node.env"), renderNodeEnv({ clusterName: "prod", nodeRole: "etcd", secretPrefix: "prod/control-plane", pkiDir: path.join(n.dir, "pki") }));
      writeFileSync(path.join(n.dir, "run/slot.env"), "");
      const err = await n.fetch().then(() => undefined, (e: { code: number; stderr: string }) => e);
      expect(err?.code).not.toBe(0);
      expect(err?.stderr).toMatch(/SLOT_NAME: SLOT_NAME missing: has ha-claim-slot run\?\n$/);
      expect(existsSync(path.join(n.dir, "calls.log"))).toBe(false);
      expect(existsSync(path.join(n.dir, "pki"))).toBe(false);
    });

    it("keeps the PKI directory and every directory it creates in it 0700 (CIS 1.1.19-1.1.21), also one that existed 0755", async () => {
      // etcd/ is created as a parent of etcd/member/ here (Python's os.makedirs gives the mode only to the leaf).
      const n = await node({ "ca.crt": "CA\n", "etcd/member/peer.key": "KEY\n" });
      mkdirSync(path.join(n.dir, "pki"), { mode: 0o755 });
      chmodSync(path.join(n.dir, "pki"), 0o755);
      await n.fetch();
      for (const d of ["pki", "pki/etcd", "pki/etcd/member"]) expect({ d, mode: (statSync(path.join(n.dir, d)).mode & 0o777).toString(8) }).toEqual({ d, mode: "700" });
      for (const f of ["pki/ca.crt", "pki/etcd/member/peer.key"]) expect({ f, mode: (statSync(path.join(n.dir, f)).mode & 0o777).toString(8) }).toEqual({ f, mode: "600" });
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
