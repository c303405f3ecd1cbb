/**
 * A TCP load balancer standing in for the API's Network Load Balancer: haproxy (Debian's package),
 * configured from the synthesized `aws_lb_listener` and `aws_lb_target_group` — protocol, port,
 * health-check protocol/path/port/interval/timeout/thresholds/matcher, deregistration delay and
 * connection termination — never written by hand.
 *
 * How the NLB's behaviour maps onto haproxy (AWS "Health checks for Network Load Balancer target
 * groups" and "Target group attributes"):
 * - listener TCP → `mode tcp` frontend; target group TCP → `mode tcp` backend, round robin (an NLB
 *   hashes flows; for these tests only "some healthy target" matters);
 * - an HTTPS health check → `option httpchk` with `check-ssl verify none` (the NLB does not verify
 *   the target's certificate), `inter` = interval, `timeout check` = timeout, `fall` = unhealthy
 *   threshold, `rise` = healthy threshold, `http-check expect` from the matcher;
 * - a target marked unhealthy gets no new flows; flows already open stay (NLB default);
 * - **fail open**: when every registered target is unhealthy the NLB routes to all of them regardless
 *   of health ("If all targets fail health checks at the same time in all enabled Availability
 *   Zones, the load balancer fails open"; the target group health default, a minimum of 1 healthy
 *   target, which the library does not change). Each target is therefore also a `backup` server
 *   without checks ({@link FAIL_OPEN_PREFIX}), with `option allbackups`: haproxy uses the backups
 *   only while no checked server is up, and then all of them. A deregistered target is out of
 *   that set too (its backup is put in maintenance);
 * - deregistration (the Auto Scaling group terminating a node): {@link HaproxyLoadBalancer.deregister}
 *   puts the server in drain (no new flows) and, when `connection_termination` is true, cuts its
 *   open flows once the deregistration delay has passed.
 */
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";

/** The synthesized NLB listener + target group, as the AWS provider would receive them. */
export interface NlbModel {
  readonly listenerPort: number;
  readonly targetPort: number;
  readonly health: {
    readonly protocol: "HTTP" | "HTTPS" | "TCP";
    readonly path?: string;
    /** `traffic-port` resolved to the target port. */
    readonly port: number;
    readonly intervalSeconds: number;
    readonly timeoutSeconds: number;
    readonly healthyThreshold: number;
    readonly unhealthyThreshold: number;
    /** AWS matcher text, e.g. `200`, `200-399`, `200,202`. */
    readonly matcher: string;
  };
  readonly deregistrationDelaySeconds: number;
  readonly connectionTermination: boolean;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** AWS defaults for a TCP target group's health check where the stack sets nothing. */
const NLB_DEFAULTS = { interval: 30, healthyThreshold: 5, unhealthyThreshold: 2, deregistrationDelay: 300 };

/**
 * Reads the listener and its target group from a synthesized stack. `listenerPort` picks the
 * listener when there are several (default: the only one, or 6443).
 */
export function nlbModelFromSynth(synth: Json, listenerPort?: number): NlbModel {
  const listeners = Object.values((synth.resource?.aws_lb_listener ?? {}) as Record<string, Json>);
  const matching = listeners.filter((l) => listenerPort === undefined || Number(l.port) === listenerPort);
  const listener = matching.length === 1 ? matching[0] : matching.find((l) => Number(l.port) === 6443);
  if (!listener) throw new Error(`no aws_lb_listener${listenerPort ? ` on port ${listenerPort}` : ""} in the stack`);
  if (listener.protocol !== "TCP") throw new Error(`listener protocol ${listener.protocol}: the stand-in models TCP listeners only`);
  const forward = (listener.default_action as Json[]).find((a) => a.type === "forward");
  const ref = /\$\{aws_lb_target_group\.([^.]+)\.arn\}/.exec(String(forward?.target_group_arn ?? ""));
  if (!ref) throw new Error("listener does not forward to a target group of this stack");
  const tg = synth.resource.aws_lb_target_group[ref[1]] as Json;
  if (tg.protocol !== "TCP") throw new Error(`target group protocol ${tg.protocol}: the stand-in models TCP target groups only`);
  const hc = (tg.health_check ?? {}) as Json;
  const targetPort = Number(tg.port);
  const protocol = (hc.protocol ?? "TCP") as NlbModel["health"]["protocol"];
  return {
    listenerPort: Number(listener.port),
    targetPort,
    health: {
      protocol,
      path: hc.path,
      port: hc.port === undefined || hc.port === "traffic-port" ? targetPort : Number(hc.port),
      intervalSeconds: Number(hc.interval ?? NLB_DEFAULTS.interval),
      timeoutSeconds: Number(hc.timeout ?? (protocol === "TCP" ? 10 : 6)),
      healthyThreshold: Number(hc.healthy_threshold ?? NLB_DEFAULTS.healthyThreshold),
      unhealthyThreshold: Number(hc.unhealthy_threshold ?? NLB_DEFAULTS.unhealthyThreshold),
      matcher: String(hc.matcher ?? "200-399"),
    },
    deregistrationDelaySeconds: Number(tg.deregistration_delay ?? NLB_DEFAULTS.deregistrationDelay),
    connectionTermination: tg.connection_termination === true || tg.connection_termination === "true",
  };
}

/** Detection time the NLB promises: unhealthy threshold × interval. */
export function detectionSeconds(model: NlbModel): number {
  return model.health.unhealthyThreshold * model.health.intervalSeconds;
}

/** haproxy `http-check expect` for an AWS matcher (`200`, `200-399`, `200,202`). */
export function haproxyExpect(matcher: string): string {
  const parts = matcher.split(",").map((p) => p.trim());
  if (parts.length === 1 && /^\d{3}$/.test(parts[0])) return `http-check expect status ${parts[0]}`;
  const codes: number[] = [];
  for (const p of parts) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(p);
    if (!m) throw new Error(`matcher ${matcher}: not a list of codes or ranges`);
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    for (let c = lo; c <= hi; c++) codes.push(c);
  }
  return `http-check expect rstatus ^(${codes.join("|")})$`;
}

/** Name prefix of the unchecked `backup` copy of each target that carries the NLB's fail-open routing. */
export const FAIL_OPEN_PREFIX = "failopen-";

/** A backend server: one target (an API server's slot address). */
export interface HaproxyServer {
  readonly name: string;
  readonly address: string;
}

/** Renders haproxy.cfg for `model`, listening on `bind` (address:port), with a runtime socket. */
export function renderHaproxyConfig(model: NlbModel, options: { readonly bind: string; readonly servers: readonly HaproxyServer[]; readonly socket: string }): string {
  const h = model.health;
  const check: string[] = [`check inter ${h.intervalSeconds}s fall ${h.unhealthyThreshold} rise ${h.healthyThreshold}`];
  if (h.port !== model.targetPort) check.push(`port ${h.port}`);
  if (h.protocol === "HTTPS") check.push("check-ssl verify none");
  const lines = [
    "global",
    `  stats socket ${options.socket} mode 600 level admin`,
    "  log stdout format raw local0 info",
    "defaults",
    "  mode tcp",
    "  log global",
    "  option tcplog",
    "  timeout connect 5s",
    "  timeout client 10m",
    "  timeout server 10m",
    `  timeout check ${h.timeoutSeconds}s`,
    "frontend api",
    `  bind ${options.bind}`,
    "  default_backend targets",
    "backend targets",
    "  balance roundrobin",
    "  option allbackups",
  ];
  if (h.protocol !== "TCP") {
    lines.push("  option httpchk", `  http-check send meth GET uri ${h.path ?? "/"} ver HTTP/1.1 hdr Host nlb-health-check`, `  ${haproxyExpect(h.matcher)}`);
  }
  for (const s of options.servers) lines.push(`  server ${s.name} ${s.address}:${model.targetPort} ${check.join(" ")}`);
  for (const s of options.servers) lines.push(`  server ${FAIL_OPEN_PREFIX}${s.name} ${s.address}:${model.targetPort} backup`);
  return `${lines.join("\n")}\n`;
}

/** A running haproxy standing in for the NLB. */
export class HaproxyLoadBalancer {
  private constructor(
    readonly model: NlbModel,
    readonly dir: string,
    private readonly proc: ChildProcess,
    private readonly socket: string,
    private readonly logFile: string,
  ) {}

  /**
   * Starts haproxy in the foreground (`-db`), optionally inside network namespace `netns` (via
   * `ip netns exec`), listening on `bind`.
   */
  static async start(model: NlbModel, options: { readonly bind: string; readonly servers: readonly HaproxyServer[]; readonly netns?: string }): Promise<HaproxyLoadBalancer> {
    const dir = mkdtempSync(path.join(tmpdir(), "nlb-haproxy-"));
    const socket = path.join(dir, "admin.sock");
    const cfg = path.join(dir, "haproxy.cfg");
    writeFileSync(cfg, renderHaproxyConfig(model, { ...options, socket }));
    const logFile = path.join(dir, "haproxy.log");
    const cmd = options.netns ? ["ip", "netns", "exec", options.netns, "haproxy"] : ["haproxy"];
    const { openSync } = await import("node:fs");
    const out = openSync(logFile, "a");
    const proc = spawn(cmd[0], [...cmd.slice(1), "-db", "-f", cfg], { stdio: ["ignore", out, out] });
    const lb = new HaproxyLoadBalancer(model, dir, proc, socket, logFile);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`haproxy exited ${proc.exitCode}: ${lb.logTail()}`);
      try {
        await lb.command("show info");
        return lb;
      } catch {
        if (Date.now() > deadline) throw new Error(`haproxy did not open its socket: ${lb.logTail()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Last lines of haproxy's log. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** Sends a runtime API command, resolves to its answer. */
  command(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = connect(this.socket);
      let data = "";
      c.on("data", (d) => (data += d.toString()));
      c.on("end", () => resolve(data));
      c.on("error", reject);
      c.write(`${cmd}\n`);
    });
  }

  /**
   * Server name → the value of `column` in haproxy's `show stat` for each target server; with
   * `failOpen`, for the unchecked backup copies instead (keyed by the target's name).
   */
  private async serverStat(column: string, failOpen = false): Promise<Record<string, string>> {
    const csv = await this.command("show stat");
    const [header, ...rows] = csv.replace(/^# /, "").trim().split("\n");
    const cols = header.split(",");
    const out: Record<string, string> = {};
    for (const row of rows) {
      const v = row.split(",");
      const name = v[cols.indexOf("svname")];
      if (v[cols.indexOf("pxname")] !== "targets" || ["BACKEND", "FRONTEND"].includes(name)) continue;
      if (name.startsWith(FAIL_OPEN_PREFIX) === failOpen) out[failOpen ? name.slice(FAIL_OPEN_PREFIX.length) : name] = v[cols.indexOf(column)];
    }
    return out;
  }

  /** Server name → haproxy's operational status (`UP`, `DOWN`, `UP 1/2`, `DRAIN`, …). */
  status(): Promise<Record<string, string>> {
    return this.serverStat("status");
  }

  /**
   * Server name → sessions haproxy has sent that target so far (`stot`, through its checked server
   * and its fail-open copy; health checks are not sessions).
   */
  async sessions(): Promise<Record<string, number>> {
    const [checked, failOpen] = await Promise.all([this.serverStat("stot"), this.serverStat("stot", true)]);
    return Object.fromEntries(Object.entries(checked).map(([k, v]) => [k, Number(v) + Number(failOpen[k] ?? 0)]));
  }

  /** Server name → sessions sent to that target while the load balancer failed open (every target unhealthy). */
  async failOpenSessions(): Promise<Record<string, number>> {
    return Object.fromEntries(Object.entries(await this.serverStat("stot", true)).map(([k, v]) => [k, Number(v)]));
  }

  /**
   * haproxy's health transitions since byte `from` of its log (`Server targets/x is DOWN, reason: …`,
   * `… is UP`, `backend targets has no server available!`, running on backup). Returns the lines
   * and the log's length now (the next `from`).
   */
  transitions(from = 0): { lines: string[]; next: number } {
    let text = "";
    try {
      text = readFileSync(this.logFile, "utf8");
    } catch {
      return { lines: [], next: from };
    }
    const lines = text
      .slice(from)
      .split("\n")
      .filter((l) => /Server targets\/|backend targets|[Bb]ackup/.test(l))
      .map((l) => l.replace(/^\[[A-Z]+\]\s+\(\d+\)\s*:\s*/, "").slice(0, 240))
      // haproxy writes each event twice (its log to stdout, the warning to stderr; one file here).
      .filter((l, i, all) => i === 0 || l !== all[i - 1]);
    return { lines, next: text.length };
  }

  /** Server name → haproxy's last check result (`L7OK`, `L7STS`, `L4CON`, `INI`, …). */
  checkStatus(): Promise<Record<string, string>> {
    return this.serverStat("check_status");
  }

  /**
   * Waits until `server` is healthy the way the target group means it: status exactly `UP` (not
   * `UP 1/2`, going down) after a passing check (haproxy starts servers UP before any check has
   * run; the NLB starts them in `initial`). Resolves to the ms waited.
   */
  async waitHealthy(server: string, timeoutMs: number): Promise<number> {
    const start = Date.now();
    for (;;) {
      const [status, check] = await Promise.all([this.status(), this.checkStatus()]);
      if (status[server] === "UP" && /^L[4-7]OK/.test(check[server] ?? "")) return Date.now() - start;
      if (Date.now() - start > timeoutMs) throw new Error(`${server} is ${status[server]} (last check ${check[server]}) after ${timeoutMs} ms: ${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits until `server` has status `want` (prefix match), polling every 100 ms; resolves to the ms waited. */
  async waitStatus(server: string, want: string, timeoutMs: number): Promise<number> {
    const start = Date.now();
    for (;;) {
      const s = (await this.status())[server];
      if (s !== undefined && s.startsWith(want)) return Date.now() - start;
      if (Date.now() - start > timeoutMs) throw new Error(`${server} still ${s} after ${timeoutMs} ms (wanted ${want}): ${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Deregisters `server` as the Auto Scaling group would on termination: no new flows at once; open
   * flows are cut after the deregistration delay when connection termination is on.
   */
  async deregister(server: string): Promise<void> {
    await this.command(`set server targets/${server} state drain`);
    // A deregistered target is no longer in the fail-open set either.
    await this.command(`set server targets/${FAIL_OPEN_PREFIX}${server} state maint`);
    if (this.model.connectionTermination) {
      await new Promise((r) => setTimeout(r, this.model.deregistrationDelaySeconds * 1000));
      await this.command(`shutdown sessions server targets/${server}`);
      await this.command(`shutdown sessions server targets/${FAIL_OPEN_PREFIX}${server}`);
    }
  }

  /** Registers `server` again (a replacement in the same slot). */
  async register(server: string): Promise<void> {
    await this.command(`set server targets/${server} state ready`);
    await this.command(`set server targets/${FAIL_OPEN_PREFIX}${server} state ready`);
  }

  /**
   * Registers a new instance in `server`'s place (a replacement, not the same target back): the
   * NLB starts a new target in `initial` and admits it after `healthyThreshold` passing checks. The
   * server's health is forced down first, so checks haproxy ran while it was drained (against the
   * replacement booting in the slot, which the NLB would not have checked) count for nothing.
   */
  async registerNewTarget(server: string): Promise<void> {
    await this.command(`set server targets/${server} health down`);
    await this.command(`set server targets/${server} state ready`);
    await this.command(`set server targets/${FAIL_OPEN_PREFIX}${server} state ready`);
  }

  /** Stops haproxy and removes its directory. */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      this.proc.kill("SIGKILL");
      await new Promise((r) => this.proc.once("exit", r));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
