"use strict";
/**
 * Case (g), the reference's resources in raw cdktf: the same resource and data-source types, the
 * same counts and the same attribute values as the reference cluster, declared with the provider
 * classes directly (imported by path), one stack, no library. `--fixture` is the reference's
 * synthesized cdk.tf.json (bench/run.js writes it before the timed runs); its values are the literals
 * a hand-written app would hold, references (`${aws_x.y.arn}`) kept as Terraform expressions.
 * (a) ÷ (g) is what the library's abstraction costs over raw cdktf.
 *
 * After the timed synth the child checks its output against the fixture (every resource and data
 * source, every attribute, meta-arguments): a raw app that declared less would flatter the library.
 */
const fs = require("node:fs");
const path = require("node:path");
const { arg, mark, removeDir, report, tempOutdir } = require("./common");

mark("start");
const fixturePath = arg("--fixture");
if (!fixturePath) throw new Error("--fixture <reference cdk.tf.json> is required");
const { App, TerraformStack } = require("cdktf");
const fixture = JSON.parse(fs.readFileSync(fixturePath, "utf8"));

// Attributes whose object keys are data (map attributes), not block field names.
const MAP_ATTRIBUTES = new Set(["tags", "tags_all", "dimensions"]);
const META = new Set(["//", "depends_on", "lifecycle", "provider", "count", "for_each"]);

function camel(key) {
  return key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

/** Provider config props from the synthesized JSON attributes (snake_case → camelCase, maps kept). */
function toProps(value, keepKeys) {
  if (Array.isArray(value)) return value.map((v) => toProps(v, false));
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) out[keepKeys ? k : camel(k)] = toProps(v, !keepKeys && MAP_ATTRIBUTES.has(k));
  return out;
}

/** The provider class of a resource type (`aws_lb` → @cdktf/provider-aws/lib/lb, class with tfResourceType "aws_lb"). */
function classOf(type, dataSource) {
  const [provider, ...rest] = type.split("_");
  const file = `${dataSource ? "data-" : ""}${dataSource ? `${provider}-` : ""}${rest.join("-")}`;
  const mod = require(`@cdktf/provider-${provider}/lib/${file}`);
  const cls = Object.values(mod).find((c) => typeof c === "function" && c.tfResourceType === type);
  if (!cls) throw new Error(`no class for ${type} in @cdktf/provider-${provider}/lib/${file}`);
  return cls;
}

const providerClasses = {
  aws: () => require("@cdktf/provider-aws/lib/provider").AwsProvider,
  tls: () => require("@cdktf/provider-tls/lib/provider").TlsProvider,
};
for (const block of [fixture.resource ?? {}, fixture.data ?? {}]) {
  for (const type of Object.keys(block)) classOf(type, block === fixture.data);
}
for (const name of Object.keys(fixture.provider ?? {})) providerClasses[name]();
mark("required");

const outdir = tempOutdir();
try {
  const app = new App({ outdir });
  const stack = new TerraformStack(app, "raw");
  for (const [name, configs] of Object.entries(fixture.provider ?? {})) {
    const Provider = providerClasses[name]();
    configs.forEach((c, i) => new Provider(stack, `${name}${i}`, toProps(c, false)));
  }
  const declare = (block, dataSource) => {
    for (const [type, byName] of Object.entries(block ?? {})) {
      const Cls = classOf(type, dataSource);
      for (const [id, body] of Object.entries(byName)) {
        const attributes = {};
        for (const [k, v] of Object.entries(body)) if (!META.has(k)) attributes[k] = v;
        const props = toProps(attributes, false);
        if (body.lifecycle) props.lifecycle = toProps(body.lifecycle, false);
        const r = new Cls(stack, id, props);
        r.overrideLogicalId(id);
        if (body.depends_on) r.dependsOn = body.depends_on;
      }
    }
  };
  declare(fixture.resource, false);
  declare(fixture.data, true);
  for (const [id, body] of Object.entries(fixture.output ?? {})) {
    const { TerraformOutput } = require("cdktf");
    new TerraformOutput(stack, id, { value: body.value, sensitive: body.sensitive, description: body.description }).overrideLogicalId(id);
  }
  mark("constructed");
  app.synth();
  mark("synthesized");
  const raw = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "raw", "cdk.tf.json"), "utf8"));
  let resources = 0;
  for (const byName of Object.values(raw.resource ?? {})) resources += Object.keys(byName).length;
  const same = (a, b) => JSON.stringify(sortDeep(a)) === JSON.stringify(sortDeep(b));
  for (const part of ["resource", "data", "output"]) {
    const want = JSON.parse(JSON.stringify(fixture[part] ?? {}));
    const got = JSON.parse(JSON.stringify(raw[part] ?? {}));
    for (const blocks of [want, got]) for (const byName of Object.values(blocks)) for (const body of Object.values(byName)) if (body && typeof body === "object") delete body["//"];
    if (!same(want, got)) throw new Error(`the raw app's ${part} differs from the reference's: ${firstDifference(sortDeep(want), sortDeep(got))}`);
  }
  report({ resourcesPerStack: resources });
} finally {
  removeDir(outdir);
}

function sortDeep(v) {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortDeep(v[k])]));
}

function firstDifference(a, b, at = "") {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (a && b && typeof a === "object" && typeof b === "object") {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[k], b[k], `${at}.${k}`);
      if (d) return d;
    }
  }
  return `${at}: reference ${JSON.stringify(a)?.slice(0, 200)} vs raw ${JSON.stringify(b)?.slice(0, 200)}`;
}
