import { Construct } from "constructs";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { lazyJsonString } from "../core";
import { NAME_RULES, deriveName } from "../names";
import { ClusterTags } from "../tags";

/** One statement of an IAM policy. */
export interface PolicyStatement {
  /** Statement id (letters and digits). */
  readonly sid: string;
  /** Actions allowed. */
  readonly actions: readonly string[];
  /** Resource ARNs (may be tokens) or `*`. */
  readonly resources: readonly string[];
  /** IAM condition block. @default - none */
  readonly condition?: Record<string, Record<string, string | readonly string[]>>;
  /**
   * The action reaches AWS through another AWS service acting for the node (a forward access
   * session: `kms:Decrypt` via Secrets Manager, `kms:CreateGrant` via EC2). The network keys of
   * such a request describe that service, not the node, so {@link NodeRole.restrictToNetwork}
   * leaves the statement alone; it must be scoped otherwise (`kms:ViaService`,
   * `kms:GrantIsForAWSResource`).
   * @default false
   */
  readonly viaAwsService?: boolean;
}

/**
 * Where a node's role credentials work, as IAM sees a request (AWS global condition keys):
 * `aws:Ec2InstanceSourceVpc` is in every request signed with EC2 instance role credentials and names
 * the VPC of the instance they were delivered to; `aws:SourceVpc` is present only when the request
 * travels through a VPC endpoint; `aws:SourceIp` is the public source address of a request to a
 * public endpoint and absent through a VPC endpoint.
 */
export interface NodeNetworkBoundary {
  /** The cluster's VPC. */
  readonly vpcId: string;
  /**
   * Public IPv4 addresses (or CIDR blocks) the nodes' traffic to public AWS endpoints leaves from:
   * the NAT gateways' addresses. When given, a call to a public endpoint from anywhere else is
   * refused.
   * @default - the source address of public-endpoint calls is not checked
   */
  readonly egressPublicIps?: readonly string[];
  /**
   * Every AWS call the nodes make goes through a VPC endpoint of `vpcId`: a call that does not
   * carry `aws:SourceVpc` (the public endpoints) is refused.
   * @default false
   */
  readonly requireVpcEndpoints?: boolean;
}

/** Props of {@link NodeRole}. */
export interface NodeRoleProps {
  /** Cluster name (DNS label). */
  readonly clusterName: string;
  /** Role of the nodes, e.g. `apiserver`, `etcd-0`. */
  readonly nodeRole: string;
  /**
   * AWS partition. Kept for compatibility: no ARN depends on it since the role attaches no AWS
   * managed policy.
   * @default "aws"
   */
  readonly partition?: string;
  /**
   * The only CloudWatch namespace the nodes may publish metrics to (`cloudwatch:namespace`).
   * @default "HaControlPlane"
   */
  readonly metricNamespace?: string;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Session Manager's instance side, as AWS documents the minimum for Session Manager: the agent
 * registers (`ssm:UpdateInstanceInformation`) and opens its control/data channels (`ssmmessages`);
 * `ec2messages` carries Run Command, which the agent still polls. None of these accept a resource
 * ARN, hence `*`. Unlike `AmazonSSMManagedInstanceCore`, no `ssm:GetParameter(s)` on every
 * parameter of the account, no documents, associations or inventory.
 */
export const SESSION_MANAGER_ACTIONS = [
  "ssm:UpdateInstanceInformation",
  "ssmmessages:CreateControlChannel",
  "ssmmessages:CreateDataChannel",
  "ssmmessages:OpenControlChannel",
  "ssmmessages:OpenDataChannel",
  "ec2messages:AcknowledgeMessage",
  "ec2messages:DeleteMessage",
  "ec2messages:FailMessage",
  "ec2messages:GetEndpoint",
  "ec2messages:GetMessages",
  "ec2messages:SendReply",
] as const;

/**
 * An EC2 instance role and profile with the least a control-plane node needs, all inline (no AWS
 * managed policy): Session Manager (instead of SSH), `cloudwatch:PutMetricData` in the cluster's
 * metric namespace only, and the statements other constructs add with
 * {@link NodeRole.addStatement} (ENI and volume claims, its own secrets).
 */
export class NodeRole extends Construct {
  /** The IAM role. */
  public readonly role: IamRole;
  /** The instance profile to put in launch templates. */
  public readonly instanceProfile: IamInstanceProfile;
  /** The `nodeRole` it was created for (`apiserver`, an etcd slot name). */
  public readonly nodeRoleName: string;
  private readonly statements: PolicyStatement[] = [];
  private readonly secretArns: string[] = [];
  private readonly secretKeyArns = new Set<string>();
  private boundary?: NodeNetworkBoundary;

  constructor(scope: Construct, id: string, props: NodeRoleProps) {
    super(scope, id);
    this.nodeRoleName = props.nodeRole;
    const tags = new ClusterTags(props.clusterName, props.tags);
    const name = deriveName([props.clusterName, props.nodeRole], NAME_RULES.iamRole);
    this.role = new IamRole(this, "Role", {
      name,
      description: `${props.nodeRole} nodes of ${props.clusterName}`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      tags: tags.of(name, { role: props.nodeRole }),
    });
    this.addStatement({ sid: "SessionManager", actions: [...SESSION_MANAGER_ACTIONS], resources: ["*"] });
    // PutMetricData takes no resource ARN; the namespace condition is its only scope.
    this.addStatement({
      sid: "PublishNodeMetrics",
      actions: ["cloudwatch:PutMetricData"],
      resources: ["*"],
      condition: { StringEquals: { "cloudwatch:namespace": props.metricNamespace ?? "HaControlPlane" } },
    });
    new IamRolePolicy(this, "NodePolicy", {
      name: "node",
      role: this.role.name,
      policy: lazyJsonString(() => this.policyDocument()),
    });
    this.instanceProfile = new IamInstanceProfile(this, "Profile", {
      name: deriveName([props.clusterName, props.nodeRole], NAME_RULES.instanceProfile),
      role: this.role.name,
      tags: tags.of(name, { role: props.nodeRole }),
    });
  }

  /**
   * Makes every statement the node calls directly (all but {@link PolicyStatement.viaAwsService}
   * ones) hold only for credentials delivered to an instance in `boundary.vpcId`, used through a VPC
   * endpoint of that VPC or (when known) from its NAT addresses. Calls through the public endpoints
   * keep working unless `requireVpcEndpoints` is set; `aws:SourceVpc` alone would refuse them, since
   * it is absent there.
   */
  public restrictToNetwork(boundary: NodeNetworkBoundary): void {
    this.boundary = boundary;
  }

  /** The network boundary set with {@link NodeRole.restrictToNetwork}, if any. */
  public get networkBoundary(): NodeNetworkBoundary | undefined {
    return this.boundary;
  }

  /** Adds a statement to the node's inline policy. */
  public addStatement(statement: PolicyStatement): void {
    this.statements.push(statement);
  }

  /**
   * Lets the node read `secretArn` (and decrypt it with `kmsKeyArn`, only through Secrets Manager).
   * Grants accumulate into one statement per action set.
   */
  public grantSecretRead(secretArn: string, kmsKeyArn: string): void {
    this.secretArns.push(secretArn);
    this.secretKeyArns.add(kmsKeyArn);
  }

  /**
   * Lets the node attach EBS volumes encrypted with `kmsKeyArn`: EC2 creates a grant on the key in
   * the caller's name, so the caller needs `kms:CreateGrant` - only for grants to an AWS service
   * (`kms:GrantIsForAWSResource`), only on that key.
   */
  public grantAttachEncryptedVolumes(kmsKeyArn: string): void {
    if (this.statements.some((s) => s.sid === "AttachEncryptedVolumes")) return;
    this.addStatement({
      sid: "AttachEncryptedVolumes",
      actions: ["kms:CreateGrant"],
      resources: [kmsKeyArn],
      condition: { Bool: { "kms:GrantIsForAWSResource": "true" } },
      viaAwsService: true,
    });
  }

  /** The statements added so far (for tests and the policy pack). */
  public get policyStatements(): readonly PolicyStatement[] {
    return [...this.statements, ...this.secretStatements()];
  }

  private secretStatements(): PolicyStatement[] {
    if (this.secretArns.length === 0) return [];
    return [
      { sid: "ReadOwnSecrets", actions: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], resources: [...this.secretArns] },
      {
        sid: "DecryptOwnSecrets",
        actions: ["kms:Decrypt"],
        resources: [...this.secretKeyArns],
        condition: { StringLike: { "kms:ViaService": "secretsmanager.*.amazonaws.com" } },
        viaAwsService: true,
      },
    ];
  }

  private policyDocument(): object {
    const all = this.policyStatements;
    const statements = all.length > 0 ? all : [{ sid: "DescribeSelf", actions: ["ec2:DescribeTags"], resources: ["*"] }];
    return {
      Version: "2012-10-17",
      Statement: statements.map((s) => {
        const condition = conditionOf(s, this.boundary);
        return {
          Sid: s.sid,
          Effect: "Allow",
          Action: [...s.actions],
          Resource: s.resources.length === 1 ? s.resources[0] : [...s.resources],
          ...(condition ? { Condition: condition } : {}),
        };
      }),
    };
  }
}

type Condition = Record<string, Record<string, string | readonly string[]>>;

/** The statement's condition with the network boundary's keys merged in (AND). */
function conditionOf(s: PolicyStatement, boundary: NodeNetworkBoundary | undefined): Condition | undefined {
  if (boundary === undefined || s.viaAwsService) return s.condition;
  const add: Condition = {
    // A credential delivered to an instance elsewhere (the role passed to another instance) fails.
    StringEquals: { "aws:Ec2InstanceSourceVpc": boundary.vpcId },
  };
  if (boundary.requireVpcEndpoints) {
    add.StringEquals = { ...add.StringEquals, "aws:SourceVpc": boundary.vpcId };
  } else {
    // Through a VPC endpoint: it must be one of the cluster's VPC. Absent on public endpoints.
    add.StringEqualsIfExists = { "aws:SourceVpc": boundary.vpcId };
    if (boundary.egressPublicIps !== undefined && boundary.egressPublicIps.length > 0) {
      // Absent through a VPC endpoint; on a public endpoint, the NAT gateways' addresses.
      add.IpAddressIfExists = { "aws:SourceIp": boundary.egressPublicIps.map((ip) => (ip.includes("/") ? ip : `${ip}/32`)) };
    }
  }
  const merged: Condition = { ...(s.condition ?? {}) };
  for (const [op, keys] of Object.entries(add)) {
    const existing = merged[op] ?? {};
    for (const key of Object.keys(keys)) {
      if (Object.keys(existing).some((k) => k.toLowerCase() === key.toLowerCase())) {
        throw new Error(`statement ${s.sid} already conditions ${key} with ${op}; it cannot also take the node network boundary`);
      }
    }
    merged[op] = { ...existing, ...keys };
  }
  return merged;
}
