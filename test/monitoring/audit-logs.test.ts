/**
 * Finding 7b (issue 14): audit events leave the node for a CloudWatch Logs group with a retention,
 * encrypted with the cluster key, that API servers can only add events to. Who may do what is
 * decided by the IAM evaluator (test/helpers/iam-eval.ts) over the synthesized role policies and
 * key policy; the retention values are CloudWatch's documented list (PutRetentionPolicy).
 */
import { ConfigError, HaControlPlane, apiServerBootExtras } from "../../lib";
import { PolicyDocument, evaluate } from "../helpers/iam-eval";
import { SynthJson, follow, only, resources, synth } from "../helpers/synth";

const ACCOUNT = "111122223333";
const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const GROUP = "/ha-control-plane/prod/kube-apiserver-audit";
const GROUP_ARN = `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:${GROUP}`;
const VPC = "vpc-0a1b2c3d4e5f60718";
const NODE = { "aws:Ec2InstanceSourceVpc": VPC, "aws:SourceIp": "203.0.113.10" };

/** CloudWatch Logs' accepted retention values (API reference, PutRetentionPolicy). */
const CLOUDWATCH_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

function resolve(json: SynthJson, text: string): string {
  return text.replace(/\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}/g, (all, data: string | undefined, type: string, name: string, attr: string) => {
    const props = (data ? json.data : json.resource)?.[type]?.[name] as Record<string, string> | undefined;
    if (!props) throw new Error(`unresolvable ${all}`);
    if (data) return ({ aws_caller_identity: ACCOUNT, aws_partition: "aws", aws_region: "eu-west-1" } as Record<string, string>)[type] ?? `unresolved:${type}`;
    if (type === "aws_cloudwatch_log_group" && attr === "arn") return `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:${props.name}`;
    if (type === "aws_iam_role") return attr === "arn" ? `arn:aws:iam::${ACCOUNT}:role/${props.name}` : props.name;
    if (type === "aws_vpc" && attr === "id") return VPC;
    if (type === "aws_eip" && attr === "public_ip") return "203.0.113.10";
    return `unresolved:${type}.${name}.${attr}`;
  });
}

describe("audit logs in CloudWatch Logs", () => {
  const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES }));
  const identity = (suffix: string) =>
    resources(json, "aws_iam_role_policy")
      .filter((p) => resolve(json, String(p.props.role)).endsWith(suffix))
      .map((p) => JSON.parse(resolve(json, String(p.props.policy))) as PolicyDocument);
  const can = (suffix: string, action: string, resource: string) =>
    evaluate({ principalArn: `arn:aws:iam::${ACCOUNT}:role/prod-${suffix}`, action, resource, context: NODE }, identity(suffix)).allowed;

  it("keeps them in a log group encrypted with the cluster key, for 365 days by default, one stream per API server slot", () => {
    const group = only(json, "aws_cloudwatch_log_group");
    expect(group.props).toMatchObject({ name: GROUP, retention_in_days: 365 });
    expect(follow(json, group.props.kms_key_id).type).toBe("aws_kms_key");
    expect(resources(json, "aws_cloudwatch_log_stream").map((s) => s.props.name).sort()).toEqual(["apiserver-0", "apiserver-1", "apiserver-2"]);
  });

  it("lets API servers add events to their streams and nothing else: no retention change, no deletion, no other group", () => {
    expect(can("apiserver", "logs:PutLogEvents", `${GROUP_ARN}:log-stream:apiserver-1`)).toBe(true);
    expect(can("apiserver", "logs:PutLogEvents", `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:/aws/cloudtrail:log-stream:x`)).toBe(false);
    for (const action of ["logs:PutRetentionPolicy", "logs:DeleteLogGroup", "logs:DeleteLogStream", "logs:CreateLogGroup", "logs:DisassociateKmsKey"]) {
      expect(can("apiserver", action, GROUP_ARN)).toBe(false);
    }
    expect(can("etcd-0", "logs:PutLogEvents", `${GROUP_ARN}:log-stream:apiserver-1`)).toBe(false);
  });

  it("lets CloudWatch Logs use the cluster key for the cluster's log groups only", () => {
    const policy = JSON.parse(resolve(json, String(only(json, "aws_kms_key").props.policy))) as PolicyDocument;
    const logs = (group: string) =>
      evaluate(
        { principalArn: "logs.eu-west-1.amazonaws.com", action: "kms:GenerateDataKey", resource: "*", context: { "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:${group}` } },
        [],
        policy,
      ).allowed;
    expect(logs(GROUP)).toBe(true);
    expect(logs("/ha-control-plane/other-cluster/kube-apiserver-audit")).toBe(false);
    expect(logs("/aws/lambda/anything")).toBe(false);
    // The account still administers the key through IAM (AWS's default key policy statement).
    expect(evaluate({ principalArn: `arn:aws:iam::${ACCOUNT}:root`, action: "kms:PutKeyPolicy", resource: "*" }, [], policy).allowed).toBe(true);
  });

  it("takes every retention CloudWatch accepts and refuses others", () => {
    for (const days of [30, 3653]) {
      const j = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, auditLogRetentionDays: days }));
      expect(only(j, "aws_cloudwatch_log_group").props.retention_in_days).toBe(days);
    }
    for (const days of [0, 100, 366, 1.5]) {
      expect(CLOUDWATCH_RETENTION_DAYS).not.toContain(days);
      expect(() => synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, auditLogRetentionDays: days }))).toThrow(ConfigError);
    }
  });

  it("can be turned off, and then refuses a retention", () => {
    const off = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, auditLogShipping: false }));
    expect(resources(off, "aws_cloudwatch_log_group")).toHaveLength(0);
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, auditLogShipping: false, auditLogRetentionDays: 30 }))).toThrow(/auditLogRetentionDays/);
  });

  it("gives API server nodes the shipper, its timer enabled, and the group in node.env", () => {
    const input = {
      clusterName: "prod",
      kubernetesVersion: "1.33.5",
      etcdServers: ["https://10.0.0.20:2379"],
      serviceCidr: "10.96.0.0/12",
      podCidr: "10.244.0.0/16",
      clusterDomain: "cluster.local",
      shutdownDelaySeconds: 40,
      encryptionKeySecret: "prod/control-plane/secrets-encryption",
    };
    const on = apiServerBootExtras({ ...input, auditLogGroup: GROUP });
    expect(on.env?.AUDIT_LOG_GROUP).toBe(GROUP);
    expect(on.files.map((f) => f.path)).toEqual(expect.arrayContaining(["/usr/local/sbin/ha-ship-audit-logs", "/etc/systemd/system/ha-ship-audit-logs.service", "/etc/systemd/system/ha-ship-audit-logs.timer"]));
    expect(on.runcmd).toContainEqual(["systemctl", "enable", "--now", "ha-ship-audit-logs.timer"]);
    const off = apiServerBootExtras(input);
    expect(off.files.some((f) => f.path.includes("ship-audit"))).toBe(false);
  });
});
