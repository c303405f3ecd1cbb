import { Construct } from "constructs";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName } from "../names";
import { route53Record } from "../optional-providers";
import { INetwork } from "../network/network";
import { API_PORT } from "../security/security-groups";
import { ClusterTags, RESERVED_TAG_COUNT } from "../tags";
import { checkClusterName, checkInteger, checkNonEmpty, checkTags, isUnresolved } from "../validate";
import {
  DEFAULT_HEALTH_CHECK,
  HealthCheckTiming,
  checkHealthCheckTiming,
  detectionTimeSeconds,
  readmissionTimeSeconds,
  shutdownDelaySeconds,
} from "./timing";

/** Which API endpoints exist. */
export enum EndpointAccess {
  /** An internal NLB only: the API is reachable from the VPC (and peered networks). */
  INTERNAL = "INTERNAL",
  /** An internal NLB for in-cluster components and a public NLB for `allowedApiCidrs`. */
  INTERNAL_AND_PUBLIC = "INTERNAL_AND_PUBLIC",
}

/**
 * The Kubernetes API endpoint as other constructs see it. Implemented by {@link ApiLoadBalancer};
 * users may implement it for a load balancer they manage themselves.
 */
export interface IApiEndpoint {
  /** DNS name in-cluster components and worker nodes use (Route 53 name when configured). */
  readonly internalHost: string;
  /**
   * DNS name external clients use (the public NLB's, or its Route 53 record).
   * @default - none: the API is private (no public endpoint)
   */
  readonly publicHost?: string;
  /** Every DNS name clients may use to reach the API (for serving-certificate SANs). */
  readonly serverNames: readonly string[];
  /** API port on the load balancer. */
  readonly port: number;
  /** Target groups API server instances register in. */
  readonly targetGroupArns: readonly string[];
  /** Seconds until a failed API server is out of rotation. */
  readonly detectionTimeSeconds: number;
  /** Seconds until a recovered API server is back in rotation. */
  readonly readmissionTimeSeconds: number;
  /** Seconds a deregistered API server keeps its established connections (deregistration delay). */
  readonly drainTimeSeconds: number;
  /** The `--shutdown-delay-duration` (seconds) API servers must use behind this endpoint. */
  readonly shutdownDelaySeconds: number;
}

/** CloudWatch dimensions of one NLB target group. */
export interface LoadBalancerMetricTarget {
  /** `internal` or `public`. */
  readonly label: string;
  /** `LoadBalancer` dimension (ARN suffix). */
  readonly loadBalancer: string;
  /** `TargetGroup` dimension (ARN suffix). */
  readonly targetGroup: string;
}

/** Props of {@link ApiLoadBalancer}. */
export interface ApiLoadBalancerProps {
  /** Cluster name (DNS label). */
  readonly clusterName: string;
  /** Subnets: private ones for the internal NLB, public ones for the public NLB. */
  readonly network: INetwork;
  /** Security group of the load balancers (see `ControlPlaneSecurityGroups.loadBalancer`). */
  readonly securityGroupId: string;
  /**
   * Which endpoints to create.
   * @default EndpointAccess.INTERNAL
   */
  readonly endpointAccess?: EndpointAccess;
  /**
   * Seconds between `/readyz` checks.
   * @default 5
   */
  readonly healthCheckIntervalSeconds?: number;
  /**
   * Seconds before a check times out; less than the interval.
   * @default 3
   */
  readonly healthCheckTimeoutSeconds?: number;
  /**
   * Successes before a target is back in rotation.
   * @default 2 (10 s with the default interval)
   */
  readonly healthyThreshold?: number;
  /**
   * Failures before a target is out of rotation.
   * @default 2 (10 s with the default interval)
   */
  readonly unhealthyThreshold?: number;
  /**
   * Seconds a deregistered API server keeps serving established connections before the NLB closes
   * them (deregistration delay, with connection termination on).
   * @default 30
   */
  readonly drainTimeSeconds?: number;
  /**
   * Protect the load balancers from deletion (their DNS names are in every kubeconfig and serving
   * certificate).
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * Private Route 53 zone for the internal endpoint record.
   * @default - no record; clients use the NLB's DNS name
   */
  readonly privateHostedZoneId?: string;
  /**
   * Record name in `privateHostedZoneId`, e.g. `api.internal.example.com`.
   * @default - required when `privateHostedZoneId` is set
   */
  readonly internalDnsName?: string;
  /**
   * Public Route 53 zone for the public endpoint record.
   * @default - no record
   */
  readonly publicHostedZoneId?: string;
  /**
   * Record name in `publicHostedZoneId`, e.g. `api.example.com`.
   * @default - required when `publicHostedZoneId` is set
   */
  readonly publicDnsName?: string;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Network load balancers in front of the API servers.
 *
 * - TCP 6443 pass-through (TLS ends at the API servers, so client certificates keep working);
 * - HTTPS `/readyz` health checks: a server that is up but not ready (etcd unreachable, shutting
 *   down) leaves rotation, which a TCP check would miss; defaults detect in 10 s, re-admit in 10 s;
 * - client IP preservation off, so a node reaching the API through the NLB is not hairpinned back
 *   to itself (the connection would time out);
 * - cross-zone load balancing on (one API server per zone);
 * - deregistration delay with connection termination, so a roll drains instead of dropping.
 */
export class ApiLoadBalancer extends Construct implements IApiEndpoint {
  /** The internal NLB. */
  public readonly internalLoadBalancer: Lb;
  /** The public NLB, when requested. */
  public readonly publicLoadBalancer?: Lb;
  /** Target group of the internal NLB. */
  public readonly internalTargetGroup: LbTargetGroup;
  /** Target group of the public NLB, when requested. */
  public readonly publicTargetGroup?: LbTargetGroup;
  /** The health-check timing in force. */
  public readonly healthCheck: HealthCheckTiming;
  /** CloudWatch dimensions of each load balancer / target group pair (for alarms). */
  public readonly metricTargets: readonly LoadBalancerMetricTarget[];

  public readonly internalHost: string;
  public readonly publicHost?: string;
  public readonly serverNames: readonly string[];
  public readonly port = API_PORT;
  public readonly targetGroupArns: readonly string[];
  public readonly detectionTimeSeconds: number;
  public readonly readmissionTimeSeconds: number;
  public readonly drainTimeSeconds: number;
  public readonly shutdownDelaySeconds: number;

  constructor(scope: Construct, id: string, props: ApiLoadBalancerProps) {
    super(scope, id);
    checkClusterName("clusterName", props.clusterName);
    checkTags("tags", props.tags, RESERVED_TAG_COUNT);
    checkNonEmpty("securityGroupId", props.securityGroupId, "pass ControlPlaneSecurityGroups.loadBalancer.id");
    const access = props.endpointAccess ?? EndpointAccess.INTERNAL;
    if (!Object.values(EndpointAccess).includes(access)) {
      throw new ConfigError("endpointAccess", access, "is not an EndpointAccess", "use EndpointAccess.INTERNAL or EndpointAccess.INTERNAL_AND_PUBLIC");
    }
    const timing: HealthCheckTiming = {
      intervalSeconds: props.healthCheckIntervalSeconds ?? DEFAULT_HEALTH_CHECK.intervalSeconds,
      timeoutSeconds: props.healthCheckTimeoutSeconds ?? DEFAULT_HEALTH_CHECK.timeoutSeconds,
      healthyThreshold: props.healthyThreshold ?? DEFAULT_HEALTH_CHECK.healthyThreshold,
      unhealthyThreshold: props.unhealthyThreshold ?? DEFAULT_HEALTH_CHECK.unhealthyThreshold,
    };
    checkHealthCheckTiming("healthCheck", timing);
    const drain = props.drainTimeSeconds ?? 30;
    checkInteger("drainTimeSeconds", drain, 0, 3600, "the NLB deregistration delay is 0 to 3600 seconds");
    checkDnsPair("privateHostedZoneId", props.privateHostedZoneId, "internalDnsName", props.internalDnsName);
    checkDnsPair("publicHostedZoneId", props.publicHostedZoneId, "publicDnsName", props.publicDnsName);
    if (props.network.privateSubnets.length === 0) {
      throw new ConfigError("network.privateSubnets", [], "the internal load balancer needs subnets", "pass at least one private subnet per zone");
    }
    const wantsPublic = access === EndpointAccess.INTERNAL_AND_PUBLIC;
    if (wantsPublic && props.network.publicSubnets.length === 0) {
      throw new ConfigError(
        "endpointAccess",
        access,
        "a public endpoint needs public subnets and the network has none",
        "pass network.publicSubnets or use EndpointAccess.INTERNAL",
      );
    }
    if (!wantsPublic && props.publicHostedZoneId !== undefined) {
      throw new ConfigError("publicHostedZoneId", props.publicHostedZoneId, "there is no public endpoint to point a record at", "set endpointAccess to EndpointAccess.INTERNAL_AND_PUBLIC or drop the public zone");
    }

    this.healthCheck = timing;
    this.detectionTimeSeconds = detectionTimeSeconds(timing);
    this.readmissionTimeSeconds = readmissionTimeSeconds(timing);
    this.shutdownDelaySeconds = shutdownDelaySeconds(timing);
    this.drainTimeSeconds = drain;
    const tags = new ClusterTags(props.clusterName, props.tags);

    const make = (kind: "Internal" | "Public", suffix: string) => {
      const internal = kind === "Internal";
      const lbName = deriveName([props.clusterName, suffix], NAME_RULES.loadBalancer);
      const lb = new Lb(this, `${kind}LoadBalancer`, {
        name: lbName,
        internal,
        loadBalancerType: "network",
        subnets: (internal ? props.network.privateSubnets : props.network.publicSubnets).map((s) => s.subnetId),
        securityGroups: [props.securityGroupId],
        enableCrossZoneLoadBalancing: true,
        enableDeletionProtection: props.deletionProtection ?? true,
        tags: tags.of(lbName, { role: "api-lb" }),
      });
      const tgName = deriveName([props.clusterName, suffix], NAME_RULES.targetGroup);
      const tg = new LbTargetGroup(this, `${kind}TargetGroup`, {
        name: tgName,
        port: API_PORT,
        protocol: "TCP",
        targetType: "instance",
        vpcId: props.network.vpcId,
        preserveClientIp: "false",
        deregistrationDelay: String(drain),
        connectionTermination: true,
        healthCheck: {
          enabled: true,
          protocol: "HTTPS",
          port: "traffic-port",
          path: "/readyz",
          matcher: "200",
          interval: timing.intervalSeconds,
          timeout: timing.timeoutSeconds,
          healthyThreshold: timing.healthyThreshold,
          unhealthyThreshold: timing.unhealthyThreshold,
        },
        tags: tags.of(tgName, { role: "api-lb" }),
      });
      new LbListener(this, `${kind}Listener`, {
        loadBalancerArn: lb.arn,
        port: API_PORT,
        protocol: "TCP",
        defaultAction: [{ type: "forward", targetGroupArn: tg.arn }],
        tags: tags.of(`${lbName}-${API_PORT}`),
      });
      return { lb, tg };
    };

    const internal = make("Internal", "api-int");
    this.internalLoadBalancer = internal.lb;
    this.internalTargetGroup = internal.tg;
    const names: string[] = [internal.lb.dnsName];
    let internalHost = internal.lb.dnsName;
    if (props.privateHostedZoneId !== undefined && props.internalDnsName !== undefined) {
      new (route53Record())(this, "InternalRecord", {
        zoneId: props.privateHostedZoneId,
        name: props.internalDnsName,
        type: "A",
        alias: { name: internal.lb.dnsName, zoneId: internal.lb.zoneId, evaluateTargetHealth: true },
      });
      internalHost = props.internalDnsName;
      names.push(props.internalDnsName);
    }
    this.internalHost = internalHost;
    const arns = [internal.tg.arn];

    if (wantsPublic) {
      const pub = make("Public", "api-pub");
      this.publicLoadBalancer = pub.lb;
      this.publicTargetGroup = pub.tg;
      arns.push(pub.tg.arn);
      names.push(pub.lb.dnsName);
      let publicHost = pub.lb.dnsName;
      if (props.publicHostedZoneId !== undefined && props.publicDnsName !== undefined) {
        new (route53Record())(this, "PublicRecord", {
          zoneId: props.publicHostedZoneId,
          name: props.publicDnsName,
          type: "A",
          alias: { name: pub.lb.dnsName, zoneId: pub.lb.zoneId, evaluateTargetHealth: true },
        });
        publicHost = props.publicDnsName;
        names.push(props.publicDnsName);
      }
      this.publicHost = publicHost;
    }
    this.targetGroupArns = arns;
    this.serverNames = names;
    this.metricTargets = [
      { label: "internal", loadBalancer: this.internalLoadBalancer.arnSuffix, targetGroup: this.internalTargetGroup.arnSuffix },
      ...(this.publicLoadBalancer && this.publicTargetGroup
        ? [{ label: "public", loadBalancer: this.publicLoadBalancer.arnSuffix, targetGroup: this.publicTargetGroup.arnSuffix }]
        : []),
    ];
  }
}

/** A DNS name for a Route 53 record: lower-case labels, at most 253 characters, no trailing dot needed. */
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+\.?$/;

function checkDnsPair(zoneProp: string, zoneId: string | undefined, nameProp: string, name: string | undefined): void {
  if ((zoneId === undefined) !== (name === undefined)) {
    const [missing, given] = zoneId === undefined ? [zoneProp, nameProp] : [nameProp, zoneProp];
    throw new ConfigError(missing, undefined, `is required when ${given} is set`, `pass both ${zoneProp} and ${nameProp}, or neither`);
  }
  if (zoneId !== undefined && !isUnresolved(zoneId) && !/^Z[0-9A-Z]{1,31}$/.test(zoneId)) {
    throw new ConfigError(zoneProp, zoneId, "is not a Route 53 hosted zone id", 'pass an id like "Z0123456789ABCDEFGHIJ"');
  }
  if (name !== undefined && !isUnresolved(name) && !DNS_NAME.test(name)) {
    throw new ConfigError(nameProp, name, "is not a fully qualified lower-case DNS name", 'use for example "api.k8s.example.com"');
  }
}
