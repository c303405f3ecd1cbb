/**
 * IPv4 CIDR arithmetic: parsing (with helpful errors), overlap and containment, and the
 * Terraform `cidrsubnet` / `cidrhost` equivalents the network and slot allocation rely on.
 */
import { ConfigError } from "../../lib/errors";
import { Ipv4Block, awsUsableHostRange, contains, formatCidr, host, overlaps, parseIpv4Cidr, subnet, tryParseIpv4Cidr } from "../../lib/network/cidr";
import { expectConfigError } from "../validation/config-error";

const block = (cidr: string): Ipv4Block => parseIpv4Cidr("test", cidr);

describe("tryParseIpv4Cidr", () => {
  it.each([
    ["10.0.0.0/16", 10 * 2 ** 24, 16, 65536],
    ["0.0.0.0/0", 0, 0, 2 ** 32],
    ["255.255.255.255/32", 2 ** 32 - 1, 32, 1],
    ["192.168.1.0/24", 192 * 2 ** 24 + 168 * 2 ** 16 + 256, 24, 256],
    ["172.16.0.0/12", 172 * 2 ** 24 + 16 * 2 ** 16, 12, 2 ** 20],
    ["10.0.0.128/25", 10 * 2 ** 24 + 128, 25, 128],
  ])("parses %s", (cidr, network, prefix, size) => {
    expect(tryParseIpv4Cidr(cidr)).toEqual({ network, prefix, size });
  });

  it.each([
    ["host bits set", "10.0.0.1/16"],
    ["host bits set in a /0", "10.0.0.0/0"],
    ["a /33", "10.0.0.0/33"],
    ["a /99", "10.0.0.0/99"],
    ["an IPv6 block", "2001:db8::/32"],
    ["an IPv4-mapped IPv6 block", "::ffff:10.0.0.0/104"],
    ["no prefix", "10.0.0.0"],
    ["an empty prefix", "10.0.0.0/"],
    ["an octet over 255", "10.0.0.256/32"],
    ["three octets", "10.0.0/24"],
    ["five octets", "10.0.0.0.0/24"],
    ["a negative prefix", "10.0.0.0/-1"],
    ["surrounding white space", " 10.0.0.0/16"],
    ["garbage", "not-a-cidr"],
    ["an empty string", ""],
    ["hexadecimal octets", "0xa.0.0.0/8"],
  ])("returns undefined for %s (%j)", (_, cidr) => {
    expect(tryParseIpv4Cidr(cidr)).toBeUndefined();
  });

  it.each([[undefined], [null], [16], [["10.0.0.0/16"]]])("returns undefined for the non-string %j", (value) => {
    expect(tryParseIpv4Cidr(value as unknown as string)).toBeUndefined();
  });

  // Bug (lib/network/cidr.ts): ipaddr.js reads "010" as octal 8, so "010.0.0.0/8" parses as
  // 8.0.0.0/8. Terraform (Go's net.ParseCIDR) refuses leading zeros, and users mean decimal.
  it.each(["010.0.0.0/8", "10.020.0.0/16", "10.0.0.010/32"])("returns undefined for the leading-zero block %s", (cidr) => {
    expect(tryParseIpv4Cidr(cidr)).toBeUndefined();
  });
});

describe("parseIpv4Cidr", () => {
  it("returns the block for a valid CIDR", () => {
    expect(parseIpv4Cidr("vpcCidr", "10.0.0.0/16")).toEqual(tryParseIpv4Cidr("10.0.0.0/16"));
  });

  it.each([
    ["10.0.0.1/16", "10.0.0.0/16"],
    ["192.168.1.77/24", "192.168.1.0/24"],
    ["172.31.255.255/12", "172.16.0.0/12"],
    ["10.0.0.5/0", "0.0.0.0/0"],
  ])("refuses %s (host bits set) and suggests %s", (cidr, suggestion) => {
    expectConfigError(() => parseIpv4Cidr("vpcCidr", cidr), { prop: "vpcCidr", value: cidr, fix: new RegExp(`^did you mean "${suggestion.replace(/\./g, "\\.")}"\\?$`) });
  });

  it.each([["2001:db8::/32"], ["10.0.0.0/33"], ["garbage"], [""], ["10.0.0.256/24"]])("refuses %j with a generic example", (cidr) => {
    const err = expectConfigError(() => parseIpv4Cidr("podCidr", cidr), { prop: "podCidr", value: cidr, fix: /use for example "10\.0\.0\.0\/16"/ });
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain("is not an IPv4 CIDR block whose address is the network address");
  });

  it("names the prop it is given", () => {
    expectConfigError(() => parseIpv4Cidr("allowedApiCidrs[3]", "x"), { prop: "allowedApiCidrs[3]", value: "x" });
  });
});

describe("formatCidr", () => {
  it.each(["0.0.0.0/0", "10.0.0.0/16", "255.255.255.255/32", "192.168.100.64/26"])("round-trips %s", (cidr) => {
    expect(formatCidr(block(cidr))).toBe(cidr);
  });
});

describe("overlaps", () => {
  it.each([
    ["10.0.0.0/16", "10.0.0.0/16", true],
    ["10.0.0.0/16", "10.0.255.0/24", true],
    ["10.0.0.0/8", "10.96.0.0/12", true],
    ["0.0.0.0/0", "192.168.0.0/16", true],
    ["10.96.0.0/12", "10.112.0.0/12", false],
    ["10.0.0.0/16", "10.1.0.0/16", false],
    ["10.0.0.0/24", "10.0.1.0/24", false],
    ["255.255.255.254/31", "255.255.255.255/32", true],
  ])("%s and %s overlap: %s", (a, b, expected) => {
    expect(overlaps(block(a), block(b))).toBe(expected);
    expect(overlaps(block(b), block(a))).toBe(expected);
  });
});

describe("contains", () => {
  it.each([
    ["10.0.0.0/16", "10.0.0.0/16", true],
    ["10.0.0.0/16", "10.0.255.192/26", true],
    ["0.0.0.0/0", "255.255.255.255/32", true],
    ["10.0.0.0/16", "10.0.0.0/15", false],
    ["10.0.0.0/16", "10.1.0.0/24", false],
    ["10.0.0.0/16", "9.255.255.0/24", false],
    ["10.0.0.0/24", "10.0.0.0/8", false],
  ])("%s contains %s: %s", (outer, inner, expected) => {
    expect(contains(block(outer), block(inner))).toBe(expected);
  });
});

describe("subnet (Terraform's cidrsubnet)", () => {
  // Values as `terraform console` prints them for cidrsubnet(prefix, newbits, netnum).
  it.each([
    ["10.0.0.0/16", 4, 0, "10.0.0.0/20"],
    ["10.0.0.0/16", 4, 8, "10.0.128.0/20"],
    ["10.0.0.0/16", 4, 15, "10.0.240.0/20"],
    ["10.1.0.0/16", 8, 2, "10.1.2.0/24"],
    ["172.16.0.0/12", 4, 2, "172.18.0.0/16"],
    ["10.0.0.0/8", 8, 255, "10.255.0.0/16"],
    ["192.168.0.0/22", 4, 13, "192.168.3.64/26"],
    ["10.0.0.0/16", 0, 0, "10.0.0.0/16"],
    ["0.0.0.0/0", 1, 1, "128.0.0.0/1"],
    ["255.255.255.0/24", 8, 255, "255.255.255.255/32"],
  ])("cidrsubnet(%s, %i, %i) = %s", (cidr, newBits, index, expected) => {
    expect(formatCidr(subnet(block(cidr), newBits, index))).toBe(expected);
  });

  it.each([
    ["10.0.0.0/16", 4, 16],
    ["10.0.0.0/16", 4, -1],
    ["10.0.0.0/30", 3, 0],
  ])("refuses cidrsubnet(%s, %i, %i) with a RangeError naming the sub-block", (cidr, newBits, index) => {
    expect(() => subnet(block(cidr), newBits, index)).toThrow(RangeError);
    expect(() => subnet(block(cidr), newBits, index)).toThrow(`cannot take sub-block ${index} of /${cidr.split("/")[1]} with ${newBits} new bits`);
  });
});

describe("host (Terraform's cidrhost)", () => {
  it.each([
    ["10.12.112.0/20", 16, "10.12.112.16"],
    ["10.12.112.0/20", 268, "10.12.113.12"],
    ["10.0.0.0/16", 0, "10.0.0.0"],
    ["10.0.0.0/16", 65535, "10.0.255.255"],
    ["172.20.0.0/26", 62, "172.20.0.62"],
    ["255.255.255.0/24", 255, "255.255.255.255"],
    ["0.0.0.0/0", 4294967295, "255.255.255.255"],
  ])("cidrhost(%s, %i) = %s", (cidr, offset, expected) => {
    expect(host(block(cidr), offset)).toBe(expected);
  });

  it.each([
    ["10.0.0.0/24", 256],
    ["10.0.0.0/24", -1],
    ["10.0.0.0/32", 1],
  ])("refuses cidrhost(%s, %i) with a RangeError naming the offset", (cidr, offset) => {
    expect(() => host(block(cidr), offset)).toThrow(RangeError);
    expect(() => host(block(cidr), offset)).toThrow(`host ${offset} is outside a /${cidr.split("/")[1]}`);
  });
});

describe("awsUsableHostRange", () => {
  it.each([
    ["10.0.0.0/16", 4, 65534],
    ["10.0.0.0/20", 4, 4094],
    ["10.0.0.0/24", 4, 254],
    ["10.0.0.0/26", 4, 62],
    ["10.0.0.0/28", 4, 14],
  ])("leaves out AWS's first four and last address of %s: %i to %i", (cidr, first, last) => {
    const b = block(cidr);
    expect(awsUsableHostRange(b)).toEqual({ first, last });
    expect(host(b, last + 1)).toBe(host(b, b.size - 1));
  });

  it("offers 59 usable addresses in a /26, the smallest subnet the control plane accepts", () => {
    const { first, last } = awsUsableHostRange(block("172.20.0.0/26"));
    expect(last - first + 1).toBe(59);
  });
});
