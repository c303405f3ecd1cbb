"use strict";
/**
 * Where the time of a bench case goes: runs the case once under `node --cpu-prof` with the
 * require timer preloaded (bench/children/require-timer.js), then splits the CPU profile into
 * categories (module loading, cdktf token stack traces, provider resource constructors, our own
 * code: validation / name hashing / user data / script file, synth resolution, JSON write, GC) and
 * module loading into packages.
 *
 *   node bench/profile.js d50          # one case (ids: a b c d1 d10 d50 e g)
 *   node bench/profile.js a --keep     # keep the .cpuprofile (open it in Chrome DevTools)
 *
 * bench/run.js calls {@link profileCase} by itself for every case behind a missed target.
 * Profiling slows the child down (~10-30 %): use the shares, not the absolute numbers, and compare
 * them with the unprofiled medians of bench/run.js.
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { CHILDREN, ROOT, caseById, runCase } = require("./runner");

const LIB_DIR = `${path.sep}dist${path.sep}lib${path.sep}`;

/** Category names, in display order. */
const CATEGORY = {
  loading: "module loading (require: read + compile + top level)",
  stackTraces: "cdktf token creation stack traces (captureStackTrace)",
  providerCtors: "provider resource constructors (bindings + cdktf base classes)",
  cdktfFromLib: "cdktf calls from our code (attribute refs, outputs, tokens, tree)",
  validation: "our code: validation (lib/validate.ts)",
  names: "our code: name derivation + hashing (lib/names.ts)",
  yaml: "our code: YAML rendering (yaml package: cloud-config, manifests, kubeconfigs)",
  gzip: "our code: user-data gzip (zlib)",
  scriptFile: "our code: reading node script files",
  userDataOther: "our code: user-data assembly, other (lib/bootstrap)",
  ownOther: "our code: other (composition, CIDR maths, tags, PKI specs)",
  cdktfOther: "cdktf/constructs, other (app, stacks, outside our code)",
  synthResolve: "synth: token resolution + tree walk (cdktf)",
  synthWrite: "synth: JSON serialisation + file write",
  gc: "garbage collector",
  other: "node/V8 startup and other",
};

function urlOf(node) {
  return node.callFrame.url || "";
}

function isCdktf(url) {
  return /node_modules\/(cdktf|constructs)\//.test(url);
}

function isProvider(url) {
  return /node_modules\/@(cdktf|cdktn)\/provider-[^/]+\//.test(url);
}

/** Category of one profile node, from its whole stack (leaf first), and the nearest dist/lib file. */
function classify(stack) {
  const category = classifyStack(stack);
  const ours = stack.find((n) => urlOf(n).includes(LIB_DIR));
  return { category, libFile: ours ? urlOf(ours).slice(urlOf(ours).indexOf(LIB_DIR) + 1) : undefined };
}

function classifyStack(stack) {
  const leaf = stack[0];
  const fn = leaf.callFrame.functionName;
  if (fn === "(idle)") return undefined;
  if (fn === "(garbage collector)") return CATEGORY.gc;
  if (fn === "(program)" || fn === "(root)") return CATEGORY.other;
  // The child script runs inside one Module._load; a second one on the stack is a require().
  if (stack.filter((n) => n.callFrame.functionName === "Module._load").length >= 2) return CATEGORY.loading;
  if (stack.some((n) => n.callFrame.functionName === "captureStackTrace" && urlOf(n).includes("cdktf/lib/tokens/private/stack-trace"))) {
    return CATEGORY.stackTraces;
  }
  const inSynth = stack.some((n) => n.callFrame.functionName === "synth" && /node_modules\/cdktf\/lib\/app\.js$/.test(urlOf(n)));
  // Nearest frame of our library, and what lies between it and the leaf.
  let passedProvider = false;
  let passedCdktf = false;
  let ours;
  const between = [];
  for (const node of stack) {
    const url = urlOf(node);
    // lib/core.ts's synth-time adapters (resources' JSON without undefined attributes, policy JSON
    // and jsonencode resolved once per token) do cdktf's resolution work: counted as synth.
    if (url.includes(LIB_DIR) && !(inSynth && url.endsWith(`${LIB_DIR}core.js`))) {
      ours = node;
      break;
    }
    between.push(node);
    if (isProvider(url)) passedProvider = true;
    else if (isCdktf(url)) passedCdktf = true;
  }
  if (inSynth && !ours) {
    const writing = stack.some(
      (n) => /json-stable-stringify/.test(urlOf(n)) || /^(writeFileSync|writeFileUtf8|writeSync|stringify|JSON\.stringify)$/.test(n.callFrame.functionName),
    );
    return writing ? CATEGORY.synthWrite : CATEGORY.synthResolve;
  }
  if (!ours) {
    if (stack.some((n) => isProvider(urlOf(n)))) return CATEGORY.providerCtors;
    if (stack.some((n) => isCdktf(urlOf(n)))) return CATEGORY.cdktfOther;
    return CATEGORY.other;
  }
  if (passedProvider) return CATEGORY.providerCtors;
  const file = urlOf(ours);
  if (between.some((n) => urlOf(n).includes("node_modules/yaml/"))) return CATEGORY.yaml;
  if (between.some((n) => urlOf(n) === "node:zlib" || /^(gzipSync|zlibBufferSync|zlibBuffer)$/.test(n.callFrame.functionName))) return CATEGORY.gzip;
  if (between.some((n) => /^(readFileSync|readFileUtf8)$/.test(n.callFrame.functionName))) return CATEGORY.scriptFile;
  if (file.endsWith(`${path.sep}validate.js`)) return CATEGORY.validation;
  if (file.endsWith(`${path.sep}names.js`)) return CATEGORY.names;
  if (passedCdktf) return CATEGORY.cdktfFromLib;
  if (file.includes(`${path.sep}bootstrap${path.sep}`)) return CATEGORY.userDataOther;
  return CATEGORY.ownOther;
}

/**
 * Splits a V8 CPU profile (`.cpuprofile` JSON) into {@link CATEGORY} buckets. Returns rows
 * `{ category, ms, share }` in display order and the sampled total in ms.
 */
function summarizeCpuProfile(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totals = new Map();
  const ownByFile = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const stack = [];
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur));
    const { category, libFile } = classify(stack);
    if (category === undefined) continue;
    totals.set(category, (totals.get(category) ?? 0) + us);
    total += us;
    if (category.startsWith("our code") && libFile) ownByFile.set(libFile, (ownByFile.get(libFile) ?? 0) + us);
  }
  const rows = Object.values(CATEGORY)
    .filter((c) => totals.has(c))
    .map((category) => ({ category, ms: totals.get(category) / 1000, share: totals.get(category) / total }));
  const ownFiles = [...ownByFile]
    .sort((x, y) => y[1] - x[1])
    .map(([file, us]) => ({ file, ms: us / 1000 }));
  return { totalMs: total / 1000, rows, ownFiles };
}

/**
 * Profiles one run of `benchCase`: CPU categories, module-load time per package, and the child's
 * own phase marks. `keep` keeps the .cpuprofile and returns its path.
 */
async function profileCase(benchCase, { keep = false, nodeArgs = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ha-bench-prof-"));
  const requireFile = path.join(dir, "require.json");
  try {
    const result = await runCase(benchCase, {
      nodeArgs: [...nodeArgs, "--cpu-prof", "--cpu-prof-dir", dir, "-r", path.join(CHILDREN, "require-timer.js")],
      env: { BENCH_REQUIRE_PROFILE: requireFile },
      useTime: false,
    });
    const profileFile = fs.readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!profileFile) throw new Error(`no .cpuprofile written for case ${benchCase.id}`);
    const cpu = summarizeCpuProfile(JSON.parse(fs.readFileSync(path.join(dir, profileFile), "utf8")));
    const loading = fs.existsSync(requireFile) ? JSON.parse(fs.readFileSync(requireFile, "utf8")) : [];
    let kept;
    if (keep) {
      kept = path.join(os.tmpdir(), `ha-bench-${benchCase.id}-${Date.now()}.cpuprofile`);
      fs.copyFileSync(path.join(dir, profileFile), kept);
    }
    return { case: benchCase.id, marks: result.marks, memory: result.memory, cpu, loading, profileFile: kept };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Human-readable text of a {@link profileCase} result. */
function formatProfile(p) {
  const lines = [];
  const m = p.marks;
  const phases = [
    m.providerRoots !== undefined ? `provider roots ${fmt(m.providerRoots - m.start)}` : undefined,
    m.required !== undefined ? `start→required ${fmt(m.required)}` : undefined,
    m.constructed !== undefined ? `construct ${fmt(m.constructed - m.required)}` : undefined,
    m.synthesized !== undefined ? `synth ${fmt(m.synthesized - m.constructed)}` : undefined,
  ].filter(Boolean);
  lines.push(`profile of case ${p.case} (one profiled run; ms): ${phases.join(", ")}`);
  lines.push(`  CPU samples by category (total ${fmt(p.cpu.totalMs)} ms):`);
  for (const r of p.cpu.rows) lines.push(`    ${fmt(r.ms).padStart(8)} ms ${(100 * r.share).toFixed(1).padStart(5)} %  ${r.category}`);
  if (p.cpu.ownFiles.length > 0) {
    const top = p.cpu.ownFiles.slice(0, 6).map((f) => `${f.file.replace(/^dist\/lib\//, "")} ${fmt(f.ms)}`);
    lines.push(`  our code by nearest lib file (ms): ${top.join(", ")}`);
  }
  const loadTotal = p.loading.reduce((s, r) => s + r.ms, 0);
  if (loadTotal > 0) {
    lines.push(`  module loading by package (exclusive, total ${fmt(loadTotal)} ms):`);
    for (const r of p.loading.slice(0, 8)) {
      lines.push(`    ${fmt(r.ms).padStart(8)} ms ${(100 * (r.ms / loadTotal)).toFixed(1).padStart(5)} %  ${r.owner} (${r.modules} modules)`);
    }
  }
  if (p.profileFile) lines.push(`  profile kept: ${p.profileFile}`);
  return lines.join("\n");
}

function fmt(ms) {
  return ms.toFixed(ms >= 100 ? 0 : 1);
}

module.exports = { CATEGORY, formatProfile, profileCase, summarizeCpuProfile };

if (require.main === module) {
  const ids = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const keep = process.argv.includes("--keep");
  if (ids.length === 0) {
    process.stderr.write("usage: node bench/profile.js <case id...> [--keep]   (ids: a b c d1 d10 d50 e g)\n");
    process.exit(2);
  }
  if (!fs.existsSync(path.join(ROOT, "dist", "lib", "index.js"))) {
    process.stderr.write("dist/ is missing: run `npm run build` first\n");
    process.exit(2);
  }
  (async () => {
    for (const id of ids) process.stdout.write(`${formatProfile(await profileCase(caseById(id), { keep }))}\n\n`);
  })().catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
}
