import { ElementKind, PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { clusterOf, isEtcdDataVolume, list, literalString, roleOf } from "../values";

/**
 * A comparable key for a zone value: the literal name, or `data.aws_availability_zones.x[i]` for
 * the i-th zone of a lookup (distinct indexes are distinct zones). `undefined` when unknown.
 *
 * `names[i]` fails the plan when the lookup has no i-th zone, so distinct indexes are distinct zones.
 * `element(names, i)` wraps around (index modulo the list's length): in a region offering two zones,
 * indexes 0 and 2 are one zone. Its index counts as a zone only when the lookup, found in `context`,
 * guarantees more than `i` zones with a postcondition `length(self.names) >= n` (or `> n`, or on
 * `zone_ids`), as the library's own lookup does; otherwise the zone is unknown until apply.
 */
export function zoneKey(value: unknown, context?: PolicyContext): string | undefined {
  const literal = literalString(value);
  if (literal !== undefined) return literal;
  if (typeof value !== "string") return undefined;
  const indexed = /^\$\{(data\.aws_availability_zones\.[\w-]+)\.(?:names|zone_ids)\[(\d+)\]\}$/.exec(value);
  if (indexed) return `${indexed[1]}[${indexed[2]}]`;
  const wrapped = /^\$\{element\(\s*(data\.aws_availability_zones\.[\w-]+)\.(?:names|zone_ids)\s*,\s*(\d+)\s*\)\}$/.exec(value);
  if (!wrapped) return undefined;
  const lookup = context?.byAddress(wrapped[1]);
  return lookup !== undefined && guaranteedZones(lookup) > Number(wrapped[2]) ? `${wrapped[1]}[${wrapped[2]}]` : undefined;
}

/** How many zones a lookup's postconditions guarantee (0 when none does). */
function guaranteedZones(lookup: ResourceView): number {
  const lifecycle = lookup.config.lifecycle as { postcondition?: unknown } | undefined;
  const conditions = Array.isArray(lifecycle?.postcondition) ? lifecycle.postcondition : [];
  let guaranteed = 0;
  for (const c of conditions) {
    const text = (c as { condition?: unknown } | null)?.condition;
    const m = typeof text === "string" ? /^\$\{length\(self\.(?:names|zone_ids)\)\s*(>=|>)\s*(\d+)\}$/.exec(text) : null;
    if (m) guaranteed = Math.max(guaranteed, Number(m[2]) + (m[1] === ">" ? 1 : 0));
  }
  return guaranteed;
}

function subnetZone(value: unknown, context: PolicyContext): string | undefined {
  const subnet = context.follow(value);
  if (subnet === undefined || subnet.type !== "aws_subnet") return undefined;
  return zoneKey(subnet.config.availability_zone, context) ?? zoneKey(subnet.config.availability_zone_id, context);
}

/** Zones of a member; `undefined` entries are zones known only at apply time or outside the stack. */
function zonesOf(r: ResourceView, context: PolicyContext): (string | undefined)[] {
  const c = r.config;
  if (r.type === "aws_ebs_volume") return [zoneKey(c.availability_zone, context)];
  if (r.type === "aws_instance") return [c.availability_zone !== undefined ? zoneKey(c.availability_zone, context) : subnetZone(c.subnet_id, context)];
  if (c.availability_zones !== undefined) return Array.isArray(c.availability_zones) ? c.availability_zones.map((z: unknown) => zoneKey(z, context)) : [undefined];
  if (!Array.isArray(c.vpc_zone_identifier)) return [undefined];
  return list(c.vpc_zone_identifier).map((s) => subnetZone(s, context));
}

const TIERS = { apiserver: "API servers", etcd: "etcd members" } as const;
type Tier = keyof typeof TIERS;

function tierOf(r: ResourceView): Tier | undefined {
  if (r.kind !== ElementKind.RESOURCE) return undefined;
  if (isEtcdDataVolume(r.type, r.config)) return "etcd";
  if (r.type !== "aws_autoscaling_group" && r.type !== "aws_instance") return undefined;
  const role = roleOf(r.config);
  return role === "apiserver" || role === "etcd" ? role : undefined;
}

/** Members of each (cluster, tier): API-server and etcd groups/instances, etcd data volumes. */
function tiers(context: PolicyContext): Map<string, ResourceView[]> {
  return context.memo("control-plane-tiers", () => {
    const byKey = new Map<string, ResourceView[]>();
    for (const r of context.resources) {
      const tier = tierOf(r);
      if (tier === undefined) continue;
      const key = `${clusterOf(r.config)}\u0000${tier}`;
      byKey.set(key, [...(byKey.get(key) ?? []), r]);
    }
    return byKey;
  });
}

/**
 * HA-AZ1: API servers and etcd members each span at least two availability zones, so one zone's
 * outage leaves the API (and etcd quorum, with three zones) standing. Reported once per cluster and
 * tier, on its first resource (Auto Scaling group, instance or etcd data volume).
 */
export const SINGLE_ZONE: PolicyRule = {
  id: "HA-AZ1",
  level: PolicyLevel.ERROR,
  description: "API servers (Auto Scaling groups or instances with role apiserver) and etcd (role etcd, etcd data volumes) span at least 2 availability zones",
  fix: "spread the control plane over private subnets in 3 zones (availabilityZones / network.privateSubnets)",
  appliesTo: ["aws_autoscaling_group", "aws_instance", "aws_ebs_volume"],
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    const tier = tierOf(resource);
    if (tier === undefined) return RuleResult.notApplicable("not an API server or etcd resource");
    const members = tiers(context).get(`${clusterOf(resource.config)}\u0000${tier}`) ?? [];
    if (members[0]?.address !== resource.address) return RuleResult.notApplicable(`evaluated on ${members[0]?.address}`);
    const zones = members.flatMap((m) => zonesOf(m, context));
    const known = [...new Set(zones.filter((z): z is string => z !== undefined))];
    if (known.length >= 2) return RuleResult.compliant();
    if (zones.some((z) => z === undefined)) return RuleResult.notApplicable("zones known only at apply time or outside the stack");
    const cluster = clusterOf(resource.config);
    return RuleResult.nonCompliant(
      `${TIERS[tier]}${cluster ? ` of cluster ${cluster}` : ""} (${members.length} resource(s)) are all in ${known.length === 1 ? `one zone (${known[0]})` : "no known zone"}`,
    );
  },
};
