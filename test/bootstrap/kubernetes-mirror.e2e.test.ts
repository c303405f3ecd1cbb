/**
 * The binary mirror for real: ha-kube-binaries (as nodes receive it) installs the real kubelet,
 * kubeadm and kubectl (the pinned release from the setup cache) from a local HTTPS server, each file
 * checked against a SHA-256 the test computes from the files themselves (the outside oracle); a
 * checksum that does not match refuses the install and installs nothing. And the image mirror
 * against the real kubeadm: the images the library references are exactly the ones
 * `kubeadm config images list --image-repository` names (etcd aside: it runs from its release).
 * The s3:// mirror too: the real AWS CLI against the emulator's S3, the region from a strict IMDSv2
 * stand-in.
 */
import { ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { type AddressInfo } from "node:net";
import { createServer } from "node:http";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { HaControlPlane, KubernetesBinaryMirror, checkKubernetesBinaryMirror, kubernetesBinaryMirrorEnv, shellQuote } from "../../lib";
import { ClusterObjects, ControlPlaneAccess } from "../../lib/cluster";
import { type AwsEmulator, EMULATOR_REGION, type ImdsStandIn, awsEmulatorCheck, startAwsEmulator, startImds } from "../harness/aws-emulator";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { kubernetesBinariesCheck, kubernetesUpgradeBinariesCheck, realComponentPaths } from "../harness/real-components";
import { renderedScript } from "../helpers/scripts";
import { follow, nodeFilesOf, resources, synth } from "../helpers/synth";

const run = promisify(execFile);
const VERSION = "1.33.5";
const FILES = ["kubelet", "kubeadm", "kubectl"] as const;
const ARCH = process.arch === "arm64" ? "arm64" : "amd64";
const CHECK = allOf(kubernetesBinariesCheck(), kubernetesUpgradeBinariesCheck(), toolAvailable("openssl", ["version"]), toolAvailable("python3", ["--version"]), toolAvailable("curl", ["--version"]));

// A static HTTPS server on 127.0.0.1 (port chosen by the kernel, printed first); one log line per GET.
const SERVER = `
import http.server, ssl, sys, os
root, cert, key = sys.argv[1:4]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k): super().__init__(*a, directory=root, **k)
    def log_message(self, fmt, *args): sys.stderr.write("GET %s\\n" % self.path); sys.stderr.flush()
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
`;

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describeTier("Kubernetes binary mirror: ha-kube-binaries against a local HTTPS mirror (real kubelet, kubeadm, kubectl)", CHECK, { tierLabel: "node e2e" }, () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let port = 0;
  let requests: string[] = [];
  let sums: Record<(typeof FILES)[number], string>;
  let caFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "kube-mirror-"));
    const kubeBin = realComponentPaths().kubeBin;
    const served = path.join(dir, "www", `v${VERSION}`, "bin", "linux", ARCH);
    mkdirSync(served, { recursive: true });
    for (const f of FILES) symlinkSync(path.join(kubeBin, f), path.join(served, f));
    sums = Object.fromEntries(FILES.map((f) => [f, sha256(path.join(kubeBin, f))])) as typeof sums;
    caFile = path.join(dir, "mirror.crt");
    const key = path.join(dir, "mirror.key");
    await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", caFile]);
    server = spawn("python3", ["-c", SERVER, path.join(dir, "www"), caFile, key], { stdio: ["ignore", "pipe", "pipe"] });
    server.stderr?.on("data", (d: Buffer) => requests.push(...d.toString().split("\n").filter((l) => l.startsWith("GET "))));
    port = await new Promise<number>((resolve, reject) => {
      server?.stdout?.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
      server?.once("exit", (code) => reject(new Error(`mirror server exited (${code})`)));
    });
  }, 60_000);

  afterAll(() => {
    server?.kill("SIGKILL");
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const mirror = (template?: string, amd64?: Partial<Record<string, string>>): KubernetesBinaryMirror => ({
    version: VERSION,
    mirrorUrlTemplate: template ?? `https://127.0.0.1:${port}/v{version}/bin/linux/{arch}/{file}`,
    sha256: { [ARCH]: { ...sums, ...amd64 } } as unknown as KubernetesBinaryMirror["sha256"],
  });

  async function install(name: string, m: KubernetesBinaryMirror, extraEnv: Record<string, string> = {}, caBundle = caFile) {
    const binDir = path.join(dir, name, "bin");
    const envFile = path.join(dir, name, "node.env");
    mkdirSync(path.dirname(envFile), { recursive: true });
    const env = { KUBERNETES_VERSION: VERSION, ...kubernetesBinaryMirrorEnv(m), HA_KUBE_BIN_DIR: binDir, ...extraEnv };
    writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join(""));
    requests = [];
    const tmp = path.join(dir, name, "tmp");
    mkdirSync(tmp, { recursive: true });
    const r = await run("bash", [renderedScript("ha-kube-binaries.sh")], { env: { PATH: "/usr/bin:/bin", ENV_FILE: envFile, CURL_CA_BUNDLE: caBundle, TMPDIR: tmp }, timeout: 120_000 }).then(
      (x) => ({ code: 0, stderr: x.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    // The download directory goes with the script, whatever its exit (nothing left behind).
    return { ...r, binDir, requests: [...requests], leftovers: readdirSync(tmp) };
  }

  it("installs the three binaries from the mirror, each checked against the SHA-256 of the real file; they run and report the pinned release", async () => {
    const m = mirror();
    checkKubernetesBinaryMirror("kubernetesBinaryMirror", m, VERSION); // the template the test uses is one the library accepts
    const r = await install("ok", m);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(r.requests.sort()).toEqual(FILES.map((f) => `GET /v${VERSION}/bin/linux/${ARCH}/${f}`).sort());
    for (const f of FILES) expect([f, sha256(path.join(r.binDir, f))]).toEqual([f, sums[f]]);
    expect(r.leftovers).toEqual([]);
    expect(r.stderr).toContain(`installed kubelet, kubeadm and kubectl ${VERSION} (${ARCH}) into ${r.binDir} from https://127.0.0.1:${port}/v`);
    expect((await run(path.join(r.binDir, "kubelet"), ["--version"])).stdout.trim()).toBe(`Kubernetes v${VERSION}`);
    expect((await run(path.join(r.binDir, "kubeadm"), ["version", "-o", "short"])).stdout.trim()).toBe(`v${VERSION}`);
    expect(JSON.parse((await run(path.join(r.binDir, "kubectl"), ["version", "--client", "-o", "json"])).stdout).clientVersion.gitVersion).toBe(`v${VERSION}`);

    // Idempotent: nothing is fetched when the installed files carry the pinned checksums...
    const again = await install("ok", m);
    expect(again.code).toBe(0);
    expect(again.requests).toEqual([]);
    expect(again.stderr).toContain("already installed");
    // ...a file that lost its execute bit is installed anew...
    chmodSync(path.join(r.binDir, "kubeadm"), 0o644);
    const executable = await install("ok", m);
    expect(executable.code).toBe(0);
    expect(executable.requests.length).toBeGreaterThan(0);
    expect(statSync(path.join(r.binDir, "kubeadm")).mode & 0o777).toBe(0o755);
    // ...and a replaced file is fetched and checked anew.
    writeFileSync(path.join(r.binDir, "kubectl"), "#!/bin/sh\necho tampered\n", { mode: 0o755 });
    const repaired = await install("ok", m);
    expect(repaired.code).toBe(0);
    expect(sha256(path.join(r.binDir, "kubectl"))).toBe(sums.kubectl);
  }, 180_000);

  it("refuses the install when one file does not match its pinned checksum, and installs none of them", async () => {
    const r = await install("mismatch", mirror(undefined, { kubeadm: sums.kubectl }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`checksum mismatch for https://127.0.0.1:${port}/v${VERSION}/bin/linux/${ARCH}/kubeadm: got ${sums.kubeadm}, pinned ${sums.kubectl}`);
    expect(existsSync(r.binDir) ? readdirSync(r.binDir) : []).toEqual([]);
    expect(r.leftovers).toEqual([]);
  }, 120_000);

  it("refuses binaries of another release than the version even when each matches its pinned checksum, or a kubelet that cannot tell its release, installing none of them", async () => {
    // The real 1.34.2 binaries under the 1.33.5 path, with their own checksums pinned: every file
    // matches its pin, but the kubelet reports another release.
    const upgradeBin = realComponentPaths().kubeUpgradeBin;
    const other = path.join(dir, "www", "other", `v${VERSION}`, "bin", "linux", ARCH);
    mkdirSync(other, { recursive: true });
    for (const f of FILES) if (!existsSync(path.join(other, f))) symlinkSync(path.join(upgradeBin, f), path.join(other, f));
    const pinned = Object.fromEntries(FILES.map((f) => [f, sha256(path.join(upgradeBin, f))]));
    const r = await install("other-release", mirror(`https://127.0.0.1:${port}/other/v{version}/bin/linux/{arch}/{file}`, pinned));
    expect([r.code, r.stderr]).toEqual([1, expect.stringContaining(`the pinned kubelet reports 'Kubernetes v1.34.2', not Kubernetes v${VERSION}; nothing installed`)]);
    expect(existsSync(r.binDir) ? readdirSync(r.binDir) : []).toEqual([]);
    expect(r.leftovers).toEqual([]);
    // A "kubelet" that is not one (pinned by mistake, say, a wrapper script): it cannot answer --version.
    const wrong = path.join(dir, "www", "wrong", `v${VERSION}`, "bin", "linux", ARCH);
    mkdirSync(wrong, { recursive: true });
    writeFileSync(path.join(wrong, "kubelet"), "#!/bin/sh\nexit 3\n");
    for (const f of ["kubeadm", "kubectl"] as const) if (!existsSync(path.join(wrong, f))) symlinkSync(path.join(realComponentPaths().kubeBin, f), path.join(wrong, f));
    const notKubelet = await install("not-kubelet", mirror(`https://127.0.0.1:${port}/wrong/v{version}/bin/linux/{arch}/{file}`, { kubelet: sha256(path.join(wrong, "kubelet")) }));
    expect([notKubelet.code, notKubelet.stderr]).toEqual([1, expect.stringContaining(`the pinned kubelet reports '', not Kubernetes v${VERSION}; nothing installed`)]);
    expect(existsSync(notKubelet.binDir) ? readdirSync(notKubelet.binDir) : []).toEqual([]);
  }, 180_000);

  it("fails, rather than report an install, when the binary directory cannot be written", async () => {
    // A regular file where a parent directory should be: mkdir, install and mv all fail; errexit
    // must stop the script there (no success line, a non-zero exit).
    const blocked = path.join(dir, "blocked");
    writeFileSync(blocked, "not a directory\n");
    const r = await install("unwritable", mirror(), { HA_KUBE_BIN_DIR: path.join(blocked, "bin") });
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toContain("installed kubelet, kubeadm and kubectl");
    expect(r.leftovers).toEqual([]);
  }, 120_000);

  it("refuses a file without a pinned checksum, a plain-http mirror and an unverifiable TLS certificate before installing anything", async () => {
    const noSum = await install("nosum", mirror(), { [`HA_KUBE_SHA256_${ARCH.toUpperCase()}_KUBECTL`]: "" });
    expect(noSum.code).toBe(1);
    expect(noSum.stderr).toContain("no SHA-256 pinned for kubectl");
    expect(noSum.requests).toEqual([]);
    // A version that is not x.y.z is refused before it goes into a URL.
    const badVersion = await install("bad-version", mirror(), { KUBERNETES_VERSION: "1.33" });
    expect([badVersion.code, badVersion.stderr, badVersion.requests]).toEqual([1, expect.stringContaining("refusing KUBERNETES_VERSION '1.33'"), []]);
    // A node.env without the version or the template names what is missing (not bash's "unbound variable").
    for (const missing of ["KUBERNETES_VERSION", "HA_KUBE_BINARY_URL_TEMPLATE"]) {
      const r = await install(`no-${missing}`, mirror(), { [missing]: "" });
      expect([missing, r.code, r.stderr]).toEqual([missing, 1, expect.stringContaining(`${missing} missing`)]);
      expect(r.requests).toEqual([]);
    }
    const http = await install("http", mirror(`http://127.0.0.1:${port}/v{version}/bin/linux/{arch}/{file}`));
    expect(http.code).toBe(1);
    expect(http.stderr).toContain("not https:// or s3://");
    // The mirror's certificate from a CA the node does not trust: curl refuses it, nothing is installed.
    const untrusted = await install("untrusted", mirror(), {}, "/etc/ssl/certs/ca-certificates.crt");
    expect(untrusted.stderr).toContain("cannot download");
    expect(untrusted.code).toBe(1);
    expect(existsSync(untrusted.binDir) ? readdirSync(untrusted.binDir) : []).toEqual([]);
  }, 180_000);
});

describeTier("image mirror: the images the library references are kubeadm's list under the mirror (real kubeadm)", kubernetesBinariesCheck(), { tierLabel: "node e2e" }, () => {
  it("static pods, containerd's pause and the addons use exactly `kubeadm config images list --image-repository <mirror>` (etcd runs from its release)", async () => {
    const registry = "mirror.example.com:5000/k8s";
    const listed = (await run(path.join(realComponentPaths().kubeBin, "kubeadm"), ["config", "images", "list", "--kubernetes-version", `v${VERSION}`, "--image-repository", registry])).stdout
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith(`${registry}/etcd:`))
      .sort();
    let access: ReturnType<typeof ControlPlaneAccess.fromControlPlane> | undefined;
    const json = synth((s) => {
      const cp = new HaControlPlane(s, "Cp", { clusterName: "c", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0", imageRepository: registry });
      access = ControlPlaneAccess.fromControlPlane(cp);
    });
    const template = follow(json, resources(json, "aws_autoscaling_group").find((g) => g.props.name.endsWith("-apiserver"))!.props.launch_template.id);
    const files = nodeFilesOf(json, template);
    const podImages = files.filter((f) => f.path.startsWith("/etc/ha-control-plane/manifests/")).flatMap((f) => (parse(f.content).spec.containers as Array<{ image: string }>).map((c) => c.image));
    const sandbox = /^HA_SANDBOX_IMAGE='([^']+)'$/m.exec(files.find((f) => f.path === "/etc/ha-control-plane/node.env")!.content)![1];
    const objects = synth((s) => new ClusterObjects(s, "Objects", { access: { ...(access as object), apiUrl: "https://api.example.com:6443", internalApiUrl: "https://api.example.com:6443", source: undefined } as never, kubeletServingCertificates: { approver: false } }));
    const addonImages = [...JSON.stringify(objects).matchAll(/"image":"([^"]+)"/g)].map((m) => m[1]);
    expect([...new Set([...podImages, sandbox, ...addonImages])].sort()).toEqual(listed);
  }, 60_000);
});

describeTier(
  "Kubernetes binary mirror in S3: ha-kube-binaries with the real AWS CLI against the emulator, the region from IMDSv2",
  allOf(kubernetesBinariesCheck(), awsEmulatorCheck()),
  { tierLabel: "node e2e" },
  () => {
    const BUCKET = "kube-mirror-bucket";
    let emu: AwsEmulator;
    let imds: ImdsStandIn;
    let dir: string;
    let sums: Record<(typeof FILES)[number], string>;

    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), "kube-mirror-s3-"));
      emu = await startAwsEmulator();
      const image: string = emu.aws("ec2", "describe-images", "--query", "Images[0].ImageId");
      const instanceId: string = emu.aws("ec2", "run-instances", "--image-id", image, "--instance-type", "m6i.large", "--count", "1").Instances[0].InstanceId;
      imds = await startImds(emu, instanceId);
      emu.aws("s3api", "create-bucket", "--bucket", BUCKET, "--create-bucket-configuration", "LocationConstraint=eu-west-1");
      const kubeBin = realComponentPaths().kubeBin;
      sums = Object.fromEntries(FILES.map((f) => [f, sha256(path.join(kubeBin, f))])) as typeof sums;
      for (const f of FILES) emu.aws("s3api", "put-object", "--bucket", BUCKET, "--key", `k8s/v${VERSION}/${ARCH}/${f}`, "--body", path.join(kubeBin, f));
      mkdirSync(path.join(dir, "bin"));
      // The real AWS CLI, behind a recorder of the region it is given: in a private subnet only the
      // region's own S3 endpoint (a gateway endpoint) answers, so the node must pass its region on.
      writeFileSync(path.join(dir, "bin", "aws"), `#!/bin/sh\necho "\${AWS_DEFAULT_REGION-unset}" >> ${shellQuote(path.join(dir, "aws-regions.log"))}\nexec ${shellQuote(emu.awsCli)} "$@"\n`, { mode: 0o755 });
    }, 180_000);
    afterAll(async () => {
      await imds?.stop();
      await emu?.stop();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    async function install(name: string, template: string, extraEnv: Record<string, string> = {}) {
      const m: KubernetesBinaryMirror = { version: VERSION, mirrorUrlTemplate: template, sha256: { [ARCH]: sums } as unknown as KubernetesBinaryMirror["sha256"] };
      checkKubernetesBinaryMirror("kubernetesBinaryMirror", m, VERSION);
      const binDir = path.join(dir, name, "bin");
      const envFile = path.join(dir, name, "node.env");
      mkdirSync(path.dirname(envFile), { recursive: true });
      const env = { KUBERNETES_VERSION: VERSION, ...kubernetesBinaryMirrorEnv(m), HA_KUBE_BIN_DIR: binDir };
      writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join(""));
      const before = imds.requests.length;
      const tmp = path.join(dir, name, "tmp");
      mkdirSync(tmp, { recursive: true });
      // As on a node: no region in the environment (the script asks the metadata service).
      const cliEnv = Object.fromEntries(Object.entries(emu.env).filter(([k]) => k !== "AWS_DEFAULT_REGION"));
      const r = await run("bash", [renderedScript("ha-kube-binaries.sh")], {
        env: { PATH: `${path.join(dir, "bin")}:/usr/bin:/bin`, HOME: dir, ...cliEnv, AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint, ENV_FILE: envFile, TMPDIR: tmp, ...extraEnv },
        timeout: 180_000,
      }).then(
        (x) => ({ code: 0, stderr: x.stderr }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      return { ...r, binDir, imdsRequests: imds.requests.slice(before), leftovers: readdirSync(tmp) };
    }

    it("installs the three binaries from the bucket with the instance's region, each checked against its pinned SHA-256", async () => {
      const r = await install("s3", `s3://${BUCKET}/k8s/v{version}/{arch}/{file}`);
      expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
      expect(r.leftovers).toEqual([]);
      for (const f of FILES) expect([f, sha256(path.join(r.binDir, f))]).toEqual([f, sums[f]]);
      expect((await run(path.join(r.binDir, "kubelet"), ["--version"])).stdout.trim()).toBe(`Kubernetes v${VERSION}`);
      // IMDSv2: a token first, then the region with it (asked once, not once per file).
      expect(r.imdsRequests.filter((q) => !q.includes("/iam/"))).toEqual(["PUT /latest/api/token 200", "GET /latest/meta-data/placement/region 200"]);
      expect(readFileSync(path.join(dir, "aws-regions.log"), "utf8").split("\n").filter((l) => l !== "")).toEqual(FILES.map(() => EMULATOR_REGION));
      // The endpoint may be written with a trailing slash (the AWS CLI accepts both); the paths stay the same.
      const slash = await install("s3-slash", `s3://${BUCKET}/k8s/v{version}/{arch}/{file}`, { AWS_EC2_METADATA_SERVICE_ENDPOINT: `${imds.endpoint}/` });
      expect({ code: slash.code, stderr: slash.stderr }).toMatchObject({ code: 0 });
      expect(slash.imdsRequests.filter((q) => !q.includes("/iam/"))).toEqual(["PUT /latest/api/token 200", "GET /latest/meta-data/placement/region 200"]);
    }, 240_000);

    it("refuses an object the bucket does not hold, an IMDS endpoint that is not a plain http URL and a metadata region that is not a region, installing nothing", async () => {
      const missing = await install("missing", `s3://${BUCKET}/elsewhere/v{version}/{arch}/{file}`);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`cannot download s3://${BUCKET}/elsewhere/v${VERSION}/${ARCH}/kubelet`);
      expect(existsSync(missing.binDir) ? readdirSync(missing.binDir) : []).toEqual([]);
      const badImds = await install("bad-imds", `s3://${BUCKET}/k8s/v{version}/{arch}/{file}`, { AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://169.254.169.254/latest;touch /tmp/x" });
      expect(badImds.code).toBe(1);
      expect(badImds.stderr).toContain("refusing AWS_EC2_METADATA_SERVICE_ENDPOINT");
      expect(badImds.imdsRequests).toEqual([]);
      expect(existsSync(badImds.binDir) ? readdirSync(badImds.binDir) : []).toEqual([]);
      // A metadata service answering a region that is not one (a value read on the node: validated
      // before use) is refused; a minimal IMDSv2 that answers only the token and that region.
      const hostile = createServer((req, res) => {
        if (req.method === "PUT" && req.url === "/latest/api/token") res.end("token");
        else if (req.method === "GET" && req.url === "/latest/meta-data/placement/region" && req.headers["x-aws-ec2-metadata-token"] === "token") res.end("eu-west-1 --endpoint-url http://evil");
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => hostile.listen(0, "127.0.0.1", resolve));
      try {
        const badRegion = await install("bad-region", `s3://${BUCKET}/k8s/v{version}/{arch}/{file}`, { AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${(hostile.address() as AddressInfo).port}` });
        expect([badRegion.code, badRegion.stderr]).toEqual([1, expect.stringContaining("refusing region 'eu-west-1 --endpoint-url http://evil' from the instance metadata")]);
        expect(existsSync(badRegion.binDir) ? readdirSync(badRegion.binDir) : []).toEqual([]);
      } finally {
        await new Promise((resolve) => hostile.close(resolve));
      }
    }, 240_000);
  },
);
