/**
 * More of ha-etcd-install (real bash, curl, sha256sum, tar on local archives), for the mutants the
 * shell mutation runner found surviving etcd-scripts.e2e.test.ts (scripts/mutate-scripts.js):
 * each architecture takes its own pin, a verified archive ends the search (a later tampered URL is
 * never fetched), an unreachable URL is skipped, a missing pin or a binary reporting another version
 * is refused by name, a missing setting stops it before anything else, nothing is left in the
 * temp dir, and an HTTPS mirror that redirects to plain http is not followed (an attacker on the
 * path, or a misconfigured mirror, never gets the node to fetch over http).
 */
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { AddressInfo } from "node:net";
import { tmpdir, userInfo } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { shellQuote } from "../../../lib";
import { EtcdRelease, etcdReleaseEnv } from "../../../lib/bootstrap/etcd";
import { describeTier, toolAvailable } from "../../harness/tiers";
import { renderedScript } from "../../helpers/scripts";

const run = promisify(execFile);

describeTier("ha-etcd-install: pins, search order and refusals (real bash, curl, sha256sum, tar)", toolAvailable("curl", ["--version"]), { tierLabel: "etcd e2e" }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "etcd-install-more-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;

  /** A release archive named for `arch` whose binaries report `reports`; returns its SHA-256. */
  async function archive(where: string, arch: string, reports: string, marker = ""): Promise<string> {
    const stage = path.join(dir, "stage", `${n++}`, `etcd-v-linux-${arch}`);
    mkdirSync(stage, { recursive: true });
    for (const b of ["etcd", "etcdctl", "etcdutl"]) writeFileSync(path.join(stage, b), `#!/bin/sh\n# ${marker}\necho "etcd Version: ${reports}"\n`, { mode: 0o755 });
    mkdirSync(path.join(dir, where), { recursive: true });
    const file = path.join(dir, where, `etcd-linux-${arch}.tar.gz`);
    await run("tar", ["-czf", file, "-C", path.dirname(stage), path.basename(stage)]);
    return createHash("sha256").update(readFileSync(file)).digest("hex");
  }
  const tpl = (where: string) => `file://${dir}/${where}/etcd-linux-{arch}.tar.gz`;

  /** Runs the script with a fresh bin dir and its own temp dir; env from the release (or `raw`). */
  async function install(release: EtcdRelease | Record<string, string>, extra: Record<string, string> = {}) {
    const bin = path.join(dir, `bin-${n++}`);
    const tmp = path.join(dir, `tmp-${n++}`);
    mkdirSync(tmp);
    const envFile = path.join(dir, `node-${n++}.env`);
    const env = "version" in release ? { ...etcdReleaseEnv(release as EtcdRelease), HA_ETCD_BIN_DIR: bin } : { ...release, HA_ETCD_BIN_DIR: bin };
    writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join(""));
    const r = await run("bash", [renderedScript("etcd-install.sh")], { env: { PATH: "/usr/bin:/bin", TMPDIR: tmp, ENV_FILE: envFile, HA_ETCD_USER: userInfo().username, ...extra }, timeout: 30_000 }).then(
      (x) => ({ code: 0, stderr: x.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    const etcd = path.join(bin, "etcd");
    return { ...r, bin, etcd: existsSync(etcd) ? readFileSync(etcd, "utf8") : undefined, leftInTmp: readdirSync(tmp) };
  }

  it("takes the arm64 pin on arm64 and the amd64 pin on amd64", async () => {
    const arm = await archive("arm", "arm64", "3.5.21");
    const amd = await archive("arm", "amd64", "3.5.21");
    const release = { version: "3.5.21", sha256: { amd64: amd, arm64: arm }, downloadUrlTemplate: tpl("arm") };
    for (const arch of ["aarch64", "x86_64"]) {
      const r = await install(release, { HA_ETCD_ARCH: arch });
      expect([arch, r.code, r.stderr]).toEqual([arch, 0, expect.stringContaining(`installed etcd 3.5.21 (${arch === "aarch64" ? "arm64" : "amd64"})`)]);
    }
    // Each architecture's archive against the other's pin is refused.
    const crossed = await install({ version: "3.5.21", sha256: { amd64: arm, arm64: amd }, downloadUrlTemplate: tpl("arm") }, { HA_ETCD_ARCH: "arm64" });
    expect(crossed.code).toBe(1);
    expect(crossed.stderr).toContain("checksum mismatch");
  });

  it("refuses, by name, an architecture with no pin", async () => {
    const sum = await archive("nopin", "amd64", "3.5.21");
    const r = await install({ HA_ETCD_VERSION: "3.5.21", HA_ETCD_URLS: tpl("nopin"), HA_ETCD_SHA256_AMD64: sum }, { HA_ETCD_ARCH: "arm64" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no SHA-256 pinned for etcd 3.5.21 on arm64");
    expect(r.etcd).toBeUndefined();
  });

  it("stops at the first verified archive: a tampered later URL is never fetched", async () => {
    const sum = await archive("good-mirror", "amd64", "3.5.21", "mirror");
    await archive("tampered-upstream", "amd64", "3.5.21", "tampered");
    const r = await install({ version: "3.5.21", sha256: { amd64: sum, arm64: sum }, mirrorUrlTemplate: tpl("good-mirror"), downloadUrlTemplate: tpl("tampered-upstream") }, { HA_ETCD_ARCH: "amd64" });
    expect(r.code).toBe(0);
    expect(r.etcd).toContain("# mirror");
    expect(r.stderr).not.toContain("tampered-upstream");
  });

  it("skips a URL it cannot download and takes the next", async () => {
    const sum = await archive("second", "amd64", "3.5.21");
    const r = await install({ version: "3.5.21", sha256: { amd64: sum, arm64: sum }, mirrorUrlTemplate: tpl("missing"), downloadUrlTemplate: tpl("second") }, { HA_ETCD_ARCH: "amd64" });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`cannot download file://${dir}/missing/etcd-linux-amd64.tar.gz`);
    expect(r.stderr).toContain(`from file://${dir}/second/`);
  });

  it("names every URL it tried when none has a verified archive", async () => {
    const r = await install({ version: "3.5.21", sha256: { amd64: "0".repeat(64), arm64: "0".repeat(64) }, mirrorUrlTemplate: tpl("nothing"), downloadUrlTemplate: tpl("nothing-either"), mirrorOnly: false }, { HA_ETCD_ARCH: "amd64" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no verified etcd 3.5.21 archive from: ${tpl("nothing")} ${tpl("nothing-either")}`);
  });

  it("refuses a verified archive whose etcd reports another version", async () => {
    const sum = await archive("wrong-version", "amd64", "3.5.20");
    const r = await install({ version: "3.5.21", sha256: { amd64: sum, arm64: sum }, downloadUrlTemplate: tpl("wrong-version") }, { HA_ETCD_ARCH: "amd64" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("installed etcd reports 3.5.20, not 3.5.21");
  });

  it.each(["HA_ETCD_VERSION", "HA_ETCD_URLS"])("stops before anything else when %s is missing", async (missing) => {
    const sum = await archive("complete", "amd64", "3.5.21");
    const env: Record<string, string> = { HA_ETCD_VERSION: "3.5.21", HA_ETCD_URLS: tpl("complete"), HA_ETCD_SHA256_AMD64: sum };
    delete env[missing];
    const r = await install(env, { HA_ETCD_ARCH: "amd64" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${missing}: ${missing} missing`);
    expect(r.etcd).toBeUndefined();
  });

  it("does not follow an HTTPS mirror's redirect to plain http (the archive there is never fetched)", async () => {
    const sum = await archive("plain", "amd64", "3.5.21", "over-http");
    const cert = path.join(dir, "redirect-cert.pem");
    const key = path.join(dir, "redirect-key.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=mirror", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
    const plainRequests: string[] = [];
    const plain = createHttpServer((req, res) => {
      plainRequests.push(req.url ?? "");
      res.end(readFileSync(path.join(dir, "plain", "etcd-linux-amd64.tar.gz")));
    });
    const listen = (srv: Server) => new Promise<number>((resolve) => srv.listen(0, "127.0.0.1", () => resolve((srv.address() as AddressInfo).port)));
    const plainPort = await listen(plain);
    const tls = createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${plainPort}${req.url}` });
      res.end();
    });
    const tlsPort = await listen(tls);
    try {
      const release = { version: "3.5.21", sha256: { amd64: sum, arm64: sum }, mirrorUrlTemplate: `https://127.0.0.1:${tlsPort}/etcd-linux-{arch}.tar.gz`, mirrorOnly: true };
      const r = await install(release, { HA_ETCD_ARCH: "amd64", CURL_CA_BUNDLE: cert });
      expect([r.code, r.etcd, plainRequests]).toEqual([1, undefined, []]);
      expect(r.stderr).toContain(`cannot download https://127.0.0.1:${tlsPort}/etcd-linux-amd64.tar.gz`);
    } finally {
      await Promise.all([new Promise((r) => plain.close(r)), new Promise((r) => tls.close(r))]);
    }
  });

  it("leaves nothing in the temp dir, installed or refused", async () => {
    const sum = await archive("clean", "amd64", "3.5.21");
    const ok = await install({ version: "3.5.21", sha256: { amd64: sum, arm64: sum }, downloadUrlTemplate: tpl("clean") }, { HA_ETCD_ARCH: "amd64" });
    const refused = await install({ version: "3.5.21", sha256: { amd64: "0".repeat(64), arm64: "0".repeat(64) }, downloadUrlTemplate: tpl("clean") }, { HA_ETCD_ARCH: "amd64" });
    expect([ok.code, ok.leftInTmp, refused.code, refused.leftInTmp]).toEqual([0, [], 1, []]);
  });
});
