/**
 * ha-etcd-restore on its own, with the real programs: snapshots saved by a real etcd 3.5.21 member
 * (loopback, client TLS), restored by the real etcdutl, fetched by the real AWS CLI from moto and by
 * the real curl from a loopback HTTP server. What a member does with each way of naming a snapshot
 * (`latest` and a name under an s3:// or file:// target, an s3:// URI, a local path, `url`), what it
 * refuses before touching anything, and what it leaves:
 * - the oracle for what was restored is etcdutl itself: `snapshot status` of the restored database
 *   reads the snapshot's revision plus BUMP_REVISION (etcd's "Disaster recovery": restore with
 *   `--bump-revision --mark-compacted`), and etcdutl refuses a peer URL that is not the member's
 *   entry in the initial cluster;
 * - stand-ins on PATH only record and pass on: `etcdutl` and `curl` log their argument vectors
 *   and exec the real programs, `logger` keeps the journal lines, the stop command logs its calls.
 * backup-restore.e2e runs the backup script into the same restore; restore.cp runs the whole
 * operator procedure on real nodes.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, Server } from "node:http";
import { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { AwsEmulator, EMULATOR_REGION, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { runCommand } from "../harness/etcd-cluster";
import { startImdsRegionStandIn } from "../harness/imds-region-standin";
import { etcdBinariesCheck, realComponentPaths } from "../harness/real-components";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";
import { inView, overlayMount } from "../controlplane/node-view";
import { TestCluster, issueEtcdCa, startTestCluster } from "../bootstrap/etcd/cluster";


/** etcd's default revision bump of the script (its documentation: "default 1000000000"). */
const DEFAULT_BUMP = 1_000_000_000;
const INITIAL_CLUSTER = "etcd-0=https://10.0.0.10:2380,etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380";

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describeTier(
  "ha-etcd-restore on its own (real etcdutl, AWS CLI against moto, curl against a loopback server)",
  allOf(awsEmulatorCheck(), etcdBinariesCheck(), toolAvailable("curl", ["--version"]), toolAvailable("unshare", ["--version"]), toolAvailable("setpriv", ["--version"])),
  { tierLabel: "emulator e2e" },
  () => {
    let emulator!: AwsEmulator;
    let tc: TestCluster | undefined;
    let dir!: string;
    let bin!: string;
    let etcdBin!: string;
    let baseEnv!: Record<string, string>;
    /** Two snapshots of one member: s1 older, s2 after more writes (a higher revision). */
    const snap = { s1: "", s2: "" };
    const revision = { s1: 0, s2: 0 };
    let server: Server | undefined;
    let serverPort = 0;
    const served: string[] = [];
    let caseNo = 0;

    const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
    const mode = (file: string) => statSync(file).mode & 0o777;
    /** What etcdutl's `snapshot status` reads from a database file. */
    const status = (db: string): { revision: number; totalKey: number } => {
      const r = spawnSync(path.join(realComponentPaths().etcdBin, "etcdutl"), ["snapshot", "status", db, "-w", "json"], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`etcdutl snapshot status ${db}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    };
    const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l !== "") : []);

    /** A fresh case directory: its own data dir, work dir, state dir and logs. */
    const fresh = () => {
      const c = path.join(dir, `case-${++caseNo}`);
      mkdirSync(c);
      const data = path.join(c, "data");
      const work = path.join(c, "work");
      return {
        dir: c,
        data,
        work,
        log: (name: string) => path.join(c, `${name}.log`),
        env: (extra: Record<string, string> = {}): Record<string, string> => ({
          ...baseEnv,
          HOME: c,
          SLOT_NAME: "etcd-0",
          SLOT_IP: "10.0.0.10",
          INITIAL_CLUSTER,
          ETCD_DATA_DIR: data,
          WORK_DIR: work,
          STATE_DIR: path.join(c, "state"),
          BACKUP_TARGET: `file://${path.join(c, "backups")}`,
          STOP_ETCD: "stop-etcd",
          RESTORE_TOKEN: "tok-1",
          ...extra,
        }),
      };
    };
    type Case = ReturnType<typeof fresh>;

    /** Runs the rendered script asynchronously (the loopback HTTP server answers meanwhile), through the harness's runCommand. */
    const restore = (args: string[], env: Record<string, string>): Promise<Run> => runArgv(["bash", renderedScript("ha-etcd-restore.sh"), ...args], env);
    const runArgv = async (argv: string[], env: Record<string, string>): Promise<Run> => {
      const r = await runCommand(argv[0], argv.slice(1), { env, timeoutMs: 60_000 });
      return { status: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    };
    /** The script's own stderr lines (etcdutl and the AWS CLI write theirs there too). */
    const said = (r: Run) => r.stderr.split("\n").filter((l) => l.startsWith("ha-etcd-restore: "));
    /** etcdutl's calls in a case (argument vectors, one per line). */
    const etcdutlCalls = (c: Case) => lines(c.log("etcdutl")).filter((l) => l.startsWith("snapshot restore"));
    const restoreArgv = (c: Case, o: { name?: string; ip?: string; port?: number; token: string; bump?: number; initialCluster?: string }) =>
      [
        "snapshot restore",
        path.join(c.work, "restore.db"),
        "--name", o.name ?? "etcd-0",
        "--initial-cluster", o.initialCluster ?? INITIAL_CLUSTER,
        "--initial-cluster-token", o.token,
        "--initial-advertise-peer-urls", `https://${o.ip ?? "10.0.0.10"}:${o.port ?? 2380}`,
        "--data-dir", c.data,
        "--bump-revision", String(o.bump ?? DEFAULT_BUMP),
        "--mark-compacted",
      ].join(" ");
    /** Checks a completed restore of `which` with `token`: etcdutl's view of the data, the marker, modes, the work copy gone. */
    const expectRestored = (c: Case, which: "s1" | "s2", token: string, bump = DEFAULT_BUMP) => {
      const db = path.join(c.data, "member/snap/db");
      expect(status(db).revision).toBe(revision[which] + bump);
      expect(readFileSync(`${c.data}.restore-token`, "utf8")).toBe(`${token} ${sha256(snap[which])}\n`);
      expect(mode(c.data)).toBe(0o700);
      expect(mode(`${c.data}.restore-token`)).toBe(0o600);
      expect(mode(c.work)).toBe(0o700);
      expect(readdirSync(c.work)).toEqual([]);
    };
    /** A data directory that must survive a refusal untouched. */
    const occupied = (c: Case) => {
      mkdirSync(path.join(c.data, "member"), { recursive: true });
      writeFileSync(path.join(c.data, "member/sentinel"), "old data");
    };
    const expectUntouched = (c: Case) => {
      expect(readFileSync(path.join(c.data, "member/sentinel"), "utf8")).toBe("old data");
      expect(readdirSync(c.dir).filter((f) => f.includes("before-restore"))).toEqual([]);
      expect(etcdutlCalls(c)).toEqual([]);
      expect(lines(c.log("stop"))).toEqual([]);
    };
    const writeSha = (file: string, sum: string) => writeFileSync(`${file}.sha256`, `${sum}  ${path.basename(file)}\n`);
    /** Snapshot `which` copied to `file` with its recorded SHA-256 beside it (as a backup leaves it); returns `file`. */
    const placed = (which: "s1" | "s2", file: string) => {
      copyFileSync(snap[which], file);
      writeSha(file, sha256(snap[which]));
      return file;
    };

    beforeAll(async () => {
      emulator = await startAwsEmulator();
      dir = mkdtempSync(path.join(tmpdir(), "etcd-restore-e2e-"));
      bin = path.join(dir, "bin");
      etcdBin = path.join(dir, "etcd-bin");
      mkdirSync(bin);
      mkdirSync(etcdBin);
      const standIn = (where: string, name: string, text: string) => {
        writeFileSync(path.join(where, name), `#!/usr/bin/env bash\n${text}`);
        chmodSync(path.join(where, name), 0o755);
      };
      standIn(bin, "logger", 'printf \'%s\\n\' "$*" >>"$HOME/journal.log"\n');
      standIn(bin, "stop-etcd", 'echo stop >>"$HOME/stop.log"\n');
      standIn(bin, "curl", 'printf \'%s\\n\' "$*" >>"$HOME/curl.log"\nexec /usr/bin/curl "$@"\n');
      standIn(etcdBin, "etcdutl", `printf '%s\\n' "$*" >>"$HOME/etcdutl.log"\nexec ${path.join(realComponentPaths().etcdBin, "etcdutl")} "$@"\n`);
      baseEnv = { ...emulator.env, PATH: `${bin}:${etcdBin}:${path.dirname(emulator.awsCli)}:/usr/bin:/bin`, ENV_FILE: "/dev/null", LANG: "C" };

      const ca = await issueEtcdCa(path.join(dir, "ca"), [{ name: "etcd-0", privateIp: "10.0.0.10" }]);
      tc = await startTestCluster({ mode: "loopback", names: ["etcd-0"], ca, workDir: dir });
      const etcdctl = async (...args: string[]) => {
        const r = await tc!.cluster.etcdctl(args);
        if (r.exitCode !== 0) throw new Error(`etcdctl ${args.join(" ")}: ${r.stderr}`);
      };
      await etcdctl("put", "/e2e/value", "one");
      snap.s1 = path.join(dir, "s1.db");
      await etcdctl("snapshot", "save", snap.s1);
      await etcdctl("put", "/e2e/value", "two");
      await etcdctl("put", "/e2e/other", "three");
      snap.s2 = path.join(dir, "s2.db");
      await etcdctl("snapshot", "save", snap.s2);
      revision.s1 = status(snap.s1).revision;
      revision.s2 = status(snap.s2).revision;
      expect(revision.s2).toBeGreaterThan(revision.s1);
      await tc.destroy();
      tc = undefined;

      // The loopback server for `url`: each request's path is recorded; /s2.db serves s2.
      server = createServer((req, res) => {
        served.push(req.url ?? "");
        if ((req.url ?? "").startsWith("/s2.db")) {
          res.writeHead(200, { "content-type": "application/octet-stream" });
          res.end(readFileSync(snap.s2));
        } else {
          res.writeHead(404);
          res.end();
        }
      });
      await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
      serverPort = (server.address() as AddressInfo).port;
    }, 120_000);

    afterAll(async () => {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await tc?.destroy();
      await emulator?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("file://, `latest`: the newest modification time among *.db files (not the name that sorts last); etcdutl restores it with the slot's name and peer URL, the token and the revision bump; data directory 0700, marker, work copy removed, every line in the journal", async () => {
      const c = fresh();
      const target = path.join(c.dir, "backups");
      mkdirSync(path.join(target, "zzzz"), { recursive: true });
      mkdirSync(path.join(target, "etcd-0"));
      const hostile = path.join(target, "zzzz/prod-99991231T000000Z.db");
      placed("s1", hostile);
      utimesSync(hostile, new Date("2020-01-01T00:00:00Z"), new Date("2020-01-01T00:00:00Z"));
      const newest = path.join(target, "etcd-0/prod-20260101T000000Z.db");
      placed("s2", newest);
      utimesSync(newest, new Date("2026-01-01T00:00:00Z"), new Date("2026-01-01T00:00:00Z"));
      // Newer still, but not a snapshot: never taken.
      writeFileSync(path.join(target, "etcd-0/notes.txt"), "not a snapshot");

      const r = await restore(["latest"], c.env({ BACKUP_TARGET: `file://${target}` }));
      expect(r.status).toBe(0);
      expect(r.stdout).toBe("");
      expect(said(r)).toEqual([
        "ha-etcd-restore: latest snapshot (newest modification time): etcd-0/prod-20260101T000000Z.db",
        `ha-etcd-restore: member etcd-0 restored from etcd-0/prod-20260101T000000Z.db (revision bumped by ${DEFAULT_BUMP}); start etcd on every member`,
      ]);
      expect(lines(c.log("journal"))).toEqual(said(r).map((l) => `-t ha-etcd-restore -- ${l.slice("ha-etcd-restore: ".length)}`));
      expect(etcdutlCalls(c)).toEqual([restoreArgv(c, { token: "tok-1" })]);
      expect(lines(c.log("stop"))).toEqual(["stop"]);
      expectRestored(c, "s2", "tok-1");
    }, 60_000);

    it("run again with the same token and snapshot: nothing to do (etcd not stopped, etcdutl not run, nothing moved); a new token, another snapshot, a lost marker or a lost data directory: etcd stopped, the previous data moved aside, restored again", async () => {
      const c = fresh();
      const s1 = placed("s1", path.join(c.dir, "s1.db"));
      const s2 = placed("s2", path.join(c.dir, "s2.db"));
      const restoredLine = (from: string, name = "etcd-0") => `ha-etcd-restore: member ${name} restored from ${from} (revision bumped by ${DEFAULT_BUMP}); start etcd on every member`;
      const asides = () => readdirSync(c.dir).filter((f) => f.startsWith("data.before-restore-")).sort();
      /** The line that names the i-th directory moved aside. */
      const keptIn = (i: number) => `ha-etcd-restore: previous data kept in ${path.join(c.dir, asides()[i])}`;
      // The aside's name has a one-second resolution: let the clock move on between restores.
      const nextSecond = () => new Promise((r) => setTimeout(r, 1100));

      const first = await restore([s2], c.env());
      expect(first.status).toBe(0);
      expect(said(first)).toEqual([restoredLine(s2)]);
      expectRestored(c, "s2", "tok-1");

      const again = await restore([s2], c.env());
      expect(again.status).toBe(0);
      expect(said(again)).toEqual(["ha-etcd-restore: member etcd-0 already restored with token tok-1 from this snapshot: nothing to do"]);
      expect(lines(c.log("stop"))).toEqual(["stop"]);
      expect(etcdutlCalls(c)).toHaveLength(1);
      expect(asides()).toEqual([]);
      expectRestored(c, "s2", "tok-1");

      await nextSecond();
      const newToken = await restore([s2], c.env({ RESTORE_TOKEN: "tok-2" }));
      expect(newToken.status).toBe(0);
      expect(asides()).toHaveLength(1);
      expect(asides()[0]).toMatch(/^data\.before-restore-\d{8}T\d{6}Z$/);
      expect(said(newToken)).toEqual([keptIn(0), restoredLine(s2)]);
      // What was moved aside is the first restore's database.
      expect(status(path.join(c.dir, asides()[0], "member/snap/db")).revision).toBe(revision.s2 + DEFAULT_BUMP);
      expect(lines(c.log("stop"))).toEqual(["stop", "stop"]);
      expectRestored(c, "s2", "tok-2");

      await nextSecond();
      const otherSnapshot = await restore([s1], c.env({ RESTORE_TOKEN: "tok-2" }));
      expect(otherSnapshot.status).toBe(0);
      expect(said(otherSnapshot)).toEqual([keptIn(1), restoredLine(s1)]);
      expect(asides()).toHaveLength(2);
      expectRestored(c, "s1", "tok-2");

      await nextSecond();
      rmSync(`${c.data}.restore-token`);
      const lostMarker = await restore([s1], c.env({ RESTORE_TOKEN: "tok-2" }));
      expect(lostMarker.status).toBe(0);
      expect(said(lostMarker)).toEqual([keptIn(2), restoredLine(s1)]);
      expectRestored(c, "s1", "tok-2");

      rmSync(c.data, { recursive: true });
      const lostData = await restore([s1], c.env({ RESTORE_TOKEN: "tok-2" }));
      expect(lostData.status).toBe(0);
      expect(said(lostData)).toEqual([restoredLine(s1)]);
      expectRestored(c, "s1", "tok-2");
      expect(asides()).toHaveLength(3);
      expect(lines(c.log("stop"))).toHaveLength(5);
      expect(etcdutlCalls(c)).toHaveLength(5);

      // A restore that etcdutl fails (bytes that match their recorded checksum but not the hash etcd
      // put in the snapshot) leaves a partial data directory behind. The previous restore's marker
      // is gone by then: re-running that restore restores again instead of taking the partial
      // directory for its result.
      const corrupt = path.join(c.dir, "corrupt.db");
      const bytes = readFileSync(snap.s1);
      bytes.write("XXXXXXXX", Math.floor(bytes.length / 2), "latin1");
      writeFileSync(corrupt, bytes);
      writeSha(corrupt, sha256(corrupt));
      await nextSecond();
      const failed = await restore([corrupt], c.env({ RESTORE_TOKEN: "tok-3" }));
      expect(failed.status).not.toBe(0);
      expect(failed.stderr).toContain("Error: expected sha256");
      expect(existsSync(path.join(c.data, "member/snap/db"))).toBe(true);
      expect(existsSync(`${c.data}.restore-token`)).toBe(false);
      await nextSecond();
      const retried = await restore([s1], c.env({ RESTORE_TOKEN: "tok-2" }));
      expect(retried.status).toBe(0);
      expect(said(retried)).toEqual([keptIn(4), restoredLine(s1)]);
      expect(asides()).toHaveLength(5);
      expectRestored(c, "s1", "tok-2");

      // A stop command that fails (etcd already stopped) does not stop the restore.
      const c2 = fresh();
      const failingStop = await restore([s1], c2.env({ STOP_ETCD: "false" }));
      expect(failingStop.status).toBe(0);
      expectRestored(c2, "s1", "tok-1");
    }, 60_000);

    it("a local file: checked against the .sha256 beside it; without one refused unless ALLOW_UNVERIFIED_SNAPSHOT=1, a wrong one refused, before etcd is stopped or anything is moved", async () => {
      const c = fresh();
      occupied(c);
      const file = path.join(c.dir, "s1.db");
      copyFileSync(snap.s1, file);
      const noSum = `ha-etcd-restore: ERROR: ${file} has no recorded SHA-256: refusing it (set ALLOW_UNVERIFIED_SNAPSHOT=1 to restore it anyway)`;
      for (const allow of [undefined, "0", "true"]) {
        const r = await restore([file], c.env(allow === undefined ? {} : { ALLOW_UNVERIFIED_SNAPSHOT: allow }));
        expect({ allow, status: r.status, said: said(r) }).toEqual({ allow, status: 1, said: [noSum] });
        expectUntouched(c);
      }
      writeSha(file, sha256(snap.s2));
      const wrong = await restore([file], c.env());
      expect(wrong.status).toBe(1);
      expect(said(wrong)).toEqual([`ha-etcd-restore: ERROR: ${file} has SHA-256 ${sha256(snap.s1)}, not the ${sha256(snap.s2)} recorded at upload: refusing it`]);
      expectUntouched(c);

      writeSha(file, sha256(snap.s1));
      const right = await restore([file], c.env());
      expect(right.status).toBe(0);
      const aside = readdirSync(c.dir).filter((f) => f.startsWith("data.before-restore-"));
      expect(aside).toHaveLength(1);
      expect(readFileSync(path.join(c.dir, aside[0], "member/sentinel"), "utf8")).toBe("old data");
      expect(said(right)).toEqual([`ha-etcd-restore: previous data kept in ${path.join(c.dir, aside[0])}`, `ha-etcd-restore: member etcd-0 restored from ${file} (revision bumped by ${DEFAULT_BUMP}); start etcd on every member`]);
      expectRestored(c, "s1", "tok-1");

      // The same checks for a name under a file:// target.
      const c3 = fresh();
      occupied(c3);
      const target = path.join(c3.dir, "backups");
      mkdirSync(path.join(target, "etcd-1"), { recursive: true });
      const named = path.join(target, "etcd-1/prod-20260101T000000Z.db");
      copyFileSync(snap.s2, named);
      const byName = (extra: Record<string, string> = {}) => restore(["etcd-1/prod-20260101T000000Z.db"], c3.env({ BACKUP_TARGET: `file://${target}`, ...extra }));
      const unsummed = await byName();
      expect(unsummed.status).toBe(1);
      expect(said(unsummed)).toEqual([`ha-etcd-restore: ERROR: ${named} has no recorded SHA-256: refusing it (set ALLOW_UNVERIFIED_SNAPSHOT=1 to restore it anyway)`]);
      expectUntouched(c3);
      writeSha(named, sha256(snap.s1));
      const mismatched = await byName();
      expect(mismatched.status).toBe(1);
      expect(said(mismatched)).toEqual([`ha-etcd-restore: ERROR: ${named} has SHA-256 ${sha256(snap.s2)}, not the ${sha256(snap.s1)} recorded at upload: refusing it`]);
      expectUntouched(c3);
      writeSha(named, sha256(snap.s2));
      const matched = await byName();
      expect(matched.status).toBe(0);
      expect(said(matched).slice(1)).toEqual([`ha-etcd-restore: member etcd-0 restored from etcd-1/prod-20260101T000000Z.db (revision bumped by ${DEFAULT_BUMP}); start etcd on every member`]);
      expectRestored(c3, "s2", "tok-1");

      const c2 = fresh();
      const unverified = path.join(c2.dir, "s2.db");
      copyFileSync(snap.s2, unverified);
      const allowed = await restore([unverified], c2.env({ ALLOW_UNVERIFIED_SNAPSHOT: "1" }));
      expect(allowed.status).toBe(0);
      expect(said(allowed)).toEqual([
        `ha-etcd-restore: WARNING: ${unverified} has no recorded SHA-256; restoring it unverified (ALLOW_UNVERIFIED_SNAPSHOT=1)`,
        `ha-etcd-restore: member etcd-0 restored from ${unverified} (revision bumped by ${DEFAULT_BUMP}); start etcd on every member`,
      ]);
      expectRestored(c2, "s2", "tok-1");
    }, 60_000);

    it("url: curl reads the URL from stdin (its signature is on no command line), the bytes must have SNAPSHOT_SHA256, no instance metadata is asked; a missing or malformed SHA-256 or URL, or a wrong SHA-256 is refused before anything is touched", async () => {
      const c = fresh();
      occupied(c);
      const signature = "X-Amz-Signature=5ecre7";
      const url = `http://127.0.0.1:${serverPort}/s2.db?${signature}`;
      // An s3:// target and no region: asking the instance metadata would show in curl's log.
      const urlEnv = (extra: Record<string, string>) => c.env({ BACKUP_TARGET: "s3://nowhere/snapshots", AWS_DEFAULT_REGION: "", AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:9", ...extra });
      const needSha = "ha-etcd-restore: ERROR: snapshot 'url' needs SNAPSHOT_SHA256 (64 hex digits)";
      const needUrl = "ha-etcd-restore: ERROR: snapshot 'url' needs SNAPSHOT_URL (http(s)://…)";
      const sum = sha256(snap.s2);
      const refusals: [Record<string, string>, string][] = [
        [{ SNAPSHOT_URL: url }, needSha],
        [{ SNAPSHOT_URL: url, SNAPSHOT_SHA256: sum.toUpperCase() }, needSha],
        [{ SNAPSHOT_URL: url, SNAPSHOT_SHA256: sum.slice(1) }, needSha],
        [{ SNAPSHOT_SHA256: sum }, needUrl],
        [{ SNAPSHOT_SHA256: sum, SNAPSHOT_URL: "file:///etc/hostname" }, needUrl],
        // A quote would end curl's config string and let the rest of the value add options.
        [{ SNAPSHOT_SHA256: sum, SNAPSHOT_URL: `${url}"` }, needUrl],
        [{ SNAPSHOT_SHA256: sum, SNAPSHOT_URL: `${url} -o /tmp/x` }, needUrl],
      ];
      for (const [extra, message] of refusals) {
        const r = await restore(["url"], urlEnv(extra));
        expect({ extra, status: r.status, said: said(r) }).toEqual({ extra, status: 2, said: [message] });
        expectUntouched(c);
      }
      expect(lines(c.log("curl"))).toEqual([]);

      const wrong = await restore(["url"], urlEnv({ SNAPSHOT_URL: url, SNAPSHOT_SHA256: sha256(snap.s1) }));
      expect(wrong.status).toBe(1);
      expect(said(wrong)).toEqual([`ha-etcd-restore: ERROR: the snapshot at SNAPSHOT_URL has SHA-256 ${sum}, not the ${sha256(snap.s1)} recorded at upload: refusing it`]);
      expectUntouched(c);

      const r = await restore(["url"], urlEnv({ SNAPSHOT_URL: url, SNAPSHOT_SHA256: sum }));
      expect(r.status).toBe(0);
      const aside = readdirSync(c.dir).filter((f) => f.startsWith("data.before-restore-"));
      expect(said(r)).toEqual([`ha-etcd-restore: previous data kept in ${path.join(c.dir, aside[0])}`, `ha-etcd-restore: member etcd-0 restored from sha256:${sum} (revision bumped by ${DEFAULT_BUMP}); start etcd on every member`]);
      expectRestored(c, "s2", "tok-1");
      expect(served).toEqual([`/s2.db?${signature}`, `/s2.db?${signature}`]);
      // Two downloads, each with the URL read from stdin (-K -) into the work copy, failing on an
      // HTTP error (-f), nothing else.
      expect(lines(c.log("curl"))).toEqual(Array(2).fill(`-fsS --retry 5 --retry-all-errors -K - -o ${path.join(c.work, "restore.db")}`));
    }, 60_000);

    it("s3: `latest` under the target's prefix (every member's, newest LastModified, *.db only), a name under the target, an s3:// URI, a bucket without versioning; the version whose checksum was read is the one downloaded; a missing, malformed or wrong checksum is refused", async () => {
      const bucket = "etcd-restore-e2e";
      const plain = "etcd-restore-e2e-unversioned";
      const mb = (name: string) => emulator.aws("s3api", "create-bucket", "--bucket", name, "--create-bucket-configuration", `LocationConstraint=${EMULATOR_REGION}`);
      mb(bucket);
      mb(plain);
      emulator.aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled");
      const put = (b: string, key: string, file: string, sum?: string) =>
        emulator.aws("s3api", "put-object", "--bucket", b, "--key", key, "--body", file, ...(sum === undefined ? [] : ["--metadata", `sha256=${sum}`]));
      // LastModified has a one-second resolution.
      const later = () => new Promise((r) => setTimeout(r, 1100));
      const [sum1, sum2] = [sha256(snap.s1), sha256(snap.s2)];
      put(bucket, "snapshots/zzzz/prod-99991231T000000Z.db", snap.s1, sum1);
      await later();
      put(bucket, "snapshots/etcd-0/prod-20250101T000000Z.db", snap.s2, sum2);
      await later();
      // Newer, but not snapshots under the target: a note, and another target sharing the prefix's first letters.
      const note = path.join(dir, "note.txt");
      writeFileSync(note, "not a snapshot");
      put(bucket, "snapshots/etcd-0/notes.txt", note);
      put(bucket, "snapshots-old/etcd-9/prod-20270101T000000Z.db", snap.s1, sum1);
      put(plain, "snapshots/etcd-0/prod-20250101T000000Z.db", snap.s2, sum2);
      const restoredLine = (from: string) => `ha-etcd-restore: member etcd-0 restored from ${from} (revision bumped by ${DEFAULT_BUMP}); start etcd on every member`;

      for (const target of [`s3://${bucket}/snapshots`, `s3://${bucket}/snapshots/`]) {
        const c = fresh();
        const r = await restore(["latest"], c.env({ BACKUP_TARGET: target }));
        expect({ target, status: r.status }).toEqual({ target, status: 0 });
        expect(said(r)).toEqual(["ha-etcd-restore: latest snapshot (newest LastModified): etcd-0/prod-20250101T000000Z.db", restoredLine("etcd-0/prod-20250101T000000Z.db")]);
        expectRestored(c, "s2", "tok-1");
      }
      const byName = fresh();
      const named = await restore(["zzzz/prod-99991231T000000Z.db"], byName.env({ BACKUP_TARGET: `s3://${bucket}/snapshots` }));
      expect(named.status).toBe(0);
      expect(said(named)).toEqual([restoredLine("zzzz/prod-99991231T000000Z.db")]);
      expectRestored(byName, "s1", "tok-1");
      const byUri = fresh();
      const uri = `s3://${bucket}/snapshots-old/etcd-9/prod-20270101T000000Z.db`;
      const fromUri = await restore([uri], byUri.env());
      expect(fromUri.status).toBe(0);
      expect(said(fromUri)).toEqual([restoredLine(uri)]);
      expectRestored(byUri, "s1", "tok-1");
      const unversioned = fresh();
      const fromPlain = await restore(["latest"], unversioned.env({ BACKUP_TARGET: `s3://${plain}/snapshots` }));
      expect(fromPlain.status).toBe(0);
      expectRestored(unversioned, "s2", "tok-1");

      // A node whose environment names no region asks the instance metadata (IMDSv2) for it.
      const imds = await startImdsRegionStandIn("127.0.0.1", EMULATOR_REGION);
      try {
        const c = fresh();
        const r = await restore(["zzzz/prod-99991231T000000Z.db"], c.env({ BACKUP_TARGET: `s3://${bucket}/snapshots`, AWS_DEFAULT_REGION: "", AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint }));
        expect(r.status).toBe(0);
        expectRestored(c, "s1", "tok-1");
        expect(imds.requests()).toEqual(["PUT /latest/api/token 200", "GET /latest/meta-data/placement/region 200"]);
      } finally {
        imds.stop();
      }

      // A newer version written between the script's read of the checksum and its download (a
      // backup landing meanwhile): the version whose checksum was read is the one restored.
      const race = fresh();
      const raceBin = path.join(race.dir, "race-bin");
      mkdirSync(raceBin);
      put(bucket, "snapshots/etcd-2/prod-20260101T000000Z.db", snap.s1, sum1);
      writeFileSync(
        path.join(raceBin, "aws"),
        [
          "#!/usr/bin/env bash",
          `out=$(${emulator.awsCli} "$@") || exit $?`,
          'if [ "$2" = head-object ] && [ ! -e "$HOME/raced" ]; then',
          `  ${emulator.awsCli} s3api put-object --bucket "$4" --key "$6" --body ${snap.s2} --metadata sha256=${sum2} >/dev/null && touch "$HOME/raced"`,
          "fi",
          "printf '%s\\n' \"$out\"",
          "",
        ].join("\n"),
      );
      chmodSync(path.join(raceBin, "aws"), 0o755);
      const raced = await restore(["etcd-2/prod-20260101T000000Z.db"], race.env({ BACKUP_TARGET: `s3://${bucket}/snapshots`, PATH: `${raceBin}:${baseEnv.PATH}` }));
      expect(existsSync(path.join(race.dir, "raced"))).toBe(true);
      expect(raced.status).toBe(0);
      expectRestored(race, "s1", "tok-1");
      expect(emulator.aws("s3api", "list-object-versions", "--bucket", bucket, "--prefix", "snapshots/etcd-2/").Versions).toHaveLength(2);

      // Refusals, each before etcd is stopped or anything is moved.
      const c = fresh();
      occupied(c);
      const garbage = path.join(dir, "garbage.db");
      writeFileSync(garbage, "not a snapshot");
      const version = (key: string) => emulator.aws("s3api", "head-object", "--bucket", bucket, "--key", key).VersionId as string;
      put(bucket, "snapshots/etcd-1/tampered.db", garbage, sum1);
      put(bucket, "snapshots/etcd-1/no-sum.db", snap.s1);
      put(bucket, "snapshots/etcd-1/upper-sum.db", snap.s1, sum1.toUpperCase());
      const noSum = (key: string) => `ha-etcd-restore: ERROR: s3://${bucket}/${key} (version ${version(key)}) has no recorded SHA-256: refusing it (set ALLOW_UNVERIFIED_SNAPSHOT=1 to restore it anyway)`;
      const refusals: [string, string, string][] = [
        ["etcd-1/tampered.db", `s3://${bucket}/snapshots`, `ha-etcd-restore: ERROR: s3://${bucket}/snapshots/etcd-1/tampered.db (version ${version("snapshots/etcd-1/tampered.db")}) has SHA-256 ${sha256(garbage)}, not the ${sum1} recorded at upload: refusing it`],
        ["etcd-1/no-sum.db", `s3://${bucket}/snapshots`, noSum("snapshots/etcd-1/no-sum.db")],
        ["etcd-1/upper-sum.db", `s3://${bucket}/snapshots`, noSum("snapshots/etcd-1/upper-sum.db")],
        ["latest", `s3://${bucket}/empty`, `ha-etcd-restore: ERROR: no snapshot in s3://${bucket}/empty`],
      ];
      for (const [snapshot, target, message] of refusals) {
        const r = await restore([snapshot], c.env({ BACKUP_TARGET: target }));
        expect({ snapshot, status: r.status, said: said(r) }).toEqual({ snapshot, status: 1, said: [message] });
        expectUntouched(c);
      }
    }, 180_000);

    it("refuses a missing or malformed RESTORE_TOKEN or BUMP_REVISION, a missing snapshot argument, slot or INITIAL_CLUSTER, a target neither s3:// nor file://, an empty file:// target and a node without etcdutl, before etcd is stopped or anything is moved; takes a 64-character token, another revision bump and another peer port", async () => {
      const c = fresh();
      occupied(c);
      const file = placed("s1", path.join(c.dir, "s1.db"));
      const badToken = "ha-etcd-restore: RESTORE_TOKEN must be 1-64 letters, digits, '.', '_' or '-'";
      const badBump = "ha-etcd-restore: BUMP_REVISION must be a positive integer";
      mkdirSync(path.join(c.dir, "empty"));
      const refusals: [string[], Record<string, string>, number, string][] = [
        [[file], { RESTORE_TOKEN: "" }, 1, "RESTORE_TOKEN: set RESTORE_TOKEN to the same new value on every member"],
        [[file], { RESTORE_TOKEN: "tok 1" }, 2, badToken],
        [[file], { RESTORE_TOKEN: "tok/1" }, 2, badToken],
        [[file], { RESTORE_TOKEN: "t".repeat(65) }, 2, badToken],
        [[file], { BUMP_REVISION: "0" }, 2, badBump],
        [[file], { BUMP_REVISION: "-5" }, 2, badBump],
        [[file], { BUMP_REVISION: "012" }, 2, badBump],
        [[file], { BUMP_REVISION: "1e9" }, 2, badBump],
        [[file], { BUMP_REVISION: "1".repeat(19) }, 2, badBump],
        [[], {}, 1, "usage: ha-etcd-restore <latest|name|s3://…|/path/file.db>"],
        [[file], { INITIAL_CLUSTER: "" }, 1, "INITIAL_CLUSTER missing"],
        [[file], { SLOT_NAME: "" }, 1, "SLOT_NAME: parameter null or not set"],
        [[file], { SLOT_IP: "" }, 1, "SLOT_IP: parameter null or not set"],
        [[file], { BACKUP_TARGET: "" }, 1, "BACKUP_TARGET: parameter null or not set"],
        [["latest"], { BACKUP_TARGET: "gs://bucket/snapshots" }, 1, "ha-etcd-restore: ERROR: BACKUP_TARGET must be s3://… or file://…, not gs://bucket/snapshots"],
        [["latest"], { BACKUP_TARGET: `file://${path.join(c.dir, "empty")}` }, 1, `ha-etcd-restore: ERROR: no snapshot in file://${path.join(c.dir, "empty")}`],
        [[file], { PATH: `${bin}:/usr/bin:/bin` }, 1, "ha-etcd-restore: ERROR: etcdutl not found: it is needed for the revision bump (etcd 3.5.10 or later ships it)"],
      ];
      for (const [args, extra, code, message] of refusals) {
        const r = await restore(args, c.env(extra));
        expect({ extra, status: r.status }).toEqual({ extra, status: code });
        // The refusal is all it says (no program after it ran and failed as well).
        if (message.startsWith("ha-etcd-restore: ")) expect(r.stderr).toBe(`${message}\n`);
        else expect(r.stderr).toContain(message);
        expectUntouched(c);
      }

      const token = `${"A".repeat(60)}.b_9`;
      const initialCluster = INITIAL_CLUSTER.replace(/:2380/g, ":2390");
      const r = await restore([file], c.env({ RESTORE_TOKEN: token, BUMP_REVISION: "5", ETCD_PEER_PORT: "2390", INITIAL_CLUSTER: initialCluster }));
      expect(r.status).toBe(0);
      expect(etcdutlCalls(c)).toEqual([restoreArgv(c, { token, bump: 5, port: 2390, initialCluster })]);
      expectRestored(c, "s1", token, 5);
    }, 60_000);

    it("takes the slot's name and address from ha-claim-slot's slot.env (each value checked, never run) over the environment and the rest from ENV_FILE; refuses a slot.env value not of its form", async () => {
      const c = fresh();
      const file = placed("s2", path.join(c.dir, "s2.db"));
      mkdirSync(path.join(c.dir, "state"));
      writeFileSync(path.join(c.dir, "state/slot.env"), "SLOT_NAME='etcd-1'\nSLOT_IP='10.0.0.11'\nSLOT_ENI='eni-0123456789abcdef0'\n");
      const envFile = path.join(c.dir, "node.env");
      writeFileSync(envFile, `INITIAL_CLUSTER=${INITIAL_CLUSTER}\nBACKUP_TARGET=file://${c.dir}\n`);
      const env = c.env({ ENV_FILE: envFile });
      delete env.INITIAL_CLUSTER;
      delete env.BACKUP_TARGET;
      const r = await restore([file], env);
      expect(r.status).toBe(0);
      expect(said(r)).toEqual([`ha-etcd-restore: member etcd-1 restored from ${file} (revision bumped by ${DEFAULT_BUMP}); start etcd on every member`]);
      expect(etcdutlCalls(c)).toEqual([restoreArgv(c, { token: "tok-1", name: "etcd-1", ip: "10.0.0.11" })]);
      expectRestored(c, "s2", "tok-1");

      const hostile = fresh();
      occupied(hostile);
      mkdirSync(path.join(hostile.dir, "state"));
      const pwned = path.join(hostile.dir, "pwned");
      writeFileSync(path.join(hostile.dir, "state/slot.env"), `SLOT_NAME='etcd-1'\nSLOT_IP='10.0.0.11$(touch ${pwned})'\n`);
      const refused = await restore([file], hostile.env());
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain("refusing ");
      expect(existsSync(pwned)).toBe(false);
      expectUntouched(hostile);
    }, 60_000);

    it("by default reads /etc/ha-control-plane/node.env and /run/ha-control-plane/slot.env, restores into /var/lib/etcd/data through /var/lib/etcd-backup (0700, left empty) and stops etcd with systemctl", async () => {
      // The node's directories at their paths in a private mount namespace (the control-plane
      // tier's node view); their mount points are made in overlays of /etc, /run and /var/lib whose
      // upper layers lie under the case directory, so the host's own are not touched.
      const c = fresh();
      const overlay = (name: string, lower: string) => overlayMount(c.dir, name, lower);
      const haEtc = path.join(c.dir, "etc-ha-control-plane");
      const haRun = path.join(c.dir, "run-ha-control-plane");
      const varLibEtcd = path.join(c.dir, "var-lib-etcd");
      for (const d of [haEtc, haRun, varLibEtcd]) mkdirSync(d);
      const target = path.join(c.dir, "backups");
      mkdirSync(target);
      placed("s2", path.join(target, "prod.db"));
      writeFileSync(path.join(haEtc, "node.env"), `INITIAL_CLUSTER=${INITIAL_CLUSTER}\nBACKUP_TARGET=file://${target}\n`);
      writeFileSync(path.join(haRun, "slot.env"), "SLOT_NAME='etcd-2'\nSLOT_IP='10.0.0.12'\n");
      const systemctl = path.join(c.dir, "systemctl-bin");
      mkdirSync(systemctl);
      writeFileSync(path.join(systemctl, "systemctl"), '#!/usr/bin/env bash\nprintf \'%s\\n\' "$*" >>"$HOME/systemctl.log"\n', { mode: 0o755 });
      const argv = inView(
        {
          hostname: "etcd-2",
          mounts: [
            overlay("etc", "/etc"),
            overlay("run", "/run"),
            overlay("var-lib", "/var/lib"),
            { kind: "dir", source: haEtc, target: "/etc/ha-control-plane", readOnly: true },
            { kind: "dir", source: haRun, target: "/run/ha-control-plane", readOnly: true },
            { kind: "dir", source: varLibEtcd, target: "/var/lib/etcd", readOnly: false },
          ],
        },
        ["bash", renderedScript("ha-etcd-restore.sh"), "prod.db"],
      );
      const r = await runArgv(argv, { PATH: `${systemctl}:${bin}:${etcdBin}:/usr/bin:/bin`, HOME: c.dir, RESTORE_TOKEN: "tok-1", LANG: "C" });
      expect(r.status).toBe(0);
      expect(said(r)).toEqual([`ha-etcd-restore: member etcd-2 restored from prod.db (revision bumped by ${DEFAULT_BUMP}); start etcd on every member`]);
      expect(lines(c.log("systemctl"))).toEqual(["stop etcd"]);
      expect(etcdutlCalls(c)).toEqual([
        `snapshot restore /var/lib/etcd-backup/restore.db --name etcd-2 --initial-cluster ${INITIAL_CLUSTER} --initial-cluster-token tok-1 --initial-advertise-peer-urls https://10.0.0.12:2380 --data-dir /var/lib/etcd/data --bump-revision ${DEFAULT_BUMP} --mark-compacted`,
      ]);
      expect(status(path.join(varLibEtcd, "data/member/snap/db")).revision).toBe(revision.s2 + DEFAULT_BUMP);
      expect(readFileSync(path.join(varLibEtcd, "data.restore-token"), "utf8")).toBe(`tok-1 ${sha256(snap.s2)}\n`);
      const work = path.join(c.dir, "overlay/var-lib/upper/etcd-backup");
      expect(mode(work)).toBe(0o700);
      expect(readdirSync(work)).toEqual([]);
    }, 60_000);
  },
);
