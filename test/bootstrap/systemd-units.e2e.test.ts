/**
 * The systemd units the nodes get, laid out as cloud-init and the bootstrap bundle write them
 * (every `write_files` entry of the synthesized user data and every file of the role's bundle
 * object, with its mode, in a temp root that carries the host's own unit
 * files as the distribution's): the real `systemd-analyze verify` over every unit, timer and
 * drop-in, and static checks on the unit graph and on the scripts the units run:
 * - no unit issues a blocking start job (`systemctl start|restart|enable --now`) for a unit ordered
 *   after itself, directly or transitively: each job would wait for the other, forever;
 * - every hard precondition of a unit is `Requires=`/`BindsTo=` plus `After=`, never `Wants=`:
 *   a failed precondition must fail the unit visibly instead of letting it run half-configured.
 */
import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { EtcdTopology, HaControlPlane } from "../../lib";
import { describeTier, toolAvailable } from "../harness/tiers";
import { NodeFile, cloudConfigOf, nodeFilesOf, resources, synth, synthStack } from "../helpers/synth";

const run = promisify(execFile);
const SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze";
const HOST_UNITS = "/usr/lib/systemd/system";

/**
 * Unit files that packages install on the node at boot (not in user data), as the packages ship
 * them. kubelet.service: kubernetes/release `cmd/krel/templates/latest/kubelet/kubelet.service`,
 * installed by the pkgs.k8s.io kubelet package to the unit directory.
 */
const PACKAGED_UNITS: Record<string, string> = {
  "kubelet.service": [
    "[Unit]",
    "Description=kubelet: The Kubernetes Node Agent",
    "Documentation=https://kubernetes.io/docs/",
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "ExecStart=/usr/bin/kubelet",
    "Restart=always",
    "StartLimitInterval=0",
    "RestartSec=10",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n"),
};

/**
 * Programs that are not in user data but installed at boot before the units that run them start
 * (verify checks that every command exists): placeholders stand in for them in the temp root.
 */
const INSTALLED_AT_BOOT: Record<string, string> = {
  "/usr/bin/kubelet": "kubelet package from pkgs.k8s.io, installed by ha-kube-install",
  "/usr/local/bin/etcd": "etcd release, installed by ha-etcd-install (etcd's first ExecStartPre)",
};

/** Programs of the base system (Ubuntu 24.04), copied from this machine. */
const BASE_SYSTEM = ["/bin/sh", "/usr/bin/sh"];

/**
 * Hard preconditions, from what each unit's program needs to do its job (not from the renderers):
 * `[unit, precondition, why]`.
 */
const HARD_PRECONDITIONS: ReadonlyArray<readonly [unit: string, dep: string, why: string, only?: "Requisite"]> = [
  ["ha-fetch-secrets.service", "ha-claim-slot.service", "the secret is named by the claimed slot (slot.env)"],
  ["ha-kube-configure.service", "ha-claim-slot.service", "the manifests need the slot IP (slot.env)"],
  ["ha-kube-configure.service", "ha-fetch-secrets.service", "the manifests and kubeconfigs name the fetched certificates"],
  ["kubelet.service", "ha-kube-install.service", "the kubelet binary and containerd come from the install"],
  ["kubelet.service", "ha-kube-configure.service", "the kubelet runs the static pods ha-kube-configure writes"],
  ["etcd.service", "ha-claim-slot.service", "etcd binds the slot IP its certificates name"],
  ["etcd.service", "ha-fetch-secrets.service", "etcd requires its server and peer certificates"],
  // Requisite= (systemd.unit(5): "if the units listed here are not started already, they will not
  // be started and the starting of this unit will fail immediately"): a backup run must never start
  // an etcd a restore stopped on purpose, so Requires= (which would start it) is wrong here.
  ["ha-etcd-backup.service", "etcd.service", "a snapshot needs a running member, and must not start one", "Requisite"],
];

/** A node's files as cloud-init writes them, in a temp root. */
interface NodeRoot {
  readonly name: string;
  readonly root: string;
  readonly userData: { write_files: NodeFile[]; runcmd: Array<string[] | string> };
}

/** Every distinct launch template of the reference example and of the stacked topology. */
function nodeUserData(): Array<[string, NodeRoot["userData"]]> {
  const ref = synthStack(new HaClusterStack(Testing.app(), "ref"));
  const stacked = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "st", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0", etcdTopology: EtcdTopology.STACKED }));
  const of = (json: ReturnType<typeof synthStack>) =>
    resources(json, "aws_launch_template").map((lt): [string, NodeRoot["userData"]] => [String(lt.props.name), { write_files: nodeFilesOf(json, lt), runcmd: cloudConfigOf(lt).runcmd }]);
  return [...of(ref), ...of(stacked)];
}

function layOut(base: string, name: string, userData: NodeRoot["userData"]): NodeRoot {
  const root = path.join(base, name.replace(/[^A-Za-z0-9-]/g, "_"));
  const put = (file: string, content: string | Buffer, mode: number) => {
    const p = path.join(root, file);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
    chmodSync(p, mode);
  };
  // The distribution's units (targets, network-online, time-sync…) from this machine.
  mkdirSync(path.join(root, HOST_UNITS), { recursive: true });
  for (const f of readdirSync(HOST_UNITS)) {
    const src = path.join(HOST_UNITS, f);
    if (statSync(src).isFile()) copyFileSync(src, path.join(root, HOST_UNITS, f));
  }
  for (const [unit, content] of Object.entries(PACKAGED_UNITS)) put(path.join(HOST_UNITS, unit), content, 0o644);
  for (const program of BASE_SYSTEM) if (existsSync(program)) put(program, readFileSync(program), 0o755);
  for (const program of Object.keys(INSTALLED_AT_BOOT)) put(program, "#!/bin/sh\nexit 0\n", 0o755);
  for (const f of userData.write_files) put(f.path, f.content, parseInt(f.permissions, 8));
  return { name, root, userData };
}

// ---------------------------------------------------------------------------------------------
// A small reader of unit files (systemd.unit(5)): sections, `Key=value`, repeated keys accumulate,
// an empty assignment resets a list; drop-ins (`<unit>.d/*.conf`) apply in lexical order after the
// unit file; /etc/systemd/system shadows /usr/lib/systemd/system.
// ---------------------------------------------------------------------------------------------

/** One unit after its drop-ins: `section → key → values` (each value as written, in order). */
type Unit = Map<string, Map<string, string[]>>;

function applyUnitText(unit: Unit, text: string): void {
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      if (!unit.has(section)) unit.set(section, new Map());
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const values = unit.get(section)!;
    if (value === "") values.set(key, []);
    else values.set(key, [...(values.get(key) ?? []), value]);
  }
}

const UNIT_DIRS = ["/etc/systemd/system", HOST_UNITS];

function loadUnit(root: string, name: string): Unit | undefined {
  const file = UNIT_DIRS.map((d) => path.join(root, d, name)).find((p) => existsSync(p) && statSync(p).isFile());
  if (file === undefined) return undefined;
  const unit: Unit = new Map();
  applyUnitText(unit, readFileSync(file, "utf8"));
  const dropIns = UNIT_DIRS.flatMap((d) => {
    const dir = path.join(root, d, `${name}.d`);
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".conf")).map((f) => ({ f, p: path.join(dir, f) })) : [];
  }).sort((a, b) => a.f.localeCompare(b.f));
  for (const d of dropIns) applyUnitText(unit, readFileSync(d.p, "utf8"));
  return unit;
}

/** Space-separated unit list of `[Unit] key`. */
function unitList(unit: Unit, key: string): string[] {
  return (unit.get("Unit")?.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter((v) => v !== "");
}

/** Units the node's user data defines or changes (unit files and drop-in directories). */
function renderedUnitNames(node: NodeRoot): string[] {
  const names = new Set<string>();
  for (const f of node.userData.write_files) {
    const m = /^\/etc\/systemd\/system\/([^/]+?)(\.d\/[^/]+\.conf)?$/.exec(f.path);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

/** Every unit reachable from `names` through dependencies and ordering, loaded from the root. */
function unitGraph(root: string, names: readonly string[]): Map<string, Unit> {
  const units = new Map<string, Unit>();
  const queue = [...names];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (units.has(name)) continue;
    const unit = loadUnit(root, name);
    if (unit === undefined) continue;
    units.set(name, unit);
    for (const key of ["After", "Before", "Requires", "Wants", "BindsTo", "Requisite"]) queue.push(...unitList(unit, key));
  }
  return units;
}

/** Units ordered after `start`, transitively (`X After=Y` or `Y Before=X` puts X after Y). */
function orderedAfter(units: Map<string, Unit>, start: string): Set<string> {
  const next = new Map<string, Set<string>>();
  const edge = (from: string, to: string) => next.set(from, (next.get(from) ?? new Set()).add(to));
  for (const [name, unit] of units) {
    for (const dep of unitList(unit, "After")) edge(dep, name);
    for (const dep of unitList(unit, "Before")) edge(name, dep);
  }
  const seen = new Set<string>();
  const queue = [...(next.get(start) ?? [])];
  while (queue.length > 0) {
    const u = queue.shift()!;
    if (seen.has(u)) continue;
    seen.add(u);
    queue.push(...(next.get(u) ?? []));
  }
  return seen;
}

const EXEC_KEYS = ["ExecCondition", "ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload"];

/**
 * The text a unit runs: its command lines and, for a command that is a script in the root, the
 * script, and any script of the root that script names (recursively).
 */
function executedText(root: string, unit: Unit): string[] {
  const texts: string[] = [];
  const seen = new Set<string>();
  const visit = (text: string) => {
    texts.push(text);
    for (const m of text.matchAll(/(?:^|[\s'"=;(|&])(\/[A-Za-z0-9._/-]+)/g)) {
      const p = m[1];
      if (seen.has(p)) continue;
      seen.add(p);
      const file = path.join(root, p);
      if (!existsSync(file) || !statSync(file).isFile()) continue;
      const content = readFileSync(file);
      if (content.subarray(0, 2).toString() === "#!" && !content.includes(0)) visit(content.toString("utf8"));
    }
  };
  for (const key of EXEC_KEYS) for (const line of unit.get("Service")?.get(key) ?? []) visit(line.replace(/^[-@:+!]+/, ""));
  return texts;
}

/** Every `systemctl` call in a shell text: its verb, options and unit names (`.service` added). */
function systemctlCalls(text: string): Array<{ verb: string; options: string[]; units: string[]; text: string }> {
  return [...text.matchAll(/\bsystemctl\b([^\n;&|)`]*)/g)].map((m) => {
    const words = m[1].trim().split(/\s+/).filter((w) => w !== "" && !/^\d?>/.test(w)).map((w) => w.replace(/^['"]|['"]$/g, ""));
    const args = words.filter((w) => !w.startsWith("-"));
    const units = args.slice(1).map((u) => {
      if (u.includes("$")) throw new Error(`cannot tell which unit "systemctl ${m[1].trim()}" names`);
      return /\.[a-z]+$/.test(u) ? u : `${u}.service`;
    });
    return { verb: args[0] ?? "", options: words.filter((w) => w.startsWith("-")), units, text: m[0] };
  });
}

const START_VERBS = ["start", "restart", "try-restart", "reload-or-restart", "try-reload-or-restart", "isolate"];

/** Units a text starts with a blocking start job (systemctl start/restart/…, enable --now), unless --no-block. */
function blockingStarts(text: string): string[] {
  return systemctlCalls(text)
    .filter((c) => !c.options.includes("--no-block"))
    .filter((c) => START_VERBS.includes(c.verb) || (["enable", "reenable"].includes(c.verb) && c.options.includes("--now")))
    .flatMap((c) => c.units);
}

/** `[unit, started unit]` pairs where a unit blocks on a start job of a unit ordered after it. */
function startJobDeadlocks(root: string, names: readonly string[]): Array<[string, string]> {
  const units = unitGraph(root, names);
  const found: Array<[string, string]> = [];
  for (const name of names) {
    const unit = units.get(name);
    if (unit === undefined || !unit.has("Service")) continue;
    const after = orderedAfter(units, name);
    for (const text of executedText(root, unit)) {
      for (const started of blockingStarts(text)) if (started === name || after.has(started)) found.push([name, started]);
    }
  }
  return found;
}

describeTier("systemd units of the reference nodes", toolAvailable(SYSTEMD_ANALYZE, ["--version"]), { tierLabel: "systemd" }, () => {
  const base = mkdtempSync(path.join(tmpdir(), "systemd-units-"));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const nodes = nodeUserData().map(([name, userData]) => layOut(base, name, userData));
  const byName = nodes.map((n) => [n.name, n] as const);

  it("finds the nodes and their units", () => {
    expect(nodes.map((n) => n.name).sort()).toEqual(["prod-eu1-apiserver", "prod-eu1-etcd-0", "prod-eu1-etcd-1", "prod-eu1-etcd-2", "st-apiserver"]);
    const api = nodes.find((n) => n.name === "prod-eu1-apiserver")!;
    expect(renderedUnitNames(api)).toEqual(expect.arrayContaining(["ha-kube-configure.service", "kubelet.service", "ha-fetch-secrets.timer"]));
  });

  it.each(byName)("%s: systemd-analyze verify accepts every unit, timer and drop-in", async (_name, node) => {
    const units = renderedUnitNames(node);
    const r = await run(SYSTEMD_ANALYZE, ["verify", `--root=${node.root}`, ...units.map((u) => `/etc/systemd/system/${u}`)], { timeout: 60000 }).then(
      (x) => ({ code: 0, out: `${x.stdout}${x.stderr}` }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }),
    );
    expect(r).toEqual({ code: 0, out: "" });
  });

  it("systemd-analyze verify rejects a unit that requires a unit nobody installs (the check can fail)", async () => {
    const node = nodes[0];
    writeFileSync(path.join(node.root, "etc/systemd/system/broken-requires.service"), "[Unit]\nRequires=no-such-unit.service\nAfter=no-such-unit.service\n[Service]\nType=oneshot\nExecStart=/bin/sh -c true\n");
    try {
      await expect(run(SYSTEMD_ANALYZE, ["verify", `--root=${node.root}`, "/etc/systemd/system/broken-requires.service"])).rejects.toMatchObject({ stderr: expect.stringContaining("no-such-unit.service") });
    } finally {
      rmSync(path.join(node.root, "etc/systemd/system/broken-requires.service"));
    }
  });

  it.each(byName)("%s: no unit starts (blocking) a unit ordered after itself", (_name, node) => {
    expect(startJobDeadlocks(node.root, renderedUnitNames(node))).toEqual([]);
  });

  it("the deadlock check finds a oneshot that starts a unit ordered after it, directly or through a script", () => {
    const root = mkdtempSync(path.join(base, "deadlock-"));
    const put = (p: string, text: string, mode = 0o644) => {
      mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
      writeFileSync(path.join(root, p), text, { mode });
    };
    put("/etc/systemd/system/a.service", "[Unit]\nBefore=b.service\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/start-c\n");
    put("/usr/local/sbin/start-c", "#!/bin/sh\nset -e\nsystemctl enable --now c\n", 0o755);
    put("/etc/systemd/system/b.service", "[Unit]\nDescription=b\n[Service]\nExecStart=/bin/sh -c true\n");
    put("/etc/systemd/system/c.service.d/10-order.conf", "[Unit]\nAfter=b.service\n");
    put("/etc/systemd/system/c.service", "[Unit]\nDescription=c\n[Service]\nExecStart=/bin/sh -c true\n");
    put("/etc/systemd/system/d.service", "[Unit]\nAfter=c.service\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'systemctl start --no-block c'\n");
    expect(startJobDeadlocks(root, ["a.service", "b.service", "c.service", "d.service"])).toEqual([["a.service", "c.service"]]);
  });

  it.each(byName)("%s: every hard precondition is Requires=/BindsTo= (Requisite= where the unit must not start it) plus After=, never only Wants=", (_name, node) => {
    const names = renderedUnitNames(node);
    const units = unitGraph(node.root, names);
    const checked: string[] = [];
    for (const [name, dep, why, only] of HARD_PRECONDITIONS) {
      const unit = units.get(name);
      if (unit === undefined || !names.includes(name)) continue;
      const hard = only === "Requisite" ? unitList(unit, "Requisite") : [...unitList(unit, "Requires"), ...unitList(unit, "BindsTo")];
      if (only === "Requisite") expect({ unit: name, dep, startsIt: [...unitList(unit, "Requires"), ...unitList(unit, "Wants")].includes(dep) }).toEqual({ unit: name, dep, startsIt: false });
      checked.push(`${name} → ${dep}`);
      expect({ unit: name, dep, why, hard: hard.includes(dep), ordered: unitList(unit, "After").includes(dep) }).toEqual({ unit: name, dep, why, hard: true, ordered: true });
      // The precondition's unit must exist on the node, or the Requires= fails every boot.
      expect({ dep, installed: units.has(dep) }).toEqual({ dep, installed: true });
    }
    expect(checked.length).toBeGreaterThan(0);
  });

  it.each(byName.filter(([n]) => !n.includes("apiserver") || n.startsWith("st-")))("%s: etcd refuses to start unless its data volume is mounted", (_name, node) => {
    const env = readFileSync(path.join(node.root, "etc/ha-control-plane/node.env"), "utf8");
    const mount = /^DATA_MOUNT='([^']+)'$/m.exec(env)?.[1];
    expect(/^DATA_VOLUME='(by-slot|vol-[0-9a-f]+)'$/m.test(env)).toBe(true);
    const etcd = loadUnit(node.root, "etcd.service")!;
    const asserted = [...(etcd.get("Unit")?.get("AssertPathIsMountPoint") ?? []), ...(etcd.get("Unit")?.get("RequiresMountsFor") ?? [])];
    expect(asserted).toContain(mount);
  });

  it.each(byName)("%s: cloud-init enables only units that exist when runcmd runs", (_name, node) => {
    // runcmd runs after write_files and the packages module, before any of our units has run: a
    // unit installed later (by a package in ha-kube-install) cannot be enabled from there.
    const written = renderedUnitNames(node).filter((u) => existsSync(path.join(node.root, "etc/systemd/system", u)));
    const beforeRuncmd = ["chrony.service", "amazon-ssm-agent.service"]; // cloud-config `packages`; the AMI
    const named = node.userData.runcmd.flatMap((cmd) => systemctlCalls(typeof cmd === "string" ? cmd : cmd.join(" ")).filter((c) => ["enable", "start", "restart"].includes(c.verb)).flatMap((c) => c.units));
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((u) => !written.includes(u) && !beforeRuncmd.includes(u))).toEqual([]);
  });
});
