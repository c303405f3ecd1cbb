/**
 * Runs the real ha-publish-metrics script on one member of a real etcd test cluster
 * (test/bootstrap/etcd/cluster.ts, loopback mode), with the real etcdctl, curl, openssl and AWS CLI
 * against the AWS emulator: what lands in the emulator's CloudWatch is what a node would send.
 *
 * The node's environment file is rendered by the library (`renderNodeEnv` with `metrics`). With
 * network namespaces (the default where they are available) the script runs inside the member's
 * namespace with nothing but that file, so its own defaults must reach the member's host-local
 * listeners (https://127.0.0.1:2379, http://127.0.0.1:2381) as the rendered configuration opens
 * them; its `aws` then runs the real CLI in the test's own network namespace (nsenter), where the
 * emulator listens. On loopback every member needs its own ports, so the script is given the
 * member's listeners from its running configuration.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { renderNodeEnv } from "../../lib";
import { AwsEmulator } from "../harness/aws-emulator";
import { CommandResult, runCommand } from "../harness/etcd-cluster";
import { TestNode } from "../bootstrap/etcd/cluster";
import { renderedScript } from "../helpers/scripts";

/** The namespace the library's metrics go to (its default). */
export const METRIC_NAMESPACE = "HaControlPlane";

/** The member's host-local client and metrics listeners, from its running configuration. */
export function localEndpoints(node: TestNode): { readonly client: string; readonly metrics: string } {
  const config = parseYaml(readFileSync(node.configFile, "utf8")) as Record<string, string>;
  const client = config["listen-client-urls"].split(",").find((u) => u.startsWith("https://127.0.0.1:"));
  if (client === undefined) throw new Error(`${node.configFile}: no https://127.0.0.1 client listener in ${config["listen-client-urls"]}`);
  return { client, metrics: `${config["listen-metrics-urls"]}/metrics` };
}

/** Options of {@link publishMetrics}. */
export interface PublishOptions {
  readonly node: TestNode;
  readonly emulator: AwsEmulator;
  readonly clusterName: string;
  /** Directories put first on PATH (stand-ins such as chronyc). */
  readonly pathFirst?: readonly string[];
  /** Extra environment (e.g. LD_PRELOAD of a controlled clock for the AWS CLI). */
  readonly env?: Readonly<Record<string, string>>;
  /** Edits the rendered node.env before the run (a test's bad or reduced node). */
  readonly editEnv?: (rendered: string) => string;
}

let script: string | undefined;

/** Runs ha-publish-metrics once on `node`; resolves with its result (never throws on exit status). */
export async function publishMetrics(o: PublishOptions): Promise<CommandResult> {
  const envFile = path.join(o.node.dir, "metrics.env");
  const rendered = renderNodeEnv({ clusterName: o.clusterName, nodeRole: "etcd", pkiDir: o.node.pkiDir, metrics: { namespace: METRIC_NAMESPACE, runsEtcd: true, etcdQuotaBytes: 2147483648 } });
  writeFileSync(envFile, o.editEnv === undefined ? rendered : o.editEnv(rendered));
  // Rendered once: renderedScript rewrites the file, and bash reads a running script as it goes.
  script ??= renderedScript("ha-publish-metrics.sh");
  // TMPDIR: the run's temp root (a script's temp files must not land in the system /tmp).
  const env = { ...o.emulator.env, HOME: o.node.dir, TMPDIR: tmpdir(), ENV_FILE: envFile, STATE_DIR: o.node.stateDir, ...o.env };
  const pathRest = process.env.PATH ?? "/usr/bin:/bin";
  if (o.node.ns === undefined) {
    const { client, metrics } = localEndpoints(o.node);
    return runCommand("bash", [script], {
      env: { ...env, PATH: [...(o.pathFirst ?? []), path.dirname(o.emulator.awsCli), pathRest].join(":"), ETCD_ENDPOINT: client, ETCD_METRICS_URL: metrics },
      timeoutMs: 90_000,
    });
  }
  const awsDir = path.join(o.node.dir, "aws-host-netns");
  mkdirSync(awsDir, { recursive: true });
  writeFileSync(path.join(awsDir, "aws"), `#!/bin/sh\nexec nsenter --net=/proc/${process.pid}/ns/net -- ${JSON.stringify(o.emulator.awsCli)} "$@"\n`, { mode: 0o755 });
  return runCommand("ip", ["netns", "exec", o.node.ns, "bash", script], {
    env: { ...env, PATH: [...(o.pathFirst ?? []), awsDir, pathRest].join(":") },
    timeoutMs: 90_000,
  });
}

/** The member's own /metrics text (read inside its namespace where it has one). */
export async function scrapeMetrics(node: TestNode): Promise<string> {
  const { metrics } = localEndpoints(node);
  const argv = ["curl", "-fsS", "--max-time", "5", metrics];
  const r = node.ns === undefined ? await runCommand(argv[0], argv.slice(1)) : await runCommand("ip", ["netns", "exec", node.ns, ...argv]);
  if (r.exitCode !== 0) throw new Error(`scraping ${metrics} on ${node.name}: ${r.stderr}`);
  return r.stdout;
}
