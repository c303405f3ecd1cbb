/**
 * YAML rendering of the node files (cloud-config, static pods, etcd and component configs,
 * kubeconfigs) without loading the `yaml` package for the documents the library writes.
 *
 * Why: `yaml` is 72 modules that every synth loaded and ran (~20-30 ms of a single-cluster synth,
 * and ~10 ms of each further cluster in its generic node/stringify machinery; `npm run bench`).
 * The documents here are plain data: maps of plain keys, sequences, strings, numbers, booleans.
 *
 * Contract: {@link toYaml} returns exactly what `yaml`'s `stringify(value, options)` returns. The
 * fast path below writes a document only when every node of it is in the narrow subset whose
 * output it knows (block maps and sequences, plain or simply quoted one-line scalars, literal block
 * scalars); anything else (an alias-worthy shared object, a string that would be folded or needs
 * escapes, `undefined` values, non-plain objects) makes it hand the whole document to `yaml`,
 * loaded on first use. test/bootstrap/yaml.test.ts compares both on random documents and on every
 * document of the reference cluster.
 */

/** Options of {@link toYaml}: the subset of `yaml`'s options the library uses. */
export interface YamlOptions {
  /** `0`: never fold long lines. @default 80 (`yaml`'s default) */
  readonly lineWidth?: number;
}

/** Thrown inside the fast path when a node is outside its subset. */
class NotInSubset extends Error {}

type YamlModule = typeof import("yaml");
let yamlModule: YamlModule | undefined;

/** `yaml`'s `stringify`, loaded on first use. */
function yamlStringify(value: unknown, options: YamlOptions): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  yamlModule ??= require("yaml") as YamlModule;
  return options.lineWidth === undefined ? yamlModule.stringify(value) : yamlModule.stringify(value, { lineWidth: options.lineWidth });
}

/** `yaml.stringify(value, options)`, computed without `yaml` when the document allows it. */
export function toYaml(value: unknown, options: YamlOptions = {}): string {
  const lineWidth = options.lineWidth ?? 80;
  if (lineWidth === 0 || lineWidth === 80) {
    try {
      return fastDocument(value, lineWidth);
    } catch (err) {
      if (!(err instanceof NotInSubset)) throw err;
    }
  }
  return yamlStringify(value, options);
}

/** Whether the `yaml` package has been loaded by this module (tests: the reference cluster must not need it). */
export function yamlPackageLoaded(): boolean {
  return yamlModule !== undefined;
}

/** Whether {@link toYaml} writes `value` itself (for tests: the documents of the library must). */
export function isFastYaml(value: unknown, options: YamlOptions = {}): boolean {
  try {
    fastDocument(value, options.lineWidth ?? 80);
    return true;
  } catch (err) {
    if (err instanceof NotInSubset) return false;
    throw err;
  }
}

// The core schema's implicit scalars (yaml/dist/schema/{common,core}): a plain string matching one
// of them would read back as null, a boolean or a number, so `yaml` quotes it.
const IMPLICIT_SCALARS = [
  /^(?:~|[Nn]ull|NULL)?$/,
  /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/,
  /^0o[0-7]+$/,
  /^[-+]?[0-9]+$/,
  /^0x[0-9a-fA-F]+$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
];
// What `yaml` refuses as a plain scalar (stringifyString.js plainString).
const NOT_PLAIN = /^[\n\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|[\n:][ \t]|[ \t]\n|[\n\t ]#|[\n\t :]$/;
const DOCUMENT_MARKER = /^(%|---|\.\.\.)/m;
// Control characters and lone surrogates: `yaml` writes them double-quoted with escapes.
const NEEDS_ESCAPE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u{D800}-\u{DFFF}]/u;
// Keys written plain here; anything else (quoted keys, `? ` keys) goes to `yaml`.
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Longest one-line scalar that cannot be folded at `lineWidth` 80 with `indentLength` of
 * indentation (`yaml` folds text longer than max(21, 81 - indent); one column of margin).
 */
function maxUnfolded(lineWidth: number, indentLength: number): number {
  return lineWidth === 0 ? Infinity : Math.max(21, 80 - indentLength);
}

function fastDocument(value: unknown, lineWidth: number): string {
  if (value === null || typeof value !== "object" || Array.isArray(value) || !isPlainObject(value) || Object.keys(value).length === 0) {
    throw new NotInSubset();
  }
  const out: string[] = [];
  const seen = new Set<object>();
  writeMap(value as Record<string, unknown>, "", out, seen, lineWidth);
  return `${out.join("\n")}\n`;
}

/** A scalar on one line (after `key: ` or `- `), or undefined when it is a collection or block. */
function inlineScalar(v: unknown, indentLength: number, lineWidth: number): string | undefined {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v) || Object.is(v, -0)) throw new NotInSubset();
      return JSON.stringify(v);
    case "string":
      if (v.includes("\n")) return undefined;
      return oneLineString(v, indentLength, lineWidth);
    case "object":
      return undefined;
    default:
      throw new NotInSubset(); // undefined, functions, symbols, bigints
  }
}

function oneLineString(v: string, indentLength: number, lineWidth: number): string {
  // `yaml` treats a document marker (`---`, `...`, `%`) by its position in the document.
  if (NEEDS_ESCAPE.test(v) || DOCUMENT_MARKER.test(v)) throw new NotInSubset();
  const quoted = NOT_PLAIN.test(v) || IMPLICIT_SCALARS.some((re) => re.test(v));
  let text: string;
  if (!quoted) {
    text = v;
  } else if (v.includes("\\") || (v.includes('"') && v.includes("'")) || /[^\x20-\x7e]/.test(v)) {
    throw new NotInSubset();
  } else {
    text = v.includes('"') ? `'${v}'` : `"${v}"`;
  }
  if (text.length > maxUnfolded(lineWidth, indentLength)) throw new NotInSubset();
  return text;
}

/** Literal block scalar (`|`, `|-`) of a multi-line string, or NotInSubset. */
function blockScalar(v: string, indent: string, lineWidth: number): string {
  if (NEEDS_ESCAPE.test(v) || /\n[\t ]+$/.test(v) || /^[ \n]/.test(v) || DOCUMENT_MARKER.test(v)) throw new NotInSubset();
  // `yaml` folds (`>`) instead when a line is longer than the width.
  if (lineWidth !== 0 && v.split("\n").some((line) => line.length > lineWidth - indent.length)) throw new NotInSubset();
  let chomp: string;
  let body: string;
  if (v.endsWith("\n")) {
    if (/\n[\t ]*\n$/.test(v) || /[\t ]\n$/.test(v)) throw new NotInSubset(); // keep (`|+`) or trailing blanks
    chomp = "";
    body = v.slice(0, -1);
  } else {
    if (/[\t ]$/.test(v)) throw new NotInSubset();
    chomp = "-";
    body = v;
  }
  return `|${chomp}\n${indent}${body.replace(/\n+/g, `$&${indent}`)}`;
}

function enter(v: object, seen: Set<object>): void {
  // `yaml` writes an object met twice as an anchor and alias.
  if (seen.has(v)) throw new NotInSubset();
  seen.add(v);
}

/** Writes the pairs of `map` at `indent`. */
function writeMap(map: Record<string, unknown>, indent: string, out: string[], seen: Set<object>, lineWidth: number): void {
  enter(map, seen);
  const child = `${indent}  `;
  for (const key of Object.keys(map)) {
    if (!PLAIN_KEY.test(key) || IMPLICIT_SCALARS.some((re) => re.test(key)) || key.length > 1024) throw new NotInSubset();
    const v = map[key];
    const scalar = inlineScalar(v, child.length, lineWidth);
    if (scalar !== undefined) {
      out.push(`${indent}${key}: ${scalar}`);
    } else if (typeof v === "string") {
      out.push(`${indent}${key}: ${blockScalar(v, child, lineWidth)}`);
    } else {
      writeNested(v as object, `${indent}${key}:`, child, out, seen, lineWidth);
    }
  }
}

/** A collection after `head` (`key:` or `- `): empty ones flow (`[]`, `{}`), others as blocks below. */
function writeNested(v: object, head: string, indent: string, out: string[], seen: Set<object>, lineWidth: number): void {
  if (Array.isArray(v)) {
    if (v.length === 0) {
      out.push(`${head} []`);
      return;
    }
    out.push(head);
    writeSeq(v, indent, out, seen, lineWidth);
    return;
  }
  if (!isPlainObject(v)) throw new NotInSubset();
  if (Object.keys(v).length === 0) {
    out.push(`${head} {}`);
    return;
  }
  out.push(head);
  writeMap(v as Record<string, unknown>, indent, out, seen, lineWidth);
}

/** Writes the items of `seq` at `indent` (`- item`; a map or sequence item starts on the dash line). */
function writeSeq(seq: readonly unknown[], indent: string, out: string[], seen: Set<object>, lineWidth: number): void {
  enter(seq, seen);
  const child = `${indent}  `;
  for (let i = 0; i < seq.length; i++) {
    if (!(i in seq)) throw new NotInSubset(); // holes
    const v = seq[i];
    const scalar = inlineScalar(v, child.length, lineWidth);
    if (scalar !== undefined) {
      out.push(`${indent}- ${scalar}`);
      continue;
    }
    if (typeof v === "string") {
      out.push(`${indent}- ${blockScalar(v, child, lineWidth)}`);
      continue;
    }
    const obj = v as object;
    const empty = Array.isArray(obj) ? obj.length === 0 : isPlainObject(obj) && Object.keys(obj).length === 0;
    if (empty || !(Array.isArray(obj) || isPlainObject(obj))) {
      writeNested(obj, `${indent}-`, child, out, seen, lineWidth);
      continue;
    }
    const start = out.length;
    if (Array.isArray(obj)) writeSeq(obj, child, out, seen, lineWidth);
    else writeMap(obj as Record<string, unknown>, child, out, seen, lineWidth);
    out[start] = `${indent}- ${out[start].slice(child.length)}`;
  }
}
