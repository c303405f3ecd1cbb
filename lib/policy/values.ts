/**
 * Readers for values of synthesized Terraform JSON. After synthesis a value known only at apply
 * time is a string holding a Terraform expression (`${aws_subnet.a.id}`); these helpers return
 * `undefined` for such values so rules can answer "not applicable" instead of guessing.
 */
import { gunzipSync } from "zlib";
import { ETCD_DATA_PURPOSE, PURPOSE_TAG } from "../etcd/etcd-cluster";
import { CLUSTER_TAG, ROLE_TAG } from "../tags";

/** True when `value` is (or contains) a Terraform expression, i.e. is known only at apply time. */
export function isExpression(value: unknown): boolean {
  if (typeof value === "string") return value.includes("${");
  if (Array.isArray(value)) return value.some(isExpression);
  if (value !== null && typeof value === "object") return Object.values(value).some(isExpression);
  return false;
}

/** A literal string, or `undefined` (absent, not a string, or an expression). */
export function literalString(value: unknown): string | undefined {
  return typeof value === "string" && !value.includes("${") ? value : undefined;
}

/** A literal number (numbers and numeric strings), or `undefined`. */
export function literalNumber(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}

/** A literal boolean (`true`, `"true"`, ...), or `undefined`. */
export function literalBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  return undefined;
}

/** A JSON object, or `undefined`. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * The entries of a nested block. cdktf writes a block with at most one item as an object and
 * repeated blocks as a list; both come back as a list of objects.
 */
export function blocks(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.map(asRecord).filter((b): b is Record<string, unknown> => b !== undefined);
  const single = asRecord(value);
  return single ? [single] : [];
}

/** The first entry of a nested block, or `undefined`. */
export function block(value: unknown): Record<string, unknown> | undefined {
  return blocks(value)[0];
}

/** A list attribute as an array (a single value becomes a one-item list; absent becomes empty). */
export function list(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Literal tags of a resource: the `tags` map, plus the `tag { key, value }` blocks of
 * `aws_autoscaling_group`. Tags whose key or value is an expression are left out.
 */
export function tagsOf(config: Readonly<Record<string, unknown>>): Record<string, string> {
  const tags: Record<string, string> = {};
  const map = asRecord(config.tags);
  if (map) {
    for (const [k, v] of Object.entries(map)) {
      const value = literalString(v);
      if (!k.includes("${") && value !== undefined) tags[k] = value;
    }
  }
  for (const t of blocks(config.tag)) {
    const key = literalString(t.key);
    const value = literalString(t.value);
    if (key !== undefined && value !== undefined) tags[key] = value;
  }
  return tags;
}

/** The `ha-control-plane/role` tag (`api-lb`, `apiserver`, `etcd`, `nodes`), if any. */
export function roleOf(config: Readonly<Record<string, unknown>>): string | undefined {
  return tagsOf(config)[ROLE_TAG];
}

/** True for an etcd data volume (`ha-control-plane/purpose` = `etcd-data`, as `EtcdCluster` tags them). */
export function isEtcdDataVolume(type: string, config: Readonly<Record<string, unknown>>): boolean {
  return type === "aws_ebs_volume" && tagsOf(config)[PURPOSE_TAG] === ETCD_DATA_PURPOSE;
}

/** The `ha-control-plane/cluster` tag, or `""` for resources of no cluster. */
export function clusterOf(config: Readonly<Record<string, unknown>>): string {
  return tagsOf(config)[CLUSTER_TAG] ?? "";
}

/** A short, readable name of a resource for messages: its `name` attribute or the address. */
export function displayName(config: Readonly<Record<string, unknown>>, address: string): string {
  const name = literalString(config.name) ?? literalString(config.bucket) ?? literalString(tagsOf(config).Name);
  return name !== undefined ? `${name} (${address})` : address;
}

/**
 * The text of user data as it will reach the instance: the literal as is, base64 decoded when it
 * is base64, gunzipped when it is gzip. Expressions are returned verbatim (their literal parts can
 * still be searched).
 */
export function userDataTexts(value: unknown): string[] {
  if (typeof value !== "string" || value.length === 0) return [];
  const texts = [value];
  const compact = value.replace(/\s+/g, "");
  if (!value.includes("${") && compact.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    const bytes = Buffer.from(compact, "base64");
    if (bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        texts.push(gunzipSync(bytes).toString("utf8"));
      } catch {
        // Not gzip after all: keep the raw decoding below.
      }
    }
    texts.push(bytes.toString("utf8"));
  }
  return texts;
}

/** Protocol of a security-group permission, normalized: `tcp`, `udp`, `icmp`, `icmpv6`, `all`. */
export function normalizeProtocol(value: unknown): string | undefined {
  const raw = literalString(value) ?? (typeof value === "number" ? String(value) : undefined);
  if (raw === undefined) return undefined;
  const p = raw.toLowerCase();
  const byNumber: Record<string, string> = { "-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6" };
  return byNumber[p] ?? p;
}
