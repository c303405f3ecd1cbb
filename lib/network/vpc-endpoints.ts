import { Construct } from "constructs";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName } from "../names";
import { ClusterTags, RESERVED_TAG_COUNT, kubernetesClusterTag } from "../tags";
import { checkClusterName, checkTags, isUnresolved } from "../validate";
import { INetwork } from "./network";

/**
 * The AWS services control-plane nodes call, each through an interface endpoint with private DNS
 * (S3 goes through a gateway endpoint): what the node scripts run (`aws ec2 …` to claim their slot
 * interface and data volume, `aws autoscaling complete-lifecycle-action`, `aws secretsmanager
 * get-secret-value`, `aws cloudwatch put-metric-data`, `aws logs put-log-events`) and what the
 * Session Manager agent needs (`ssm`, `ssmmessages`, `ec2messages`). KMS is reached by Secrets
 * Manager and S3 on the node's behalf, never by the node.
 */
export const NODE_INTERFACE_ENDPOINT_SERVICES: readonly string[] = [
  "ec2",
  "autoscaling",
  "secretsmanager",
  "monitoring",
  "logs",
  "ssm",
  "ssmmessages",
  "ec2messages",
];

/** Props of {@link NodeVpcEndpoints}. */
export interface NodeVpcEndpointsProps {
  /** Cluster name (DNS label); used in names and tags. */
  readonly clusterName: string;
  /**
   * The network. Interface endpoints go into every private subnet; the S3 gateway endpoint is
   * routed from every private subnet's route table, so each private subnet must carry its
   * `routeTableId` (set by {@link ControlPlaneNetwork}; give it to {@link ExistingNetwork}).
   */
  readonly network: INetwork;
  /**
   * Security groups of the nodes that call the endpoints: each may reach the interface endpoints on
   * 443, nothing else may.
   */
  readonly clientSecurityGroupIds: readonly string[];
  /**
   * Extra tags for every resource.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * VPC endpoints for every AWS service the control-plane nodes call, so that nodes need no route to
 * the internet for AWS APIs: one interface endpoint per service in
 * {@link NODE_INTERFACE_ENDPOINT_SERVICES} (private DNS on, so the regional service names resolve to
 * the endpoint's addresses inside the VPC; the VPC needs DNS support and DNS hostnames), in every
 * private subnet, behind a security group that admits HTTPS from the node groups only; and an S3
 * gateway endpoint on the private subnets' route tables. Node security groups reach the S3
 * endpoint through its managed prefix list ({@link s3PrefixListId}).
 *
 * Used by `HaControlPlane` with `vpcEndpoints: true`, which also makes node credentials work only
 * through these endpoints (`aws:SourceVpc`).
 */
export class NodeVpcEndpoints extends Construct {
  /** Security group of the interface endpoints. */
  public readonly securityGroup: SecurityGroup;
  /** Interface endpoints by service (`ec2`, `secretsmanager`, …). */
  public readonly interfaceEndpoints: Readonly<Record<string, VpcEndpoint>>;
  /** The S3 gateway endpoint. */
  public readonly s3Endpoint: VpcEndpoint;
  /** Managed prefix list of S3 in this region, for security group egress to the gateway endpoint. */
  public readonly s3PrefixListId: string;

  constructor(scope: Construct, id: string, props: NodeVpcEndpointsProps) {
    super(scope, id);
    checkClusterName("clusterName", props.clusterName);
    checkTags("tags", props.tags, RESERVED_TAG_COUNT);
    const subnets = props.network.privateSubnets;
    const routeTables: string[] = [];
    subnets.forEach((s, i) => {
      if (s.routeTableId === undefined || (!isUnresolved(s.routeTableId) && !/^rtb-[0-9a-f]{8,17}$/.test(s.routeTableId))) {
        throw new ConfigError(
          `network.privateSubnets[${i}].routeTableId`,
          s.routeTableId,
          "is needed for the S3 gateway endpoint (vpcEndpoints: true) and must be a route table id",
          'pass the id of the route table the private subnet is associated with, e.g. "rtb-0123456789abcdef0"',
        );
      }
      if (!routeTables.includes(s.routeTableId)) routeTables.push(s.routeTableId);
    });
    if (props.clientSecurityGroupIds.length === 0) {
      throw new ConfigError("clientSecurityGroupIds", props.clientSecurityGroupIds, "is empty: no node could use the endpoints", "pass the node security groups");
    }
    const tags = new ClusterTags(props.clusterName, props.tags);
    const region = new DataAwsRegion(this, "Region").name;
    const name = deriveName([props.clusterName, "aws-endpoints"], NAME_RULES.securityGroup);
    // Not tagged kubernetes.io/cluster/<name>: the AWS cloud provider must not manage this group.
    const groupTags = tags.of(name, { role: "aws-endpoints" });
    delete groupTags[kubernetesClusterTag(props.clusterName)];
    this.securityGroup = new SecurityGroup(this, "SecurityGroup", {
      name,
      description: `AWS service endpoints of the ${props.clusterName} control-plane nodes`,
      vpcId: props.network.vpcId,
      tags: groupTags,
      revokeRulesOnDelete: true,
    });
    props.clientSecurityGroupIds.forEach((sg, i) => {
      new VpcSecurityGroupIngressRule(this, `HttpsFromNodes${i}`, {
        securityGroupId: this.securityGroup.id,
        referencedSecurityGroupId: sg,
        ipProtocol: "tcp",
        fromPort: 443,
        toPort: 443,
        description: "HTTPS from control-plane nodes to AWS service endpoints",
      });
    });
    const endpoints: Record<string, VpcEndpoint> = {};
    for (const service of NODE_INTERFACE_ENDPOINT_SERVICES) {
      endpoints[service] = new VpcEndpoint(this, `Endpoint-${service}`, {
        vpcId: props.network.vpcId,
        serviceName: `com.amazonaws.${region}.${service}`,
        vpcEndpointType: "Interface",
        privateDnsEnabled: true,
        subnetIds: subnets.map((s) => s.subnetId),
        securityGroupIds: [this.securityGroup.id],
        tags: tags.of(`${props.clusterName}-${service}`),
      });
    }
    this.interfaceEndpoints = endpoints;
    this.s3Endpoint = new VpcEndpoint(this, "Endpoint-s3", {
      vpcId: props.network.vpcId,
      serviceName: `com.amazonaws.${region}.s3`,
      vpcEndpointType: "Gateway",
      routeTableIds: routeTables,
      tags: tags.of(`${props.clusterName}-s3`),
    });
    this.s3PrefixListId = this.s3Endpoint.prefixListId;
  }
}
