/**
 * Runs the real ha-kube-configure script against a stub `aws`: the first API server creates the
 * secrets-encryption key, a second one reuses it (first writer wins), manifests get the slot IP
 * and land 0600. When a certificate or key the manifests name is missing, empty or unreadable, it
 * fails naming the file and writes no manifest (the unit fails visibly instead of the API server
 * crash-looping).
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { renderApiServerManifest } from "../../../lib";
import { describeTier, toolAvailable } from "../../harness/tiers";
import { renderedScript } from "../../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-kube-configure.sh");

/** A stub Secrets Manager shared by several "nodes": one value, fixed-token idempotency. */
function stubAws(dir: string): string {
  const bin = path.join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    path.join(bin, "aws"),
    `#!/usr/bin/env bash
store="${dir}/secret"
case "$*" in
  "secretsmanager get-secret-value --secret-id c/control-plane/encryption-key --query SecretString --output text")
    [ -e "$store" ] || { echo "ResourceNotFoundException" >&2; exit 254; }
    cat "$store" ;;
  secretsmanager\\ put-secret-value*)
    value=$(echo "$*" | sed -E 's/.*--secret-string ([^ ]+) .*/\\1/')
    if [ -e "$store" ] && [ "$(cat "$store")" != "$value" ]; then echo "ResourceExistsException" >&2; exit 254; fi
    printf '%s' "$value" > "$store" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`,
  );
  writeFileSync(path.join(bin, "logger"), "#!/usr/bin/env bash\nexit 0\n");
  chmodSync(path.join(bin, "aws"), 0o755);
  chmodSync(path.join(bin, "logger"), 0o755);
  return bin;
}

describeTier("ha-kube-configure (real bash, stubbed AWS)", toolAvailable("bash", ["--version"]), { mandatoryInCi: true, tierLabel: "node e2e" }, () => {
  const root = mkdtempSync(path.join(tmpdir(), "kube-configure-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const bin = stubAws(root);
  const template = renderApiServerManifest({ clusterName: "c", kubernetesVersion: "1.33.5", advertiseAddress: "@@SLOT_IP@@", etcdServers: ["https://10.0.0.20:2379"], serviceCidr: "10.96.0.0/12", podCidr: "10.244.0.0/16", clusterDomain: "cluster.local", shutdownDelaySeconds: 20 });

  /** Certificate and key files the manifest names (the pod's /etc/kubernetes/pki is PKI_DIR on the host). */
  const pkiFiles = [...new Set(template.match(/\/etc\/kubernetes\/pki\/[A-Za-z0-9._/-]+/g) ?? [])].map((p) => p.slice("/etc/kubernetes/pki/".length));

  /** A node directory with env, slot, the manifest template and (unless told otherwise) its PKI files. */
  function node(name: string, slotIp: string, pki: (file: string) => string | undefined = () => "-----BEGIN CERTIFICATE-----\n") {
    const dir = path.join(root, name);
    for (const d of ["run", "templates", "manifests", "etc", "pki/etcd"]) mkdirSync(path.join(dir, d), { recursive: true });
    writeFileSync(path.join(dir, "node.env"), `ENCRYPTION_KEY_SECRET='c/control-plane/encryption-key'\nPKI_DIR='${dir}/pki'\n`);
    writeFileSync(path.join(dir, "run/slot.env"), `SLOT_NAME=${name}\nSLOT_IP=${slotIp}\n`);
    writeFileSync(path.join(dir, "templates/kube-apiserver.yaml"), template);
    for (const f of pkiFiles) {
      const content = pki(f);
      if (content !== undefined) writeFileSync(path.join(dir, "pki", f), content, { mode: 0o600 });
    }
    return dir;
  }

  function configure(dir: string) {
    return run("bash", [SCRIPT], {
      env: {
        PATH: `${bin}:/usr/bin:/bin`,
        ENV_FILE: path.join(dir, "node.env"),
        STATE_DIR: path.join(dir, "run"),
        TEMPLATE_DIR: path.join(dir, "templates"),
        MANIFEST_DIR: path.join(dir, "manifests"),
        KUBECONFIG_TEMPLATE_DIR: path.join(dir, "kubeconfigs"),
        KUBE_DIR: path.join(dir, "etc"),
        ENCRYPTION_CONFIG: path.join(dir, "etc/encryption-config.yaml"),
      },
      timeout: 20000,
    });
  }

  async function boot(name: string, slotIp: string) {
    const dir = node(name, slotIp);
    await configure(dir);
    return dir;
  }

  it("creates the key on the first API server and reuses it on the others", async () => {
    const a = await boot("apiserver-0", "10.0.0.10");
    const b = await boot("apiserver-1", "10.0.16.10");
    const configA = parse(readFileSync(path.join(a, "etc/encryption-config.yaml"), "utf8"));
    const configB = parse(readFileSync(path.join(b, "etc/encryption-config.yaml"), "utf8"));
    const key = configA.resources[0].providers[0].secretbox.keys[0].secret;
    expect(Buffer.from(key, "base64")).toHaveLength(32);
    expect(configB.resources[0].providers[0].secretbox.keys[0].secret).toBe(key);
    expect(statSync(path.join(a, "etc/encryption-config.yaml")).mode & 0o777).toBe(0o600);
  });

  it("writes the manifest with the node's slot IP, 0600", async () => {
    const dir = await boot("apiserver-2", "10.0.32.10");
    const manifest = path.join(dir, "manifests/kube-apiserver.yaml");
    const pod = parse(readFileSync(manifest, "utf8"));
    expect(pod.spec.containers[0].command).toContain("--advertise-address=10.0.32.10");
    expect(readFileSync(manifest, "utf8")).not.toContain("@@SLOT_IP@@");
    expect(statSync(manifest).mode & 0o777).toBe(0o600);
  });

  it("names the manifest's certificate files (the failure tests below are not vacuous)", () => {
    expect(pkiFiles).toEqual(expect.arrayContaining(["apiserver.crt", "apiserver.key", "ca.crt", "etcd/ca.crt", "sa.pub"]));
  });

  it.each([
    ["missing", "apiserver.key", undefined],
    ["empty", "etcd/ca.crt", ""],
  ])("fails naming the certificate file when it is %s (%s) and writes no manifest", async (_kind, file, content) => {
    const dir = node(`apiserver-${file.replace(/[^a-z]/g, "")}`, "10.0.48.10", (f) => (f === file ? content : "-----BEGIN CERTIFICATE-----\n"));
    const failure = await configure(dir).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain(`ha-kube-configure: ERROR: ${path.join(dir, "pki", file)} is missing, empty or unreadable`);
    expect(readdirSync(path.join(dir, "manifests"))).toEqual([]);
    expect(existsSync(path.join(dir, "etc/encryption-config.yaml"))).toBe(false);
  });

  it("fails when a certificate path is a directory (unreadable as a file)", async () => {
    const dir = node("apiserver-dir", "10.0.64.10");
    rmSync(path.join(dir, "pki/ca.crt"));
    mkdirSync(path.join(dir, "pki/ca.crt"));
    await expect(configure(dir)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining(`${path.join(dir, "pki/ca.crt")} is missing, empty or unreadable`) });
    expect(readdirSync(path.join(dir, "manifests"))).toEqual([]);
  });

  it("never starts a unit itself (kubelet.service follows this unit; a start job from here would deadlock)", async () => {
    const calls = path.join(root, "systemctl-calls");
    writeFileSync(path.join(bin, "systemctl"), `#!/usr/bin/env bash\necho "$*" >> "${calls}"\n`);
    chmodSync(path.join(bin, "systemctl"), 0o755);
    try {
      const dir = await boot("apiserver-3", "10.0.80.10");
      expect(existsSync(path.join(dir, "manifests/kube-apiserver.yaml"))).toBe(true);
      expect(existsSync(calls) ? readFileSync(calls, "utf8") : "").toBe("");
    } finally {
      rmSync(path.join(bin, "systemctl"));
    }
  });
});
