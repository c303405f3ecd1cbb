import { Construct } from "constructs";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchLogStream } from "@cdktf/provider-aws/lib/cloudwatch-log-stream";
import { NodeRole } from "../compute/node-role";
import { ConfigError } from "../errors";
import { IEncryptionKey, clusterLogGroupPrefix } from "../security/encryption-key";
import { ClusterTags } from "../tags";

/** Retention periods CloudWatch Logs accepts (`PutRetentionPolicy`), in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** Props of {@link AuditLogs}. */
export interface AuditLogsProps {
  /** Cluster name (DNS label). */
  readonly clusterName: string;
  /** The cluster key: the log group is encrypted with it. */
  readonly encryptionKey: IEncryptionKey;
  /** API server slot names: each ships into a stream of its own name. */
  readonly apiServerSlots: readonly string[];
  /**
   * Days CloudWatch Logs keeps audit events (one of the values CloudWatch accepts).
   * @default 365
   */
  readonly retentionDays?: number;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Where kube-apiserver audit events go off the node: a log group `/ha-control-plane/<cluster>/kube-apiserver-audit`
 * encrypted with the cluster key, with a retention, and one stream per API server slot created here,
 * so nodes need nothing but `logs:PutLogEvents` on this group's streams (no `CreateLogGroup`,
 * `CreateLogStream` or `PutRetentionPolicy`): a node can add events, never shorten what is kept.
 */
export class AuditLogs extends Construct {
  /** The CloudWatch Logs group receiving the API servers' audit events (KMS-encrypted, with `retentionDays`). */
  public readonly logGroup: CloudwatchLogGroup;
  /** The log group's name. */
  public readonly logGroupName: string;
  /** Days events are kept. */
  public readonly retentionDays: number;

  constructor(scope: Construct, id: string, props: AuditLogsProps) {
    super(scope, id);
    const retention = props.retentionDays ?? 365;
    if (!(LOG_RETENTION_DAYS as readonly number[]).includes(retention)) {
      throw new ConfigError("auditLogRetentionDays", retention, `CloudWatch Logs keeps events for one of ${LOG_RETENTION_DAYS.join(", ")} days`, "use 365 (or the next value up from what your audit policy requires)");
    }
    this.retentionDays = retention;
    this.logGroupName = `${clusterLogGroupPrefix(props.clusterName)}kube-apiserver-audit`;
    const tags = new ClusterTags(props.clusterName, props.tags);
    this.logGroup = new CloudwatchLogGroup(this, "LogGroup", {
      name: this.logGroupName,
      kmsKeyId: props.encryptionKey.keyArn,
      retentionInDays: retention,
      tags: tags.of(this.logGroupName),
    });
    for (const slot of props.apiServerSlots) {
      new CloudwatchLogStream(this, `Stream-${slot}`, { logGroupName: this.logGroup.name, name: slot });
    }
  }

  /** Lets `role` add events to this group's streams, and nothing else in CloudWatch Logs. */
  public grantShip(role: NodeRole): void {
    role.addStatement({ sid: "ShipAuditLogs", actions: ["logs:PutLogEvents"], resources: [`${this.logGroup.arn}:log-stream:*`] });
  }
}
