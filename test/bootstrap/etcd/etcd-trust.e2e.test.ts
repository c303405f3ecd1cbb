/**
 * Why etcd restarts in a CA rotation, and that ha-etcd-trust restarts it exactly then (issue 18
 * finding 4). The real etcd 3.5.21 on 127.0.0.1: a trusted-CA file that gains a CA while etcd runs
 * does not make etcd accept a client of the new CA until it restarts (it reads the file only at
 * start); the rendered ha-etcd-trust (with a recording systemctl) asks for a restart when the set of
 * CAs changed, not when the bundle is only reordered, and not while a member is unhealthy.
 */
import { ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { describeTier } from "../../harness/tiers";
import { etcdBinariesCheck, realComponentPaths } from "../../harness/real-components";
import { renderedScript } from "../../helpers/scripts";

const run = promisify(execFile);

describeTier("ha-etcd-trust with the real etcd", etcdBinariesCheck(), { tierLabel: "node" }, () => {
  let dir: string;
  let etcd: ChildProcess | undefined;
  const bin = () => realComponentPaths().etcdBin;
  const port = 20000 + (process.pid % 20000);
  const endpoint = `https://127.0.0.1:${port}`;
  const pki = () => path.join(dir, "pki");
  const file = (...p: string[]) => path.join(pki(), ...p);

  const openssl = (args: string[]) => run("openssl", args, { timeout: 30_000 });
  async function ca(name: string): Promise<void> {
    await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file(`${name}.key`), "-out", file(`${name}.crt`), "-subj", `/CN=${name}`, "-days", "2"]);
  }
  async function leaf(name: string, signer: string): Promise<void> {
    const ext = file(`${name}.ext`);
    writeFileSync(ext, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
    await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`), "-subj", `/CN=${path.basename(name)}`]);
    await openssl(["x509", "-req", "-in", file(`${name}.csr`), "-CA", file(`${signer}.crt`), "-CAkey", file(`${signer}.key`), "-CAcreateserial", "-out", file(`${name}.crt`), "-days", "1", "-extfile", ext]);
  }
  const bundle = (...names: string[]) => writeFileSync(file("etcd", "ca.crt"), names.map((n) => readFileSync(file(`${n}.crt`), "utf8")).join(""));

  async function startEtcd(): Promise<void> {
    etcd = spawn(path.join(bin(), "etcd"), [
      "--data-dir", path.join(dir, "data"),
      "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
      "--listen-peer-urls", `http://127.0.0.1:${port + 1}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${port + 1}`,
      "--initial-cluster", `default=http://127.0.0.1:${port + 1}`, "--listen-metrics-urls", `http://127.0.0.1:${port + 2}`,
      "--cert-file", file("server.crt"), "--key-file", file("server.key"), "--client-cert-auth", "--trusted-ca-file", file("etcd", "ca.crt"),
    ], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      if (await accepts("clientA")) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("etcd did not start");
  }
  async function stopEtcd(): Promise<void> {
    if (!etcd || etcd.exitCode !== null) return;
    const exited = new Promise((r) => etcd!.once("exit", r));
    etcd.kill("SIGTERM");
    await exited;
  }
  async function accepts(client: string): Promise<boolean> {
    try {
      await run(path.join(bin(), "etcdctl"), ["--endpoints", endpoint, "--cacert", file("caA.crt"), "--cert", file(`${client}.crt`), "--key", file(`${client}.key`), "--dial-timeout", "2s", "--command-timeout", "3s", "endpoint", "health"], { timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  }
  /** Runs ha-etcd-trust with a recording systemctl; returns its exit code and the calls. */
  async function trust(mode: string, extra: Record<string, string> = {}): Promise<{ code: number; calls: string[]; stderr: string }> {
    const calls = path.join(dir, "calls");
    writeFileSync(calls, "");
    try {
      const r = await run("bash", [renderedScript("ha-etcd-trust.sh"), mode], {
        env: { PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, ENV_FILE: path.join(dir, "node.env"), PKI_DIR: pki(), ETCD_TRUST_STATE_FILE: path.join(dir, "state", "etcd-trust.sha256"), ETCD_TRUST_JITTER_SECONDS: "0", ETCD_TRUST_LOCAL_ENDPOINT: endpoint, CALLS: calls, ...extra },
        timeout: 60_000,
      });
      return { code: 0, calls: readFileSync(calls, "utf8").split("\n").filter(Boolean), stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stderr: string };
      return { code: err.code, calls: readFileSync(calls, "utf8").split("\n").filter(Boolean), stderr: err.stderr };
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "etcd-trust-"));
    mkdirSync(path.join(pki(), "etcd"), { recursive: true });
    mkdirSync(path.join(dir, "bin"));
    writeFileSync(path.join(dir, "bin", "systemctl"), '#!/bin/sh\necho "$*" >>"$CALLS"\n', { mode: 0o755 });
    writeFileSync(path.join(dir, "node.env"), `HA_ETCD_ENDPOINTS='${endpoint}'\nHA_ETCD_BIN_DIR='${bin()}'\n`);
    await ca("caA");
    await ca("caB");
    await leaf("server", "caA");
    await leaf("clientA", "caA");
    await leaf("clientB", "caB");
    // The healthcheck client ha-etcd-trust uses (from the old CA, as in phase 1).
    await leaf("etcd/healthcheck-client", "caA");
    bundle("caA");
    await startEtcd();
  }, 120_000);

  afterAll(async () => {
    await stopEtcd();
    rmSync(dir, { recursive: true, force: true });
  });

  it("etcd 3.5.21 reads its trusted CA file only at start: a CA added while it runs is refused until a restart", async () => {
    expect(await accepts("clientB")).toBe(false);
    expect((await trust("--record")).code).toBe(0);
    bundle("caA", "caB");
    await new Promise((r) => setTimeout(r, 1000));
    expect(await accepts("clientB")).toBe(false); // still the set it started with
    expect(await accepts("clientA")).toBe(true);
  });

  it("does nothing on a node where etcd has not recorded what it trusts yet", async () => {
    const r = await trust("--restart-if-changed", { ETCD_TRUST_STATE_FILE: path.join(dir, "never-started", "etcd-trust.sha256") });
    expect([r.code, r.calls]).toEqual([0, []]);
    expect(r.stderr).toMatch(/etcd has not recorded what it trusts \(not started on this node yet\): nothing to do/);
  });

  it("asks for a restart when the set of CAs changed, once the member answers healthy", async () => {
    const r = await trust("--restart-if-changed");
    expect([r.code, r.calls]).toEqual([0, ["restart --no-block etcd.service"]]);
    expect(r.stderr).toMatch(/the etcd trust bundle changed since etcd started: restarting it once every member is healthy/);
    expect(r.stderr).toMatch(/etcd restart queued: it starts with the new trust bundle/);
    // What systemd then does: etcd starts again (ExecStartPre records), and the new CA is trusted.
    await stopEtcd();
    await startEtcd();
    expect((await trust("--record")).code).toBe(0);
    expect(await accepts("clientB")).toBe(true);
  }, 60_000);

  it("asks for nothing when the bundle is only reordered (ISSUE_NEW puts the new CA first)", async () => {
    bundle("caB", "caA");
    expect(await trust("--restart-if-changed")).toMatchObject({ code: 0, calls: [] });
  });

  it("does not restart while a member is unhealthy, and fails so the next refresh retries", async () => {
    bundle("caB");
    await stopEtcd();
    const started = Date.now();
    const r = await trust("--restart-if-changed", { ETCD_TRUST_HEALTH_TRIES: "2" });
    expect([r.code, r.calls]).toEqual([1, []]);
    expect(r.stderr).toMatch(/ERROR: not every member is healthy after 2 checks: etcd not restarted/);
    // The checks are 5 s apart: each check of a stopped member takes its 5 s command timeout, and
    // each is followed by a 5 s wait, so two take at least 20 s (10 s without the waits).
    expect(Date.now() - started).toBeGreaterThanOrEqual(15_000);
    bundle("caA", "caB");
    await startEtcd();
  }, 60_000);

  it("refuses a health-check count, a jitter and a local endpoint that are not what they claim, before asking etcd", async () => {
    bundle("caA"); // differs from the recorded set, so a run would go on to the health checks
    const refused = async (extra: Record<string, string>, message: RegExp) => {
      const r = await trust("--restart-if-changed", extra);
      expect([r.code, r.calls]).toEqual([2, []]);
      expect(r.stderr).toMatch(message);
    };
    await refused({ ETCD_TRUST_HEALTH_TRIES: "0" }, /ETCD_TRUST_HEALTH_TRIES is not a count: '0'/);
    await refused({ ETCD_TRUST_HEALTH_TRIES: "3;reboot" }, /ETCD_TRUST_HEALTH_TRIES is not a count/);
    await refused({ ETCD_TRUST_JITTER_SECONDS: "1s" }, /ETCD_TRUST_JITTER_SECONDS is not seconds: '1s'/);
    await refused({ ETCD_TRUST_LOCAL_ENDPOINT: "https://127.0.0.1:2379/$(id)" }, /refusing ETCD_TRUST_LOCAL_ENDPOINT/);
    bundle("caA", "caB");
  });

  it("fails when node.env names no etcd endpoints", async () => {
    bundle("caA");
    writeFileSync(path.join(dir, "node.env"), `HA_ETCD_BIN_DIR='${bin()}'\n`);
    const r = await trust("--restart-if-changed");
    expect([r.code, r.calls]).toEqual([1, []]);
    expect(r.stderr).toMatch(/HA_ETCD_ENDPOINTS missing/);
    writeFileSync(path.join(dir, "node.env"), `HA_ETCD_ENDPOINTS='${endpoint}'\nHA_ETCD_BIN_DIR='${bin()}'\n`);
    bundle("caA", "caB");
  });

  it("refuses a malformed endpoint list and a mode it does not know", async () => {
    expect((await trust("--bogus")).code).toBe(2);
    bundle("caA");
    writeFileSync(path.join(dir, "node.env"), `HA_ETCD_ENDPOINTS='https://x;rm -rf /'\n`);
    expect(await trust("--restart-if-changed")).toMatchObject({ code: 2, calls: [] });
  });
});
