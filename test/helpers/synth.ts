/**
 * Small helpers over synthesized stack JSON: build a stack, find resources of a type, follow a
 * `${type.name.attr}` reference back to its resource, and read what a node gets: its user data and
 * its bootstrap bundle ({@link nodeFilesOf}).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { parse as parseYaml } from "yaml";
import { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack, Testing } from "../../lib/core";

/** Synthesized Terraform JSON of one stack. */
export interface SynthJson {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly output?: Record<string, { value: unknown }>;
  readonly [key: string]: unknown;
}

/** One resource: its type, logical name and properties. */
export interface FoundResource {
  readonly type: string;
  readonly name: string;
  readonly props: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A stack with an AWS provider, for constructs under test. */
export function testStack(id = "test"): { app: App; stack: TerraformStack } {
  const app = Testing.app();
  const stack = new TerraformStack(app, id);
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  return { app, stack };
}

/** Builds constructs in a fresh stack and returns the synthesized JSON. */
export function synth(build: (stack: Construct) => void, options: { runValidations?: boolean } = {}): SynthJson {
  const { stack } = testStack();
  build(stack);
  return JSON.parse(Testing.synth(stack as TerraformStack, options.runValidations ?? false)) as SynthJson;
}

/** Synthesizes an existing stack. */
export function synthStack(stack: TerraformStack): SynthJson {
  return JSON.parse(Testing.synth(stack)) as SynthJson;
}

/** All resources of `type`. */
export function resources(json: SynthJson, type: string): FoundResource[] {
  return Object.entries(json.resource?.[type] ?? {}).map(([name, props]) => ({ type, name, props }));
}

/** All data sources of `type`. */
export function dataSources(json: SynthJson, type: string): FoundResource[] {
  return Object.entries(json.data?.[type] ?? {}).map(([name, props]) => ({ type, name, props }));
}

/** The only resource of `type` (fails when there are 0 or several). */
export function only(json: SynthJson, type: string): FoundResource {
  const found = resources(json, type);
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  return found[0];
}

/** Every resource in the stack. */
export function allResources(json: SynthJson): FoundResource[] {
  return Object.keys(json.resource ?? {}).flatMap((type) => resources(json, type));
}

/** The Terraform reference expression for an attribute of a resource: `${type.name.attr}`. */
export function refTo(r: FoundResource, attr: string): string {
  return `\${${r.type}.${r.name}.${attr}}`;
}

/** Follows a `${type.name.attr}` reference to the resource it names. */
export function follow(json: SynthJson, reference: unknown): FoundResource {
  const m = /^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.[a-z0-9_.]+\}$/.exec(String(reference));
  if (!m) throw new Error(`not a plain resource reference: ${String(reference)}`);
  const props = json.resource?.[m[1]]?.[m[2]];
  if (!props) throw new Error(`reference to a missing resource: ${String(reference)}`);
  return { type: m[1], name: m[2], props: props as Record<string, unknown> };
}

/** Raw user data of a launch template as EC2 receives it (gzip bytes when compressed). */
export function rawUserDataOf(launchTemplate: FoundResource): Buffer {
  return Buffer.from(String(launchTemplate.props.user_data), "base64");
}

/** Decoded user data text of a launch template (literal base64, gunzipped when compressed). */
export function userDataOf(launchTemplate: FoundResource): string {
  const raw = rawUserDataOf(launchTemplate);
  const gzipped = raw.length > 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  return (gzipped ? gunzipSync(raw) : raw).toString("utf8");
}

/** A file a node gets: from its user data (`write_files`) or from its bootstrap bundle. */
export interface NodeFile {
  readonly path: string;
  readonly content: string;
  /** Octal mode as four digits, e.g. `0644`. */
  readonly permissions: string;
  /** Where the node gets it. */
  readonly source: "user-data" | "bundle";
}

/** The parsed cloud-config of a launch template (`write_files`, `runcmd`, ...). */
export function cloudConfigOf(launchTemplate: FoundResource): { write_files: Array<{ path: string; content: string; permissions: string }>; runcmd: Array<string[] | string>; [key: string]: unknown } {
  const text = userDataOf(launchTemplate);
  if (!text.startsWith("#cloud-config\n")) throw new Error(`${launchTemplate.name}: user data is not a cloud-config`);
  return parseYaml(text) as ReturnType<typeof cloudConfigOf>;
}

/** `KEY='value'` of the node.env the user data writes, if present. */
function nodeEnvValue(files: ReadonlyArray<{ path: string; content: string }>, key: string): string | undefined {
  const env = files.find((f) => f.path === "/etc/ha-control-plane/node.env");
  const m = env === undefined ? null : new RegExp(`^${key}='([^']*)'$`, "m").exec(env.content);
  return m?.[1];
}

/** The bundle object (`aws_s3_object`) a launch template's user data names, if any. */
export function bundleObjectOf(json: SynthJson, launchTemplate: FoundResource): FoundResource | undefined {
  const key = nodeEnvValue(cloudConfigOf(launchTemplate).write_files, "HA_BUNDLE_KEY");
  if (key === undefined) return undefined;
  const found = resources(json, "aws_s3_object").filter((o) => o.props.key === key);
  if (found.length !== 1) throw new Error(`${launchTemplate.name}: user data names bundle ${key}, found ${found.length} aws_s3_object with that key`);
  return found[0];
}

/**
 * Extracted bundles by archive (base64 text): the same archive always extracts to the same files,
 * and extracting is a process spawn from a large jest worker, so each archive is extracted once.
 * Bounded, oldest dropped first (the property tier draws a new cluster a run).
 */
const extracted = new Map<string, NodeFile[]>();
const EXTRACTED_MAX = 64;

/**
 * Files of a bundle object as the real `tar` extracts them (content, and the mode GNU tar
 * restores), sorted by path.
 */
export function bundleFilesOf(object: FoundResource): NodeFile[] {
  return bundleFilesOfAll([object])[0];
}

/**
 * {@link bundleFilesOf} for several bundle objects at once; each archive not read before is read
 * by the real GNU `tar` ({@link tarListed}, or {@link tarExtracted} when not root).
 */
export function bundleFilesOfAll(objects: readonly FoundResource[]): NodeFile[][] {
  const archives = objects.map((o) => String(o.props.content_base64));
  const found = new Map(archives.filter((a) => extracted.has(a)).map((a) => [a, extracted.get(a)!]));
  const todo = [...new Set(archives.filter((a) => !found.has(a)))];
  const read = process.getuid?.() === 0 ? todo.map((a) => tarListed(Buffer.from(a, "base64"))) : tarExtracted(todo.map((a) => Buffer.from(a, "base64")));
  todo.forEach((archive, i) => {
    found.set(archive, read[i]);
    extracted.set(archive, read[i]);
    if (extracted.size > EXTRACTED_MAX) extracted.delete(extracted.keys().next().value as string);
  });
  return archives.map((a) => found.get(a)!.map((f) => ({ ...f })));
}

/**
 * Files of .tar.gz archives as the real `tar` extracts them to disk (`tar -xzf`, one each, from one
 * shell), read back with their mode, sorted by path.
 */
export function tarExtracted(archives: readonly Buffer[]): NodeFile[][] {
  if (archives.length === 0) return [];
  const dir = mkdtempSync(path.join(tmpdir(), "bundle-"));
  try {
    const dirs = archives.map((archive, i) => {
      const d = path.join(dir, String(i));
      mkdirSync(path.join(d, "root"), { recursive: true });
      writeFileSync(path.join(d, "bundle.tar.gz"), archive);
      return d;
    });
    execFileSync("bash", ["-c", 'set -e; for d in "$@"; do tar -xzf "$d/bundle.tar.gz" -C "$d/root" --no-same-owner; done', "bash", ...dirs]);
    return dirs.map((d) => {
      const root = path.join(d, "root");
      const out: NodeFile[] = [];
      const walk = (rel: string) => {
        for (const name of readdirSync(path.join(root, rel))) {
          const r = path.posix.join(rel, name);
          const st = statSync(path.join(root, r));
          if (st.isDirectory()) walk(r);
          else out.push({ path: `/${r}`, content: readFileSync(path.join(root, r), "utf8"), permissions: `0${(st.mode & 0o777).toString(8)}`, source: "bundle" });
        }
      };
      walk("");
      return out.sort((a, b) => a.path.localeCompare(b.path));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Files of a .tar.gz archive as the real GNU `tar` extracts them as root, without touching the
 * disk: `tar -xzvv -O` writes the members' bytes to stdout in archive order and its long listing
 * (mode, owner, size, name) to stderr, so each member is its size's worth of stdout. Root restores
 * the archive's permission bits as they are (GNU tar's --same-permissions default for root), so the
 * mode is the listing's; a later member of the same path replaces an earlier one, as on disk.
 * Anything but regular files and directories (links, devices) is refused. Equal to
 * {@link tarExtracted} (test/bootstrap/bundle/bundle-read.test.ts).
 */
export function tarListed(archive: Buffer): NodeFile[] {
  const r = spawnSync("tar", ["-xzvv", "-O", "-f", "-"], { input: archive, maxBuffer: 256 * 1024 * 1024 });
  if (r.error !== undefined || r.status !== 0) throw new Error(`tar -xzvv -O failed (${r.status ?? r.error?.message}): ${r.stderr?.toString("utf8")}`);
  const files = new Map<string, NodeFile>();
  let offset = 0;
  for (const line of r.stderr.toString("utf8").split("\n")) {
    if (line === "") continue;
    const m = /^([-dlhbcps])([-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT]) \S+\s+(\d+) \d{4}-\d\d-\d\d \d\d:\d\d (.+)$/.exec(line);
    if (m === null) throw new Error(`tar listing line not understood: ${line}`);
    const [, type, perms, size, name] = m;
    if (type === "d") continue;
    if (type !== "-") throw new Error(`bundle member is not a regular file or directory: ${line}`);
    const rel = name.replace(/^(\.\/)+/, "").replace(/^\/+/, "");
    if (rel === "" || rel.split("/").includes("..")) throw new Error(`bundle member path not inside the bundle: ${line}`);
    const bits = [...perms].reduce((acc, c, i) => acc | ("rwxst".includes(c) ? 1 << (8 - i) : 0), 0);
    const bytes = Number(size);
    files.set(`/${rel}`, { path: `/${rel}`, content: r.stdout.subarray(offset, offset + bytes).toString("utf8"), permissions: `0${bits.toString(8)}`, source: "bundle" });
    offset += bytes;
  }
  if (offset !== r.stdout.length) throw new Error(`tar wrote ${r.stdout.length} bytes of members, the listing sums to ${offset}`);
  return [...files.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * Every file a node launched from `launchTemplate` gets: the user data's `write_files`, plus the
 * files of the bootstrap bundle its `node.env` names (decoded from the synthesized `aws_s3_object`
 * content by the real `tar`). A path in both is an error (the node would see two versions).
 */
export function nodeFilesOf(json: SynthJson, launchTemplate: FoundResource): NodeFile[] {
  const inline: NodeFile[] = cloudConfigOf(launchTemplate).write_files.map((f) => ({
    path: f.path,
    content: f.content,
    permissions: String(f.permissions).padStart(4, "0"),
    source: "user-data",
  }));
  const object = bundleObjectOf(json, launchTemplate);
  const bundled = object === undefined ? [] : bundleFilesOf(object);
  const seen = new Set(inline.map((f) => f.path));
  for (const f of bundled) if (seen.has(f.path)) throw new Error(`${launchTemplate.name}: ${f.path} is both in the user data and in the bundle`);
  return [...inline, ...bundled];
}

/**
 * The metric names an `aws_cloudwatch_metric_alarm` reads: its `metric_name`, or the metrics of its
 * `metric_query` (a metric-math alarm).
 */
export function alarmMetricNames(alarm: FoundResource): string[] {
  if (alarm.props.metric_name !== undefined) return [alarm.props.metric_name];
  return (alarm.props.metric_query ?? []).filter((q: { metric?: unknown }) => q.metric !== undefined).map((q: { metric: { metric_name: string } }) => q.metric.metric_name);
}

/** Alarms of a synthesized stack that read `metricName`, directly or in a metric-math query. */
export function alarmsOn(json: SynthJson, metricName: string): FoundResource[] {
  return resources(json, "aws_cloudwatch_metric_alarm").filter((a) => alarmMetricNames(a).includes(metricName));
}
