/**
 * The platform team's asset mirrors for the boot tier, as a node in an air-gapped VPC reaches them:
 * an HTTPS binary mirror (etcd's release archive, kubelet/kubeadm/kubectl, an empty apt
 * repository) and an OCI registry (Debian's docker-registry) holding the control-plane images
 * built here from the pinned binaries under their upstream names. Both answer on loopback ports with
 * one self-signed certificate for the service address the nodes reach them at; the node image
 * trusts it (the tests add it to the image's CA bundle), as a platform team's image trusts its
 * internal CA. Plain http is not offered: the library refuses it for both mirrors.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer, request as httpsRequest, Server } from "node:https";
import { AddressInfo, createServer as createNetServer } from "node:net";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { TierCheck } from "./tiers";
import { waitFor } from "./nspawn-node";

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** docker-registry (Debian's package of the CNCF distribution registry) and the pause program. */
export function registryCheck(): TierCheck {
  try {
    execFileSync("docker-registry", ["--version"], { stdio: "ignore", timeout: 10000 });
  } catch {
    return { available: false, reason: "docker-registry missing (run `bash scripts/setup-test-env.sh apt`)" };
  }
  if (!process.env.HA_CP_PAUSE_BIN) return { available: false, reason: "HA_CP_PAUSE_BIN unset (run `bash scripts/setup-test-env.sh pause`)" };
  if (!process.env.HA_CP_KUBE_BIN) return { available: false, reason: "HA_CP_KUBE_BIN unset (run `bash scripts/setup-test-env.sh kubernetes`)" };
  return { available: true, reason: "" };
}

/** A self-signed certificate for the mirror and the registry at `ip` (the node image trusts it). */
export function mirrorCertificate(dir: string, ip: string): { cert: string; key: string } {
  const cert = path.join(dir, "mirror-cert.pem");
  const key = path.join(dir, "mirror-key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=boot-tier-mirror",
    "-addext", `subjectAltName=IP:${ip},IP:127.0.0.1`, "-keyout", key, "-out", cert], { stdio: "ignore" });
  return { cert, key };
}

/**
 * The binary mirror a platform team would run, laid out as `mirrorUrlTemplate`s name it: etcd's
 * release archive made from the locally built binaries, kubelet/kubeadm/kubectl as files, and an
 * (empty) apt repository. Returns the SHA-256s to pin.
 */
export function buildMirror(dir: string, etcdVersion: string, kubernetesVersion?: string): { etcd: string; kube?: { kubelet: string; kubeadm: string; kubectl: string } } {
  if (!process.env.HA_CP_ETCD_BIN) throw new Error("HA_CP_ETCD_BIN unset: run `bash scripts/setup-test-env.sh etcd`");
  const etcdBin = process.env.HA_CP_ETCD_BIN!;
  const kubeBin = process.env.HA_CP_KUBE_BIN!;
  const name = `etcd-v${etcdVersion}-linux-amd64`;
  const stage = path.join(dir, "stage", name);
  mkdirSync(stage, { recursive: true });
  for (const b of ["etcd", "etcdctl", "etcdutl"]) execFileSync("install", ["-m", "0755", path.join(etcdBin, b), path.join(stage, b)]);
  mkdirSync(path.join(dir, "www/etcd"), { recursive: true });
  const archive = path.join(dir, "www/etcd", `${name}.tar.gz`);
  execFileSync("tar", ["-czf", archive, "-C", path.join(dir, "stage"), "--owner=0", "--group=0", name]);
  let kube: Record<string, string> | undefined;
  if (kubernetesVersion !== undefined) {
    const kubeDir = path.join(dir, `www/kubernetes/v${kubernetesVersion}/amd64`);
    mkdirSync(kubeDir, { recursive: true });
    kube = {};
    for (const f of ["kubelet", "kubeadm", "kubectl"]) {
      execFileSync("install", ["-m", "0755", path.join(kubeBin, f), path.join(kubeDir, f)]);
      kube[f] = sha256(readFileSync(path.join(kubeDir, f)));
    }
  }
  mkdirSync(path.join(dir, "www/apt"), { recursive: true });
  writeFileSync(path.join(dir, "www/apt/Packages"), "");
  writeFileSync(
    path.join(dir, "www/apt/Release"),
    `Origin: boot-tier\nLabel: boot-tier\nSuite: stable\nCodename: bookworm\nDate: ${new Date().toUTCString()}\nArchitectures: amd64\nSHA256:\n ${sha256(readFileSync(path.join(dir, "www/apt/Packages")))} 0 Packages\n`,
  );
  return { etcd: sha256(readFileSync(archive)), kube: kube as { kubelet: string; kubeadm: string; kubectl: string } | undefined };
}

/** A static HTTPS file server for the mirror on a loopback port. */
export async function serveMirror(root: string, tls: { cert: string; key: string }): Promise<Server> {
  const server = createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    const rel = path.normalize(decodeURIComponent((req.url ?? "/").split("?")[0])).replace(/^(\.\.[/\\])+/, "");
    try {
      const body = readFileSync(path.join(root, rel));
      res.writeHead(200, { "content-length": body.length });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** One HTTPS request to the local registry (its certificate trusted explicitly). */
export function registryCall(port: number, ca: Buffer, method: string, pathname: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, method, path: pathname, ca, headers: { ...headers, ...(body ? { "content-length": String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Pushes an image of one layer (the files `files`: path in the image → file on the host) with the
 * OCI image manifest, through the registry's HTTP API (distribution spec: monolithic blob upload,
 * manifest PUT). Returns the manifest digest.
 */
export async function pushImage(port: number, ca: Buffer, work: string, repo: string, tag: string, files: Record<string, string>, config: object): Promise<string> {
  const stage = path.join(work, `${repo}-${tag}`);
  for (const [inImage, src] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(stage, inImage)), { recursive: true });
    execFileSync("install", ["-m", "0755", src, path.join(stage, inImage)]);
  }
  const layerFile = `${stage}.tar`;
  execFileSync("tar", ["-cf", layerFile, "-C", stage, "--owner=0", "--group=0", "--numeric-owner", "--sort=name", "--mtime=@0", ...Object.keys(files).map((f) => f.split("/")[0]).filter((v, i, a) => a.indexOf(v) === i)]);
  const layer = readFileSync(layerFile);
  const layerDigest = `sha256:${sha256(layer)}`;
  const configBlob = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", ...config, rootfs: { type: "layers", diff_ids: [layerDigest] } }));
  const configDigest = `sha256:${sha256(configBlob)}`;
  for (const [blob, digest] of [[layer, layerDigest], [configBlob, configDigest]] as const) {
    const start = await registryCall(port, ca, "POST", `/v2/${repo}/blobs/uploads/`);
    if (start.status !== 202) throw new Error(`registry: upload of ${repo} blob answered ${start.status}: ${start.body}`);
    const location = new URL(String(start.headers.location), `https://127.0.0.1:${port}`);
    location.searchParams.set("digest", digest);
    const put = await registryCall(port, ca, "PUT", `${location.pathname}${location.search}`, blob, { "content-type": "application/octet-stream" });
    if (put.status !== 201) throw new Error(`registry: blob PUT of ${repo} answered ${put.status}: ${put.body}`);
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: configBlob.length },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }],
  }));
  const put = await registryCall(port, ca, "PUT", `/v2/${repo}/manifests/${tag}`, manifest, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
  if (put.status !== 201) throw new Error(`registry: manifest PUT of ${repo}:${tag} answered ${put.status}: ${put.body}`);
  return `sha256:${sha256(manifest)}`;
}

/**
 * The control-plane images as upstream lays them out (distroless, the binary in /usr/local/bin,
 * the pause program at /pause), each made of the locally built binary.
 */
export async function populateRegistry(port: number, ca: Buffer, work: string, kubernetesVersion: string, pauseTag: string): Promise<Record<string, string>> {
  const env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];
  const digests: Record<string, string> = {};
  for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
    digests[`${c}:v${kubernetesVersion}`] = await pushImage(port, ca, work, c, `v${kubernetesVersion}`, { [`usr/local/bin/${c}`]: path.join(process.env.HA_CP_KUBE_BIN!, c) }, {
      config: { Env: env, Entrypoint: [`/usr/local/bin/${c}`] },
    });
  }
  digests[`pause:${pauseTag}`] = await pushImage(port, ca, work, "pause", pauseTag, { pause: path.join(process.env.HA_CP_PAUSE_BIN!, "pause") }, { config: { Env: env, Entrypoint: ["/pause"] } });
  return digests;
}


/** Debian's docker-registry serving `dir` on a loopback port over TLS; ends with `stop()`. */
export async function startRegistry(dir: string, tls: { cert: string; key: string }): Promise<{ port: number; log: string; stop(): void }> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, "config.yml");
  writeFileSync(config, [
    "version: 0.1",
    "log:",
    "  level: warn",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${path.join(dir, "storage")}`,
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "  tls:",
    `    certificate: ${tls.cert}`,
    `    key: ${tls.key}`,
    "",
  ].join("\n"));
  const log = path.join(dir, "registry.log");
  const fd = openSync(log, "a");
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: ["ignore", fd, fd], detached: true });
  closeSync(fd);
  const stop = (): void => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  };
  const ca = readFileSync(tls.cert);
  try {
    await waitFor(async () => child.exitCode === null && (await registryCall(port, ca, "GET", "/v2/")).status === 200, 30_000, `docker-registry on 127.0.0.1:${port}`);
  } catch (err) {
    stop();
    throw new Error(`${(err as Error).message}: ${readFileSync(log, "utf8").slice(-2000)}`);
  }
  return { port, log, stop };
}
