/**
 * Where ha-etcd-trust hands leadership before the restart a CA rotation needs, on a real three-member
 * etcd 3.5.21 cluster on 127.0.0.1. The leader moves leadership away first (its own stop would move it
 * mid-shutdown, failing requests in flight); it prefers a peer whose etcd already trusts exactly this
 * node's new bundle (read from the client CA names in the peer's TLS CertificateRequest), so
 * leadership does not move a second time when that peer's turn comes, whether that peer restarted
 * before or after this node's bundle changed; otherwise it takes the peer with the lowest member id. A member that is not the leader moves
 * nothing. Leadership is read from etcd itself (`endpoint status`), not from the script's log.
 */
import { ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { describeTier } from "../../harness/tiers";
import { etcdBinariesCheck, realComponentPaths } from "../../harness/real-components";
import { renderedScript } from "../../helpers/scripts";

const run = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Member {
  readonly name: string;
  readonly client: number;
  readonly peer: number;
  proc?: ChildProcess;
}

describeTier("ha-etcd-trust's leadership hand-over on a real three-member etcd", etcdBinariesCheck(), { tierLabel: "node" }, () => {
  let dir: string;
  const members: Member[] = [];
  const bin = () => realComponentPaths().etcdBin;
  const file = (...p: string[]) => path.join(dir, "pki", ...p);
  const endpoint = (m: Member) => `https://127.0.0.1:${m.client}`;
  const openssl = (args: string[]) => run("openssl", args, { timeout: 30_000 });

  async function leaf(name: string): Promise<void> {
    const ext = file(`${name}.ext`);
    writeFileSync(ext, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
    await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`), "-subj", `/CN=${path.basename(name)}`]);
    await openssl(["x509", "-req", "-in", file(`${name}.csr`), "-CA", file("caA.crt"), "-CAkey", file("caA.key"), "-CAcreateserial", "-out", file(`${name}.crt`), "-days", "1", "-extfile", ext]);
  }

  async function ctl(args: string[], endpoints = members.map(endpoint).join(",")): Promise<string> {
    const r = await run(path.join(bin(), "etcdctl"), ["--endpoints", endpoints, "--cacert", file("caA.crt"), "--cert", file("etcd", "healthcheck-client.crt"), "--key", file("etcd", "healthcheck-client.key"), "--dial-timeout", "2s", "--command-timeout", "5s", ...args], { timeout: 20_000 });
    return r.stdout;
  }

  /** Starts member `m`, trusting the CAs of `trust` for its clients (CA A alone unless given). */
  async function start(m: Member, state: "new" | "existing", trust = file("caA.crt")): Promise<void> {
    m.proc = spawn(path.join(bin(), "etcd"), [
      "--name", m.name, "--data-dir", path.join(dir, m.name),
      "--listen-client-urls", endpoint(m), "--advertise-client-urls", endpoint(m),
      "--listen-peer-urls", `http://127.0.0.1:${m.peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${m.peer}`,
      "--initial-cluster", members.map((x) => `${x.name}=http://127.0.0.1:${x.peer}`).join(","), "--initial-cluster-state", state,
      "--cert-file", file("server.crt"), "--key-file", file("server.key"), "--client-cert-auth", "--trusted-ca-file", trust,
    ], { stdio: "ignore" });
  }

  async function stop(m: Member): Promise<void> {
    const p = m.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    const kill = setTimeout(() => p.kill("SIGKILL"), 15_000); // bounded: a member that hangs on stop is killed
    await exited;
    clearTimeout(kill);
  }

  async function waitHealthy(): Promise<void> {
    for (let i = 0; i < 150; i++) {
      try {
        await ctl(["endpoint", "health"]);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error("the etcd cluster did not become healthy");
  }

  /** Member ids and the current leader, as every member reports them. */
  async function status(): Promise<{ ids: Record<string, string>; leader: string }> {
    const st = JSON.parse(await ctl(["endpoint", "status", "-w", "json"])) as Array<{ Endpoint: string; Status: { header: { member_id: number }; leader: number } }>;
    const ids: Record<string, string> = {};
    // JSON numbers lose precision above 2^53: read the ids as text from etcdctl's table instead.
    const table = await ctl(["member", "list", "-w", "simple"]);
    for (const line of table.trim().split("\n")) {
      const [id, , name] = line.split(", ");
      ids[name] = id;
    }
    const leaders = new Set(st.map((s) => s.Status.leader));
    expect(leaders.size).toBe(1);
    const leaderName = members.find((m) => st.find((s) => s.Endpoint === endpoint(m))?.Status.header.member_id === st[0].Status.leader)?.name;
    if (!leaderName) throw new Error("no leader among the members");
    return { ids, leader: leaderName };
  }

  /** Runs ha-etcd-trust on member `m`'s node with a recording systemctl. */
  async function trust(m: Member): Promise<{ code: number; calls: string[]; stderr: string }> {
    const calls = path.join(dir, "calls");
    writeFileSync(calls, "");
    const env = { PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, ENV_FILE: path.join(dir, "node.env"), PKI_DIR: file(), ETCD_TRUST_STATE_FILE: path.join(dir, "state"), ETCD_TRUST_JITTER_SECONDS: "0", ETCD_TRUST_LOCAL_ENDPOINT: endpoint(m), CALLS: calls };
    try {
      const r = await run("bash", [renderedScript("ha-etcd-trust.sh"), "--restart-if-changed"], { env, timeout: 90_000 });
      return { code: 0, calls: readFileSync(calls, "utf8").split("\n").filter(Boolean), stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stderr: string };
      return { code: err.code, calls: readFileSync(calls, "utf8").split("\n").filter(Boolean), stderr: err.stderr };
    }
  }

  /** The node's trust bundle changes now (both CAs), while what etcd recorded at start is CA A alone. */
  async function bundleChangesNow(): Promise<void> {
    writeFileSync(file("etcd", "ca.crt"), readFileSync(file("caA.crt"), "utf8"));
    await run("bash", [renderedScript("ha-etcd-trust.sh"), "--record"], { env: { PATH: process.env.PATH, ENV_FILE: path.join(dir, "node.env"), PKI_DIR: file(), ETCD_TRUST_STATE_FILE: path.join(dir, "state") } });
    writeFileSync(file("etcd", "ca.crt"), readFileSync(file("caA.crt"), "utf8") + readFileSync(file("caB.crt"), "utf8"));
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "etcd-trust-leader-"));
    mkdirSync(file("etcd"), { recursive: true });
    mkdirSync(path.join(dir, "bin"));
    writeFileSync(path.join(dir, "bin", "systemctl"), '#!/bin/sh\necho "$*" >>"$CALLS"\n', { mode: 0o755 });
    for (const ca of ["caA", "caB"]) {
      await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file(`${ca}.key`), "-out", file(`${ca}.crt`), "-subj", `/CN=${ca}`, "-days", "2"]);
    }
    await leaf("server");
    await leaf("etcd/healthcheck-client");
    for (const name of ["m0", "m1", "m2"]) members.push({ name, client: await freePort(), peer: await freePort() });
    writeFileSync(path.join(dir, "node.env"), `HA_ETCD_ENDPOINTS='${members.map(endpoint).join(",")}'\nHA_ETCD_BIN_DIR='${bin()}'\n`);
    for (const m of members) await start(m, "new");
    await waitHealthy();
  }, 120_000);

  afterAll(async () => {
    for (const m of members) await stop(m);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a member that is not the leader restarts without moving leadership", async () => {
    await bundleChangesNow();
    const before = await status();
    const follower = members.find((m) => m.name !== before.leader) as Member;
    const r = await trust(follower);
    expect([r.code, r.calls]).toEqual([0, ["restart --no-block etcd.service"]]);
    expect(r.stderr).not.toMatch(/leadership moved/);
    expect((await status()).leader).toBe(before.leader);
  }, 120_000);

  /** The peers of `leader`, lowest member id first. */
  const peersOf = (ids: Record<string, string>, leader: string) =>
    members.filter((m) => m.name !== leader).sort((a, b) => (BigInt(`0x${ids[a.name]}`) < BigInt(`0x${ids[b.name]}`) ? -1 : 1));

  /** Members whose etcd trusts CA B too (restarted with both CAs). */
  const trustsBoth = new Set<string>();
  /** Restarts member `m` trusting `trust` (a copy: the node's own bundle file changes under the test). */
  async function restartTrusting(m: Member, trust: string): Promise<void> {
    const copy = file(`${m.name}-trust.crt`);
    writeFileSync(copy, readFileSync(trust, "utf8"));
    if (readFileSync(trust, "utf8").includes(readFileSync(file("caB.crt"), "utf8"))) trustsBoth.add(m.name);
    else trustsBoth.delete(m.name);
    await stop(m);
    await start(m, "existing", copy);
    await waitHealthy();
  }
  const bothCas = () => {
    writeFileSync(file("bundleAB.crt"), readFileSync(file("caA.crt"), "utf8") + readFileSync(file("caB.crt"), "utf8"));
    return file("bundleAB.crt");
  };

  /** ha-etcd-trust on the leader restarts it after moving leadership to `to`, for the reason `why` (its log), as etcd reports. */
  async function expectHandOver(leader: string, to: Member, id: string, why: string): Promise<void> {
    const r = await trust(members.find((m) => m.name === leader) as Member);
    expect([r.code, r.calls]).toEqual([0, ["restart --no-block etcd.service"]]);
    expect(r.stderr).toMatch(new RegExp(`leadership moved to ${id} ${why}`));
    expect((await status()).leader).toBe(to.name);
  }

  it("the leader prefers a peer that already trusts its new bundle (read from the peer's TLS handshake), even when that peer's id is not the lowest", async () => {
    await bundleChangesNow();
    const { ids, leader } = await status();
    // The peer with the higher id restarts with the new bundle (the lowest-id rule would pick the other).
    const ready = peersOf(ids, leader)[1];
    await restartTrusting(ready, bothCas());
    await expectHandOver(leader, ready, ids[ready.name], "trusting the new bundle already");
  }, 120_000);

  it("also when that peer restarted before this node's bundle changed (nodes refreshing one after another)", async () => {
    const { ids, leader } = await status();
    const ready = peersOf(ids, leader).find((m) => !trustsBoth.has(m.name));
    if (!ready) throw new Error("every peer already trusts both CAs");
    await restartTrusting(ready, bothCas());
    await new Promise((r) => setTimeout(r, 1100));
    await bundleChangesNow(); // this node's bundle changes after the peer's restart
    const now = await status();
    expect(now.leader).toBe(leader);
    await expectHandOver(leader, ready, ids[ready.name], "trusting the new bundle already");
  }, 120_000);

  it("with no peer trusting the new bundle yet, the leader hands over to the peer with the lowest member id", async () => {
    for (const m of members) await restartTrusting(m, file("caA.crt"));
    await bundleChangesNow();
    const { ids, leader } = await status();
    const lowest = peersOf(ids, leader)[0];
    await expectHandOver(leader, lowest, ids[lowest.name], "lowest member id");
  }, 180_000);
});
