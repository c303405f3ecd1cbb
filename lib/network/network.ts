import { Construct } from "constructs";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import * as ipaddr from "ipaddr.js";
import { Fn } from "../core";
import { ConfigError } from "../errors";
import { dataAwsAvailabilityZones } from "../optional-providers";
import { ClusterTags } from "../tags";
import { checkClusterName, checkInteger, checkTags, isUnresolved } from "../validate";
import { RESERVED_TAG_COUNT } from "../tags";
import { formatCidr, parseIpv4Cidr, subnet, tryParseIpv4Cidr } from "./cidr";

/** A subnet the control plane can be placed in. */
export interface SubnetAttributes {
  /** The EC2 id of the subnet (`subnet-…`), or a reference to one. */
  readonly subnetId: string;
  /** Its availability zone, e.g. `eu-west-1a`. May be a token when looked up. */
  readonly availabilityZone: string;
  /** Its IPv4 CIDR block; fixed node IPs are allocated from it, so it must be a literal. */
  readonly cidrBlock: string;
  /**
   * The route table the subnet is associated with (`rtb-…`). Needed on private subnets only for
   * `vpcEndpoints: true` (the S3 gateway endpoint is routed from it).
   * @default - unknown
   */
  readonly routeTableId?: string;
}

/** Where the control plane lives. Implemented by {@link ControlPlaneNetwork} and {@link ExistingNetwork}. */
export interface INetwork {
  /** EC2 id of the VPC (`vpc-…`) the security groups and load balancers are created in. */
  readonly vpcId: string;
  /** The VPC's primary IPv4 CIDR block (a literal). */
  readonly vpcCidr: string;
  /** Private subnets, one per availability zone: control-plane nodes go here. */
  readonly privateSubnets: readonly SubnetAttributes[];
  /** Public subnets, one per availability zone (needed only for a public API endpoint). */
  readonly publicSubnets: readonly SubnetAttributes[];
  /**
   * Public IPv4 addresses the private subnets' traffic to the internet leaves from (NAT gateways).
   * Node credentials used against public AWS endpoints work only from these.
   * @default - unknown: the source address of node calls is not checked
   */
  readonly egressPublicIps?: readonly string[];
}

/** How private subnets reach the internet. */
export enum NatGatewayMode {
  /** One NAT gateway per availability zone: losing an AZ never cuts the others off. */
  PER_AZ = "PER_AZ",
  /** One NAT gateway for all zones: cheaper, but its AZ is a single point of failure for egress. */
  SINGLE = "SINGLE",
}

/** Props of {@link ControlPlaneNetwork}. */
export interface ControlPlaneNetworkProps {
  /** Cluster name (DNS label); used in names and tags. */
  readonly clusterName: string;
  /**
   * Availability zones, one private and one public subnet each.
   * @default - the first `availabilityZoneCount` zones of the region, looked up at plan time
   *            (needs AWS credentials; pass zones explicitly to synthesize and plan without them)
   */
  readonly availabilityZones?: readonly string[];
  /**
   * How many zones to use when `availabilityZones` is not given. The plan fails (a postcondition on
   * the zone lookup) when the region offers fewer zones without opt-in, rather than reusing one.
   * @default 3
   */
  readonly availabilityZoneCount?: number;
  /**
   * The VPC's IPv4 block, /16 to /22. Private subnets take the first sixteenths of it, public ones
   * sixteenths from the middle.
   * @default "10.0.0.0/16"
   */
  readonly vpcCidr?: string;
  /**
   * NAT gateway layout for the private subnets.
   * @default NatGatewayMode.PER_AZ
   */
  readonly natGateways?: NatGatewayMode;
  /**
   * Extra tags for every resource.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Maximum availability zones a network spans (and the most any AWS region has usable). */
export const MAX_AVAILABILITY_ZONES = 6;
/** Sub-block bits: each subnet is one sixteenth of the VPC block. */
const SUBNET_NEW_BITS = 4;
/** Public subnets start in the second half of the VPC block. */
const PUBLIC_SUBNET_OFFSET = 8;

/**
 * A new VPC for the control plane: a private and a public subnet in each availability zone, an
 * internet gateway, and NAT gateways (one per zone by default) so private nodes reach AWS APIs and
 * package mirrors without public IPs.
 */
export class ControlPlaneNetwork extends Construct implements INetwork {
  /** The `aws_vpc` this construct created (DNS support and host names enabled). */
  public readonly vpc: Vpc;
  public readonly vpcId: string;
  public readonly vpcCidr: string;
  public readonly privateSubnets: readonly SubnetAttributes[];
  public readonly publicSubnets: readonly SubnetAttributes[];
  /** The zones in use (tokens when looked up). */
  public readonly availabilityZones: readonly string[];
  /** The NAT gateways' public addresses (tokens). */
  public readonly egressPublicIps: readonly string[];

  constructor(scope: Construct, id: string, props: ControlPlaneNetworkProps) {
    super(scope, id);
    checkClusterName("clusterName", props.clusterName);
    checkTags("tags", props.tags, RESERVED_TAG_COUNT);
    const vpcCidr = props.vpcCidr ?? "10.0.0.0/16";
    const block = parseIpv4Cidr("vpcCidr", vpcCidr);
    if (block.prefix < 16 || block.prefix > 22) {
      throw new ConfigError("vpcCidr", vpcCidr, "AWS VPCs are /16 to /28 and the control plane needs subnets of at least /26", "use a block from /16 to /22");
    }
    const zones = resolveZones(this, props);
    const natMode = props.natGateways ?? NatGatewayMode.PER_AZ;
    if (!Object.values(NatGatewayMode).includes(natMode)) {
      throw new ConfigError("natGateways", natMode, "is not a NatGatewayMode", "use NatGatewayMode.PER_AZ or NatGatewayMode.SINGLE");
    }
    const tags = new ClusterTags(props.clusterName, props.tags);
    const name = props.clusterName;

    this.vpc = new Vpc(this, "Vpc", {
      cidrBlock: vpcCidr,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: tags.of(`${name}-vpc`),
    });
    this.vpcId = this.vpc.id;
    this.vpcCidr = vpcCidr;
    this.availabilityZones = zones;

    const igw = new InternetGateway(this, "InternetGateway", { vpcId: this.vpc.id, tags: tags.of(`${name}-igw`) });
    const publicRoutes = new RouteTable(this, "PublicRoutes", { vpcId: this.vpc.id, tags: tags.of(`${name}-public`) });
    new Route(this, "PublicDefaultRoute", {
      routeTableId: publicRoutes.id,
      destinationCidrBlock: "0.0.0.0/0",
      gatewayId: igw.id,
    });

    const publicSubnets: SubnetAttributes[] = [];
    const privateSubnets: SubnetAttributes[] = [];
    const nats: NatGateway[] = [];
    const natIps: string[] = [];
    zones.forEach((zone, i) => {
      const publicCidr = formatCidr(subnet(block, SUBNET_NEW_BITS, PUBLIC_SUBNET_OFFSET + i));
      const privateCidr = formatCidr(subnet(block, SUBNET_NEW_BITS, i));
      const pub = new Subnet(this, `PublicSubnet${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: zone,
        cidrBlock: publicCidr,
        mapPublicIpOnLaunch: false,
        tags: { ...tags.of(`${name}-public-${i}`), "kubernetes.io/role/elb": "1" },
      });
      new RouteTableAssociation(this, `PublicSubnet${i}Routes`, { subnetId: pub.id, routeTableId: publicRoutes.id });
      publicSubnets.push({ subnetId: pub.id, availabilityZone: zone, cidrBlock: publicCidr });

      if (natMode === NatGatewayMode.PER_AZ || i === 0) {
        const eip = new Eip(this, `NatAddress${i}`, { domain: "vpc", tags: tags.of(`${name}-nat-${i}`) });
        natIps.push(eip.publicIp);
        nats.push(
          new NatGateway(this, `NatGateway${i}`, {
            allocationId: eip.id,
            subnetId: pub.id,
            tags: tags.of(`${name}-nat-${i}`),
            dependsOn: [igw],
          }),
        );
      }
      const priv = new Subnet(this, `PrivateSubnet${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: zone,
        cidrBlock: privateCidr,
        mapPublicIpOnLaunch: false,
        tags: { ...tags.of(`${name}-private-${i}`), "kubernetes.io/role/internal-elb": "1" },
      });
      const routes = new RouteTable(this, `PrivateRoutes${i}`, { vpcId: this.vpc.id, tags: tags.of(`${name}-private-${i}`) });
      new Route(this, `PrivateDefaultRoute${i}`, {
        routeTableId: routes.id,
        destinationCidrBlock: "0.0.0.0/0",
        natGatewayId: nats[Math.min(i, nats.length - 1)].id,
      });
      new RouteTableAssociation(this, `PrivateSubnet${i}Routes`, { subnetId: priv.id, routeTableId: routes.id });
      privateSubnets.push({ subnetId: priv.id, availabilityZone: zone, cidrBlock: privateCidr, routeTableId: routes.id });
    });
    this.publicSubnets = publicSubnets;
    this.privateSubnets = privateSubnets;
    this.egressPublicIps = natIps;
  }
}

function resolveZones(scope: Construct, props: ControlPlaneNetworkProps): string[] {
  if (props.availabilityZones !== undefined) {
    if (props.availabilityZoneCount !== undefined) {
      throw new ConfigError("availabilityZoneCount", props.availabilityZoneCount, "cannot be combined with availabilityZones", "pass one of the two");
    }
    const zones = [...props.availabilityZones];
    checkZoneList("availabilityZones", zones);
    return zones;
  }
  const count = props.availabilityZoneCount ?? 3;
  checkInteger("availabilityZoneCount", count, 1, MAX_AVAILABILITY_ZONES, "use 3 (one zone loss tolerated by a 3-member etcd)");
  const lookup = new (dataAwsAvailabilityZones())(scope, "Zones", {
    state: "available",
    filter: [{ name: "opt-in-status", values: ["opt-in-not-required"] }],
    // `element()` wraps around: in a region that offers fewer zones than asked for (us-west-1 shows
    // most accounts two), zone i would silently be zone i mod n, and two etcd members would share a
    // zone whose loss then takes quorum. Plan fails instead, naming the prop and the zones offered.
    lifecycle: {
      postcondition: [
        {
          condition: `\${length(self.names) >= ${count}}`,
          errorMessage:
            `availabilityZoneCount is ${count} but the region offers \${length(self.names)} available zone(s) without opt-in ` +
            `(\${join(", ", self.names)}): set availabilityZoneCount to at most that many, or pass availabilityZones explicitly.`,
        },
      ],
    },
  });
  return Array.from({ length: count }, (_, i) => Fn.element(lookup.names, i));
}

/** An availability zone name: `eu-west-1a`, or a Local Zone such as `us-east-1-bos-1a`. */
const ZONE_NAME = /^[a-z]{2}(-[a-z]+)+-\d+[a-z]$|^[a-z]{2}(-[a-z]+)+-\d+-[a-z]+-\d+[a-z]$/;

/** Checks a list of availability zone names: 1–6, distinct, shaped like `eu-west-1a`. */
export function checkZoneList(prop: string, zones: readonly string[]): void {
  if (!Array.isArray(zones) || zones.length === 0 || zones.length > MAX_AVAILABILITY_ZONES) {
    throw new ConfigError(prop, zones, `must list 1 to ${MAX_AVAILABILITY_ZONES} availability zones`, 'list three zones, e.g. ["eu-west-1a","eu-west-1b","eu-west-1c"]');
  }
  const seen = new Set<string>();
  zones.forEach((zone, i) => {
    if (isUnresolved(zone)) return;
    if (typeof zone !== "string" || !ZONE_NAME.test(zone)) {
      throw new ConfigError(`${prop}[${i}]`, zone, "is not an availability zone name", 'use a name such as "eu-west-1a"');
    }
    if (seen.has(zone)) {
      throw new ConfigError(prop, zones, `lists ${zone} twice: the control plane must spread over distinct zones`, "list each zone once");
    }
    seen.add(zone);
  });
}

/** Props of {@link ExistingNetwork.fromAttributes}. */
export interface ExistingNetworkAttributes {
  /** EC2 id of the existing VPC (`vpc-…`), or a reference to one. */
  readonly vpcId: string;
  /** The VPC's IPv4 CIDR block (used for ICMP path-MTU rules and overlap checks). */
  readonly vpcCidr: string;
  /** Private subnets for control-plane nodes, each in a distinct availability zone. */
  readonly privateSubnets: readonly SubnetAttributes[];
  /**
   * Public subnets (one per zone) for a public API load balancer.
   * @default - none: only an internal endpoint is possible
   */
  readonly publicSubnets?: readonly SubnetAttributes[];
  /**
   * Public IPv4 addresses or CIDR blocks the private subnets' internet traffic leaves from (your NAT
   * gateways or egress proxies). Node credentials then work against public AWS endpoints only from
   * these; leave it unset when the egress addresses are not fixed.
   * @default - not checked
   */
  readonly egressPublicIps?: readonly string[];
}

/** An existing VPC and subnets. */
export class ExistingNetwork implements INetwork {
  /** Validates and wraps existing network attributes. */
  public static fromAttributes(attrs: ExistingNetworkAttributes): INetwork {
    return new ExistingNetwork(attrs);
  }

  public readonly vpcId: string;
  public readonly vpcCidr: string;
  public readonly privateSubnets: readonly SubnetAttributes[];
  public readonly publicSubnets: readonly SubnetAttributes[];
  public readonly egressPublicIps?: readonly string[];

  private constructor(attrs: ExistingNetworkAttributes) {
    if (typeof attrs.vpcId !== "string" || (!isUnresolved(attrs.vpcId) && !/^vpc-[0-9a-f]{8,17}$/.test(attrs.vpcId))) {
      throw new ConfigError("network.vpcId", attrs.vpcId, "is not a VPC id", 'pass the id of an existing VPC ("vpc-…")');
    }
    const vpcBlock = parseIpv4Cidr("network.vpcCidr", attrs.vpcCidr);
    checkSubnets("network.privateSubnets", attrs.privateSubnets, vpcBlock, true);
    checkSubnets("network.publicSubnets", attrs.publicSubnets ?? [], vpcBlock, false);
    this.vpcId = attrs.vpcId;
    this.vpcCidr = attrs.vpcCidr;
    this.privateSubnets = [...attrs.privateSubnets];
    this.publicSubnets = [...(attrs.publicSubnets ?? [])];
    if (attrs.egressPublicIps !== undefined) {
      if (!Array.isArray(attrs.egressPublicIps)) {
        throw new ConfigError("network.egressPublicIps", attrs.egressPublicIps, "must be a list of public IPv4 addresses or CIDR blocks", 'pass your NAT gateways\' addresses, e.g. ["203.0.113.10"]');
      }
      attrs.egressPublicIps.forEach((ip, i) => {
        if (isUnresolved(ip)) return;
        const cidr = typeof ip === "string" && !ip.includes("/") ? `${ip}/32` : ip;
        if (tryParseIpv4Cidr(cidr) === undefined) {
          throw new ConfigError(`network.egressPublicIps[${i}]`, ip, "is not an IPv4 address or CIDR block", 'pass an address such as "203.0.113.10" or a block such as "203.0.113.0/28"');
        }
        const range = ipaddr.parse(cidr.split("/")[0]).range();
        if (range !== "unicast" && range !== "reserved") {
          throw new ConfigError(`network.egressPublicIps[${i}]`, ip, `is a ${range} address: aws:SourceIp only ever holds public addresses (requests through VPC endpoints carry none)`, "pass the NAT gateways' public (Elastic IP) addresses");
        }
      });
      this.egressPublicIps = [...attrs.egressPublicIps];
    }
  }
}

function checkSubnets(prop: string, subnets: readonly SubnetAttributes[], vpc: ReturnType<typeof parseIpv4Cidr>, required: boolean): void {
  if (!Array.isArray(subnets) || (required && subnets.length === 0)) {
    throw new ConfigError(prop, subnets, "must list at least one subnet", "list one private subnet per availability zone");
  }
  if (subnets.length > MAX_AVAILABILITY_ZONES) {
    throw new ConfigError(prop, `${subnets.length} subnets`, `at most ${MAX_AVAILABILITY_ZONES} subnets (one per zone) are used`, "list one subnet per availability zone");
  }
  const zones = new Set<string>();
  subnets.forEach((s, i) => {
    const p = `${prop}[${i}]`;
    if (!s || typeof s.subnetId !== "string" || (!isUnresolved(s.subnetId) && !/^subnet-[0-9a-f]{8,17}$/.test(s.subnetId))) {
      throw new ConfigError(`${p}.subnetId`, s?.subnetId, "is not a subnet id", 'pass an id like "subnet-0123456789abcdef0"');
    }
    if (s.routeTableId !== undefined && (typeof s.routeTableId !== "string" || (!isUnresolved(s.routeTableId) && !/^rtb-[0-9a-f]{8,17}$/.test(s.routeTableId)))) {
      throw new ConfigError(`${p}.routeTableId`, s.routeTableId, "is not a route table id", 'pass an id like "rtb-0123456789abcdef0", or leave it out');
    }
    const block = tryParseIpv4Cidr(s.cidrBlock);
    if (!block) {
      parseIpv4Cidr(`${p}.cidrBlock`, s.cidrBlock);
      return;
    }
    if (block.network < vpc.network || block.network + block.size > vpc.network + vpc.size) {
      throw new ConfigError(`${p}.cidrBlock`, s.cidrBlock, "is outside network.vpcCidr", "pass the subnet's real CIDR block from the same VPC");
    }
    if (block.prefix > 26) {
      throw new ConfigError(`${p}.cidrBlock`, s.cidrBlock, "is smaller than /26: too few addresses for fixed node IPs", "use a subnet of /26 or larger");
    }
    if (typeof s.availabilityZone !== "string" || s.availabilityZone.length === 0) {
      throw new ConfigError(`${p}.availabilityZone`, s.availabilityZone, "is required", "pass the subnet's availability zone");
    }
    if (!isUnresolved(s.availabilityZone) && !ZONE_NAME.test(s.availabilityZone)) {
      throw new ConfigError(`${p}.availabilityZone`, s.availabilityZone, "is not an availability zone name", 'use a name such as "us-east-2a"');
    }
    if (!isUnresolved(s.availabilityZone)) {
      if (zones.has(s.availabilityZone)) {
        throw new ConfigError(
          prop,
          subnets.map((x) => `${x.subnetId}@${x.availabilityZone}`),
          `two subnets are in ${s.availabilityZone}: the control plane must spread over distinct zones`,
          "pass one subnet per availability zone",
        );
      }
      zones.add(s.availabilityZone);
    }
  });
}
