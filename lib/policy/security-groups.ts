/**
 * Security-group permissions as rules see them, whichever way they are declared:
 * `aws_vpc_security_group_ingress_rule` (what this library uses), the older
 * `aws_security_group_rule`, or inline `ingress` blocks of `aws_security_group`.
 */
import { PolicyContext, ResourceView } from "./context";
import { blocks, isExpression, list, literalBoolean, literalNumber, literalString, normalizeProtocol, roleOf } from "./values";

/** Types whose ingress permissions the rules read. */
export const INGRESS_TYPES = ["aws_vpc_security_group_ingress_rule", "aws_security_group_rule", "aws_security_group"] as const;

/** One ingress permission. */
export interface IngressPermission {
  /**
   * `tcp`, `udp`, `icmp`, `icmpv6` or `all` (protocol numbers and `-1` normalised).
   * @default - undefined when the protocol is not a literal
   */
  readonly protocol?: string;
  /**
   * First port (ICMP type).
   * @default - undefined for all ports or an expression
   */
  readonly fromPort?: number;
  /**
   * Last port (ICMP code).
   * @default - undefined for all ports or an expression
   */
  readonly toPort?: number;
  /** True when a port is an expression. */
  readonly portsUnknown: boolean;
  /** Source CIDR blocks (IPv4 and IPv6) as written; expressions included verbatim. */
  readonly cidrs: readonly string[];
  /** Source prefix lists. */
  readonly prefixLists: readonly string[];
  /** Referenced source groups (ids or references) as written. */
  readonly sourceGroups: readonly unknown[];
  /** The group's own members (`self = true`). */
  readonly self: boolean;
}

/** Ingress permissions of a resource and the group they open. */
export interface GroupIngress {
  /** The value naming the group (a reference, a literal id) or the group itself (inline rules). */
  readonly group: ResourceView | unknown;
  /** Every ingress permission the resource declares for the group (one per rule, or per inline `ingress` block). */
  readonly permissions: readonly IngressPermission[];
}

/** Ingress permissions declared by `view`, or `undefined` for egress rules, groups without inline ingress and other types. */
export function ingressOf(view: ResourceView): GroupIngress | undefined {
  const c = view.config;
  switch (view.type) {
    case "aws_vpc_security_group_ingress_rule":
      return {
        group: c.security_group_id,
        permissions: [
          permission(c.ip_protocol, c.from_port, c.to_port, {
            cidrs: [c.cidr_ipv4, c.cidr_ipv6],
            prefixLists: [c.prefix_list_id],
            sourceGroups: [c.referenced_security_group_id],
            self: false,
          }),
        ],
      };
    case "aws_security_group_rule":
      if (c.type !== "ingress") return undefined;
      return {
        group: c.security_group_id,
        permissions: [
          permission(c.protocol, c.from_port, c.to_port, {
            cidrs: [...list(c.cidr_blocks), ...list(c.ipv6_cidr_blocks)],
            prefixLists: list(c.prefix_list_ids),
            sourceGroups: [c.source_security_group_id],
            self: literalBoolean(c.self) === true,
          }),
        ],
      };
    case "aws_security_group":
      if (blocks(c.ingress).length === 0) return undefined;
      return {
        group: view,
        permissions: blocks(c.ingress).map((b) =>
          permission(b.protocol, b.from_port, b.to_port, {
            cidrs: [...list(b.cidr_blocks), ...list(b.ipv6_cidr_blocks)],
            prefixLists: list(b.prefix_list_ids),
            sourceGroups: list(b.security_groups),
            self: literalBoolean(b.self) === true,
          }),
        ),
      };
    default:
      return undefined;
  }
}

function permission(
  protocol: unknown,
  from: unknown,
  to: unknown,
  peers: { cidrs: unknown[]; prefixLists: unknown[]; sourceGroups: unknown[]; self: boolean },
): IngressPermission {
  const p = normalizeProtocol(protocol);
  const strings = (vs: unknown[]): string[] => vs.filter((v): v is string => typeof v === "string" && v.length > 0);
  const allPorts = p === "all";
  return {
    protocol: p,
    fromPort: allPorts ? undefined : literalNumber(from),
    toPort: allPorts ? undefined : literalNumber(to),
    portsUnknown: !allPorts && (isExpression(from) || isExpression(to)),
    cidrs: strings(peers.cidrs),
    prefixLists: strings(peers.prefixLists),
    sourceGroups: peers.sourceGroups.filter((g) => g !== undefined && g !== null && g !== ""),
    self: peers.self,
  };
}

/**
 * Whether a permission lets TCP traffic reach `port`: `true`, `false`, or `undefined` when the
 * protocol or ports are expressions. A legacy rule with protocol `-1` covers every port; TCP with
 * no ports (AWS rejects it) counts as every port.
 */
export function coversTcpPort(p: IngressPermission, port: number): boolean | undefined {
  if (p.protocol === undefined) return undefined;
  if (p.protocol === "all") return true;
  if (p.protocol !== "tcp") return false;
  if (p.portsUnknown) return undefined;
  const from = p.fromPort ?? 0;
  const to = p.toPort ?? 65535;
  return from <= port && port <= to;
}

/** The ports a permission opens, for messages: `tcp 22`, `tcp 1000-2000`, `all traffic`. */
export function describePorts(p: IngressPermission): string {
  if (p.protocol === "all") return "all traffic";
  if (p.protocol === undefined) return "an unknown protocol";
  if (p.fromPort === undefined || p.toPort === undefined) return `${p.protocol} (ports unknown)`;
  if (p.protocol === "icmp" || p.protocol === "icmpv6") return `${p.protocol} type ${p.fromPort} code ${p.toPort}`;
  return p.fromPort === p.toPort ? `${p.protocol} ${p.fromPort}` : `${p.protocol} ${p.fromPort}-${p.toPort}`;
}

/** The `aws_security_group` (or `data.aws_security_group`) a group value names, if declared in the stack. */
export function resolveGroup(group: ResourceView | unknown, context: PolicyContext): ResourceView | undefined {
  if (isView(group)) return group;
  const target = context.follow(group);
  return target && target.type === "aws_security_group" ? target : undefined;
}

function isView(v: unknown): v is ResourceView {
  return v !== null && typeof v === "object" && "address" in v && "config" in v && "type" in v;
}

/** A CIDR that matches every address: `0.0.0.0/0` or `::/0` (any `/0`). */
export function isWorldOpen(cidr: string): boolean {
  return literalString(cidr) !== undefined && /\/0$/.test(cidr.trim());
}

/** Group attributes of the resources that attach groups to instances or interfaces. */
const ATTACHMENTS: Record<string, (c: Readonly<Record<string, unknown>>) => unknown[]> = {
  aws_launch_template: (c) => [...list(c.vpc_security_group_ids), ...list(c.security_group_names), ...blocks(c.network_interfaces).flatMap((n) => list(n.security_groups))],
  aws_instance: (c) => [...list(c.vpc_security_group_ids), ...list(c.security_groups)],
  aws_network_interface: (c) => list(c.security_groups),
  aws_launch_configuration: (c) => list(c.security_groups),
};

/**
 * Addresses of the groups that protect etcd: groups tagged with role `etcd`, and every group
 * attached next to one of them (a stacked API server carries both its own group and the etcd
 * group) or to a node tagged with role `etcd`.
 */
export function etcdGroups(context: PolicyContext): ReadonlySet<string> {
  return context.memo("etcd-groups", () => {
    const groups = new Set(context.ofType("aws_security_group").filter((g) => roleOf(g.config) === "etcd").map((g) => g.address));
    for (const [type, attached] of Object.entries(ATTACHMENTS)) {
      for (const node of context.ofType(type)) {
        const members = attached(node.config)
          .map((g) => context.follow(g))
          .filter((g): g is ResourceView => g !== undefined && g.type === "aws_security_group");
        if (roleOf(node.config) === "etcd" || members.some((g) => groups.has(g.address))) {
          members.forEach((g) => groups.add(g.address));
        }
      }
    }
    return groups;
  });
}
