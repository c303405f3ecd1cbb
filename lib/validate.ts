import { Token } from "./core";
import { ConfigError } from "./errors";

/**
 * Construct-time validation helpers. Every check skips values that are unresolved tokens: those
 * are only known at apply time and AWS validates them then.
 */

/** True when `value` is (or contains) an unresolved cdktf token. */
export function isUnresolved(value: unknown): boolean {
  if (typeof value === "string" || typeof value === "number") return Token.isUnresolved(value);
  if (Array.isArray(value)) return Token.isUnresolved(value);
  return false;
}

/** Throws unless `value` is an integer in [min, max]. Tokens pass. */
export function checkInteger(prop: string, value: number, min: number, max: number, fix?: string): void {
  if (isUnresolved(value)) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(prop, value, `must be a whole number from ${min} to ${max}`, fix ?? `use a value from ${min} to ${max}`);
  }
}

/** Throws unless `value` is a non-empty string without surrounding white space. Tokens pass. */
export function checkNonEmpty(prop: string, value: string, fix: string): void {
  if (isUnresolved(value)) return;
  if (typeof value !== "string" || value.trim().length === 0 || value.trim() !== value) {
    throw new ConfigError(prop, value, "must be a non-empty string without surrounding white space", fix);
  }
}

/** RFC 1123 DNS label: what a cluster name must be, since it becomes host names and tags. */
export const DNS_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Throws unless `name` is a valid cluster name (a DNS label starting with a letter, ≤ 40 chars). */
export function checkClusterName(prop: string, name: string): void {
  if (typeof name !== "string" || isUnresolved(name) || !DNS_LABEL.test(name) || name.length > 40) {
    throw new ConfigError(
      prop,
      name,
      "must be a DNS label of 1 to 40 characters: lower-case letters, digits and '-', starting with a letter and not ending with '-' (it is used in host names, tags and AWS resource names)",
      `use for example "${suggestClusterName(name)}"`,
    );
  }
}

function suggestClusterName(name: unknown): string {
  const base = String(name ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+$/, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  return base.length > 0 ? base : "prod-cluster";
}

/** AWS tag limits (field guide §2). */
export const TAG_LIMITS = { maxTags: 50, keyMax: 128, valueMax: 256 } as const;

/**
 * Validates user tags. `reserved` is how many tags the library adds itself to each resource, so
 * the total stays within AWS's 50.
 */
export function checkTags(prop: string, tags: Record<string, string> | undefined, reserved: number): void {
  if (tags === undefined) return;
  const keys = Object.keys(tags);
  const room = TAG_LIMITS.maxTags - reserved;
  if (keys.length > room) {
    throw new ConfigError(
      prop,
      `${keys.length} tags`,
      `AWS allows ${TAG_LIMITS.maxTags} tags per resource and the library adds ${reserved} of its own`,
      `pass at most ${room} tags`,
    );
  }
  for (const key of keys) {
    const value = tags[key];
    if (isUnresolved(key)) continue;
    if (key.length === 0 || key.length > TAG_LIMITS.keyMax) {
      throw new ConfigError(`${prop}[${JSON.stringify(key)}]`, key, `a tag key must have 1 to ${TAG_LIMITS.keyMax} characters`, "shorten the key");
    }
    if (key.toLowerCase().startsWith("aws:")) {
      throw new ConfigError(`${prop}[${JSON.stringify(key)}]`, key, "the aws: prefix is reserved for AWS", "rename the tag key");
    }
    if (typeof value !== "string") {
      throw new ConfigError(`${prop}[${JSON.stringify(key)}]`, value, "a tag value must be a string", "pass the value as a string");
    }
    if (!isUnresolved(value) && value.length > TAG_LIMITS.valueMax) {
      throw new ConfigError(`${prop}[${JSON.stringify(key)}]`, value, `a tag value may have at most ${TAG_LIMITS.valueMax} characters`, "shorten the value");
    }
  }
}

/** EC2 instance type shape, e.g. `m6i.large`, `c7g.2xlarge`, `u-6tb1.metal`. */
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;

/** Throws unless `value` looks like an EC2 instance type. */
export function checkInstanceType(prop: string, value: string): void {
  if (isUnresolved(value)) return;
  if (typeof value !== "string" || !INSTANCE_TYPE.test(value)) {
    throw new ConfigError(prop, value, "is not an EC2 instance type (family.size)", 'use for example "m6i.large"');
  }
}

/**
 * True for Graviton (arm64) instance families: `a1`, the first one, and every family with a `g`
 * after its generation (m7g, c6gn, t4g, r8g, is4gen, and the GPU family g5g).
 */
export function isArmInstanceType(instanceType: string): boolean {
  const family = instanceType.split(".")[0];
  return family === "a1" || /^[a-z]+\d+[a-z]*g[a-z]*$/.test(family);
}

/** Throws unless `value` looks like an AMI id. */
export function checkAmiId(prop: string, value: string): void {
  if (isUnresolved(value)) return;
  if (!/^ami-[0-9a-f]{8}([0-9a-f]{9})?$/.test(value)) {
    throw new ConfigError(prop, value, "is not an AMI id (ami- followed by 8 or 17 hex digits)", "pass the id of an image in your region, or omit it to look up Ubuntu 24.04");
  }
}

/** Kubernetes version `1.xx.y` (optionally with a leading v). */
export function checkKubernetesVersion(prop: string, value: string): void {
  if (isUnresolved(value)) return;
  const m = /^v?1\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(value ?? "");
  if (!m || Number(m[1]) < 32) {
    throw new ConfigError(prop, value, "must be a Kubernetes release 1.32.0 or newer (anonymous access limited to health endpoints needs 1.32), written MAJOR.MINOR.PATCH", 'use for example "1.33.5"');
  }
}

/**
 * Throws when every private subnet lies in one availability zone, unless `allowSingleZone` says the
 * user accepts that one zone's outage stops the whole control plane. Returns whether the zones are
 * known to be one (so the caller can warn in the accepted case). Zones that are tokens are only
 * known to be one when there is a single subnet.
 */
export function checkSingleZone(prop: string, value: unknown, zones: readonly string[], allowSingleZone: boolean): boolean {
  if (zones.length === 0) return false;
  const known = zones.every((z) => !isUnresolved(z));
  const single = known ? new Set(zones).size === 1 : zones.length === 1;
  if (single && !allowSingleZone) {
    const where = known ? zones[0] : "one zone";
    throw new ConfigError(
      prop,
      value,
      `puts every API server and etcd member in ${where}: that zone's outage stops the Kubernetes API and loses etcd quorum, which is not highly available`,
      "list at least 3 zones, or set allowSingleZone: true to accept a control plane that one zone outage stops",
    );
  }
  return single;
}

/**
 * Throws when one zone holds a quorum's worth of etcd members (losing that zone loses quorum, e.g.
 * 3 members over 2 zones), unless `allowZoneQuorumLoss` acknowledges it. Returns whether the
 * placement loses quorum with a zone (so the caller can warn in the accepted case). `perZone`
 * counts members per zone; zones that are tokens are unknown and pass.
 */
export function checkEtcdZonePlacement(prop: string, value: unknown, perZone: ReadonlyMap<string, number>, allowZoneQuorumLoss: boolean): boolean {
  if ([...perZone.keys()].some((z) => isUnresolved(z))) return false;
  const total = [...perZone.values()].reduce((a, b) => a + b, 0);
  if (total <= 1) return false;
  const quorum = Math.floor(total / 2) + 1;
  const [zone, most] = [...perZone.entries()].reduce((a, b) => (b[1] > a[1] ? b : a));
  const weak = total - most < quorum;
  if (weak && !allowZoneQuorumLoss) {
    const spread = [...perZone.entries()].map(([z, n]) => `${z}: ${n}`).join(", ");
    throw new ConfigError(
      prop,
      value,
      `places ${most} of ${total} etcd members in ${zone} (${spread}), and a quorum of ${total} is ${quorum}: losing ${zone} loses etcd quorum and stops the Kubernetes API`,
      "spread the members over at least 3 zones, or set allowEtcdZoneQuorumLoss: true to accept that one zone outage stops the cluster",
    );
  }
  return weak;
}

function parseRelease(value: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(value ?? "");
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function compareRelease(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * Kubernetes' version skew policy for an upgrade of a running control plane: the newest and oldest
 * kube-apiserver of an HA cluster must be within one minor version, and kubeadm states "Skipping
 * MINOR versions when upgrading is unsupported". A rolling replacement runs the old and the new
 * release side by side, so `target` may be at most one minor above `deployed`, and never below it
 * (a downgrade is unsupported: newer servers may already have written objects at a storage version
 * older servers cannot read). `deployed` undefined (a new cluster, or the user did not say) skips
 * the check. Tokens pass.
 */
export function checkKubernetesUpgrade(prop: string, deployedProp: string, deployed: string | undefined, target: string): void {
  if (deployed === undefined || isUnresolved(deployed) || isUnresolved(target)) return;
  checkKubernetesVersion(deployedProp, deployed);
  const from = parseRelease(deployed);
  const to = parseRelease(target);
  if (from === undefined || to === undefined) return;
  const plain = (v: string) => v.replace(/^v/, "");
  if (compareRelease(to, from) < 0) {
    throw new ConfigError(
      prop,
      target,
      `is older than the deployed ${deployedProp} ${plain(deployed)}: Kubernetes does not support downgrading a control plane (servers of the newer release may already have stored objects the older one cannot read)`,
      `keep ${prop} at ${plain(deployed)} or newer (to go back, restore an etcd snapshot taken before the upgrade)`,
    );
  }
  if (to[1] - from[1] > 1) {
    const next = `1.${from[1] + 1}`;
    throw new ConfigError(
      prop,
      target,
      `skips a minor version from the deployed ${deployedProp} ${plain(deployed)}: Kubernetes' version skew policy keeps the newest and oldest kube-apiserver of an HA cluster within one minor version, and kubeadm does not support skipping minor versions`,
      `upgrade one minor at a time: deploy the newest ${next}.x patch release first, update ${deployedProp} to it, then deploy ${plain(target)}`,
    );
  }
}

/**
 * Refuses an etcd downgrade against the deployed release: an etcd member of an older release cannot
 * be rolled into a cluster whose cluster version is already the newer one (etcd's own downgrade
 * needs `etcdctl downgrade enable` on the running cluster first). `deployed` undefined skips the check.
 */
export function checkEtcdUpgrade(prop: string, deployedProp: string, deployed: string | undefined, target: string): void {
  if (deployed === undefined || isUnresolved(deployed) || isUnresolved(target)) return;
  const from = parseRelease(deployed);
  if (from === undefined) {
    throw new ConfigError(deployedProp, deployed, "is not an etcd release written MAJOR.MINOR.PATCH", 'use for example "3.5.21"');
  }
  const to = parseRelease(target);
  if (to === undefined) return;
  if (compareRelease(to, from) < 0) {
    throw new ConfigError(
      prop,
      target,
      `is older than the deployed ${deployedProp} ${deployed}: a member of an older release does not rejoin a cluster already at ${from[0]}.${from[1]} (etcd downgrades need 'etcdctl downgrade enable' on the running cluster first), and a replacement would pick it up unplanned`,
      `keep ${prop} at ${deployed} or newer (downgrade etcd by hand following etcd's downgrade guide, then update ${deployedProp})`,
    );
  }
}

/**
 * Throws unless the certificate-expiry alarm (`alarmDays`) fires inside the early-renewal window
 * (`renewalHours`): an alarm at or before the window's start fires on every normal renewal, so it
 * stops meaning "a renewal that should have happened did not". Tokens pass.
 */
export function checkRenewalAlarm(alarmProp: string, alarmDays: number, renewalProp: string, renewalHours: number): void {
  if (isUnresolved(alarmDays) || isUnresolved(renewalHours)) return;
  checkInteger(alarmProp, alarmDays, 1, 365, "use 14");
  if (typeof renewalHours !== "number" || !Number.isFinite(renewalHours)) return;
  const renewalDays = Math.floor(renewalHours / 24);
  if (alarmDays * 24 >= renewalHours) {
    throw new ConfigError(
      alarmProp,
      alarmDays,
      `fires ${alarmDays} days before expiry, but ${renewalProp} (${renewalHours} h, ${renewalDays} days) only re-issues leaves on a deploy in their last ${renewalDays} days: the alarm would fire on every normal renewal`,
      `use a value below ${renewalDays} (e.g. 14), or raise ${renewalProp}`,
    );
  }
}
