/**
 * Tier 2 — provider plan: `terraform validate` + `terraform plan` of a synthesized stack against the
 * real hashicorp/aws provider and the repository's strict stand-ins for hashicorp/tls 4.1.0 and
 * hashicorp/kubernetes 2.38.0 (test/providers/; the Go module proxy refuses both real modules), all
 * installed from a local filesystem mirror, with no network and no AWS account.
 *
 * The providers run their own schema and plan-time validation (name lengths, allowed characters,
 * value ranges, conflicting arguments, Kubernetes object names and label keys), which the unit tier
 * cannot see. Nothing is cut out: a stack using a provider the mirror lacks fails to plan (see
 * {@link PlanOptions.allowCutProviders}). What is substituted offline is data sources that need AWS
 * credentials (STS, a secret's value): {@link prepareForOfflinePlan} replaces every reference to
 * them by a typed placeholder literal, or by a value the test gives ({@link PrepareOptions.substituteValues}).
 *
 * Environment:
 * - `TF_PLUGIN_MIRROR`: the filesystem mirror to use (no fallback to the default locations when set);
 * - `KEEP_PLAN_DIR=1`: keep each temporary terraform working directory for inspection.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { type TierCheck, toolAvailable } from "./tiers";

/** Fully qualified source address of the AWS provider, the one provider this tier needs. */
export const AWS_PROVIDER_SOURCE = "registry.terraform.io/hashicorp/aws";

/** Any JSON value, as found in a synthesized `cdk.tf.json`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
/** A JSON object. */
export interface JsonObject {
  [key: string]: JsonValue;
}

// ---------------------------------------------------------------------------------------------------
// Mirror discovery
// ---------------------------------------------------------------------------------------------------

/** A provider held by a filesystem mirror, for the current platform. */
export interface MirroredProvider {
  /** Fully qualified source address, e.g. `registry.terraform.io/hashicorp/aws`. */
  readonly source: string;
  /** Versions present for this platform, sorted. */
  readonly versions: readonly string[];
}

/** Terraform's name for the platform we run on (`linux_amd64`), the only one a mirror entry is usable for. */
export function terraformPlatform(): string {
  const arch: Record<string, string> = { x64: "amd64", arm64: "arm64", ia32: "386", arm: "arm" };
  return `${process.platform}_${arch[process.arch] ?? process.arch}`;
}

/**
 * Directories searched for a mirror when `TF_PLUGIN_MIRROR` is not set: where machine images put
 * one, plus Terraform's own implied local mirror directories.
 */
export function mirrorCandidates(): string[] {
  const home = homedir();
  const xdgData = process.env.XDG_DATA_HOME || join(home, ".local", "share");
  return [
    "/opt/tf-plugins",
    join(home, ".terraform.d", "plugins"),
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    join(xdgData, "terraform", "plugins"),
  ];
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Providers a filesystem mirror holds for this platform, in either mirror layout: unpacked
 * (`<host>/<ns>/<type>/<version>/<os_arch>/`) or packed
 * (`<host>/<ns>/<type>/terraform-provider-<type>_<version>_<os_arch>.zip`).
 */
export function mirrorProviders(mirror: string): MirroredProvider[] {
  const platform = terraformPlatform();
  const found: MirroredProvider[] = [];
  for (const host of listDir(mirror)) {
    for (const namespace of listDir(join(mirror, host))) {
      for (const type of listDir(join(mirror, host, namespace))) {
        const typeDir = join(mirror, host, namespace, type);
        if (!isDir(typeDir)) continue;
        const versions = new Set<string>();
        const packed = new RegExp(`^terraform-provider-${escapeRegExp(type)}_(.+)_${escapeRegExp(platform)}\\.zip$`);
        for (const entry of listDir(typeDir)) {
          const zip = packed.exec(entry);
          if (zip) versions.add(zip[1]);
          else if (isDir(join(typeDir, entry, platform))) versions.add(entry);
        }
        if (versions.size > 0) {
          found.push({
            source: `${host}/${namespace}/${type}`.toLowerCase(),
            versions: [...versions].sort(compareVersions),
          });
        }
      }
    }
  }
  return found.sort((a, b) => a.source.localeCompare(b.source));
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const na = Number(pa[i] ?? 0);
    const nb = Number(pb[i] ?? 0);
    if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
    if (!Number.isFinite(na) || !Number.isFinite(nb)) {
      const c = String(pa[i] ?? "").localeCompare(String(pb[i] ?? ""));
      if (c !== 0) return c;
    }
  }
  return 0;
}

function holdsAws(mirror: string): boolean {
  return mirrorProviders(mirror).some((p) => p.source === AWS_PROVIDER_SOURCE);
}

/**
 * The filesystem mirror holding hashicorp/aws for this platform, or undefined.
 *
 * `TF_PLUGIN_MIRROR` wins and is not second-guessed: when it is set but holds no AWS provider the
 * answer is undefined rather than some other directory, so a misconfigured CI fails visibly instead
 * of quietly planning against a different provider build.
 */
export function findProviderMirror(): string | undefined {
  const override = process.env.TF_PLUGIN_MIRROR;
  if (override) return holdsAws(override) ? override : undefined;
  return mirrorCandidates().find((dir) => existsSync(dir) && holdsAws(dir));
}

/** Providers the plan tier plans through this repository's stand-ins (test/providers/): never cut out. */
export const STANDIN_PROVIDERS: readonly string[] = ["registry.terraform.io/hashicorp/tls", "registry.terraform.io/hashicorp/kubernetes"];

/** AWS data sources answered by STS (GetCallerIdentity): substituted in every offline plan. */
export const STS_DATA_SOURCES: readonly string[] = ["aws_caller_identity", "aws_iam_session_context"];

let cachedCheck: TierCheck | undefined;

/**
 * Whether the provider-plan tier can run here: `terraform version` must run and a mirror with
 * hashicorp/aws and hashicorp/tls (the stand-in) must exist. Memoized because every plan-tier file asks at load time.
 */
export function providerPlanCheck(): TierCheck {
  if (cachedCheck) return cachedCheck;
  const terraform = toolAvailable("terraform", ["version"]);
  if (!terraform.available) {
    cachedCheck = terraform;
  } else if (!findProviderMirror()) {
    const override = process.env.TF_PLUGIN_MIRROR;
    cachedCheck = {
      available: false,
      reason: override
        ? `TF_PLUGIN_MIRROR=${override} holds no ${AWS_PROVIDER_SOURCE} for ${terraformPlatform()}`
        : `no filesystem mirror with ${AWS_PROVIDER_SOURCE} for ${terraformPlatform()} in ` +
          `${mirrorCandidates().join(", ")} (set TF_PLUGIN_MIRROR)`,
    };
  } else {
    // Nothing of tls or kubernetes may be cut out: the mirror must hold both stand-ins
    // (test/providers/tls, test/providers/kubernetes).
    const held = mirrorProviders(findProviderMirror()!).map((p) => p.source);
    const missing = STANDIN_PROVIDERS.filter((source) => !held.includes(source));
    if (missing.length > 0) {
      cachedCheck = {
        available: false,
        reason: `the provider mirror ${findProviderMirror()} holds no ${missing.join(", ")} (run \`bash scripts/setup-test-env.sh tls-standin kubernetes-standin plan-mirror\`; jest's global setup uses HA_CP_PLAN_MIRROR)`,
      };
    }
  }
  if (!cachedCheck) {
    cachedCheck = { available: true, reason: "" };
  }
  return cachedCheck;
}

// ---------------------------------------------------------------------------------------------------
// Offline preparation: cut out unavailable providers, substitute placeholders, fake AWS credentials
// ---------------------------------------------------------------------------------------------------

/** Options of {@link prepareForOfflinePlan}. */
export interface PrepareOptions {
  /**
   * Source addresses of the providers terraform can install (normally the mirror's). Anything else
   * is cut out of the stack.
   * @default [AWS_PROVIDER_SOURCE]
   */
  readonly availableProviders?: readonly string[];
  /**
   * Data source types of *available* providers to cut out and substitute as well, for data sources
   * that call a cloud API at plan time (e.g. `aws_ami`, `aws_availability_zones`), which cannot
   * succeed without network and credentials.
   * @default []
   */
  readonly substituteDataSources?: readonly string[];
  /**
   * Values for references to substituted data sources, by the reference as written (e.g.
   * `data.aws_secretsmanager_secret_version.AccessSecret.secret_string`), used instead of the
   * placeholder guessed from the attribute name: for a value whose shape the stack depends on (a
   * secret it `jsondecode`s). A reference not listed gets the guessed placeholder.
   * @default {}
   */
  readonly substituteValues?: Readonly<Record<string, PlaceholderValue>>;
}

/** Result of {@link prepareForOfflinePlan}. */
export interface PreparedStack {
  /** The stack, ready to be written as `main.tf.json`. */
  readonly json: JsonObject;
  /** Every distinct reference that was replaced by a placeholder, e.g. `tls_self_signed_cert.ca.cert_pem`. */
  readonly replaced: string[];
  /** Addresses of the resources / data sources cut out, e.g. `tls_private_key.ca`, `data.tls_certificate.x`. */
  readonly removed: string[];
  /** Source addresses of the providers cut out. */
  readonly removedProviders: string[];
}

/** Value of a placeholder: what terraform will see instead of an unavailable provider's attribute. */
export type PlaceholderValue = string | number | boolean | readonly PlaceholderValue[];

/** Kind of block a reference points into, as its address prefix: `""` (managed resource), `data`, `ephemeral`. */
export type ReferenceMode = "" | "data" | "ephemeral";
type Mode = ReferenceMode;
const BLOCK_OF_MODE: Record<Mode, string> = { "": "resource", data: "data", ephemeral: "ephemeral" };
const MODES: readonly Mode[] = ["", "data", "ephemeral"];

/** A reference to a resource / data source found inside a template. */
export interface ParsedReference {
  /** `""` for a managed resource, `data` or `ephemeral`. */
  readonly mode: ReferenceMode;
  /** Resource type, e.g. `tls_private_key`. */
  readonly type: string;
  /** Resource name. */
  readonly name: string;
  /** Attribute names after the resource, in order (`["certificates", "sha1_fingerprint"]`). */
  readonly attributes: readonly string[];
  /** The traversal ends with an index (`names[0]`, `data["token"]`): the value is an element. */
  readonly endsIndexed: boolean;
  /** A splat (`[*]`, `.*`) makes the value a list. */
  readonly splat: boolean;
  /** The reference as written, e.g. `tls_private_key.k[0].private_key_pem`. */
  readonly text: string;
}

/**
 * Canonical form of a provider source address, as `terraform init` resolves it: `aws` and
 * `hashicorp/aws` both mean `registry.terraform.io/hashicorp/aws`.
 */
export function normalizeProviderSource(source: string): string {
  const parts = source.trim().toLowerCase().split("/");
  if (parts.length === 1) return `registry.terraform.io/hashicorp/${parts[0]}`;
  if (parts.length === 2) return `registry.terraform.io/${parts[0]}/${parts[1]}`;
  return parts.join("/");
}

/**
 * Fake credentials: the AWS documentation's example key pair, so nobody mistakes them for a leak.
 * With the skip_* flags the provider never calls STS/IMDS, so they are never sent anywhere.
 */
const FAKE_AWS_CREDENTIALS: JsonObject = {
  access_key: "AKIAIOSFODNN7EXAMPLE",
  secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  skip_credentials_validation: true,
  skip_requesting_account_id: true,
  skip_metadata_api_check: true,
  skip_region_validation: true,
  // Retries only make a doomed API call (an aws data source without network) take minutes to fail.
  max_retries: 1,
};

/** Provider arguments that shape the plan and are safe offline; everything else is credentials or endpoints. */
const KEPT_AWS_PROVIDER_KEYS = ["alias", "region", "default_tags", "ignore_tags"];

const PLACEHOLDER_ACCOUNT_ID = "123456789012";

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The provider local name of a resource type: `tls_locally_signed_cert` → `tls`. */
function localNameOfType(type: string): string {
  const underscore = type.indexOf("_");
  return underscore < 0 ? type : type.slice(0, underscore);
}

/** The local name a block's `provider` meta-argument points at (`tls.alias`, `${tls.alias}`), if any. */
function localNameOfMetaProvider(body: JsonValue): string | undefined {
  if (!isObject(body) || typeof body.provider !== "string") return undefined;
  const bare = body.provider.replace(/^\$\{\s*/, "").replace(/\s*\}$/, "");
  return bare.split(".")[0] || undefined;
}

/** Keys of a JSON object that are real entries, not cdktf's `//` metadata comments. */
function entries(obj: JsonObject): [string, JsonValue][] {
  return Object.entries(obj).filter(([key]) => key !== "//");
}

// --- placeholders ------------------------------------------------------------------------------------

function digest(seed: string): Buffer {
  return createHash("sha256").update(seed).digest();
}

function pemBlock(label: string, seed: string): string {
  // Base64 of readable text: syntactically PEM, obviously not key material, and stable per reference.
  const body = Buffer.concat([Buffer.from(`placeholder ${label} for ${seed} `), digest(seed)]).toString("base64");
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function sshEd25519PublicKey(seed: string): string {
  // A well-formed ssh-ed25519 wire blob (length-prefixed key type + 32 key bytes), so parsers that
  // check the structure (aws_key_pair does) accept it.
  const type = Buffer.from("ssh-ed25519");
  const key = digest(seed);
  const blob = Buffer.concat([u32(type.length), type, u32(key.length), key]);
  return `ssh-ed25519 ${blob.toString("base64")} placeholder\n`;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function colonHex(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

function pemLabel(attribute: string): string {
  if (/private/.test(attribute)) return "PRIVATE KEY";
  if (/public/.test(attribute)) return "PUBLIC KEY";
  if (/request|csr/.test(attribute)) return "CERTIFICATE REQUEST";
  return "CERTIFICATE";
}

const LIST_ATTRIBUTE = /^(names|ids|arns|zone_ids|.+_ids|.+_arns|.+_names)$/;

/**
 * The typed placeholder for a reference, chosen from the name of the last attribute so that the AWS
 * provider sees a value of the right type and rough shape (a PEM where a PEM goes, a timestamp where
 * a timestamp goes). Deterministic: the same reference always yields the same value.
 */
export function placeholderFor(ref: ParsedReference): PlaceholderValue {
  const element = scalarPlaceholder(ref);
  if (ref.splat) return [element];
  return element;
}

function scalarPlaceholder(ref: ParsedReference): PlaceholderValue {
  const attribute = ref.attributes[ref.attributes.length - 1] ?? "";
  const seed = ref.text;
  const described = ["placeholder", ref.mode, ref.type, ref.name, ...ref.attributes]
    .filter((part) => part !== "")
    .join("-");
  if (/_pem(_pkcs8)?$|^pem$/.test(attribute)) return pemBlock(pemLabel(attribute), seed);
  if (/openssh$/.test(attribute)) {
    return /private/.test(attribute) ? pemBlock("OPENSSH PRIVATE KEY", seed) : sshEd25519PublicKey(seed);
  }
  if (/fingerprint/.test(attribute)) {
    const bytes = digest(seed);
    if (/sha256/.test(attribute)) return `SHA256:${bytes.toString("base64").replace(/=+$/, "")}`;
    if (/md5/.test(attribute)) return colonHex(bytes.subarray(0, 16));
    if (/sha1/.test(attribute)) return bytes.subarray(0, 20).toString("hex");
    return colonHex(bytes.subarray(0, 20));
  }
  if (/^(is_|set_)|^ready_for_renewal$|_enabled$/.test(attribute)) return false;
  // Numeric before timestamps: `validity_period_hours` is a number, `validity_end_time` a time.
  if (/(^|_)bits$/.test(attribute)) return 2048;
  if (/(^|_)port$/.test(attribute)) return 443;
  if (/(^|_)hours$/.test(attribute)) return 8760;
  if (/(^|_)(days|seconds|minutes|count|size|number)$/.test(attribute) && attribute !== "serial_number") return 1;
  if (/^validity_|_time$|_timestamp$|^not_(before|after)$/.test(attribute)) {
    return /start|before|created|issued/.test(attribute) ? "2025-01-01T00:00:00Z" : "2035-01-01T00:00:00Z";
  }
  if (attribute === "account_id") return PLACEHOLDER_ACCOUNT_ID;
  if (attribute === "arn" || attribute.endsWith("_arn")) {
    return `arn:aws:iam::${PLACEHOLDER_ACCOUNT_ID}:placeholder/${ref.type}/${ref.name}`;
  }
  const text = described.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/-+$/, "");
  if (LIST_ATTRIBUTE.test(attribute) && !ref.endsIndexed) {
    // Three elements because an HA stack typically spreads over three zones.
    return [0, 1, 2].map((i) => `${text}-${i}`);
  }
  return text;
}

/** HCL template escaping inside a quoted string: the literal must not open an interpolation. */
function hclQuoted(text: string): string {
  const escaped = text
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t")
    .replace(/\$\{/g, () => "$${")
    .replace(/%\{/g, () => "%%{");
  return `"${escaped}"`;
}

/** The placeholder as an HCL expression literal, for a reference inside a larger expression. */
export function hclLiteral(value: PlaceholderValue): string {
  if (typeof value === "string") return hclQuoted(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `[${value.map(hclLiteral).join(", ")}]`;
}

/**
 * The placeholder as a raw JSON value, for a string that is exactly `${ref}` (terraform then takes
 * the value with its type, so a number stays a number). JSON strings are templates to terraform, so
 * an interpolation opener is escaped.
 */
function rawJson(value: PlaceholderValue): JsonValue {
  if (typeof value === "string") return value.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
  if (typeof value === "number" || typeof value === "boolean") return value;
  return value.map(rawJson);
}

// --- template scanning -------------------------------------------------------------------------------

interface Match extends ParsedReference {
  readonly start: number;
  readonly end: number;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_CHAR = /[A-Za-z0-9_-]/;

/**
 * Finds references to removed resources in one terraform JSON string (a template).
 *
 * A regular expression is not enough: references sit inside function calls, object constructors,
 * nested quoted templates and index expressions, and a match must cover the whole traversal
 * (`x.y[0].attr["k"]`) to be replaced by a literal of the right type. The scanner tokenizes just
 * enough HCL for that: template text with `$${` escapes, interpolations and directives, quoted
 * strings with backslash escapes, brackets, identifiers and traversals.
 */
class TemplateScanner {
  public readonly matches: Match[] = [];
  /** False when the string is not a well-formed template; it is then left alone (see leftover check). */
  public wellFormed = true;

  constructor(
    private readonly s: string,
    private readonly isRemoved: (mode: Mode, type: string) => boolean,
  ) {}

  /** Scans template text from `i`; in a quoted string stops after the closing quote. */
  public template(i: number, quoted: boolean): number {
    const s = this.s;
    while (i < s.length) {
      const c = s[i];
      if (quoted && c === "\\") {
        i += 2;
        continue;
      }
      if (quoted && c === '"') return i + 1;
      if ((c === "$" || c === "%") && s[i + 1] === c && s[i + 2] === "{") {
        i += 3;
        continue;
      }
      if ((c === "$" || c === "%") && s[i + 1] === "{") {
        i = this.expression(i + 2);
        continue;
      }
      i++;
    }
    if (quoted) this.wellFormed = false;
    return i;
  }

  /** Scans an expression up to and including its unmatched closing `}` / `]` / `)`. */
  private expression(i: number): number {
    const s = this.s;
    let depth = 0;
    // Last significant token: an identifier right after `.` is an attribute, after `::` part of a
    // namespaced function (`provider::tls::x`), neither is the root of a reference.
    let previous = "";
    while (i < s.length) {
      const c = s[i];
      if (/\s/.test(c)) {
        i++;
        continue;
      }
      if (c === '"') {
        i = this.template(i + 1, true);
        previous = '"';
        continue;
      }
      if (c === "{" || c === "(" || c === "[") {
        depth++;
        i++;
        previous = c;
        continue;
      }
      if (c === "}" || c === ")" || c === "]") {
        if (depth === 0) return i + 1;
        depth--;
        i++;
        previous = c;
        continue;
      }
      if (/[0-9]/.test(c)) {
        i = this.numberEnd(i);
        previous = "0";
        continue;
      }
      if (IDENT_START.test(c)) {
        if (previous !== "." && previous !== "::") {
          const match = this.reference(i);
          if (match) {
            this.matches.push(match);
            i = match.end;
            previous = "]";
            continue;
          }
        }
        i = this.identifierEnd(i);
        previous = "a";
        continue;
      }
      if (c === ":" && s[i + 1] === ":") {
        previous = "::";
        i += 2;
        continue;
      }
      previous = c;
      i++;
    }
    this.wellFormed = false;
    return i;
  }

  private identifierEnd(i: number): number {
    const s = this.s;
    if (!IDENT_START.test(s[i] ?? "")) return i;
    let j = i + 1;
    while (j < s.length && IDENT_CHAR.test(s[j])) j++;
    return j;
  }

  private numberEnd(i: number): number {
    const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(i));
    return i + (m ? m[0].length : 1);
  }

  /** A `.ident` step at `i`: returns the identifier and the index after it. */
  private dotIdentifier(i: number): { name: string; end: number } | undefined {
    if (this.s[i] !== ".") return undefined;
    const end = this.identifierEnd(i + 1);
    return end > i + 1 ? { name: this.s.slice(i + 1, end), end } : undefined;
  }

  /** Parses a reference to a removed resource starting at `start`, or undefined. */
  private reference(start: number): Match | undefined {
    const s = this.s;
    const rootEnd = this.identifierEnd(start);
    const root = s.slice(start, rootEnd);
    let mode: Mode = "";
    let type = root;
    let i = rootEnd;
    if (root === "data" || root === "ephemeral") {
      const typeStep = this.dotIdentifier(i);
      if (!typeStep) return undefined;
      mode = root;
      type = typeStep.name;
      i = typeStep.end;
    }
    if (!this.isRemoved(mode, type)) return undefined;
    const nameStep = this.dotIdentifier(i);
    if (!nameStep) return undefined; // a bare identifier such as an object key, not a reference
    i = nameStep.end;
    const attributes: string[] = [];
    let endsIndexed = false;
    let splat = false;
    for (;;) {
      const attr = this.dotIdentifier(i);
      if (attr) {
        attributes.push(attr.name);
        endsIndexed = false;
        i = attr.end;
        continue;
      }
      if (s.startsWith(".*", i) || s.startsWith("[*]", i)) {
        splat = true;
        i += s[i] === "." ? 2 : 3;
        continue;
      }
      const legacyIndex = /^\.[0-9]+/.exec(s.slice(i));
      if (legacyIndex) {
        endsIndexed = true;
        i += legacyIndex[0].length;
        continue;
      }
      if (s[i] === "[") {
        // The index expression is part of the replaced traversal; references inside it go with it.
        const before = this.matches.length;
        i = this.expression(i + 1);
        this.matches.length = before;
        endsIndexed = attributes.length > 0;
        continue;
      }
      break;
    }
    return { mode, type, name: nameStep.name, attributes, endsIndexed, splat, text: s.slice(start, i), start, end: i };
  }
}

/** Parses every reference to a removed resource in a template string (exported for unit tests). */
export function findRemovedReferences(
  template: string,
  isRemoved: (mode: ReferenceMode, type: string) => boolean,
): ParsedReference[] {
  const scanner = new TemplateScanner(template, isRemoved);
  scanner.template(0, false);
  return scanner.matches.map(({ start: _start, end: _end, ...ref }) => ref);
}

// --- the transformation ------------------------------------------------------------------------------

interface RemovalContext {
  readonly removedLocalNames: ReadonlySet<string>;
  readonly removedTypes: Record<Mode, Set<string>>;
  readonly replaced: Set<string>;
  readonly values: Readonly<Record<string, PlaceholderValue>>;
}

function valueFor(ref: ParsedReference, ctx: RemovalContext): PlaceholderValue {
  return Object.prototype.hasOwnProperty.call(ctx.values, ref.text) ? ctx.values[ref.text] : placeholderFor(ref);
}

function makeIsRemoved(ctx: RemovalContext): (mode: Mode, type: string) => boolean {
  return (mode, type) => ctx.removedTypes[mode].has(type) || ctx.removedLocalNames.has(localNameOfType(type));
}

function substituteString(text: string, ctx: RemovalContext, allowRaw: boolean): JsonValue {
  if (!text.includes("${") && !text.includes("%{")) return text;
  const scanner = new TemplateScanner(text, makeIsRemoved(ctx));
  scanner.template(0, false);
  // A malformed template is left untouched on purpose: guessing could hide a reference, and the
  // leftover check afterwards reports it instead.
  if (!scanner.wellFormed || scanner.matches.length === 0) return text;
  for (const m of scanner.matches) ctx.replaced.add(m.text);
  if (allowRaw && scanner.matches.length === 1) {
    const only = scanner.matches[0];
    if (new RegExp(`^\\$\\{\\s*${escapeRegExp(only.text)}\\s*\\}$`).test(text)) return rawJson(valueFor(only, ctx));
  }
  let out = text;
  for (const m of [...scanner.matches].reverse()) {
    out = out.slice(0, m.start) + hclLiteral(valueFor(m, ctx)) + out.slice(m.end);
  }
  return out;
}

/** Parses a `depends_on` / `replace_triggered_by` entry (`tls_x.y`, `data.tls_x.y`, `${tls_x.y.attr}`). */
function addressTarget(entry: string): { mode: Mode; type: string } | undefined {
  const bare = entry.trim().replace(/^\$\{\s*/, "").replace(/\s*\}$/, "");
  const parts = bare.split(/[.[]/);
  if (parts[0] === "data" || parts[0] === "ephemeral") {
    return parts[1] ? { mode: parts[0], type: parts[1] } : undefined;
  }
  return parts[0] ? { mode: "", type: parts[0] } : undefined;
}

const ADDRESS_LIST_KEYS = new Set(["depends_on", "replace_triggered_by"]);

function transform(value: JsonValue, ctx: RemovalContext, key: string | undefined): JsonValue {
  if (typeof value === "string") return substituteString(value, ctx, true);
  if (Array.isArray(value)) {
    if (key !== undefined && ADDRESS_LIST_KEYS.has(key)) {
      const isRemoved = makeIsRemoved(ctx);
      return value
        .filter((entry) => {
          if (typeof entry !== "string") return true;
          const target = addressTarget(entry);
          return !(target && isRemoved(target.mode, target.type));
        })
        .map((entry) => transform(entry, ctx, undefined));
    }
    return value.map((entry) => transform(entry, ctx, undefined));
  }
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "//") {
        out[k] = v;
        continue;
      }
      // Object keys are templates in terraform JSON too, but never typed values: quote, never raw.
      const newKey = k.includes("${") ? String(substituteString(k, ctx, false)) : k;
      const newValue = transform(v, ctx, k);
      if (ADDRESS_LIST_KEYS.has(k) && Array.isArray(newValue) && newValue.length === 0) continue;
      out[newKey] = newValue;
    }
    return out;
  }
  return value;
}

/** Whether a string has a real interpolation or directive, not only `$${` / `%%{` escapes. */
function isTemplate(text: string): boolean {
  return /\$\{|%\{/.test(text.replace(/\$\$\{|%%\{/g, ""));
}

/**
 * Throws when a reference to a cut-out provider's resource survived substitution, listing where.
 * Independent of the scanner (a plain pattern over every template string and address list), so a
 * scanner gap surfaces here instead of as a confusing terraform error — or worse, a silent pass.
 */
export function assertNoRemovedReferences(json: JsonObject, removedLocalNames: Iterable<string>): void {
  const names = [...removedLocalNames];
  if (names.length === 0) return;
  const pattern = new RegExp(
    `(?<![A-Za-z0-9_.-])(?:(?:data|ephemeral)\\.)?(?:${names.map(escapeRegExp).join("|")})_[A-Za-z0-9_-]*\\.[A-Za-z_]`,
  );
  const leftovers: string[] = [];
  const visit = (value: JsonValue, path: string, inAddressList: boolean): void => {
    if (typeof value === "string") {
      if ((inAddressList || isTemplate(value)) && pattern.test(value)) {
        leftovers.push(`${path}: ${value.length > 200 ? `${value.slice(0, 197)}...` : value}`);
      }
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, `${path}[${i}]`, inAddressList));
    } else if (isObject(value)) {
      for (const [k, v] of entries(value)) {
        if (isTemplate(k) && pattern.test(k)) leftovers.push(`${path} key ${k}`);
        visit(v, path ? `${path}.${k}` : k, ADDRESS_LIST_KEYS.has(k));
      }
    }
  };
  visit(json, "", false);
  if (leftovers.length > 0) {
    throw new Error(
      `prepareForOfflinePlan: references to resources of removed providers (${names.join(", ")}) ` +
        `remain after substitution:\n  ${leftovers.join("\n  ")}`,
    );
  }
}

/**
 * Makes a synthesized stack plannable offline against the providers in the mirror. Pure: the input
 * is not modified and nothing is read from disk.
 *
 * - resources / data sources / ephemeral resources of unavailable providers are cut out, with their
 *   `provider` blocks and `required_providers` entries;
 * - every reference to them is replaced by a typed placeholder ({@link placeholderFor}): as the raw
 *   value when a string is exactly `${ref}`, as an HCL literal when the reference sits in a larger
 *   expression; `depends_on` / `replace_triggered_by` entries pointing at them are dropped;
 * - `terraform.backend` and `terraform.cloud` are removed (local state in the working directory);
 * - every AWS provider configuration keeps only region/alias/default_tags/ignore_tags and gets fake
 *   credentials with all account/credential/region checks skipped; one is added when there is none.
 *
 * Throws when a reference to a cut-out resource remains ({@link assertNoRemovedReferences}).
 */
export function prepareForOfflinePlan(synth: object | string, options: PrepareOptions = {}): PreparedStack {
  const input: JsonValue = typeof synth === "string" ? (JSON.parse(synth) as JsonValue) : (structuredClone(synth) as JsonValue);
  if (!isObject(input)) throw new Error("prepareForOfflinePlan: the synthesized stack must be a JSON object");
  const available = new Set((options.availableProviders ?? [AWS_PROVIDER_SOURCE]).map(normalizeProviderSource));

  const terraform: JsonObject = isObject(input.terraform) ? { ...input.terraform } : {};
  const requiredProviders: JsonObject = isObject(terraform.required_providers) ? { ...terraform.required_providers } : {};
  const sourceOf = (localName: string): string => {
    const req = requiredProviders[localName];
    const source = isObject(req) && typeof req.source === "string" ? req.source : localName;
    return normalizeProviderSource(source);
  };

  // Which local names are unavailable: every one declared or used by a block.
  const localNames = new Set<string>(entries(requiredProviders).map(([name]) => name));
  if (isObject(input.provider)) for (const [name] of entries(input.provider)) localNames.add(name);
  for (const mode of MODES) {
    const block = input[BLOCK_OF_MODE[mode]];
    if (!isObject(block)) continue;
    for (const [type, instances] of entries(block)) {
      localNames.add(localNameOfType(type));
      if (isObject(instances)) for (const [, body] of entries(instances)) localNames.add(localNameOfMetaProvider(body) ?? localNameOfType(type));
    }
  }
  const removedLocalNames = new Set([...localNames].filter((name) => !available.has(sourceOf(name))));

  const ctx: RemovalContext = {
    removedLocalNames,
    removedTypes: { "": new Set(), data: new Set(options.substituteDataSources ?? []), ephemeral: new Set() },
    replaced: new Set(),
    values: options.substituteValues ?? {},
  };
  const removed: string[] = [];
  const output: JsonObject = {};
  for (const [key, value] of Object.entries(input)) {
    const mode = MODES.find((m) => BLOCK_OF_MODE[m] === key);
    if (mode === undefined || !isObject(value)) {
      output[key] = value;
      continue;
    }
    const kept: JsonObject = {};
    for (const [type, instances] of Object.entries(value)) {
      if (type === "//" || !isObject(instances)) {
        kept[type] = instances;
        continue;
      }
      const keptInstances: JsonObject = {};
      for (const [name, body] of Object.entries(instances)) {
        const localName = localNameOfMetaProvider(body) ?? localNameOfType(type);
        const cut = name !== "//" && (removedLocalNames.has(localName) || ctx.removedTypes[mode].has(type));
        if (cut) {
          removed.push(`${mode ? `${mode}.` : ""}${type}.${name}`);
          ctx.removedTypes[mode].add(type);
        } else {
          keptInstances[name] = body;
        }
      }
      if (entries(keptInstances).length > 0) kept[type] = keptInstances;
    }
    if (entries(kept).length > 0) output[key] = kept;
  }

  for (const name of removedLocalNames) delete requiredProviders[name];
  if (entries(requiredProviders).length > 0) terraform.required_providers = requiredProviders;
  else delete terraform.required_providers;
  delete terraform.backend;
  delete terraform.cloud;
  if (entries(terraform).length > 0) output.terraform = terraform;
  else delete output.terraform;

  const providers: JsonObject = isObject(output.provider) ? { ...output.provider } : {};
  for (const name of removedLocalNames) delete providers[name];
  const awsLocalNames = [...localNames, "aws"].filter((name) => !removedLocalNames.has(name) && sourceOf(name) === AWS_PROVIDER_SOURCE);
  for (const name of new Set(awsLocalNames)) {
    const configs = providers[name];
    const list = Array.isArray(configs) ? configs : isObject(configs) ? [configs] : [];
    providers[name] = (list.length > 0 ? list : [{}]).map(offlineAwsProvider);
  }
  output.provider = providers;

  const json = transform(output, ctx, undefined) as JsonObject;
  assertNoRemovedReferences(json, removedLocalNames);
  return {
    json,
    replaced: [...ctx.replaced].sort(),
    removed: removed.sort(),
    removedProviders: [...removedLocalNames].map(sourceOf).sort(),
  };
}

function offlineAwsProvider(config: JsonValue): JsonObject {
  const source = isObject(config) ? config : {};
  const kept: JsonObject = {};
  for (const key of KEPT_AWS_PROVIDER_KEYS) if (source[key] !== undefined) kept[key] = source[key];
  if (kept.region === undefined) kept.region = "us-east-1";
  return { ...kept, ...FAKE_AWS_CREDENTIALS };
}

// ---------------------------------------------------------------------------------------------------
// Running terraform
// ---------------------------------------------------------------------------------------------------

/** One diagnostic of `terraform validate -json`. */
export interface ValidateDiagnostic {
  readonly severity: "error" | "warning";
  readonly summary: string;
  readonly detail?: string;
  readonly address?: string;
  readonly range?: { readonly filename: string; readonly start: { readonly line: number } };
}

/** Output of `terraform validate -json`. */
export interface ValidateJson {
  readonly valid: boolean;
  readonly error_count: number;
  readonly warning_count: number;
  readonly diagnostics: readonly ValidateDiagnostic[];
}

/** Options of {@link planSynthesizedStack}. */
export interface PlanOptions extends PrepareOptions {
  /** Keep the temporary working directory (also with `KEEP_PLAN_DIR=1`). @default false */
  readonly keepDir?: boolean;
  /** Mirror to install providers from. @default findProviderMirror() */
  readonly mirror?: string;
  /** Also save the plan and return `terraform show -json` of it (costs another provider start). @default false */
  readonly planJson?: boolean;
  /** Values for input variables, written to `terraform.tfvars.json`. */
  readonly variables?: Readonly<Record<string, unknown>>;
  /** Timeout of each terraform command in milliseconds. @default 180000 */
  readonly commandTimeoutMs?: number;
  /**
   * Let the plan cut out a provider the mirror lacks (placeholders in place of its values). Off by
   * default: the plan mirror holds every provider the stacks use (aws, and the tls and kubernetes
   * stand-ins), so a cut-out provider means a missing mirror entry, and the plan fails instead of
   * planning less. Only the harness's own test of the mechanism turns it on.
   * @default false
   */
  readonly allowCutProviders?: boolean;
}

/** Result of a successful {@link planSynthesizedStack}. */
export interface PlanResult {
  /** The working directory (already deleted unless kept). */
  readonly dir: string;
  /** Whether {@link dir} still exists. */
  readonly kept: boolean;
  /** What was fed to terraform, with the substitutions made. */
  readonly prepared: PreparedStack;
  /** `terraform validate -json` output (valid; may carry warnings). */
  readonly validateJson: ValidateJson;
  /** Human-readable plan output (`-no-color`). */
  readonly planOutput: string;
  /** N of `Plan: N to add`; 0 when there is nothing to do. */
  readonly resourceCount: number;
  /** `terraform show -json` of the plan, with `planJson: true`. */
  readonly plan?: JsonObject;
}

/** Stage at which {@link planSynthesizedStack} failed. */
export type PlanStage = "init" | "validate" | "plan" | "show";

/** Thrown by {@link planSynthesizedStack}; the message carries terraform's and the provider's own text. */
export class PlanFailedError extends Error {
  /** The terraform command that failed. */
  public readonly stage: PlanStage;
  /** Validate diagnostics, when the failure was at validate. */
  public readonly diagnostics: readonly ValidateDiagnostic[];
  /** Raw stdout + stderr of the failing command. */
  public readonly output: string;

  constructor(stage: PlanStage, message: string, output: string, diagnostics: readonly ValidateDiagnostic[] = []) {
    super(message);
    this.name = "PlanFailedError";
    this.stage = stage;
    this.output = output;
    this.diagnostics = diagnostics;
    Object.setPrototypeOf(this, PlanFailedError.prototype);
  }
}

interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Async so that jest workers (and Promise.all inside one) run several terraform processes at once. */
function runTerraform(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile("terraform", args, { cwd, env, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      const failure = error as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
      resolve({
        code: failure ? (typeof failure.code === "number" ? failure.code : -1) : 0,
        stdout: String(stdout),
        stderr: String(stderr) + (failure && typeof failure.code !== "number" ? `\n${failure.message}` : ""),
        timedOut: Boolean(failure?.killed),
      });
    });
  });
}

/**
 * A child environment that sees only this working directory's terraform settings: the inherited
 * TF_CLI_CONFIG_FILE may point nowhere (it does on the CI image), TF_CLI_ARGS* would change the
 * commands, and AWS_* variables could make the provider read profiles or call IMDS.
 */
export function childEnv(dir: string, cliConfig: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(AWS_|TF_CLI_ARGS|TF_PLUGIN_CACHE_DIR$|TF_WORKSPACE$|TF_DATA_DIR$|TF_CLI_CONFIG_FILE$|TF_LOG)/.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    TF_CLI_CONFIG_FILE: cliConfig,
    TF_DATA_DIR: join(dir, ".terraform"),
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

export function cliConfigText(mirror: string, include: readonly string[]): string {
  // Only the mirror and no `direct` block: a provider missing from it fails init at once instead of
  // trying the registry over a network we do not have.
  return [
    "provider_installation {",
    "  filesystem_mirror {",
    `    path    = ${JSON.stringify(mirror)}`,
    `    include = ${JSON.stringify(include)}`,
    "  }",
    "}",
    "disable_checkpoint = true",
    "",
  ].join("\n");
}

function formatDiagnostic(d: ValidateDiagnostic): string {
  const where = [d.address, d.range ? `${d.range.filename}:${d.range.start.line}` : undefined].filter(Boolean).join(", ");
  return `${d.severity}: ${d.summary}${where ? ` [${where}]` : ""}${d.detail ? `\n    ${d.detail.replace(/\n/g, "\n    ")}` : ""}`;
}

function outputOf(result: CommandResult): string {
  return [result.stderr.trim(), result.stdout.trim()].filter(Boolean).join("\n");
}

/**
 * Runs `terraform init`, `validate -json` and `plan` on a synthesized stack (the string of
 * `Testing.synth(stack)`, its parsed object, or a `cdk.tf.json`) in a fresh temporary directory
 * against the real AWS provider from the local mirror, after {@link prepareForOfflinePlan}.
 *
 * Rejects with a {@link PlanFailedError} whose message contains the provider's own diagnostics
 * (validate: severity, summary, detail, address; plan/init: terraform's stderr).
 */
export async function planSynthesizedStack(synth: object | string, options: PlanOptions = {}): Promise<PlanResult> {
  const mirror = options.mirror ?? findProviderMirror();
  if (!mirror) throw new Error(`planSynthesizedStack: ${providerPlanCheck().reason || "no provider mirror found"}`);
  const mirrored = mirrorProviders(mirror).map((p) => p.source);
  // Data sources that call STS cannot be read offline: they are always substituted in the plan tier
  // (the apply tier, against the emulator, reads them for real).
  const substituteDataSources = [...new Set([...STS_DATA_SOURCES, ...(options.substituteDataSources ?? [])])];
  const prepared = prepareForOfflinePlan(synth, { ...options, substituteDataSources, availableProviders: mirrored });
  if (prepared.removedProviders.length > 0 && options.allowCutProviders !== true) {
    throw new Error(
      `planSynthesizedStack: the mirror ${mirror} lacks ${prepared.removedProviders.join(", ")}: ` +
        `nothing may be cut out of a plan (run \`bash scripts/setup-test-env.sh\`; a provider that cannot be built needs a stand-in in test/providers/)`,
    );
  }
  const keep = options.keepDir === true || process.env.KEEP_PLAN_DIR === "1";
  const timeoutMs = options.commandTimeoutMs ?? 180_000;

  const dir = await mkdtemp(join(tmpdir(), "provider-plan-"));
  const cliConfig = join(dir, "terraform.tfrc");
  const env = childEnv(dir, cliConfig);
  const where = keep ? `in ${dir}` : "(working directory removed; set KEEP_PLAN_DIR=1 to keep it)";
  const fail = (stage: PlanStage, result: CommandResult, diagnostics: readonly ValidateDiagnostic[] = []): never => {
    const reason = result.timedOut ? `timed out after ${timeoutMs} ms` : `exit code ${result.code}`;
    const body = diagnostics.length > 0 ? diagnostics.map(formatDiagnostic).join("\n  ") : outputOf(result);
    throw new PlanFailedError(stage, `terraform ${stage} failed (${reason}) ${where}:\n  ${body}`, outputOf(result), diagnostics);
  };

  try {
    await writeFile(join(dir, "main.tf.json"), `${JSON.stringify(prepared.json, null, 2)}\n`);
    await writeFile(cliConfig, cliConfigText(mirror, mirrored));
    if (options.variables) await writeFile(join(dir, "terraform.tfvars.json"), JSON.stringify(options.variables, null, 2));

    const init = await runTerraform(["init", "-input=false", "-backend=false", "-no-color"], dir, env, timeoutMs);
    if (init.code !== 0) fail("init", init);

    const validate = await runTerraform(["validate", "-json", "-no-color"], dir, env, timeoutMs);
    let validateJson: ValidateJson;
    try {
      validateJson = JSON.parse(validate.stdout) as ValidateJson;
    } catch {
      return fail("validate", validate);
    }
    if (validate.code !== 0 || !validateJson.valid) {
      fail("validate", validate, validateJson.diagnostics ?? []);
    }

    const planArgs = ["plan", "-input=false", "-lock=false", "-refresh=false", "-no-color"];
    if (options.planJson) planArgs.push("-out=tfplan");
    const plan = await runTerraform(planArgs, dir, env, timeoutMs);
    if (plan.code !== 0) fail("plan", plan);

    let planJson: JsonObject | undefined;
    if (options.planJson) {
      const show = await runTerraform(["show", "-json", "-no-color", "tfplan"], dir, env, timeoutMs);
      if (show.code !== 0) fail("show", show);
      planJson = JSON.parse(show.stdout) as JsonObject;
    }

    const counted = /Plan: (\d+) to add/.exec(plan.stdout);
    return {
      dir,
      kept: keep,
      prepared,
      validateJson,
      planOutput: plan.stdout,
      resourceCount: counted ? Number(counted[1]) : 0,
      plan: planJson,
    };
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}
