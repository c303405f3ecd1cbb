#!/usr/bin/env node
/**
 * gen-schema: writes schema.json, the schema the hashicorp/kubernetes 2.38.0 stand-in serves, read
 * from the OUTSIDE: the bindings of @cdktf/provider-kubernetes, which cdktf generated from
 * `terraform providers schema -json` of the real 2.38.0 release.
 *
 *   node test/providers/kubernetes/gen-schema.js            # rewrite schema.json
 *   node test/providers/kubernetes/gen-schema.js --check    # exit 1 when schema.json is stale
 *
 * What the generated code keeps of the real schema, and so what this reads:
 * - every configurable attribute with its terraform name, type (`storageClassType`: string, number,
 *   boolean, stringList, stringMap, ...; `type`: simple, list, set, map) and whether it is a block
 *   (`isBlock`), from the `...ToHclTerraform` functions;
 * - required or optional: `readonly x:` vs `readonly x?:` in the config interfaces (index.d.ts);
 * - a block's nesting (list or set, `type`), MaxItems 1 (the binding takes one object, not a list),
 *   and that a required block has MinItems 1;
 * - computed-only attributes and blocks: the `// x - computed: true, optional: false, required:
 *   false` getters of the output references.
 * What it cannot see (optional+computed, defaults, ForceNew, validators, MinItems > 1) is added by
 * hand in the provider's Go source (overlay.go), from the real provider's schema.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "../../..");
const PKG = path.join(ROOT, "node_modules/@cdktf/provider-kubernetes");
const OUT = path.join(__dirname, "schema.json");

/** The binding modules of every type the library declares (grep lib for the imports; a unit test checks). */
const RESOURCES = {
  "cluster-role-binding-v1": "kubernetes_cluster_role_binding_v1",
  "cluster-role-v1": "kubernetes_cluster_role_v1",
  "config-map-v1": "kubernetes_config_map_v1",
  "config-map-v1-data": "kubernetes_config_map_v1_data",
  "daemon-set-v1": "kubernetes_daemon_set_v1",
  "deployment-v1": "kubernetes_deployment_v1",
  "pod-disruption-budget-v1": "kubernetes_pod_disruption_budget_v1",
  "priority-class-v1": "kubernetes_priority_class_v1",
  "role-binding-v1": "kubernetes_role_binding_v1",
  "role-v1": "kubernetes_role_v1",
  "secret-v1": "kubernetes_secret_v1",
  "service-account-v1": "kubernetes_service_account_v1",
  "service-v1": "kubernetes_service_v1",
};

function moduleSource(dir) {
  const base = path.join(PKG, "lib", dir);
  const files = [path.join(base, "index.js")];
  const structs = path.join(base, "index-structs");
  if (fs.existsSync(structs)) for (const f of fs.readdirSync(structs).sort()) if (f.endsWith(".js")) files.push(path.join(structs, f));
  const dts = [path.join(base, "index.d.ts")];
  if (fs.existsSync(structs)) for (const f of fs.readdirSync(structs).sort()) if (f.endsWith(".d.ts")) dts.push(path.join(structs, f));
  return { js: files.map((f) => fs.readFileSync(f, "utf8")).join("\n"), dts: dts.map((f) => fs.readFileSync(f, "utf8")).join("\n") };
}

/** `readonly x?:` members of every interface: name -> { camel -> required }. */
function interfaces(dts) {
  const out = {};
  const re = /export interface (\w+)(?: extends [^{]+)? \{([\s\S]*?)\n\}/g;
  let m;
  while ((m = re.exec(dts))) {
    const props = {};
    for (const p of m[2].matchAll(/^\s+readonly (\w+)(\??):/gm)) props[p[1]] = p[2] !== "?";
    out[m[1]] = props;
  }
  return out;
}

/** The body of `function <name>(` or of a class, up to the matching closing brace at column 0. */
function bodyAfter(js, start) {
  const end = js.indexOf("\n}\n", start);
  if (end < 0) throw new Error(`no end of body at ${start}`);
  return js.slice(start, end);
}

const ATTR_ENTRY = /(\w+): \{\s*value: ([\s\S]*?),\s*isBlock: (true|false),\s*type: "(\w+)",\s*storageClassType: "(\w+)",\s*\}/g;

function hclEntries(body) {
  const out = [];
  for (const m of body.matchAll(ATTR_ENTRY)) {
    const [, name, value, isBlock, type, storage] = m;
    const camel = /\((?:struct\.|this\._)(\w+)(?:\.internalValue)?\)$/.exec(value);
    const nested = [...value.matchAll(/(\w+)ToHclTerraform/g)].map((x) => x[1]).filter((n) => !["string", "number", "boolean"].includes(n)).pop();
    out.push({ name, value, isBlock: isBlock === "true", type, storage, camel: camel ? camel[1] : undefined, nested, listMapped: /listMapperHcl\(/.test(value) });
  }
  return out;
}

function simpleType(type, storage) {
  const scalar = { string: "string", number: "number", boolean: "bool" };
  if (type === "simple") {
    if (!scalar[storage]) throw new Error(`unknown simple storage ${storage}`);
    return scalar[storage];
  }
  const coll = /^(string|number|boolean|any)(List|Map)$/.exec(storage);
  if (!coll) throw new Error(`unknown collection storage ${storage} (${type})`);
  const elem = coll[1] === "any" ? "dynamic" : scalar[coll[1]];
  if (type === "map") return ["map", elem];
  if (type === "list" || type === "set") return [type, elem];
  throw new Error(`unknown collection type ${type}`);
}

const GETTER_TYPES = {
  getStringAttribute: "string",
  getNumberAttribute: "number",
  getBooleanAttribute: "bool",
  getListAttribute: ["list", "string"],
  getNumberListAttribute: ["list", "number"],
  getStringMapAttribute: ["map", "string"],
  getNumberMapAttribute: ["map", "number"],
  getBooleanMapAttribute: ["map", "bool"],
  getAnyMapAttribute: ["map", "dynamic"],
};

class Module {
  constructor(dir) {
    const { js, dts } = moduleSource(dir);
    this.dir = dir;
    this.js = js;
    this.ifaces = interfaces(dts);
  }

  fnBody(fn) {
    const i = this.js.indexOf(`function ${fn}(struct) {`);
    if (i < 0) throw new Error(`${this.dir}: no function ${fn}`);
    return bodyAfter(this.js, i);
  }

  classBody(cls) {
    const i = this.js.indexOf(`class ${cls} extends`);
    if (i < 0) throw new Error(`${this.dir}: no class ${cls}`);
    return bodyAfter(this.js, i);
  }

  /** Computed-only members of a class body: simple getters and complex lists / objects. */
  computedMembers(body) {
    const attributes = {};
    const re = /\/\/ (\w+) - computed: true, optional: false, required: false\n\s*(?:get (\w+)\(\) \{\s*return (?:cdktf\.Fn\.tolist\()?this\.(\w+)\('\1'\)|this\._(\w+) = new (\w+)\(this, "\1")/g;
    for (const m of body.matchAll(re)) {
      const [, name, , getter, , cls] = m;
      if (getter) {
        const t = GETTER_TYPES[getter];
        if (!t) throw new Error(`${this.dir}: unknown getter ${getter} for ${name}`);
        attributes[name] = { type: t, computed: true };
      } else {
        const element = cls.endsWith("List") ? `${cls.slice(0, -4)}OutputReference` : cls;
        const nested = this.computedObject(element);
        attributes[name] = { type: ["list", ["object", nested]], computed: true };
      }
    }
    return attributes;
  }

  /** The attributes of a computed-only nested object, all computed. */
  computedObject(cls) {
    const body = this.classBody(cls);
    const out = this.computedMembers(body);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.type]));
  }

  /** A block (or the resource's top level) from its HCL entries, its interface and its output reference. */
  block(entries, iface, refBody, where) {
    const req = this.ifaces[iface];
    if (!req) throw new Error(`${this.dir}: no interface ${iface}`);
    const attributes = {};
    const blocks = {};
    for (const e of entries) {
      if (!e.camel || !(e.camel in req)) throw new Error(`${this.dir}: ${where}.${e.name}: no interface member (${e.camel}) in ${iface}`);
      const required = req[e.camel];
      if (e.isBlock) {
        const fnName = e.nested;
        if (!fnName) throw new Error(`${this.dir}: ${where}.${e.name}: block without nested struct`);
        const cls = fnName[0].toUpperCase() + fnName.slice(1);
        // Provider blocks have no output reference (nothing of a provider is read back).
        const ref = this.js.includes(`class ${cls}OutputReference extends`) ? this.classBody(`${cls}OutputReference`) : "";
        const inner = this.block(hclEntries(this.fnBody(`${fnName}ToHclTerraform`)), cls, ref, `${where}.${e.name}`);
        const nesting = e.type === "struct" ? "single" : e.type;
        if (!["list", "set", "single"].includes(nesting)) throw new Error(`${this.dir}: ${where}.${e.name}: block type ${e.type}`);
        blocks[e.name] = {
          nesting,
          required,
          minItems: required && nesting !== "single" ? 1 : 0,
          maxItems: nesting === "single" ? 0 : e.listMapped ? 0 : 1,
          block: inner,
        };
      } else {
        if (e.name === "alias" && where === "KubernetesProvider") continue; // terraform's meta-argument
        attributes[e.name] = { type: simpleType(e.type, e.storage), ...(required ? { required: true } : { optional: true }) };
      }
    }
    if (refBody) Object.assign(attributes, this.computedMembers(refBody));
    return { attributes, blocks };
  }

  resource(className) {
    const cls = this.classBody(className);
    const synth = cls.slice(cls.indexOf("synthesizeHclAttributes() {"));
    const top = this.block(hclEntries(synth), `${className}Config`, cls, className);
    return top;
  }
}

function className(dir) {
  return dir.split("-").map((p) => p[0].toUpperCase() + p.slice(1)).join("");
}

function generate() {
  const version = JSON.parse(fs.readFileSync(path.join(PKG, "package.json"), "utf8")).version;
  const out = { generatedFrom: `@cdktf/provider-kubernetes ${version}`, providerVersion: "", provider: undefined, resources: {} };
  const prov = new Module("provider");
  const pv = /providerVersion: '([0-9.]+)'/.exec(prov.js);
  if (!pv) throw new Error("no providerVersion in the provider binding");
  out.providerVersion = pv[1];
  out.provider = prov.resource("KubernetesProvider");
  for (const [dir, type] of Object.entries(RESOURCES)) {
    const mod = new Module(dir);
    const cn = className(dir);
    if (!mod.js.includes(`terraformResourceType: '${type}'`)) throw new Error(`${dir} does not declare ${type}`);
    const block = mod.resource(cn);
    // SDKv2 adds `id` itself (Optional+Computed); the binding lists it as a configurable string.
    if (block.attributes.id && block.attributes.id.optional) delete block.attributes.id;
    else throw new Error(`${type}: expected the SDK's id attribute`);
    out.resources[type] = block;
  }
  return `${JSON.stringify(out, null, 1)}\n`;
}

const text = generate();
if (process.argv.includes("--check")) {
  const current = fs.existsSync(OUT) ? fs.readFileSync(OUT, "utf8") : "";
  if (current !== text) {
    process.stderr.write(`${path.relative(ROOT, OUT)} is stale: run node test/providers/kubernetes/gen-schema.js\n`);
    process.exit(1);
  }
} else {
  fs.writeFileSync(OUT, text);
}
