import { ConfigError } from "../errors";
import { awsUsableHostRange, host, tryParseIpv4Cidr } from "../network/cidr";
import { SubnetAttributes } from "../network/network";

/**
 * A node slot: a fixed identity (name, private IP, subnet, zone) that survives instance
 * replacement. Certificates are issued for the slot's IP, so it must be known at plan time.
 */
export interface NodeSlot {
  /** Position, 0-based. */
  readonly index: number;
  /** Slot name, e.g. `apiserver-0`, `etcd-2`. */
  readonly name: string;
  /** The fixed private IPv4 address. */
  readonly privateIp: string;
  /** Subnet the slot lives in. */
  readonly subnet: SubnetAttributes;
  /** The slot's availability zone (may be a token for looked-up zones). */
  readonly availabilityZone: string;
}

/** Props of {@link allocateSlots}. */
export interface SlotAllocation {
  /** Prefix of slot names (`apiserver`, `etcd`). */
  readonly namePrefix: string;
  /** How many slots. */
  readonly count: number;
  /** Subnets to spread over, round-robin. */
  readonly subnets: readonly SubnetAttributes[];
  /** Host offset of the first slot in each subnet (the nth slot of a subnet gets offset + n). */
  readonly hostOffset: number;
  /** Prop named in errors. */
  readonly prop: string;
}

/**
 * Spreads `count` slots over `subnets` round-robin (slot i in subnet i mod n) and gives each a
 * fixed IP: `hostOffset + k` in its subnet, where k counts earlier slots in the same subnet.
 */
export function allocateSlots(a: SlotAllocation): NodeSlot[] {
  if (a.subnets.length === 0) {
    throw new ConfigError(a.prop, [], "no subnets to place nodes in", "pass at least one private subnet");
  }
  const slots: NodeSlot[] = [];
  for (let i = 0; i < a.count; i++) {
    const subnet = a.subnets[i % a.subnets.length];
    const ordinal = Math.floor(i / a.subnets.length);
    const block = tryParseIpv4Cidr(subnet.cidrBlock);
    if (!block) {
      throw new ConfigError(`${a.prop}.cidrBlock`, subnet.cidrBlock, "fixed node IPs are computed from the subnet's CIDR block, which must be a literal", "pass the subnet's CIDR block");
    }
    const range = awsUsableHostRange(block);
    const offset = a.hostOffset + ordinal;
    if (offset < range.first || offset > range.last) {
      throw new ConfigError(
        a.prop,
        subnet.cidrBlock,
        `slot ${a.namePrefix}-${i} needs host offset ${offset}, outside the subnet's usable addresses ${range.first}–${range.last}`,
        "use larger subnets or fewer nodes per zone",
      );
    }
    slots.push({
      index: i,
      name: `${a.namePrefix}-${i}`,
      privateIp: host(block, offset),
      subnet,
      availabilityZone: subnet.availabilityZone,
    });
  }
  return slots;
}

/** Number of slots per zone key (for spread checks); zones that are tokens are keyed by subnet. */
export function slotsPerZone(slots: readonly NodeSlot[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of slots) counts.set(s.availabilityZone, (counts.get(s.availabilityZone) ?? 0) + 1);
  return counts;
}
