/**
 * Static checks with real tools on what nodes run: shellcheck on every script, `cloud-init schema`
 * on the user data of every role as synthesized, and EC2's 16 KB user-data limit.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { EtcdTopology, HaControlPlane, USER_DATA_LIMIT_BYTES } from "../../lib";
import { describeTier, toolAvailable } from "../harness/tiers";
import { rawUserDataOf, resources, synth, synthStack, userDataOf } from "../helpers/synth";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPTS = path.resolve(__dirname, "../../lib/bootstrap/scripts");

/** Every launch template's user data in the reference cluster and the stacked variant, by template name. */
function allUserData(): Array<[string, string]> {
  const ref = synthStack(new HaClusterStack(Testing.app(), "ref"));
  const stacked = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "st", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0", etcdTopology: EtcdTopology.STACKED }));
  return [...resources(ref, "aws_launch_template"), ...resources(stacked, "aws_launch_template")].map((lt) => [lt.props.name as string, userDataOf(lt)]);
}

/** Raw (compressed) user data sizes as EC2 receives them. */
function rawSizes(): Array<[string, number, number]> {
  const ref = synthStack(new HaClusterStack(Testing.app(), "ref"));
  // Stacked etcd puts every role on the API servers: the largest user data there is.
  const stacked = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "a-forty-character-cluster-name-for-tests", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0", etcdTopology: EtcdTopology.STACKED, apiServerCount: 3 }));
  return [...resources(ref, "aws_launch_template"), ...resources(stacked, "aws_launch_template")].map((lt) => [lt.props.name as string, rawUserDataOf(lt).length, Buffer.byteLength(userDataOf(lt))]);
}

describe("user data size", () => {
  const sizes = rawSizes();
  afterAll(() => console.log(`user data sizes (bytes as EC2 receives them, limit ${USER_DATA_LIMIT_BYTES}):\n${sizes.map(([n, raw, text]) => `  ${n}: ${raw} compressed, ${text} uncompressed`).join("\n")}`));
  it.each(sizes)("%s fits EC2's 16 KB limit with room to grow: at most half of it (%i bytes compressed, %i uncompressed)", (_name, raw) => {
    // The static files live in the bootstrap bundle: what stays (node.env, the fetch step) is small,
    // and a role's growth goes into the bundle, not here.
    expect(raw).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES / 2);
  });
});

describeTier("shellcheck on node scripts", toolAvailable("shellcheck", ["--version"]), { tierLabel: "node e2e" }, () => {
  const scripts = readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh"));
  it("finds the scripts", () => expect(scripts.length).toBeGreaterThan(0));
  it.each(scripts)("%s is shellcheck clean, as written and as nodes receive it", async (file) => {
    for (const target of [path.join(SCRIPTS, file), renderedScript(file)]) {
      const { stdout } = await run("shellcheck", ["--severity=style", "--format=gcc", "--exclude=SC1090,SC1091", target]).catch((e: { stdout: string }) => ({ stdout: e.stdout || String(e) }));
      expect(stdout).toBe("");
    }
  });
});

describeTier("cloud-init schema on rendered user data", toolAvailable("cloud-init", ["--version"]), { tierLabel: "node e2e" }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "user-data-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it.each(allUserData())("%s is a valid cloud-config", async (name, text) => {
    const file = path.join(dir, `${name.replace(/[^A-Za-z0-9-]/g, "_")}.yaml`);
    writeFileSync(file, text);
    const { stdout, stderr } = await run("cloud-init", ["schema", "--config-file", file]).catch((e: { stdout: string; stderr: string }) => {
      throw new Error(`cloud-init schema rejected ${name}:\n${e.stdout}\n${e.stderr}`);
    });
    expect(`${stdout}${stderr}`).toMatch(/Valid cloud-config/);
  });
  it("rejects a broken cloud-config (the check can fail)", async () => {
    const file = path.join(dir, "broken.yaml");
    writeFileSync(file, "#cloud-config\nwrite_files: 42\nruncmd: {a: 1}\n");
    await expect(run("cloud-init", ["schema", "--config-file", file])).rejects.toBeDefined();
  });
});
