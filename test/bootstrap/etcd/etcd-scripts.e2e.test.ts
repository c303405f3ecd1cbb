/**
 * The etcd node scripts as real bash against stub commands, for the branches a live cluster cannot
 * reach on demand: the bootstrap script's whole decision table (stub etcdctl that records calls and
 * plays a scripted member list), and the install script against local release archives (checksum
 * refusal, mirror first, idempotency). Plus `systemd-analyze verify` on the rendered unit.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { shellQuote } from "../../../lib";
import { EtcdMemberEndpoint, EtcdRelease, etcdMemberConfigs, etcdNodeEnv, etcdReleaseEnv, renderEtcdUnit, renderEtcdUserUnit } from "../../../lib/bootstrap/etcd";
import { describeTier, toolAvailable } from "../../harness/tiers";
import { renderedScript } from "../../helpers/scripts";
import { inView, overlayMount } from "../../controlplane/node-view";

const run = promisify(execFile);
const MEMBERS: EtcdMemberEndpoint[] = [
  { name: "etcd-0", ip: "10.0.1.10" },
  { name: "etcd-1", ip: "10.0.2.10" },
  { name: "etcd-2", ip: "10.0.3.10" },
];
const URL = (ip: string, port: number) => `https://${ip}:${port}`;

// Accepts only the exact argv the script must send: one endpoint list, the healthcheck client
// certificate ($TLS), the timeouts, then one of the commands below; anything else exits 2.
const ETCDCTL_STUB = `#!/usr/bin/env bash
echo "etcdctl $*" >> "$CALLS"
ep=\${1#--endpoints=}
if [ "$1" = "$ep" ] || [ "\${*:2:5}" != "$TLS" ]; then echo "unexpected etcdctl $*" >&2; exit 2; fi
cmd="\${*:7}"
answers() { local e; IFS=, read -ra eps <<<"$ep"; for e in "\${eps[@]}"; do grep -qxF "$e" "$STATE/$1" 2>/dev/null && return 0; done; return 1; }
refuse() {
  if [ -s "$STATE/fail" ]; then cat "$STATE/fail" >&2; exit 1; fi
  n=$(cat "$STATE/$1" 2>/dev/null || echo 0)
  if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$STATE/$1"; echo "$2" >&2; exit 1; fi
}
id=\${cmd##* }
case "$cmd" in
  "endpoint status") answers answering || { echo "Error: context deadline exceeded" >&2; exit 1; } ;;
  "member list -w simple")
    answers answering || exit 1
    n=$(cat "$STATE/list-refuse" 2>/dev/null || echo 0)
    if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$STATE/list-refuse"; echo "Error: context deadline exceeded" >&2; exit 1; fi
    cat "$STATE/list" ;;
  "endpoint health") answers healthy || { echo "$ep is unhealthy" >&2; exit 1; } ;;
  "member remove $id") refuse refuse "Error: etcdserver: unhealthy cluster"; grep -v "^$id, " "$STATE/list" > "$STATE/list.new"; mv "$STATE/list.new" "$STATE/list"; echo "Member $id removed" ;;
  "member add etcd-"[0-2]" --peer-urls=https://10.0."[1-3]".10:2380 --learner")
    refuse refuse "Error: etcdserver: unhealthy cluster"; peer=\${cmd#*--peer-urls=}; echo "beef, unstarted, , \${peer% *}, , true" >> "$STATE/list"; echo "Member beef added to cluster c1" ;;
  "member promote $id")
    grep -q "^$id, started, .*, true$" "$STATE/list" || { echo "Error: etcdserver: can only promote a learner member" >&2; exit 1; }
    refuse promote-refuse "Error: etcdserver: can only promote a learner member which is in sync with leader"
    sed -i "s/^$id, \\\\(.*\\\\), true$/$id, \\\\1, false/" "$STATE/list"; echo "Member $id promoted in cluster c1" ;;
  *) echo "unexpected etcdctl $*" >&2; exit 2 ;;
esac
`;
// etcd as the learner phase runs it: records the client listener of its config, publishes its
// pending entry (name, client URL) as a joining member does, and runs until SIGTERM.
const ETCD_STUB = `#!/usr/bin/env bash
echo "etcd $*" >> "$CALLS"
if [ "$#" -ne 2 ] || [ "$1" != --config-file ] || [ ! -r "$2" ]; then echo "unexpected etcd $*" >&2; exit 2; fi
grep '^listen-client-urls:' "$2" >> "$STATE/etcd-listen"
if [ -s "$STATE/etcd-fail" ]; then cat "$STATE/etcd-fail" >&2; exit 1; fi
name=$(sed -n 's/^name: //p' "$2")
client=$(sed -n 's/^advertise-client-urls: //p' "$2")
peer=$(sed -n 's/^initial-advertise-peer-urls: //p' "$2")
publish() {
  awk -F', ' -v OFS=', ' -v peer="$peer" -v name="$name" -v client="$client" '$2 == "unstarted" && $4 == peer { $2 = "started"; $3 = name; $5 = client } { print }' "$STATE/list" > "$STATE/list.etcd"
  mv "$STATE/list.etcd" "$STATE/list"
}
echo "etcd: started" >&2
echo "$$" > "$STATE/etcd-pid"
# The TERM handling first: the script may promote and stop it as soon as its entry is published.
if [ -e "$STATE/etcd-ignores-term" ]; then
  trap 'echo "ignored TERM" >> "$STATE/etcd-listen"' TERM
else
  trap 'echo stopped >> "$STATE/etcd-listen"; exit 0' TERM
fi
# etcd-publish: "now" (default), "never" (it never reaches the leader), or "after-sleep" (once the script has waited).
when=$(cat "$STATE/etcd-publish" 2>/dev/null || echo now)
[ "$when" != now ] || publish
while :; do
  if [ "$when" = after-sleep ] && [ -e "$STATE/slept" ]; then publish; when=done; fi
  /bin/sleep 0.05
done
`;
// Backoff and quorum waits take no time; a scripted cluster may regain quorum while the script waits.
const SLEEP_STUB = `#!/usr/bin/env bash
echo "sleep $*" >> "$CALLS"
if [ -e "$STATE/heal-on-sleep" ]; then cp "$STATE/answering" "$STATE/healthy"; fi
: > "$STATE/slept"
`;

interface Scenario {
  /** Endpoints (client URLs) that answer requests / serve quorum reads. */
  answering?: string[];
  healthy?: string[];
  /** `member list -w simple` lines. */
  list?: string[];
  refuse?: number;
  /** How many `member promote` calls answer "not in sync with leader" first. */
  refusePromote?: number;
  /** How many `member list` calls time out first (a leader election under way). */
  refuseList?: number;
  fail?: string;
  healOnSleep?: boolean;
  /** The learner etcd exits at once with this message. */
  etcdFails?: string;
  /** When the learner etcd publishes its entry (`started`): at once (default), never, or once the script has slept. */
  etcdPublishes?: "now" | "never" | "after-sleep";
  /** The learner etcd ignores SIGTERM (only SIGKILL ends it). */
  etcdIgnoresTerm?: boolean;
}

interface Node {
  readonly dir: string;
  readonly dataDir: string;
  readonly config: string;
  boot(scenario: Scenario, env?: Record<string, string>, args?: string[]): Promise<{ code: number; stderr: string; calls: string[]; list: string[]; etcdListen: string[]; journal: string[] }>;
}

/** A fresh stub state directory `state` playing `scenario` (what the stubs read). */
function writeScenario(state: string, scenario: Scenario): void {
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state);
  writeFileSync(path.join(state, "answering"), (scenario.answering ?? []).join("\n") + "\n");
  writeFileSync(path.join(state, "healthy"), (scenario.healthy ?? []).join("\n") + "\n");
  writeFileSync(path.join(state, "list"), (scenario.list ?? []).map((l) => `${l}\n`).join(""));
  writeFileSync(path.join(state, "refuse"), String(scenario.refuse ?? 0));
  writeFileSync(path.join(state, "promote-refuse"), String(scenario.refusePromote ?? 0));
  writeFileSync(path.join(state, "list-refuse"), String(scenario.refuseList ?? 0));
  writeFileSync(path.join(state, "etcd-publish"), scenario.etcdPublishes ?? "now");
  writeFileSync(path.join(state, "fail"), scenario.fail ?? "");
  writeFileSync(path.join(state, "etcd-fail"), scenario.etcdFails ?? "");
  writeFileSync(path.join(state, "etcd-listen"), "");
  if (scenario.healOnSleep) writeFileSync(path.join(state, "heal-on-sleep"), "");
  if (scenario.etcdIgnoresTerm) writeFileSync(path.join(state, "etcd-ignores-term"), "");
}

const roots: string[] = [];
function node(slot: string, options: { nodeMembers?: string[] } = {}): Node {
  const dir = mkdtempSync(path.join(tmpdir(), "etcd-bootstrap-"));
  roots.push(dir);
  const bin = path.join(dir, "bin");
  const state = path.join(dir, "state");
  for (const d of [bin, state, path.join(dir, "run")]) mkdirSync(d, { recursive: true });
  writeFileSync(path.join(bin, "etcdctl"), ETCDCTL_STUB, { mode: 0o755 });
  writeFileSync(path.join(bin, "etcd"), ETCD_STUB, { mode: 0o755 });
  writeFileSync(path.join(bin, "sleep"), SLEEP_STUB, { mode: 0o755 });
  // logger keeps what it is given (the node's journal) in $STATE/journal.
  writeFileSync(path.join(bin, "logger"), '#!/bin/sh\nprintf \'%s\\n\' "$*" >>"$STATE/journal"\n', { mode: 0o755 });
  const dataDir = path.join(dir, "var/lib/etcd/data");
  const input = {
    members: MEMBERS,
    initialClusterToken: "prod-etcd",
    dataDir,
    nodeMembers: options.nodeMembers,
    paths: { configDir: path.join(dir, "configs"), config: path.join(dir, "etc/etcd/etcd.yaml"), binDir: bin },
  };
  mkdirSync(input.paths.configDir);
  for (const [member, text] of etcdMemberConfigs(input)) writeFileSync(path.join(input.paths.configDir, `${member}.yaml`), text);
  const env = { ...etcdNodeEnv(input), PKI_DIR: path.join(dir, "pki") };
  writeFileSync(path.join(dir, "node.env"), Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join(""));
  writeFileSync(path.join(dir, "run/slot.env"), `SLOT_NAME=${slot}\n`);
  return {
    dir,
    dataDir,
    config: input.paths.config,
    async boot(scenario, extraEnv = {}, args = []) {
      const calls = path.join(dir, "calls.log");
      writeFileSync(calls, "");
      writeScenario(state, scenario);
      const pki = path.join(dir, "pki/etcd");
      const tls = `--cacert=${pki}/ca.crt --cert=${pki}/healthcheck-client.crt --key=${pki}/healthcheck-client.key --dial-timeout=2s --command-timeout=5s`;
      const result = await run("bash", [renderedScript("etcd-member-bootstrap.sh"), ...args], {
        env: { PATH: `${bin}:/usr/bin:/bin`, CALLS: calls, STATE: state, TLS: tls, ENV_FILE: path.join(dir, "node.env"), STATE_DIR: path.join(dir, "run"), ...extraEnv },
        timeout: 20_000,
        killSignal: "SIGKILL",
      }).then(
        (r) => ({ code: 0, stderr: r.stderr }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      const lines = (f: string) => readFileSync(f, "utf8").split("\n").filter((l) => l !== "");
      const journal = existsSync(path.join(state, "journal")) ? lines(path.join(state, "journal")) : [];
      return { ...result, calls: lines(calls), list: lines(path.join(state, "list")), etcdListen: lines(path.join(state, "etcd-listen")), journal };
    },
  };
}

const bash = toolAvailable("bash", ["--version"]);
const tier = { tierLabel: "node e2e" } as const;
const [c0, c1, c2] = MEMBERS.map((m) => URL(m.ip, 2379));
const [p0, p1, p2] = MEMBERS.map((m) => URL(m.ip, 2380));
const STARTED = [`aa0, started, etcd-0, ${p0}, ${c0}, false`, `aa1, started, etcd-1, ${p1}, ${c1}, false`, `aa2, started, etcd-2, ${p2}, ${c2}, false`];

describeTier("ha-etcd-bootstrap decision table (real bash, stub etcdctl)", bash, tier, () => {
  afterAll(() => {
    // A learner stub that outlived its script (one that ignores SIGTERM, when the script is broken).
    for (const d of roots) {
      const pidFile = path.join(d, "state/etcd-pid");
      if (!existsSync(pidFile)) continue;
      try {
        process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
      } catch {
        // already gone
      }
    }
    roots.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  const reads = (calls: string[]) => calls.filter((c) => c.startsWith("etcdctl")).map((c) => c.split(" ").slice(7).join(" "));

  it("starts a member whose data dir holds member data as it is when the healthy cluster lists it as started (reads only)", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    mkdirSync(path.join(n.dataDir, "member"), { recursive: true });
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: STARTED });
    expect(r.code).toBe(0);
    expect(new Set(reads(r.calls))).toEqual(new Set(["endpoint status", "endpoint health", "member list -w simple"]));
    expect(readFileSync(n.config, "utf8")).toBe(readFileSync(path.join(n.dir, "configs/etcd-1.yaml"), "utf8"));
  });

  it("starts from its data at once when no other member answers or they have no quorum (every member restarting)", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    mkdirSync(path.join(n.dataDir, "member"), { recursive: true });
    for (const scenario of [{}, { answering: [c0], list: [STARTED[0], STARTED[2]] }]) {
      const r = await n.boot(scenario);
      expect(r.code).toBe(0);
      expect(r.calls.filter((c) => !/ endpoint (status|health)$/.test(c))).toEqual([]); // no list, no change, no wait
      expect(readFileSync(n.config, "utf8")).toBe(readFileSync(path.join(n.dir, "configs/etcd-1.yaml"), "utf8"));
      expect(existsSync(path.join(n.dataDir, "member"))).toBe(true);
    }
  });

  it("moves the data of a removed member aside (kept, not deleted) and rejoins as a learner", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    mkdirSync(path.join(n.dataDir, "member/wal"), { recursive: true });
    writeFileSync(path.join(n.dataDir, "member/wal/0.wal"), "old member data");
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], STARTED[2]] });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("not a started member of the cluster (removed)");
    const aside = readdirSync(path.dirname(n.dataDir)).filter((d) => /^data\.removed-\d{8}T\d{6}Z$/.test(d));
    expect(aside).toHaveLength(1);
    expect(readFileSync(path.join(path.dirname(n.dataDir), aside[0], "member/wal/0.wal"), "utf8")).toBe("old member data");
    expect(readdirSync(n.dataDir)).toEqual([]);
    expect(statSync(n.dataDir).mode & 0o777).toBe(0o700);
    expect(reads(r.calls).filter((c) => / (add|remove|promote) /.test(c))).toEqual([`member add etcd-1 --peer-urls=${p1} --learner`, "member promote beef"]);
    expect(r.list).toContain(`beef, started, etcd-1, ${p1}, ${c1}, false`);
    const config = readFileSync(n.config, "utf8");
    expect(config).toMatch(/^initial-cluster-state: existing$/m);
    expect(config).toContain(`initial-cluster: "etcd-0=${p0},etcd-2=${p2},etcd-1=${p1}"\n`);
  });

  it("moves the data of a removed and re-added member (pending entry) aside and reuses that entry", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    mkdirSync(path.join(n.dataDir, "member"), { recursive: true });
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], `cc1, unstarted, , ${p1}, , true`, STARTED[2]] });
    expect(r.code).toBe(0);
    expect(readdirSync(path.dirname(n.dataDir)).filter((d) => d.startsWith("data.removed-"))).toHaveLength(1);
    expect(reads(r.calls).filter((c) => / (add|remove) /.test(c))).toEqual([]);
    expect(readFileSync(n.config, "utf8")).toContain(`initial-cluster: "etcd-0=${p0},etcd-1=${p1},etcd-2=${p2}"\n`);
  });

  it("promote (operator command): promotes its learner entry, retrying while the leader finds it out of sync; leaves a voter alone", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const learner = [STARTED[0], `dd1, started, etcd-1, ${p1}, ${c1}, true`, STARTED[2]];
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: learner, refusePromote: 2 }, {}, ["promote"]);
    expect(r.code).toBe(0);
    expect(reads(r.calls).filter((c) => c.startsWith("member promote"))).toEqual(["member promote dd1", "member promote dd1", "member promote dd1"]);
    expect(r.calls.filter((c) => c.startsWith("sleep"))).toEqual(["sleep 1", "sleep 2"]);
    expect(r.list).toContain(`dd1, started, etcd-1, ${p1}, ${c1}, false`);
    expect(existsSync(n.config)).toBe(false); // promote writes no config

    const voter = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: STARTED }, {}, ["promote"]);
    expect(voter.code).toBe(0);
    expect(reads(voter.calls).filter((c) => c.startsWith("member promote"))).toEqual([]);
    const stuck = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: learner, refusePromote: 99 }, { HA_ETCD_RECONFIG_TIMEOUT: "0" }, ["promote"]);
    expect(stuck.code).toBe(1);
    expect(stuck.stderr).toContain("member promote dd1 still refused");

    // A member list that times out (an election under way) is retried after the backoff, then the learner is promoted.
    const timedOut = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: learner, refuseList: 2 }, {}, ["promote"]);
    expect(timedOut.code).toBe(0);
    expect(timedOut.stderr.split("\n").filter((l) => l.includes("member list"))).toEqual([
      "ha-etcd-bootstrap: member list refused for now (Error: context deadline exceeded); retrying in 1s",
      "ha-etcd-bootstrap: member list refused for now (Error: context deadline exceeded); retrying in 2s",
    ]);
    expect(timedOut.calls.filter((c) => c.startsWith("sleep"))).toEqual(["sleep 1", "sleep 2"]);
    expect(reads(timedOut.calls).filter((c) => c.startsWith("member "))).toEqual(["member list -w simple", "member list -w simple", "member list -w simple", "member promote dd1", "member list -w simple"]);
    expect(timedOut.list).toContain(`dd1, started, etcd-1, ${p1}, ${c1}, false`);

    // A cluster of one (no other member to ask): nothing to promote. Others that do not serve a quorum read: refused.
    const single = node("etcd-0", { nodeMembers: ["etcd-0"] });
    writeFileSync(path.join(single.dir, "node.env"), readFileSync(path.join(single.dir, "node.env"), "utf8").replace(/^HA_ETCD_ENDPOINTS=.*$/m, `HA_ETCD_ENDPOINTS=${c0}`));
    const alone = await single.boot({}, {}, ["promote"]);
    expect({ code: alone.code, stderr: alone.stderr, calls: alone.calls }).toEqual({ code: 0, stderr: "", calls: [] });
    const unhealthy = await n.boot({ answering: [c0, c2], list: learner }, {}, ["promote"]);
    expect({ code: unhealthy.code, stderr: unhealthy.stderr }).toEqual({ code: 1, stderr: "ha-etcd-bootstrap: ERROR: promote: no healthy member to ask\n" });
    expect(reads(unhealthy.calls).filter((c) => c.startsWith("member "))).toEqual([]);

    // Not a started member at all (removed, or added and never started): nothing to promote, said at once.
    const absent = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], `ee1, unstarted, , ${p1}, , true`, STARTED[2]] }, {}, ["promote"]);
    expect({ code: absent.code, stderr: absent.stderr }).toEqual({ code: 1, stderr: `ha-etcd-bootstrap: ERROR: promote: ${p1} is not a started member\n` });
    expect(absent.calls.filter((c) => c.startsWith("sleep"))).toEqual([]);
  });

  it("joins as a learner whose client listener is on 127.0.0.1 only, is promoted, stopped, and then configured on its slot address", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], STARTED[2]], refusePromote: 1 });
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    // The learner's etcd: loopback only (etcd reads listen-client-urls as a comma-separated list), until SIGTERM.
    expect(r.etcdListen).toEqual(["listen-client-urls: https://127.0.0.1:2379", "stopped"]);
    const order = r.calls.filter((c) => /^etcd |member (add|promote)/.test(c)).map((c) => c.replace(/^etcdctl .* member /, "member ").replace(/^etcd .*/, "etcd"));
    expect(order).toEqual([`member add etcd-1 --peer-urls=${p1} --learner`, "etcd", "member promote beef", "member promote beef"]);
    expect(r.list).toContain(`beef, started, etcd-1, ${p1}, ${c1}, false`);
    expect(r.stderr).toContain(`ha-etcd-bootstrap: etcd-1 is a voter: it starts with its client listener on ${c1}\n`);
    // Every line it says also reaches the journal, tagged.
    const said = r.stderr.split("\n").filter((l) => l.startsWith("ha-etcd-bootstrap: "));
    expect(said.length).toBeGreaterThan(3);
    expect(r.journal).toEqual(said.map((l) => `-t ha-etcd-bootstrap -- ${l.slice("ha-etcd-bootstrap: ".length)}`));
    // The running config (the unit's etcd) listens on the slot address again, as rendered.
    const rendered = readFileSync(path.join(n.dir, "configs/etcd-1.yaml"), "utf8");
    const config = readFileSync(n.config, "utf8");
    expect(config.match(/^listen-client-urls: .*$/m)?.[0]).toBe(rendered.match(/^listen-client-urls: .*$/m)?.[0]);
    expect(config).toContain(`listen-client-urls: ${c1},https://127.0.0.1:2379\n`);
    expect(config).toMatch(/^initial-cluster-state: existing$/m);
    // Stopping the learner waits as long as etcd takes to exit on SIGTERM (0.1 s at a time), not its
    // whole 30 s allowance (300 waits).
    expect(r.calls.filter((c) => c === "sleep 0.1").length).toBeLessThan(150);
  });

  it("creates the learner log's directory (the state directory of a node that claimed no slot) and keeps etcd's output there", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const stateDir = path.join(n.dir, "no-such-run");
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], STARTED[2]] }, { STATE_DIR: stateDir });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`(etcd log: ${stateDir}/etcd-learner.log)`);
    expect(readFileSync(path.join(stateDir, "etcd-learner.log"), "utf8")).toBe("etcd: started\n");
  });

  it("kills a learner that does not exit on SIGTERM once 300 waits of 0.1 s have passed, before configuring the unit's etcd", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], STARTED[2]], etcdIgnoresTerm: true });
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(r.calls.filter((c) => c === "sleep 0.1")).toHaveLength(300);
    // SIGTERM reached it (and was ignored); SIGKILL ended it: nothing of it runs after the script.
    expect(r.etcdListen).toEqual(["listen-client-urls: https://127.0.0.1:2379", "ignored TERM"]);
    const pid = Number(readFileSync(path.join(n.dir, "state/etcd-pid"), "utf8"));
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(readFileSync(n.config, "utf8")).toContain(`listen-client-urls: ${c1},https://127.0.0.1:2379\n`);
  });

  it("a member whose data dir holds data but is still a learner (node died before the promotion) finishes the learner phase first", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    mkdirSync(path.join(n.dataDir, "member"), { recursive: true });
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], `dd1, started, etcd-1, ${p1}, ${c1}, true`, STARTED[2]] });
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(r.etcdListen).toEqual(["listen-client-urls: https://127.0.0.1:2379", "stopped"]);
    expect(reads(r.calls).filter((c) => / (add|remove|promote) /.test(c))).toEqual(["member promote dd1"]);
    expect(readFileSync(n.config, "utf8")).toContain(`listen-client-urls: ${c1},https://127.0.0.1:2379\n`);
  });

  it("fails the start when the learner's etcd exits: no promotion, and the config stays the loopback-only one", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], STARTED[2]], etcdFails: "etcd: cannot access data directory" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("etcd exited during the learner phase");
    expect(reads(r.calls).filter((c) => c.startsWith("member promote"))).toEqual([]);
    // Only the learner's config was written: the unit's etcd would not start on the slot address.
    expect(readFileSync(n.config, "utf8")).toContain("listen-client-urls: https://127.0.0.1:2379\n");
  });

  it("waits for the learner to publish its entry (checking once a second), and fails the start with etcd's last lines when it never does within HA_ETCD_RECONFIG_TIMEOUT", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const scenario = { answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], STARTED[2]] };
    const late = await n.boot({ ...scenario, etcdPublishes: "after-sleep" });
    expect(late.code).toBe(0);
    // Each check before the entry appeared was followed by a one-second wait (the learner's stop waits 0.1 s at a time).
    expect(late.calls.filter((c) => c === "sleep 1").length).toBeGreaterThanOrEqual(1);
    expect(late.calls.filter((c) => c.startsWith("sleep") && c !== "sleep 1" && c !== "sleep 0.1")).toEqual([]);
    expect(late.list).toContain(`beef, started, etcd-1, ${p1}, ${c1}, false`);
    expect(readFileSync(n.config, "utf8")).toMatch(/^initial-cluster-state: existing$/m);

    // 3 s: time for the learner's etcd (started in the background) to write its first line under load.
    const silent = await n.boot({ ...scenario, etcdPublishes: "never" }, { HA_ETCD_RECONFIG_TIMEOUT: "3" });
    expect(silent.code).toBe(1);
    expect(silent.stderr.split("\n").filter((l) => l.includes("ERROR"))).toEqual(["ha-etcd-bootstrap: ERROR: the learner etcd-1 did not join the cluster within 3s; its last lines: etcd: started "]);
    expect(reads(silent.calls).filter((c) => c.startsWith("member promote"))).toEqual([]);
    // The learner was stopped on the way out (the EXIT trap), and only its loopback-only config was written.
    expect(silent.etcdListen).toEqual(["listen-client-urls: https://127.0.0.1:2379", "stopped"]);
    expect(readFileSync(n.config, "utf8")).toContain("listen-client-urls: https://127.0.0.1:2379\n");
  });

  it("founds the cluster (state new, initial cluster as rendered) when no other member answers; data dir 0700; config 0600", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const r = await n.boot({});
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("founds the cluster");
    expect(r.calls.filter((c) => c.startsWith("etcdctl")).map((c) => /--endpoints=(\S+)/.exec(c)?.[1]).sort()).toEqual([c0, c2]); // never itself
    const config = readFileSync(n.config, "utf8");
    expect(config).toMatch(/^initial-cluster-state: new$/m);
    expect(config).toContain(`initial-cluster: etcd-0=${p0},etcd-1=${p1},etcd-2=${p2}\n`);
    expect(statSync(n.dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(n.config).mode & 0o777).toBe(0o600);
    expect(r.calls.some((c) => c.includes("--cert=") && c.includes("healthcheck-client.crt"))).toBe(true);
  });

  it("replaces: removes the old entry found by name (address changed), adds itself, starts as existing", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const list = [STARTED[0], `old1, started, etcd-1, https://10.0.9.9:2380, https://10.0.9.9:2379, false`, STARTED[2]];
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list });
    expect(r.code).toBe(0);
    const changes = r.calls.filter((c) => / member (add|remove) /.test(c)).map((c) => c.replace(/^.* member /, "member "));
    expect(changes).toEqual(["member remove old1", `member add etcd-1 --peer-urls=${p1} --learner`]);
    // One change at a time, the member list read again before each (and once more to find the pending
    // entry; the learner phase's reads follow).
    expect(reads(r.calls).filter((c) => /^member (list|add|remove)/.test(c)).slice(0, 5)).toEqual(["member list -w simple", "member remove old1", "member list -w simple", `member add etcd-1 --peer-urls=${p1} --learner`, "member list -w simple"]);
    const config = readFileSync(n.config, "utf8");
    expect(config).toMatch(/^initial-cluster-state: existing$/m);
    expect(config).toContain(`initial-cluster: "etcd-0=${p0},etcd-2=${p2},etcd-1=${p1}"\n`);

    // A member list that times out before the first change (an election under way) is retried after the backoff.
    const m = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const retried = await m.boot({ answering: [c0, c2], healthy: [c0, c2], list, refuseList: 1 });
    expect(retried.code).toBe(0);
    expect(retried.stderr).toContain("ha-etcd-bootstrap: member list refused for now (Error: context deadline exceeded); retrying in 1s\n");
    expect(retried.calls.find((c) => c.startsWith("sleep"))).toBe("sleep 1");
    expect(reads(retried.calls).filter((c) => /^member (list|add|remove)/.test(c)).slice(0, 6)).toEqual(["member list -w simple", "member list -w simple", "member remove old1", "member list -w simple", `member add etcd-1 --peer-urls=${p1} --learner`, "member list -w simple"]);
  });

  it("replaces: removes an entry holding its peer URL under another name", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], `bb1, started, ghost, ${p1}, ${c1}, false`, STARTED[2]] });
    expect(r.code).toBe(0);
    expect(r.calls.some((c) => c.endsWith("member remove bb1"))).toBe(true);
  });

  it("reuses its pending entry (added before, never started) instead of adding a second one", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], `cc1, unstarted, , ${p1}, , false`, STARTED[2]] });
    expect(r.code).toBe(0);
    expect(r.calls.filter((c) => / member (add|remove) /.test(c))).toEqual([]);
    expect(readFileSync(n.config, "utf8")).toContain(`initial-cluster: "etcd-0=${p0},etcd-1=${p1},etcd-2=${p2}"\n`);
  });

  it("retries strict-reconfig-check refusals with a bounded backoff", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], STARTED[2]], refuse: 3 });
    expect(r.code).toBe(0);
    expect(r.calls.filter((c) => / member add /.test(c))).toHaveLength(4);
    const beforeEtcd = r.calls.slice(0, r.calls.findIndex((c) => c.startsWith("etcd ")));
    expect(beforeEtcd.filter((c) => c.startsWith("sleep"))).toEqual(["sleep 1", "sleep 2", "sleep 4"]);
    const timeout = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], STARTED[2]], refuse: 99 }, { HA_ETCD_RECONFIG_TIMEOUT: "0" });
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toContain("still refused");
  });

  it("fails at once on an error that is not a temporary refusal", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const r = await n.boot({ answering: [c0, c2], healthy: [c0, c2], list: [STARTED[0], STARTED[2]], fail: "Error: etcdserver: permission denied" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("permission denied");
    expect(existsSync(n.config)).toBe(false);
  });

  it("never founds a new cluster while existing members answer without quorum; joins once quorum returns", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    const refused = await n.boot({ answering: [c0], healthy: [], list: STARTED }, { HA_ETCD_QUORUM_WAIT: "0" });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("no quorum");
    expect(existsSync(n.config)).toBe(false);
    const healed = await n.boot({ answering: [c0, c2], healthy: [], list: STARTED, healOnSleep: true });
    expect(healed.code).toBe(0);
    expect(healed.stderr).toContain("waiting");
    expect(readFileSync(n.config, "utf8")).toMatch(/^initial-cluster-state: existing$/m);
  });

  it("becomes the slot it claimed when the node carries every member's config", async () => {
    const n = node("etcd-2");
    const r = await n.boot({});
    expect(r.code).toBe(0);
    expect(readFileSync(n.config, "utf8")).toMatch(/^name: etcd-2$/m);
    expect(r.calls.map((c) => /--endpoints=(\S+)/.exec(c)?.[1]).sort()).toEqual([c0, c1]);
  });

  it("refuses a config rendered for another member", async () => {
    const n = node("etcd-0");
    const r = await n.boot({}, { HA_ETCD_CONFIG_BASE: path.join(n.dir, "configs/etcd-1.yaml") });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("configures etcd-1, not etcd-0");
  });

  it("fails the start when it cannot write the running config (a file where its directory should be): etcd.service must not start from an older one", async () => {
    const n = node("etcd-1", { nodeMembers: ["etcd-1"] });
    mkdirSync(path.dirname(path.dirname(n.config)), { recursive: true });
    writeFileSync(path.dirname(n.config), "not a directory");
    const r = await n.boot({});
    expect(r.code).toBe(1);
    // It decided to found the cluster, then stopped at the config's directory.
    expect(r.stderr).toBe(`ha-etcd-bootstrap: no other member answers: etcd-1 founds the cluster (initial-cluster-state new)\nmkdir: cannot create directory '${path.dirname(n.config)}': File exists\n`);
  });

  it("refuses a node without its member's rendered config, or one that lacks data-dir or initial-advertise-peer-urls, asking nothing", async () => {
    const n = node("etcd-0");
    const base = path.join(n.dir, "configs/etcd-0.yaml");
    const rendered = readFileSync(base, "utf8");
    rmSync(base);
    const missing = await n.boot({});
    expect({ code: missing.code, stderr: missing.stderr }).toEqual({ code: 1, stderr: `ha-etcd-bootstrap: ERROR: no etcd config for member etcd-0 at ${base}\n` });
    for (const key of ["data-dir", "initial-advertise-peer-urls"]) {
      writeFileSync(base, rendered.split("\n").filter((l) => !l.startsWith(`${key}:`)).join("\n"));
      const r = await n.boot({});
      expect({ key, code: r.code, stderr: r.stderr }).toEqual({ key, code: 1, stderr: `ha-etcd-bootstrap: ERROR: ${base} lacks data-dir or initial-advertise-peer-urls\n` });
      expect(r.calls).toEqual([]);
    }
    expect(existsSync(n.config)).toBe(false);
  });

  it("refuses to start without a member name (no HA_ETCD_MEMBER, no claimed slot) or without HA_ETCD_ENDPOINTS, asking nothing and writing nothing", async () => {
    const n = node("etcd-0");
    rmSync(path.join(n.dir, "run/slot.env"));
    const nameless = await n.boot({});
    expect(nameless.code).toBe(1);
    expect(nameless.stderr).toMatch(/: MEMBER: no member name: set HA_ETCD_MEMBER or run ha-claim-slot first\n$/);
    expect(nameless.calls).toEqual([]);
    expect(existsSync(n.config)).toBe(false);

    const m = node("etcd-0");
    const envFile = path.join(m.dir, "node.env");
    writeFileSync(envFile, readFileSync(envFile, "utf8").split("\n").filter((l) => !l.startsWith("HA_ETCD_ENDPOINTS=")).join("\n"));
    const endpointless = await m.boot({});
    expect(endpointless.code).toBe(1);
    expect(endpointless.stderr).toMatch(/: HA_ETCD_ENDPOINTS: HA_ETCD_ENDPOINTS missing\n$/);
    expect(endpointless.calls).toEqual([]);
    expect(existsSync(m.config)).toBe(false);
  });

  it("by default reads /etc/ha-control-plane/node.env and /run/ha-control-plane/slot.env and talks TLS with /etc/kubernetes/pki's healthcheck client certificate (the node's own paths, in a private mount namespace)", async () => {
    // The node's directories at their paths; their mount points are made in overlays of /etc, /run
    // and /var/lib whose upper layers lie under the test's directory, so the host's are not touched.
    const dir = mkdtempSync(path.join(tmpdir(), "etcd-bootstrap-defaults-"));
    roots.push(dir);
    const overlay = (name: string, lower: string) => overlayMount(dir, name, lower);
    const at = (name: string) => {
      const d = path.join(dir, name);
      mkdirSync(d, { recursive: true });
      return d;
    };
    const [haEtc, haRun, etcEtcd, varLibEtcd, pki, usrLocalBin, state, stubs] = ["etc-ha-control-plane", "run-ha-control-plane", "etc-etcd", "var-lib-etcd", "etc-kubernetes-pki", "usr-local-bin", "state", "stubs"].map(at);
    writeFileSync(path.join(usrLocalBin, "etcdctl"), ETCDCTL_STUB, { mode: 0o755 });
    writeFileSync(path.join(usrLocalBin, "etcd"), ETCD_STUB, { mode: 0o755 });
    writeFileSync(path.join(stubs, "sleep"), SLEEP_STUB, { mode: 0o755 });
    writeFileSync(path.join(stubs, "logger"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    // Rendered as the library renders a node with its default paths.
    const input = { members: MEMBERS, initialClusterToken: "prod-etcd", dataDir: "/var/lib/etcd/data" };
    mkdirSync(path.join(haEtc, "etcd"));
    for (const [member, text] of etcdMemberConfigs(input)) writeFileSync(path.join(haEtc, "etcd", `${member}.yaml`), text);
    writeFileSync(path.join(haEtc, "node.env"), Object.entries(etcdNodeEnv(input)).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join(""));
    writeFileSync(path.join(haRun, "slot.env"), "SLOT_NAME=etcd-1\n");
    writeScenario(state, {});
    const calls = path.join(dir, "calls.log");
    writeFileSync(calls, "");
    const tls = "--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key --dial-timeout=2s --command-timeout=5s";
    const [command, ...args] = inView(
      {
        hostname: "etcd-1",
        mounts: [
          overlay("etc", "/etc"),
          overlay("run", "/run"),
          overlay("var-lib", "/var/lib"),
          { kind: "dir", source: haEtc, target: "/etc/ha-control-plane", readOnly: true },
          { kind: "dir", source: haRun, target: "/run/ha-control-plane", readOnly: true },
          { kind: "dir", source: pki, target: "/etc/kubernetes/pki", readOnly: true },
          { kind: "dir", source: etcEtcd, target: "/etc/etcd", readOnly: false },
          { kind: "dir", source: varLibEtcd, target: "/var/lib/etcd", readOnly: false },
          { kind: "dir", source: usrLocalBin, target: "/usr/local/bin", readOnly: true },
        ],
      },
      ["bash", renderedScript("etcd-member-bootstrap.sh")],
    );
    const r = await run(command, args, { env: { PATH: `${stubs}:/usr/bin:/bin`, CALLS: calls, STATE: state, TLS: tls }, timeout: 20_000 });
    expect(r.stderr).toContain("ha-etcd-bootstrap: no other member answers: etcd-1 founds the cluster (initial-cluster-state new)");
    // Both other members asked with the default certificate paths (the stub refuses any other argv).
    expect(readFileSync(calls, "utf8").split("\n").filter((l) => l !== "").sort()).toEqual([`etcdctl --endpoints=${c0} ${tls} endpoint status`, `etcdctl --endpoints=${c2} ${tls} endpoint status`]);
    const config = readFileSync(path.join(etcEtcd, "etcd.yaml"), "utf8");
    expect(config).toMatch(/^name: etcd-1$/m);
    expect(config).toMatch(/^initial-cluster-state: new$/m);
    expect(statSync(path.join(varLibEtcd, "data")).mode & 0o777).toBe(0o700);
  });
});

describeTier("ha-etcd-install (real bash, curl, sha256sum, tar on local archives)", bash, tier, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "etcd-install-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, "bin");
  const arch = process.arch === "arm64" ? "arm64" : "amd64";

  async function archive(where: string, version: string, marker = ""): Promise<string> {
    const stage = path.join(dir, "stage", `${where}-${version}${marker}`, `etcd-v${version}-linux-${arch}`);
    mkdirSync(stage, { recursive: true });
    for (const b of ["etcd", "etcdctl", "etcdutl"]) writeFileSync(path.join(stage, b), `#!/bin/sh\n# ${marker}\necho "etcd Version: ${version}"\n`, { mode: 0o755 });
    mkdirSync(path.join(dir, where), { recursive: true });
    const file = path.join(dir, where, `etcd-v${version}-linux-${arch}.tar.gz`);
    await run("tar", ["-czf", file, "-C", path.dirname(stage), path.basename(stage)]);
    return createHash("sha256").update(readFileSync(file)).digest("hex");
  }

  async function install(release: EtcdRelease, extra: Record<string, string> = {}) {
    const envFile = path.join(dir, "node.env");
    const env = { ...etcdReleaseEnv(release), HA_ETCD_BIN_DIR: bin };
    writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join(""));
    // An existing user, so the tests create none on this machine (the next test shows the creation).
    return run("bash", [renderedScript("etcd-install.sh")], { env: { PATH: "/usr/bin:/bin", ENV_FILE: envFile, HA_ETCD_USER: userInfo().username, ...extra }, timeout: 30_000 }).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
  }
  const tpl = (where: string) => `file://${dir}/${where}/etcd-v{version}-linux-{arch}.tar.gz`;

  it("refuses an archive whose checksum differs from the pin and installs nothing", async () => {
    await archive("upstream", "3.5.21");
    const r = await install({ version: "3.5.21", sha256: { amd64: "0".repeat(64), arm64: "0".repeat(64) }, downloadUrlTemplate: tpl("upstream") });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("checksum mismatch");
    expect(existsSync(bin) ? readdirSync(bin) : []).toEqual([]);
  });

  it("tries the mirror first, skips a tampered mirror archive, installs the verified upstream one (0755)", async () => {
    const sum = await archive("upstream", "3.5.21");
    await archive("mirror", "3.5.21", "tampered");
    const r = await install({ version: "3.5.21", sha256: { amd64: sum, arm64: sum }, downloadUrlTemplate: tpl("upstream"), mirrorUrlTemplate: tpl("mirror") });
    expect(r.code).toBe(0);
    expect(r.stderr.indexOf(`checksum mismatch for file://${dir}/mirror/`)).toBeGreaterThanOrEqual(0);
    expect(r.stderr).toContain(`installed etcd 3.5.21 (${arch}) from file://${dir}/upstream/`);
    for (const b of ["etcd", "etcdctl", "etcdutl"]) expect(statSync(path.join(bin, b)).mode & 0o777).toBe(0o755);
    expect(readFileSync(path.join(bin, "etcd"), "utf8")).not.toContain("tampered");
  });

  it("creates etcd's system user (no login, no home) when it does not exist, before anything else", async () => {
    const stubs = path.join(dir, "useradd-stub");
    mkdirSync(stubs, { recursive: true });
    writeFileSync(path.join(stubs, "useradd"), `#!/bin/sh\necho "$@" > "${stubs}/calls"\n`, { mode: 0o755 });
    const r = await install({ version: "3.5.21", sha256: { amd64: "1".repeat(64), arm64: "1".repeat(64) }, downloadUrlTemplate: "file:///nonexistent/{version}" }, { PATH: `${stubs}:/usr/bin:/bin`, HA_ETCD_USER: "ha-no-such-etcd-user" });
    expect(r.code).toBe(0);
    // -r system account, -U its own group, -M no home directory created; no login shell.
    expect(readFileSync(path.join(stubs, "calls"), "utf8").trim()).toBe("-rUM -d /var/lib/etcd -s /usr/sbin/nologin ha-no-such-etcd-user");
  });

  it("does nothing when the pinned version is installed (no download at all)", async () => {
    const r = await install({ version: "3.5.21", sha256: { amd64: "1".repeat(64), arm64: "1".repeat(64) }, downloadUrlTemplate: "file:///nonexistent/{version}" });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("already installed");
  });

  it("replaces another installed version; air-gapped installs use only the mirror", async () => {
    const sum = await archive("mirror2", "3.5.22");
    const r = await install({ version: "3.5.22", sha256: { amd64: sum, arm64: sum }, mirrorUrlTemplate: tpl("mirror2"), mirrorOnly: true });
    expect(r.code).toBe(0);
    expect((await run(path.join(bin, "etcd"), ["--version"])).stdout).toContain("3.5.22");
    const missing = await install({ version: "3.5.23", sha256: { amd64: sum, arm64: sum }, mirrorUrlTemplate: tpl("mirror2"), mirrorOnly: true });
    expect(missing.code).toBe(1);
    expect(missing.stderr).not.toContain("github.com");
  });

  it("refuses an architecture without a release", async () => {
    const r = await install({ version: "3.5.21", sha256: { amd64: "1".repeat(64) }, downloadUrlTemplate: tpl("upstream") }, { HA_ETCD_ARCH: "s390x" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no etcd release for architecture s390x");
  });
});

describeTier("etcd.service passes systemd-analyze verify", toolAvailable("systemd-analyze", ["--version"]), { tierLabel: "systemd" }, () => {
  it("has no unknown keys or bad values", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "etcd-unit-"));
    try {
      // Executables that exist here; the dependencies as minimal stand-ins.
      writeFileSync(path.join(dir, "etcd.service"), renderEtcdUnit({ etcdBinary: "/bin/true", bootstrapScript: "/bin/true", installScript: "/bin/true" }));
      for (const dep of ["ha-claim-slot.service", "ha-fetch-secrets.service"]) {
        writeFileSync(path.join(dir, dep), "[Unit]\nDescription=stand-in\n[Service]\nType=oneshot\nExecStart=/bin/true\n");
      }
      // The unit creating etcd's user is the real one.
      writeFileSync(path.join(dir, "ha-etcd-user.service"), renderEtcdUserUnit());
      const files = ["etcd.service", "ha-etcd-user.service", "ha-claim-slot.service", "ha-fetch-secrets.service"].map((f) => path.join(dir, f));
      const r = await run("systemd-analyze", ["verify", ...files]).then(
        (x) => ({ code: 0, out: `${x.stdout}${x.stderr}` }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }),
      );
      expect(r).toEqual({ code: 0, out: "" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
