/**
 * Runs the real ha-fetch-secrets script (bash + python3) against a stub `aws` that returns a secret
 * shaped like the one ClusterPki stores: files land 0600 in the PKI directory, unchanged files are
 * not rewritten, and a secret that tries to escape the directory is refused.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { renderNodeEnv } from "../../lib";
import { describeTier, toolAvailable } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-fetch-secrets.sh");

function node(files: Record<string, string>) {
  const dir = mkdtempSync(path.join(tmpdir(), "fetch-secrets-"));
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  mkdirSync(path.join(dir, "run"));
  writeFileSync(path.join(dir, "secret.json"), JSON.stringify({ files }));
  writeFileSync(
    path.join(bin, "aws"),
    `#!/usr/bin/env bash\necho "aws $*" >> "${dir}/calls.log"\n[ "$*" = "secretsmanager get-secret-value --secret-id prod/control-plane/etcd-1 --query SecretString --output text" ] || exit 3\ncat "${dir}/secret.json"\n`,
  );
  writeFileSync(path.join(bin, "logger"), "#!/usr/bin/env bash\nexit 0\n");
  for (const f of ["aws", "logger"]) chmodSync(path.join(bin, f), 0o755);
  writeFileSync(path.join(dir, "node.env"), renderNodeEnv({ clusterName: "prod", nodeRole: "etcd", slotName: "etcd-1", secretPrefix: "prod/control-plane", pkiDir: path.join(dir, "pki") }));
  writeFileSync(path.join(dir, "run/slot.env"), "SLOT_NAME=etcd-1\nSLOT_IP=10.0.16.20\n");
  const fetch = () =>
    run("bash", [SCRIPT], {
      env: { PATH: `${bin}:/usr/bin:/bin`, ENV_FILE: path.join(dir, "node.env"), STATE_DIR: path.join(dir, "run"), AWS_DEFAULT_REGION: "eu-west-1" },
      timeout: 20000,
    });
  return { dir, fetch };
}

describeTier("ha-fetch-secrets (real bash and python3, stubbed AWS)", toolAvailable("python3", ["--version"]), { tierLabel: "node e2e" }, () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("writes the slot's files 0600 and reports them", async () => {
    const n = node({ "etcd/ca.crt": "CA\n", "etcd/peer.key": "KEY\n", "etcd/peer.crt": "CERT\n" });
    dirs.push(n.dir);
    const { stdout } = await n.fetch();
    expect(stdout.trim().split("\n").sort()).toEqual(["etcd/ca.crt", "etcd/peer.crt", "etcd/peer.key"]);
    expect(readFileSync(path.join(n.dir, "pki/etcd/peer.key"), "utf8")).toBe("KEY\n");
    for (const f of ["etcd/ca.crt", "etcd/peer.key", "etcd/peer.crt"]) expect(statSync(path.join(n.dir, "pki", f)).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(n.dir, "pki")).mode & 0o777).toBe(0o700);
  });

  it("rewrites only what changed on a refresh (a renewed certificate)", async () => {
    const n = node({ "etcd/ca.crt": "CA\n", "etcd/peer.crt": "CERT\n" });
    dirs.push(n.dir);
    await n.fetch();
    expect((await n.fetch()).stdout).toBe("");
    writeFileSync(path.join(n.dir, "secret.json"), JSON.stringify({ files: { "etcd/ca.crt": "CA\n", "etcd/peer.crt": "RENEWED\n" } }));
    expect((await n.fetch()).stdout.trim()).toBe("etcd/peer.crt");
  });

  it.each([
    ["a command substitution", "SLOT_NAME=$(touch PWNED)"],
    ["a command list", "SLOT_NAME=etcd-1; touch PWNED"],
    ["a quoted command list", "SLOT_NAME='etcd-1'; touch PWNED"],
    ["an unknown key", "PATH=/tmp/evil"],
  ])("parses slot.env and refuses %s in it without running anything", async (_what, line) => {
    const n = node({ "etcd/ca.crt": "CA\n" });
    dirs.push(n.dir);
    writeFileSync(path.join(n.dir, "run/slot.env"), `${line.replace("PWNED", path.join(n.dir, "pwned"))}\nSLOT_IP=10.0.16.20\n`);
    await expect(n.fetch()).rejects.toThrow(/refusing .*slot\.env/);
    expect(existsSync(path.join(n.dir, "pwned"))).toBe(false);
    expect(existsSync(path.join(n.dir, "calls.log"))).toBe(false);
  });

  it("refuses a secret that would write outside the PKI directory", async () => {
    const n = node({ "../../etc/passwd": "x" });
    dirs.push(n.dir);
    await expect(n.fetch()).rejects.toThrow(/refusing to write outside/);
    expect(existsSync(path.join(n.dir, "etc/passwd"))).toBe(false);
  });
});
