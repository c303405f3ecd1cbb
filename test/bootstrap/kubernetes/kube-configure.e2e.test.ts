/**
 * Runs the real ha-kube-configure script against a stub `aws`: the first API server creates the
 * secrets-encryption key, a second one reuses it (first writer wins), manifests get the slot IP
 * and land 0600.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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

  async function boot(name: string, slotIp: string) {
    const dir = path.join(root, name);
    for (const d of ["run", "templates", "manifests", "etc"]) mkdirSync(path.join(dir, d), { recursive: true });
    writeFileSync(path.join(dir, "node.env"), "ENCRYPTION_KEY_SECRET='c/control-plane/encryption-key'\n");
    writeFileSync(path.join(dir, "run/slot.env"), `SLOT_NAME=${name}\nSLOT_IP=${slotIp}\n`);
    writeFileSync(path.join(dir, "templates/kube-apiserver.yaml"), template);
    await run("bash", [SCRIPT], {
      env: {
        PATH: `${bin}:/usr/bin:/bin`,
        ENV_FILE: path.join(dir, "node.env"),
        STATE_DIR: path.join(dir, "run"),
        TEMPLATE_DIR: path.join(dir, "templates"),
        MANIFEST_DIR: path.join(dir, "manifests"),
        ENCRYPTION_CONFIG: path.join(dir, "etc/encryption-config.yaml"),
        START_KUBELET: "false",
      },
      timeout: 20000,
    });
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
});
