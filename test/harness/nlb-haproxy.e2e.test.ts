/**
 * The NLB stand-in itself: its configuration comes from the synthesized target group of the
 * reference example, real haproxy accepts it (`haproxy -c`), and against two real HTTPS targets on
 * loopback it marks a target whose /readyz fails DOWN within the synthesized detection time
 * (unhealthy threshold × interval, plus one check timeout) and back UP after the healthy threshold;
 * with every registered target unhealthy it fails open, as the NLB does.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, Server } from "node:https";
import { AddressInfo, createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { HaproxyLoadBalancer, detectionSeconds, haproxyExpect, nlbModelFromSynth, renderHaproxyConfig } from "./nlb-haproxy";
import { describeTier, toolAvailable } from "./tiers";

const synth = JSON.parse(Testing.synth(new HaClusterStack(Testing.app(), "ref")));

/** A free loopback port (haproxy does not accept port 0 in a bind line). */
async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("NLB model from the synthesized stack", () => {
  it("reads the API listener and target group as the AWS provider receives them", () => {
    const m = nlbModelFromSynth(synth);
    // Literal expectations from the README's load-balancer section: HTTPS /readyz every 5 s, 2 × 2.
    expect(m).toEqual({
      listenerPort: 6443,
      targetPort: 6443,
      health: { protocol: "HTTPS", path: "/readyz", port: 6443, intervalSeconds: 5, timeoutSeconds: 3, healthyThreshold: 2, unhealthyThreshold: 2, matcher: "200" },
      deregistrationDelaySeconds: 30,
      connectionTermination: true,
    });
    expect(detectionSeconds(m)).toBe(10);
  });

  it("maps AWS matchers to haproxy expectations", () => {
    expect(haproxyExpect("200")).toBe("http-check expect status 200");
    expect(haproxyExpect("200,202")).toBe("http-check expect rstatus ^(200|202)$");
    expect(haproxyExpect("200-202")).toBe("http-check expect rstatus ^(200|201|202)$");
    expect(() => haproxyExpect("2xx")).toThrow("not a list of codes");
  });
});

describeTier("haproxy as the NLB", toolAvailable("haproxy", ["-v"]), { tierLabel: "control plane" }, () => {
  let dir: string;
  const servers: Server[] = [];
  let lb: HaproxyLoadBalancer | undefined;
  const healthy = [true];

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "nlb-test-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=t", "-days", "1",
      "-keyout", path.join(dir, "k.pem"), "-out", path.join(dir, "c.pem")], { stdio: "ignore" });
  });
  afterAll(async () => {
    await lb?.stop();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  it("is accepted by haproxy -c", async () => {
    const cfg = path.join(dir, "check.cfg");
    writeFileSync(cfg, renderHaproxyConfig(nlbModelFromSynth(synth), { bind: `127.0.0.1:${await freePort()}`, servers: [{ name: "s0", address: "127.0.0.1" }], socket: path.join(dir, "s.sock") }));
    expect(execFileSync("haproxy", ["-c", "-f", cfg], { encoding: "utf8" })).toContain("Configuration file is valid");
  });

  it("marks a failing target DOWN within the synthesized detection time and UP again after the healthy threshold", async () => {
    const { readFileSync } = await import("node:fs");
    const tls = { key: readFileSync(path.join(dir, "k.pem")), cert: readFileSync(path.join(dir, "c.pem")) };
    const ports: number[] = [];
    for (const i of [0]) {
      const s = createServer(tls, (req, res) => {
        res.statusCode = req.url === "/readyz" && healthy[i] ? 200 : 500;
        res.end(`target ${i}`);
      });
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
      servers.push(s);
      ports.push((s.address() as AddressInfo).port);
    }
    // The synthesized model with its target port moved to the test server's (ephemeral) port.
    const base = nlbModelFromSynth(synth);
    const model = { ...base, targetPort: ports[0], health: { ...base.health, port: ports[0] } };
    lb = await HaproxyLoadBalancer.start(model, { bind: `127.0.0.1:${await freePort()}`, servers: [{ name: "t0", address: "127.0.0.1" }] });
    await lb.waitStatus("t0", "UP", 30_000);
    healthy[0] = false;
    const down = await lb.waitStatus("t0", "DOWN", 30_000);
    const limit = (detectionSeconds(model) + model.health.intervalSeconds) * 1000;
    console.log(`target marked DOWN ${down} ms after /readyz started failing (synthesized detection ${detectionSeconds(model)} s; limit with one interval of phase ${limit} ms)`);
    expect(down).toBeLessThanOrEqual(limit);
    expect(down).toBeGreaterThanOrEqual((model.health.unhealthyThreshold - 1) * model.health.intervalSeconds * 1000 - 500);
    healthy[0] = true;
    const up = await lb.waitStatus("t0", "UP", 30_000);
    console.log(`target back UP after ${up} ms (healthy threshold ${model.health.healthyThreshold} × ${model.health.intervalSeconds} s)`);
    expect(up).toBeLessThanOrEqual((model.health.healthyThreshold + 1) * model.health.intervalSeconds * 1000);
  }, 90_000);

  it("fails open as the NLB does: with every registered target unhealthy it routes to all of them, never to a deregistered one", async () => {
    // AWS, "Health checks for Network Load Balancer target groups": "If all targets fail health
    // checks at the same time in all enabled Availability Zones, the load balancer fails open ...
    // traffic to all targets ... regardless of their health status." Deregistered targets are not
    // registered, so they are not among them. Two HTTPS targets on one port (127.0.0.1, 127.0.0.2).
    const { readFileSync } = await import("node:fs");
    const https = await import("node:https");
    const tls = { key: readFileSync(path.join(dir, "k.pem")), cert: readFileSync(path.join(dir, "c.pem")) };
    const ready = [true, true];
    const mk = (i: number) =>
      createServer(tls, (req, res) => {
        res.statusCode = req.url === "/readyz" && !ready[i] ? 500 : 200;
        res.end(`t${i}`);
      });
    const first = mk(0);
    await new Promise<void>((r) => first.listen(0, "127.0.0.1", r));
    servers.push(first);
    const port = (first.address() as AddressInfo).port;
    const second = mk(1);
    await new Promise<void>((r) => second.listen(port, "127.0.0.2", r));
    servers.push(second);
    const base = nlbModelFromSynth(synth);
    const model = { ...base, targetPort: port, health: { ...base.health, port }, deregistrationDelaySeconds: 0 };
    const listen = await freePort();
    const two = await HaproxyLoadBalancer.start(model, { bind: `127.0.0.1:${listen}`, servers: [{ name: "t0", address: "127.0.0.1" }, { name: "t1", address: "127.0.0.2" }] });
    /** Who answers `n` fresh connections through the load balancer (no keep-alive): counts per body. */
    const answers = async (n: number): Promise<Record<string, number>> => {
      const seen: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const body = await new Promise<string>((resolve) => {
          const req = https.get({ host: "127.0.0.1", port: listen, path: "/", rejectUnauthorized: false, agent: false, timeout: 5000 }, (res) => {
            let t = "";
            res.on("data", (d) => (t += d));
            res.on("end", () => resolve(t));
          });
          req.on("timeout", () => req.destroy(new Error("timeout")));
          req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        });
        seen[body] = (seen[body] ?? 0) + 1;
      }
      return seen;
    };
    const limit = (detectionSeconds(model) + model.health.intervalSeconds) * 1000;
    try {
      await Promise.all(["t0", "t1"].map((s) => two.waitHealthy(s, 30_000)));
      expect(await answers(6)).toEqual({ t0: 3, t1: 3 });
      // One unhealthy: only the healthy one gets flows, and nothing runs on the fail-open copies.
      ready[1] = false;
      await two.waitStatus("t1", "DOWN", limit);
      expect(await answers(4)).toEqual({ t0: 4 });
      expect(await two.failOpenSessions()).toEqual({ t0: 0, t1: 0 });
      // Both unhealthy (both still serve): the NLB fails open, so both answer, round robin.
      ready[0] = false;
      await two.waitStatus("t0", "DOWN", limit);
      expect(await answers(6)).toEqual({ t0: 3, t1: 3 });
      expect(await two.failOpenSessions()).toEqual({ t0: 3, t1: 3 });
      expect(await two.sessions()).toEqual({ t0: 3 + 4 + 3, t1: 3 + 3 });
      expect(two.transitions().lines.join("\n")).toMatch(/no server available|[Bb]ackup/);
      // A deregistered target leaves the fail-open set: only the registered one answers.
      await two.deregister("t1");
      expect(await answers(4)).toEqual({ t0: 4 });
      // Healthy again: back to health-checked routing, the fail-open copies idle.
      ready[0] = true;
      await two.waitHealthy("t0", (model.health.healthyThreshold + 1) * model.health.intervalSeconds * 1000);
      const idle = await two.failOpenSessions();
      expect(await answers(4)).toEqual({ t0: 4 });
      expect(await two.failOpenSessions()).toEqual(idle);
    } finally {
      await two.stop();
    }
  }, 120_000);
});
