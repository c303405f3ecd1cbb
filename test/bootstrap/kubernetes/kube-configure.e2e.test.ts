/**
 * Runs the real ha-kube-configure script with the real AWS CLI against the AWS emulator (moto), with
 * a strict fault-injection proxy in front of it for the answers moto never gives by itself.
 *
 * Secrets-encryption key (issue 14 finding 4): the first API server creates the key and the others
 * reuse it; only ResourceNotFoundException means "no key yet" - AccessDenied or throttling is
 * retried with bounded backoff and then fails the unit without creating a key; a second node racing
 * the first never replaces the key (the fixed idempotency token makes Secrets Manager refuse its
 * value); a rotation keeps the old key decrypt-only and the key names stable.
 *
 * Manifests get the slot IP and land 0600. When a certificate or key the manifests name is missing,
 * empty or unreadable, it fails naming the file and writes no manifest.
 *
 * Certificate renewal (issue 18 finding 3): `--refresh-kubeconfigs` (run after each certificate
 * refresh) rewrites a component kubeconfig whose embedded certificate changed, changes only the
 * manifest of the pod that reads it (the kubelet restarts a static pod exactly when its manifest
 * changes), try-restarts the kubelet when its own kubeconfig changed, leaves everything else
 * byte-identical and calls no AWS API.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { ControlPlaneComponent, KUBECONFIG_HASH_ANNOTATION, renderApiServerManifest, renderComponentKubeconfig, renderControllerManagerManifest, renderKubeletKubeconfig, renderSchedulerManifest } from "../../../lib";
import { startImdsRegionStandIn } from "../../harness/imds-region-standin";
import { AwsEmulator, EMULATOR_REGION, MOTO_SETUP_COMMAND, awsEmulatorCheck, startAwsEmulator } from "../../harness/aws-emulator";
import { FaultProxy, startFaultProxy } from "../../harness/fault-proxy";
import { allOf, describeTier, toolAvailable } from "../../harness/tiers";
import { inView, overlayMount } from "../../controlplane/node-view";
import { renderedScript } from "../../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-kube-configure.sh");

// The real AWS CLI takes about 2 s to start, and a boot makes 3 to 5 calls.
jest.setTimeout(180000);

const SECRET = "c/control-plane/encryption-key";
/** The version id the first key is written with (the script's fixed idempotency token). */
const INITIAL_TOKEN = "ha-control-plane-initial-encryption-key-v1";

interface KeyEntry {
  readonly name: string;
  readonly secret: string;
}

describeTier(`ha-kube-configure against the AWS emulator (real bash, AWS CLI; setup: ${MOTO_SETUP_COMMAND})`, allOf(toolAvailable("bash", ["--version"]), toolAvailable("unshare", ["--version"]), toolAvailable("setpriv", ["--version"]), awsEmulatorCheck()), { tierLabel: "AWS emulator" }, () => {
  const root = mkdtempSync(path.join(tmpdir(), "kube-configure-"));
  const bin = path.join(root, "bin");
  let emulator!: AwsEmulator;
  let proxy!: FaultProxy;
  /** Puts an executable `name` with `text` in the nodes' bin directory (first on their PATH). */
  const onPath = (name: string, text: string) => {
    writeFileSync(path.join(bin, name), text);
    chmodSync(path.join(bin, name), 0o755);
  };
  beforeAll(async () => {
    emulator = await startAwsEmulator();
    proxy = await startFaultProxy(emulator.endpoint);
    mkdirSync(bin, { recursive: true });
    // logger's stand-in keeps each line it is given in the node's journal file ($HOME is the node's directory).
    onPath("logger", '#!/usr/bin/env bash\necho "$*" >>"$HOME/journal" 2>/dev/null\nexit 0\n');
    // The node's aws is the real CLI from the emulator's virtualenv.
    onPath("aws", `#!/usr/bin/env bash\nexec ${JSON.stringify(emulator.awsCli)} "$@"\n`);
  }, 60000);
  afterAll(async () => {
    await proxy?.stop();
    await emulator?.stop();
    rmSync(root, { recursive: true, force: true });
  });
  /** A fresh secret without a value, as Terraform creates it. */
  async function freshSecret() {
    proxy.clear();
    proxy.log.length = 0;
    await emulator.reset();
    emulator.aws("secretsmanager", "create-secret", "--name", SECRET);
  }
  const versions = (): { VersionId: string; VersionStages: string[] }[] => emulator.aws("secretsmanager", "list-secret-version-ids", "--secret-id", SECRET).Versions;
  const valueOf = (stage: string): string => emulator.aws("secretsmanager", "get-secret-value", "--secret-id", SECRET, "--version-stage", stage).SecretString;
  const keysOf = (dir: string, file = "etc/encryption-config.yaml"): KeyEntry[] => {
    const config = parse(readFileSync(path.join(dir, file), "utf8"));
    expect(config.resources[0].providers[1]).toEqual({ identity: {} });
    return config.resources[0].providers[0].secretbox.keys;
  };
  const failureOf = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
  const template = renderApiServerManifest({ clusterName: "c", kubernetesVersion: "1.33.5", advertiseAddress: "@@SLOT_IP@@", etcdServers: ["https://10.0.0.20:2379"], serviceCidr: "10.96.0.0/12", podCidr: "10.244.0.0/16", clusterDomain: "cluster.local", shutdownDelaySeconds: 20 });

  /** Certificate and key files the manifest names (the pod's /etc/kubernetes/pki is PKI_DIR on the host). */
  const pkiFiles = [...new Set(template.match(/\/etc\/kubernetes\/pki\/[A-Za-z0-9._/-]+/g) ?? [])].map((p) => p.slice("/etc/kubernetes/pki/".length));

  /** A node directory with env, slot, the manifest template and (unless told otherwise) its PKI files. */
  function node(name: string, slotIp: string, pki: (file: string) => string | undefined = () => "-----BEGIN CERTIFICATE-----\n") {
    const dir = path.join(root, name);
    // etc/ and manifests/ are the script's to create.
    for (const d of ["run", "templates", "pki/etcd", "tmp"]) mkdirSync(path.join(dir, d), { recursive: true });
    writeFileSync(path.join(dir, "node.env"), `ENCRYPTION_KEY_SECRET='c/control-plane/encryption-key'\nPKI_DIR='${dir}/pki'\n`);
    writeFileSync(path.join(dir, "run/slot.env"), `SLOT_NAME=${name}\nSLOT_IP=${slotIp}\n`);
    writeFileSync(path.join(dir, "templates/kube-apiserver.yaml"), template);
    for (const f of pkiFiles) {
      const content = pki(f);
      if (content !== undefined) writeFileSync(path.join(dir, "pki", f), content, { mode: 0o600 });
    }
    return dir;
  }

  /** The certificate files a kubeconfig template embeds (its @@PKI_BASE64:<file>@@ markers). */
  const markersOf = (text: string): string[] => [...text.matchAll(/@@PKI_BASE64:([A-Za-z0-9._-]+)@@/g)].map((m) => m[1]);
  /** The entries of a directory the script writes (none when it never created it). */
  const entries = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);
  /** The script's stderr, line by line. */
  const said = (stderr: string): string[] => stderr.trim().split("\n").filter((l) => l !== "");
  /** What the script passed to logger on node `dir`, call by call. */
  const journal = (dir: string): string[] => (existsSync(path.join(dir, "journal")) ? said(readFileSync(path.join(dir, "journal"), "utf8")) : []);

  /** The environment of a run on node `dir`: the node's paths under it, the AWS emulator behind the proxy. */
  const nodeEnv = (dir: string): Record<string, string> => ({
    PATH: `${bin}:/usr/bin:/bin`,
    HOME: dir,
    TMPDIR: path.join(dir, "tmp"),
    ...emulator.env,
    AWS_ENDPOINT_URL: proxy.endpoint,
    ENV_FILE: path.join(dir, "node.env"),
    STATE_DIR: path.join(dir, "run"),
    TEMPLATE_DIR: path.join(dir, "templates"),
    MANIFEST_DIR: path.join(dir, "manifests"),
    KUBECONFIG_TEMPLATE_DIR: path.join(dir, "kubeconfigs"),
    KUBE_DIR: path.join(dir, "etc"),
    ENCRYPTION_CONFIG: path.join(dir, "etc/encryption-config.yaml"),
  });

  /** Runs the script on node `dir` (its temporary files under dir/tmp, which it must leave empty). */
  async function configure(dir: string) {
    try {
      return await run("bash", [SCRIPT], {
        // The CLI's own retries off: the script's bounded backoff is what is tested.
        env: { ...nodeEnv(dir), AWS_MAX_ATTEMPTS: "1", KEY_RETRIES: "3", KEY_RETRY_BASE_SECONDS: "0" },
        timeout: 60000,
      });
    } finally {
      expect(readdirSync(path.join(dir, "tmp"))).toEqual([]);
    }
  }

  async function boot(name: string, slotIp: string) {
    const dir = node(name, slotIp);
    await configure(dir);
    return dir;
  }

  it("creates the key on the first API server and reuses it on the others", async () => {
    await freshSecret();
    const a = node("apiserver-0", "10.0.0.10");
    const first = await configure(a);
    const b = node("apiserver-1", "10.0.16.10");
    const second = await configure(b);
    // What each says, and nothing else (no tool's complaint on the way).
    expect(said(first.stderr)).toEqual(["ha-kube-configure: no secrets-encryption key yet: creating one", "ha-kube-configure: manifests written for apiserver-0 (10.0.0.10)"]);
    expect(said(second.stderr)).toEqual(["ha-kube-configure: manifests written for apiserver-1 (10.0.16.10)"]);
    // The same lines go to the journal, tagged (journalctl -t ha-kube-configure).
    expect(journal(a)).toEqual(["-t ha-kube-configure -- no secrets-encryption key yet: creating one", "-t ha-kube-configure -- manifests written for apiserver-0 (10.0.0.10)"]);
    expect(journal(b)).toEqual(["-t ha-kube-configure -- manifests written for apiserver-1 (10.0.16.10)"]);
    const [keyA, ...restA] = keysOf(a);
    expect(restA).toEqual([]);
    expect(keyA.name).toBe("key1");
    expect(Buffer.from(keyA.secret, "base64")).toHaveLength(32);
    expect(keysOf(b)).toEqual([keyA]);
    expect(versions()).toEqual([expect.objectContaining({ VersionId: INITIAL_TOKEN, VersionStages: ["AWSCURRENT"] })]);
    expect(valueOf("AWSCURRENT")).toBe(keyA.secret);
    expect(statSync(path.join(a, "etc/encryption-config.yaml")).mode & 0o777).toBe(0o600);
  });

  it.each(["AccessDeniedException", "ThrottlingException"])("creates no key when reading the secret answers %s, and fails after bounded retries", async (code) => {
    await freshSecret();
    proxy.inject({ target: "secretsmanager.GetSecretValue", code, times: 1000 });
    const dir = node(`apiserver-${code.slice(0, 6).toLowerCase()}`, "10.0.0.11");
    const failure = await failureOf(configure(dir));
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain(`reading ${SECRET} (AWSCURRENT) failed 3 times (${code})`);
    expect(proxy.log.filter((l) => l.target === "secretsmanager.GetSecretValue").length).toBe(3);
    expect(proxy.log.filter((l) => l.target === "secretsmanager.PutSecretValue")).toEqual([]);
    expect(versions()).toEqual([]);
    expect(existsSync(path.join(dir, "etc/encryption-config.yaml"))).toBe(false);
    expect(entries(path.join(dir, "manifests"))).toEqual([]);
  });

  it("keeps the existing key when a read is throttled and then succeeds", async () => {
    await freshSecret();
    const a = await boot("apiserver-0", "10.0.0.10");
    proxy.inject({ target: "secretsmanager.GetSecretValue", code: "ThrottlingException", times: 2 });
    const b = await boot("apiserver-1", "10.0.16.10");
    expect(keysOf(b)).toEqual(keysOf(a));
    expect(proxy.log.filter((l) => l.injected === "ThrottlingException")).toHaveLength(2);
    expect(versions()).toHaveLength(1);
  });

  it("fails without creating a key when AccessDenied persists on an existing key (the deployer removed read access)", async () => {
    await freshSecret();
    const a = await boot("apiserver-0", "10.0.0.10");
    const before = keysOf(a);
    proxy.inject({ target: "secretsmanager.GetSecretValue", code: "AccessDeniedException", times: 1000 });
    const failure = await failureOf(configure(a));
    expect(failure?.code).toBe(1);
    expect(said(failure!.stderr).slice(-2)).toEqual([
      expect.stringMatching(/^ha-kube-configure: ERROR: reading c\/control-plane\/encryption-key \(AWSCURRENT\) failed 3 times \(AccessDeniedException\)/),
      "ha-kube-configure: ERROR: no secrets-encryption key from c/control-plane/encryption-key (status 1); not writing the configuration",
    ]);
    expect(versions()).toHaveLength(1);
    expect(valueOf("AWSCURRENT")).toBe(before[0].secret);
  });

  it("fails when the key it just created cannot be read back, writing no configuration", async () => {
    await freshSecret();
    // The first read finds no key; the write goes through; every read after it is refused.
    proxy.inject({ target: "secretsmanager.GetSecretValue", code: "ResourceNotFoundException", times: 1 });
    proxy.inject({ target: "secretsmanager.GetSecretValue", code: "AccessDeniedException", times: 1000 });
    const dir = node("apiserver-reread", "10.0.0.14");
    const failure = await failureOf(configure(dir));
    expect(failure?.code).toBe(1);
    expect(said(failure!.stderr)).toEqual([
      "ha-kube-configure: no secrets-encryption key yet: creating one",
      expect.stringMatching(/^ha-kube-configure: reading c\/control-plane\/encryption-key \(AWSCURRENT\) failed \(AccessDeniedException\); retrying in 0s \(1\/3\)$/),
      expect.stringMatching(/^ha-kube-configure: reading c\/control-plane\/encryption-key \(AWSCURRENT\) failed \(AccessDeniedException\); retrying in 0s \(2\/3\)$/),
      expect.stringMatching(/^ha-kube-configure: ERROR: reading c\/control-plane\/encryption-key \(AWSCURRENT\) failed 3 times \(AccessDeniedException\)/),
      "ha-kube-configure: ERROR: no secrets-encryption key from c/control-plane/encryption-key (status 1); not writing the configuration",
    ]);
    expect(proxy.log.filter((l) => l.target === "secretsmanager.PutSecretValue" && l.injected === undefined)).toHaveLength(1);
    expect(versions()).toEqual([expect.objectContaining({ VersionId: INITIAL_TOKEN, VersionStages: ["AWSCURRENT"] })]);
    expect(existsSync(path.join(dir, "etc/encryption-config.yaml"))).toBe(false);
    expect(entries(path.join(dir, "manifests"))).toEqual([]);
  });

  it("never replaces the key when a second node wrongly believes there is none (a read racing the first write)", async () => {
    await freshSecret();
    const a = await boot("apiserver-0", "10.0.0.10");
    const key = keysOf(a)[0].secret;
    // The second node's first read answers as if before the first node's write.
    proxy.inject({ target: "secretsmanager.GetSecretValue", code: "ResourceNotFoundException", times: 1, bodyContains: '"AWSCURRENT"' });
    const b = node("apiserver-1", "10.0.16.10");
    const second = await configure(b);
    expect(said(second.stderr)).toEqual([
      "ha-kube-configure: no secrets-encryption key yet: creating one",
      "ha-kube-configure: another API server created the key first",
      "ha-kube-configure: manifests written for apiserver-1 (10.0.16.10)",
    ]);
    // It did try to write its own candidate, and Secrets Manager refused it.
    expect(proxy.log.some((l) => l.target === "secretsmanager.PutSecretValue" && l.injected === undefined)).toBe(true);
    expect(keysOf(b)).toEqual([{ name: "key1", secret: key }]);
    expect(versions()).toEqual([expect.objectContaining({ VersionId: INITIAL_TOKEN, VersionStages: ["AWSCURRENT"] })]);
    expect(valueOf("AWSCURRENT")).toBe(key);
  });

  it("rotates without a server losing an old key: next key decrypt-only first, then current, old key kept decrypt-only under its name", async () => {
    await freshSecret();
    const a = await boot("apiserver-0", "10.0.0.10");
    const old = keysOf(a)[0];
    // Step 1 (operator): the next key, labelled HA_NEXT, is only known to the servers.
    const next = Buffer.alloc(32, 7).toString("base64");
    const nextId = emulator.aws("secretsmanager", "put-secret-value", "--secret-id", SECRET, "--secret-string", next, "--version-stages", "HA_NEXT").VersionId as string;
    await configure(a);
    expect(keysOf(a)).toEqual([old, { name: `key-${nextId}`, secret: next }]);
    // Step 2 (operator): the next key becomes current; the old one becomes AWSPREVIOUS.
    emulator.aws("secretsmanager", "update-secret-version-stage", "--secret-id", SECRET, "--version-stage", "AWSCURRENT", "--move-to-version-id", nextId, "--remove-from-version-id", INITIAL_TOKEN);
    // Between the operator's two moves the new current version still carries HA_NEXT: it is listed
    // once (kube-apiserver refuses a configuration that names a key twice).
    await configure(a);
    expect(keysOf(a)).toEqual([{ name: `key-${nextId}`, secret: next }, old]);
    emulator.aws("secretsmanager", "update-secret-version-stage", "--secret-id", SECRET, "--version-stage", "HA_NEXT", "--remove-from-version-id", nextId);
    await configure(a);
    expect(keysOf(a)).toEqual([{ name: `key-${nextId}`, secret: next }, old]);
    // A server booting now gets the same list.
    const b = await boot("apiserver-1", "10.0.16.10");
    expect(keysOf(b)).toEqual(keysOf(a));
  });

  it("refuses a key that is not 32 base64-encoded bytes", async () => {
    await freshSecret();
    emulator.aws("secretsmanager", "put-secret-value", "--secret-id", SECRET, "--secret-string", "c2hvcnQ=");
    const dir = node("apiserver-short", "10.0.0.12");
    const failure = await failureOf(configure(dir));
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain("is not 32 base64-encoded bytes");
    expect(existsSync(path.join(dir, "etc/encryption-config.yaml"))).toBe(false);
  });

  it("fails without a key, writing nothing, when creating it is refused (AccessDenied on PutSecretValue)", async () => {
    await freshSecret();
    proxy.inject({ target: "secretsmanager.PutSecretValue", code: "AccessDeniedException", times: 1000 });
    const dir = node("apiserver-noput", "10.0.0.13");
    const failure = await failureOf(configure(dir));
    expect(failure?.code).toBe(1);
    expect(said(failure!.stderr).slice(-2)).toEqual([
      expect.stringMatching(/^ha-kube-configure: ERROR: writing c\/control-plane\/encryption-key failed 3 times \(AccessDeniedException\)/),
      "ha-kube-configure: ERROR: could not create the secrets-encryption key",
    ]);
    expect(proxy.log.filter((l) => l.target === "secretsmanager.PutSecretValue").length).toBe(3);
    expect(versions()).toEqual([]);
    expect(entries(path.join(dir, "etc"))).toEqual([]);
    expect(entries(path.join(dir, "manifests"))).toEqual([]);
  });

  it("fails, writing nothing, when the next key (HA_NEXT) cannot be read: a server without it could not read what others encrypt after the rotation", async () => {
    await freshSecret();
    const a = await boot("apiserver-0", "10.0.0.10");
    const before = readFileSync(path.join(a, "etc/encryption-config.yaml"), "utf8");
    const dir = node("apiserver-nonext", "10.0.0.14");
    proxy.inject({ target: "secretsmanager.GetSecretValue", code: "AccessDeniedException", times: 1000, bodyContains: '"HA_NEXT"' });
    const failure = await failureOf(configure(dir));
    expect(failure?.code).toBe(1);
    expect(said(failure!.stderr).slice(-1)).toEqual(["ha-kube-configure: ERROR: could not read the HA_NEXT secrets-encryption key"]);
    expect(entries(path.join(dir, "etc"))).toEqual([]);
    expect(entries(path.join(dir, "manifests"))).toEqual([]);
    expect(readFileSync(path.join(a, "etc/encryption-config.yaml"), "utf8")).toBe(before);
  });

  it("refuses a kubeconfig template with a malformed certificate marker, leaving no kubeconfig (nor a partial one)", async () => {
    await freshSecret();
    const dir = node("apiserver-marker", "10.0.0.15");
    mkdirSync(path.join(dir, "kubeconfigs"));
    const kubeconfig = renderComponentKubeconfig({ clusterName: "c", component: ControlPlaneComponent.SCHEDULER });
    const markers = markersOf(kubeconfig);
    expect(markers).toContain("scheduler.crt");
    for (const f of markers) writeFileSync(path.join(dir, "pki", f), `-----BEGIN ${f}-----\n`, { mode: 0o600 });
    // One marker damaged by hand: a space in the file name, a form the markers never have.
    writeFileSync(path.join(dir, "kubeconfigs/scheduler.conf"), kubeconfig.replace("@@PKI_BASE64:scheduler.crt@@", "@@PKI_BASE64:scheduler crt@@"));
    const failure = await failureOf(configure(dir));
    expect(failure?.code).toBe(1);
    expect(said(failure!.stderr).slice(-1)).toEqual([`ha-kube-configure: ERROR: ${path.join(dir, "kubeconfigs/scheduler.conf")} has a malformed PKI marker`]);
    expect(entries(path.join(dir, "etc")).filter((f) => f.startsWith("scheduler"))).toEqual([]);
    expect(entries(path.join(dir, "manifests"))).toEqual([]);
  });

  it("writes the manifest with the node's slot IP, 0600", async () => {
    await freshSecret();
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
    // All the operator reads: the file, the template that needs it, and that nothing was written.
    expect(said(failure!.stderr)).toEqual([
      `ha-kube-configure: ERROR: ${path.join(dir, "pki", file)} is missing, empty or unreadable (kube-apiserver.yaml needs it): has ha-fetch-secrets written this node's certificates?`,
      "ha-kube-configure: ERROR: not writing the static pod manifests",
    ]);
    expect(entries(path.join(dir, "manifests"))).toEqual([]);
    expect(existsSync(path.join(dir, "etc/encryption-config.yaml"))).toBe(false);
  });

  it("fails when a certificate path is a directory (unreadable as a file)", async () => {
    const dir = node("apiserver-dir", "10.0.64.10");
    rmSync(path.join(dir, "pki/ca.crt"));
    mkdirSync(path.join(dir, "pki/ca.crt"));
    await expect(configure(dir)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining(`${path.join(dir, "pki/ca.crt")} is missing, empty or unreadable`) });
    expect(entries(path.join(dir, "manifests"))).toEqual([]);
  });

  it("never starts a unit itself (kubelet.service follows this unit; a start job from here would deadlock)", async () => {
    await freshSecret();
    const calls = path.join(root, "systemctl-calls");
    onPath("systemctl", `#!/usr/bin/env bash\necho "$*" >> "${calls}"\n`);
    try {
      const dir = await boot("apiserver-3", "10.0.80.10");
      expect(existsSync(path.join(dir, "manifests/kube-apiserver.yaml"))).toBe(true);
      expect(existsSync(calls) ? readFileSync(calls, "utf8") : "").toBe("");
    } finally {
      rmSync(path.join(bin, "systemctl"));
    }
  });
  it("--refresh-kubeconfigs: a renewed client certificate rewrites only its kubeconfig and its pod's manifest (kubelet.conf: kubelet try-restarted); nothing else changes and no AWS call", async () => {
    await freshSecret();
    const input = { clusterName: "c", kubernetesVersion: "1.33.5", advertiseAddress: "@@SLOT_IP@@", etcdServers: ["https://10.0.0.20:2379"], serviceCidr: "10.96.0.0/12", podCidr: "10.244.0.0/16", clusterDomain: "cluster.local", shutdownDelaySeconds: 20 };
    const manifests: Record<string, string> = {
      "kube-apiserver.yaml": renderApiServerManifest(input),
      "kube-controller-manager.yaml": renderControllerManagerManifest(input),
      "kube-scheduler.yaml": renderSchedulerManifest(input),
    };
    const kubeconfigs: Record<string, string> = {
      "controller-manager.conf": renderComponentKubeconfig({ clusterName: "c", component: ControlPlaneComponent.CONTROLLER_MANAGER }),
      "scheduler.conf": renderComponentKubeconfig({ clusterName: "c", component: ControlPlaneComponent.SCHEDULER }),
      "kubelet.conf": renderKubeletKubeconfig("c"),
    };
    const all = [...Object.values(manifests), ...Object.values(kubeconfigs)].join("\n");
    const files = [...new Set([...(all.match(/\/etc\/kubernetes\/pki\/[A-Za-z0-9._/-]+/g) ?? []).map((p) => p.slice("/etc/kubernetes/pki/".length)), ...markersOf(all)])];
    const dir = node("apiserver-renew", "10.0.96.10", () => undefined);
    for (const f of files) writeFileSync(path.join(dir, "pki", f), `-----BEGIN ${f} v1-----\n`, { mode: 0o600 });
    for (const [name, text] of Object.entries(manifests)) writeFileSync(path.join(dir, "templates", name), text);
    mkdirSync(path.join(dir, "kubeconfigs"));
    for (const [name, text] of Object.entries(kubeconfigs)) writeFileSync(path.join(dir, "kubeconfigs", name), text);
    const calls = path.join(root, "systemctl-calls-renew");
    onPath("systemctl", `#!/usr/bin/env bash\necho "$*" >> "${calls}"\n`);
    // python3 writes each certificate and key into a kubeconfig's temporary file: the mode that file
    // has then (before the script's chmod) is recorded, then the real python3 runs.
    const modes = path.join(root, "python-file-modes");
    onPath("python3", `#!/usr/bin/env bash\nif [ -f "\${!#}" ]; then stat -c '%a %n' -- "\${!#}" >> "${modes}"; fi\nexec /usr/bin/python3 "$@"\n`);
    const refresh = () => run("bash", [SCRIPT, "--refresh-kubeconfigs"], { env: nodeEnv(dir), timeout: 60000 });
    const snapshot = () => Object.fromEntries([...readdirSync(path.join(dir, "manifests")).map((f) => `manifests/${f}`), ...readdirSync(path.join(dir, "etc")).map((f) => `etc/${f}`)].map((f) => [f, { text: readFileSync(path.join(dir, f), "utf8"), mtimeMs: statSync(path.join(dir, f)).mtimeMs }]));
    const annotation = (snap: ReturnType<typeof snapshot>, file: string) => parse(snap[`manifests/${file}`].text).metadata.annotations?.[KUBECONFIG_HASH_ANNOTATION];
    const embedded = (snap: ReturnType<typeof snapshot>, file: string) => Buffer.from(parse(snap[`etc/${file}`].text).users[0].user["client-certificate-data"], "base64").toString();
    try {
      await configure(dir);
      const boot = snapshot();
      expect(Object.keys(boot).sort()).toEqual(["etc/controller-manager.conf", "etc/encryption-config.yaml", "etc/kubelet.conf", "etc/scheduler.conf", "manifests/kube-apiserver.yaml", "manifests/kube-controller-manager.yaml", "manifests/kube-scheduler.yaml"]);
      expect(annotation(boot, "kube-controller-manager.yaml")).toMatch(/^[0-9a-f]{64}$/);
      expect(annotation(boot, "kube-scheduler.yaml")).toMatch(/^[0-9a-f]{64}$/);
      expect(annotation(boot, "kube-scheduler.yaml")).not.toBe(annotation(boot, "kube-controller-manager.yaml"));
      expect(annotation(boot, "kube-apiserver.yaml")).toBeUndefined();
      proxy.log.length = 0;

      // Nothing renewed: nothing rewritten, no AWS call, no restart.
      await new Promise((r) => setTimeout(r, 20));
      const quiet = await refresh();
      expect(said(quiet.stderr)).toEqual(["ha-kube-configure: kubeconfigs and manifests refreshed for apiserver-renew"]);
      expect(snapshot()).toEqual(boot);
      expect(proxy.log).toEqual([]);
      expect(existsSync(calls)).toBe(false);

      // The controller-manager's certificate renewed (ha-fetch-secrets wrote the new files).
      writeFileSync(path.join(dir, "pki/controller-manager.crt"), "-----BEGIN controller-manager.crt v2-----\n");
      writeFileSync(path.join(dir, "pki/controller-manager.key"), "-----BEGIN controller-manager.key v2-----\n");
      const cm = await refresh();
      expect(said(cm.stderr)).toEqual([
        `ha-kube-configure: wrote ${path.join(dir, "etc/controller-manager.conf")}`,
        `ha-kube-configure: rewrote ${path.join(dir, "manifests/kube-controller-manager.yaml")}: a kubeconfig or the set of trusted CAs it names changed, the kubelet restarts the pod`,
        "ha-kube-configure: kubeconfigs and manifests refreshed for apiserver-renew",
      ]);
      const renewed = snapshot();
      expect(embedded(renewed, "controller-manager.conf")).toContain("v2");
      expect(annotation(renewed, "kube-controller-manager.yaml")).toMatch(/^[0-9a-f]{64}$/);
      expect(annotation(renewed, "kube-controller-manager.yaml")).not.toBe(annotation(boot, "kube-controller-manager.yaml"));
      for (const unchanged of ["manifests/kube-apiserver.yaml", "manifests/kube-scheduler.yaml", "etc/scheduler.conf", "etc/kubelet.conf", "etc/encryption-config.yaml"]) expect([unchanged, renewed[unchanged]]).toEqual([unchanged, boot[unchanged]]);
      expect(existsSync(calls)).toBe(false);

      // The kubelet's client certificate renewed: kubelet.conf rewritten, the kubelet try-restarted.
      writeFileSync(path.join(dir, "pki/apiserver-kubelet-client.crt"), "-----BEGIN apiserver-kubelet-client.crt v2-----\n");
      const kl = await refresh();
      expect(said(kl.stderr)).toEqual([
        `ha-kube-configure: wrote ${path.join(dir, "etc/kubelet.conf")}`,
        "ha-kube-configure: kubelet.conf changed: kubelet restarting (its pods keep running)",
        "ha-kube-configure: kubeconfigs and manifests refreshed for apiserver-renew",
      ]);
      const kubelet = snapshot();
      expect(embedded(kubelet, "kubelet.conf")).toContain("v2");
      expect(readFileSync(calls, "utf8")).toBe("try-restart --no-block kubelet.service\n");
      for (const unchanged of ["manifests/kube-apiserver.yaml", "manifests/kube-scheduler.yaml", "manifests/kube-controller-manager.yaml"]) expect([unchanged, kubelet[unchanged]]).toEqual([unchanged, renewed[unchanged]]);
      expect(proxy.log).toEqual([]);
      // A kubeconfig never held a key readable by another user, not even before its chmod: at boot
      // and in each refresh every temporary file was 0600 when the keys went in.
      const written = readFileSync(modes, "utf8").trim().split("\n");
      expect(written.filter((l) => l.endsWith("/etc/kubelet.conf.tmp")).length).toBeGreaterThanOrEqual(3);
      expect(written.filter((l) => !/^600 \S+\.conf\.tmp$/.test(l))).toEqual([]);
    } finally {
      rmSync(path.join(bin, "systemctl"));
      rmSync(path.join(bin, "python3"));
    }
  });

  it.each([
    ["SLOT_IP", "SLOT_NAME=apiserver-9\n", "ENCRYPTION_KEY_SECRET='c/control-plane/encryption-key'\n", "SLOT_IP missing: has ha-claim-slot run?"],
    ["ENCRYPTION_KEY_SECRET", "SLOT_NAME=apiserver-9\nSLOT_IP=10.0.0.99\n", "", "ENCRYPTION_KEY_SECRET missing"],
  ])("without %s, stops naming it before any AWS call, writing nothing", async (_name, slotEnv, nodeEnv, message) => {
    await freshSecret();
    const dir = node(`apiserver-no-${_name.toLowerCase().replace(/_/g, "-")}`, "10.0.0.99");
    writeFileSync(path.join(dir, "run/slot.env"), slotEnv);
    writeFileSync(path.join(dir, "node.env"), `${nodeEnv}PKI_DIR='${dir}/pki'\n`);
    const failure = await failureOf(configure(dir));
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain(message);
    expect(proxy.log).toEqual([]);
    expect(entries(path.join(dir, "manifests"))).toEqual([]);
    expect(entries(path.join(dir, "etc"))).toEqual([]);
  });

  it("by default reads the node's paths (/etc/ha-control-plane, /run/ha-control-plane, /etc/kubernetes/pki) and writes the manifests, kubeconfigs and encryption configuration under /etc/kubernetes", async () => {
    await freshSecret();
    // The node's own directories at their paths, in a private mount namespace (the control-plane
    // tier's node view): /etc/ha-control-plane, /run/ha-control-plane and /etc/kubernetes. Their
    // mount points are made in overlays of /etc and /run (upper layers under the test's directory),
    // so the host's /etc and /run are not touched, not even by an empty directory.
    const overlay = (name: string, lower: string) => overlayMount(dir, name, lower);
    const dir = path.join(root, "defaults");
    const haEtc = path.join(dir, "etc-ha-control-plane");
    const haRun = path.join(dir, "run-ha-control-plane");
    const kube = path.join(dir, "etc-kubernetes");
    for (const d of [path.join(haEtc, "manifests"), path.join(haEtc, "kubeconfigs"), haRun, path.join(kube, "pki/etcd"), path.join(dir, "tmp")]) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(haEtc, "node.env"), "ENCRYPTION_KEY_SECRET='c/control-plane/encryption-key'\n");
    writeFileSync(path.join(haRun, "slot.env"), "SLOT_NAME=apiserver-0\nSLOT_IP=10.0.0.42\n");
    writeFileSync(path.join(haEtc, "manifests/kube-apiserver.yaml"), template);
    const kubeconfig = renderComponentKubeconfig({ clusterName: "c", component: ControlPlaneComponent.SCHEDULER });
    writeFileSync(path.join(haEtc, "kubeconfigs/scheduler.conf"), kubeconfig);
    const embeddedFiles = markersOf(kubeconfig);
    expect(embeddedFiles.length).toBeGreaterThan(0);
    for (const f of [...pkiFiles, ...embeddedFiles]) writeFileSync(path.join(kube, "pki", f), `-----BEGIN ${f}-----\n`, { mode: 0o600 });
    // Two throttled reads: the default schedule waits 2 s, then 4 s (the CLI's own retries off).
    proxy.inject({ target: "secretsmanager.GetSecretValue", code: "ThrottlingException", times: 2 });
    // No region in the environment: the node asks its instance metadata (IMDSv2) for it.
    const imds = await startImdsRegionStandIn("127.0.0.1", EMULATOR_REGION);
    const [command, ...args] = inView(
      {
        hostname: "apiserver-0",
        mounts: [
          overlay("etc", "/etc"),
          overlay("run", "/run"),
          { kind: "dir", source: haEtc, target: "/etc/ha-control-plane", readOnly: true },
          { kind: "dir", source: haRun, target: "/run/ha-control-plane", readOnly: true },
          { kind: "dir", source: kube, target: "/etc/kubernetes", readOnly: false },
        ],
      },
      ["bash", SCRIPT],
    );
    const started = Date.now();
    const result = await run(command, args, {
      env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, TMPDIR: path.join(dir, "tmp"), ...emulator.env, AWS_DEFAULT_REGION: "", AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint, AWS_ENDPOINT_URL: proxy.endpoint, AWS_MAX_ATTEMPTS: "1" },
      timeout: 60000,
    }).finally(() => imds.stop());
    expect(Date.now() - started).toBeGreaterThanOrEqual(6000);
    expect(said(result.stderr)).toEqual([
      expect.stringMatching(/^ha-kube-configure: reading c\/control-plane\/encryption-key \(AWSCURRENT\) failed \(ThrottlingException\); retrying in 2s \(1\/6\)$/),
      expect.stringMatching(/^ha-kube-configure: reading c\/control-plane\/encryption-key \(AWSCURRENT\) failed \(ThrottlingException\); retrying in 4s \(2\/6\)$/),
      "ha-kube-configure: no secrets-encryption key yet: creating one",
      "ha-kube-configure: wrote /etc/kubernetes/scheduler.conf",
      "ha-kube-configure: manifests written for apiserver-0 (10.0.0.42)",
    ]);
    expect(imds.requests()).toEqual(["PUT /latest/api/token 200", "GET /latest/meta-data/placement/region 200"]);
    expect(readdirSync(path.join(dir, "tmp"))).toEqual([]);
    expect(readdirSync(kube).sort()).toEqual(["encryption-config.yaml", "manifests", "pki", "scheduler.conf"]);
    expect(readdirSync(path.join(kube, "manifests"))).toEqual(["kube-apiserver.yaml"]);
    expect(parse(readFileSync(path.join(kube, "manifests/kube-apiserver.yaml"), "utf8")).spec.containers[0].command).toContain("--advertise-address=10.0.0.42");
    const scheduler = parse(readFileSync(path.join(kube, "scheduler.conf"), "utf8"));
    expect(Buffer.from(scheduler.users[0].user["client-certificate-data"], "base64").toString()).toMatch(/^-----BEGIN scheduler/);
    expect(keysOf(dir, "etc-kubernetes/encryption-config.yaml")).toEqual([{ name: "key1", secret: valueOf("AWSCURRENT") }]);
  });

  it("refuses an unknown argument", async () => {
    await expect(run("bash", [SCRIPT, "--refresh"], { env: { PATH: "/usr/bin:/bin" } })).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("usage: ha-kube-configure [--refresh-kubeconfigs]") });
  });
});
