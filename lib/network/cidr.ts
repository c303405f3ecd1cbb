import * as ipaddr from "ipaddr.js";
import { ConfigError } from "../errors";

/** A parsed IPv4 CIDR block. */
export interface Ipv4Block {
  /** Network address as an unsigned 32-bit integer. */
  readonly network: number;
  /** Prefix length, 0–32. */
  readonly prefix: number;
  /** Number of addresses in the block. */
  readonly size: number;
}

function toInt(addr: ipaddr.IPv4): number {
  return addr.toByteArray().reduce((acc, b) => acc * 256 + b, 0);
}

function fromInt(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Parses an IPv4 CIDR block whose address is its network address; `undefined` when invalid. */
export function tryParseIpv4Cidr(cidr: string): Ipv4Block | undefined {
  // No leading zeros: ipaddr.js reads "010" as octal 8, Terraform refuses it.
  if (typeof cidr !== "string" || !/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}\/(0|[1-9]\d?)$/.test(cidr)) return undefined;
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(cidr);
  } catch {
    return undefined;
  }
  const [addr, prefix] = parsed;
  if (addr.kind() !== "ipv4" || prefix > 32) return undefined;
  const v4 = addr as ipaddr.IPv4;
  const network = toInt(ipaddr.IPv4.networkAddressFromCIDR(cidr) as ipaddr.IPv4);
  if (network !== toInt(v4)) return undefined;
  return { network, prefix, size: 2 ** (32 - prefix) };
}

/** Parses `cidr` or throws a ConfigError naming `prop`. */
export function parseIpv4Cidr(prop: string, cidr: string): Ipv4Block {
  const block = tryParseIpv4Cidr(cidr);
  if (!block) {
    const hint = suggestNetwork(cidr);
    throw new ConfigError(prop, cidr, "is not an IPv4 CIDR block whose address is the network address", hint ? `did you mean "${hint}"?` : 'use for example "10.0.0.0/16"');
  }
  return block;
}

function suggestNetwork(cidr: string): string | undefined {
  try {
    const [, prefix] = ipaddr.parseCIDR(cidr);
    const net = ipaddr.IPv4.networkAddressFromCIDR(cidr);
    return `${net.toString()}/${prefix}`;
  } catch {
    return undefined;
  }
}

/** Formats a block back to `a.b.c.d/n`. */
export function formatCidr(block: Ipv4Block): string {
  return `${fromInt(block.network)}/${block.prefix}`;
}

/** True when the two blocks share at least one address. */
export function overlaps(a: Ipv4Block, b: Ipv4Block): boolean {
  return a.network < b.network + b.size && b.network < a.network + a.size;
}

/** True when `inner` lies entirely inside `outer`. */
export function contains(outer: Ipv4Block, inner: Ipv4Block): boolean {
  return inner.network >= outer.network && inner.network + inner.size <= outer.network + outer.size;
}

/** The `index`-th sub-block of `block` with `newBits` more prefix bits (Terraform's `cidrsubnet`). */
export function subnet(block: Ipv4Block, newBits: number, index: number): Ipv4Block {
  const prefix = block.prefix + newBits;
  if (prefix > 32 || index < 0 || index >= 2 ** newBits) {
    throw new RangeError(`cannot take sub-block ${index} of /${block.prefix} with ${newBits} new bits`);
  }
  const size = 2 ** (32 - prefix);
  return { network: block.network + index * size, prefix, size };
}

/** The address `offset` hosts into `block` (Terraform's `cidrhost`). */
export function host(block: Ipv4Block, offset: number): string {
  if (offset < 0 || offset >= block.size) throw new RangeError(`host ${offset} is outside a /${block.prefix}`);
  return fromInt(block.network + offset);
}

/**
 * The usable host offsets of an AWS subnet: AWS reserves the first four addresses and the last one.
 */
export function awsUsableHostRange(block: Ipv4Block): {
  /** Offset of the first usable address: 4 (network address, VPC router, DNS, reserved). */
  readonly first: number;
  /** Offset of the last usable address: the block size minus 2 (the broadcast address is reserved). */
  readonly last: number;
} {
  return { first: 4, last: block.size - 2 };
}
