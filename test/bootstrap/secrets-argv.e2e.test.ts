/**
 * Finding 7a (issue 14): no secret on a command line. Every process's argv is world-readable in
 * /proc/<pid>/cmdline, so a secret passed as an argument leaks to any local user while the process
 * runs. This runs the real ha-kube-configure (bash, the real AWS CLI against the AWS emulator)
 * under the real strace, recording every execve of the script and its children, and looks for the
 * secrets-encryption key it creates and the private keys it embeds into kubeconfigs in any argument.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { AwsEmulator, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-kube-configure.sh");
const SECRET = "c/control-plane/encryption-key";

describeTier("no secret in any argv (real ha-kube-configure, AWS CLI against moto, under strace)", allOf(toolAvailable("strace", ["-V"]), awsEmulatorCheck()), { tierLabel: "node e2e" }, () => {
  jest.setTimeout(180000);
  const dir = mkdtempSync(path.join(tmpdir(), "secrets-argv-"));
  let emulator!: AwsEmulator;
  afterAll(async () => {
    await emulator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the encryption key and writes kubeconfigs without a key in any process's arguments", async () => {
    emulator = await startAwsEmulator();
    emulator.aws("secretsmanager", "create-secret", "--name", SECRET);
    const bin = path.join(dir, "bin");
    for (const d of [bin, "run", "templates", "kubeconfigs", "manifests", "kube", "pki"].map((d) => path.resolve(dir, d))) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(bin, "logger"), "#!/usr/bin/env bash\nexit 0\n");
    writeFileSync(path.join(bin, "aws"), `#!/usr/bin/env bash\nexec ${JSON.stringify(emulator.awsCli)} "$@"\n`);
    for (const f of ["logger", "aws"]) chmodSync(path.join(bin, f), 0o755);
    writeFileSync(path.join(dir, "node.env"), `ENCRYPTION_KEY_SECRET='${SECRET}'\nPKI_DIR='${dir}/pki'\n`);
    writeFileSync(path.join(dir, "run/slot.env"), "SLOT_NAME=apiserver-0\nSLOT_IP=10.0.0.10\n");
    const schedulerKey = "-----BEGIN EC PRIVATE KEY-----\nSCHEDULERKEYMATERIAL0123456789\n-----END EC PRIVATE KEY-----\n";
    writeFileSync(path.join(dir, "pki/scheduler.key"), schedulerKey, { mode: 0o600 });
    writeFileSync(path.join(dir, "pki/scheduler.crt"), "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n", { mode: 0o600 });
    writeFileSync(
      path.join(dir, "kubeconfigs/scheduler.conf"),
      "apiVersion: v1\nkind: Config\nusers:\n- name: scheduler\n  user:\n    client-certificate-data: @@PKI_BASE64:scheduler.crt@@\n    client-key-data: @@PKI_BASE64:scheduler.key@@\n",
    );
    writeFileSync(path.join(dir, "templates/kube-scheduler.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    address: @@SLOT_IP@@\n");
    const trace = path.join(dir, "execve.trace");
    await run("strace", ["-f", "-qq", "-s", "1000000", "-e", "trace=execve", "-o", trace, "bash", SCRIPT], {
      env: {
        PATH: `${bin}:/usr/bin:/bin`,
        HOME: dir,
        ...emulator.env,
        ENV_FILE: path.join(dir, "node.env"),
        STATE_DIR: path.join(dir, "run"),
        TEMPLATE_DIR: path.join(dir, "templates"),
        MANIFEST_DIR: path.join(dir, "manifests"),
        KUBECONFIG_TEMPLATE_DIR: path.join(dir, "kubeconfigs"),
        KUBE_DIR: path.join(dir, "kube"),
        ENCRYPTION_CONFIG: path.join(dir, "kube/encryption-config.yaml"),
        KEY_RETRY_BASE_SECONDS: "0",
      },
      timeout: 150000,
    });
    // What the run produced: the key Secrets Manager now holds, the kubeconfig with the key inside.
    const key = emulator.aws("secretsmanager", "get-secret-value", "--secret-id", SECRET).SecretString as string;
    expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const embedded = Buffer.from(schedulerKey).toString("base64");
    expect(readFileSync(path.join(dir, "kube/scheduler.conf"), "utf8")).toContain(`client-key-data: ${embedded}`);

    const execs = readFileSync(trace, "utf8").split("\n").filter((l) => l.includes("execve("));
    expect(execs.length).toBeGreaterThan(5);
    const leaks = execs.filter((l) => l.includes(key) || l.includes(embedded) || l.includes("SCHEDULERKEYMATERIAL"));
    expect(leaks).toEqual([]);
  });
});
