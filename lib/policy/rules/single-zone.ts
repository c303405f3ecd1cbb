import { ElementKind, PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { clusterOf, isEtcdDataVolume, list, literalString, roleOf } from "../values";

/**
 * A comparable key for a zone value: the literal name, or `data.aws_availability_zones.x[i]` for
 * the i-th zone of a lookup (distinct indexes are distinct zones). `undefined` when unknown.
 */
export function zoneKey(value: unknown): string | undefined {
  const literal = literalString(value);
  if (literal !== undefined) return literal;
  if (typeof value !== "string") return undefined;
  const m =
    /^\$\{element\(\s*(data\.aws_availability_zones\.[\w-]+)\.(?:names|zone_ids)\s*,\s*(\d+)\s*\)\}$/.exec(value) ??
    /^\$\{(data\.aws_availability_zones\.[\w-]+)\.(?:names|zone_ids)\[(\d+)\]\}$/.exec(value);
  return m ? `${m[1]}[${m[2]}]` : undefined;
}

function subnetZone(value: unknown, context: PolicyContext): string | undefined {
  const subnet = context.follow(value);
  if (subnet === undefined || subnet.type !== "aws_subnet") return undefined;
  return zoneKey(subnet.config.availability_zone) ?? zoneKey(subnet.config.availability_zone_id);
}

/** Zones of a member; `undefined` entries are zones known only at apply time or outside the stack. */
function zonesOf(r: ResourceView, context: PolicyContext): (string | undefined)[] {
  const c = r.config;
  if (r.type === "aws_ebs_volume") return [zoneKey(c.availability_zone)];
  if (r.type === "aws_instance") return [c.availability_zone !== undefined ? zoneKey(c.availability_zone) : subnetZone(c.subnet_id, context)];
  if (c.availability_zones !== undefined) return Array.isArray(c.availability_zones) ? c.availability_zones.map(zoneKey) : [undefined];
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
