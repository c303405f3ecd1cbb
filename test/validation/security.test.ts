/**
 * ControlPlaneSecurityGroups and ClusterEncryptionKey (fromKeyArn and the constructor) refuse bad
 * input with a ConfigError, and accept their boundary values.
 */
import { Lazy } from "../../lib/core";
import { ClusterEncryptionKey, ClusterEncryptionKeyProps } from "../../lib/security/encryption-key";
import { ControlPlaneSecurityGroups, ControlPlaneSecurityGroupsProps } from "../../lib/security/security-groups";
import { only, resources, synth } from "../helpers/synth";
import { BadInput, IDS, existingNetwork, expectConfigError, manyTags, scope } from "./config-error";

const SG_PROPS: ControlPlaneSecurityGroupsProps = { clusterName: "prod", network: existingNetwork(), allowedApiCidrs: ["10.20.0.0/16"] };

describe("ControlPlaneSecurityGroups refuses bad input with a ConfigError", () => {
  const rows: BadInput<Partial<ControlPlaneSecurityGroupsProps>>[] = [
    { title: "refuses an invalid cluster name", props: { clusterName: "prod." }, prop: "clusterName", value: "prod.", fix: /"prod"/ },
    { title: "refuses an empty cluster name", props: { clusterName: "" }, prop: "clusterName", value: "", shows: '""' },
    { title: "refuses 45 user tags", props: { tags: manyTags(45) }, prop: "tags", value: "45 tags", fix: /at most 44/ },
    { title: "refuses an aws: tag key", props: { tags: { "aws:createdBy": "me" } }, prop: 'tags["aws:createdBy"]', value: "aws:createdBy" },
    { title: "refuses a 257-character tag value", props: { tags: { note: "n".repeat(257) } }, prop: 'tags["note"]', value: "n".repeat(257) },
    { title: "refuses an allowed block with host bits set and suggests its network", props: { allowedApiCidrs: ["192.168.1.1/24"] }, prop: "allowedApiCidrs[0]", value: "192.168.1.1/24", fix: /did you mean "192\.168\.1\.0\/24"/ },
    { title: "refuses an allowed block that is not a CIDR", props: { allowedApiCidrs: ["10.20.0.0/16", "any"] }, prop: "allowedApiCidrs[1]", value: "any" },
    { title: "refuses an IPv6 allowed block", props: { allowedApiCidrs: ["::/0"] }, prop: "allowedApiCidrs[0]", value: "::/0", fix: /10\.0\.0\.0\/16/ },
    { title: "refuses an allowed /33", props: { allowedApiCidrs: ["10.0.0.0/33"] }, prop: "allowedApiCidrs[0]", value: "10.0.0.0/33" },
    { title: "refuses 0.0.0.0 written without a prefix", props: { allowedApiCidrs: ["0.0.0.0"] }, prop: "allowedApiCidrs[0]", value: "0.0.0.0" },
    { title: "refuses a block listed twice", props: { allowedApiCidrs: ["0.0.0.0/0", "0.0.0.0/0"] }, prop: "allowedApiCidrs", value: ["0.0.0.0/0", "0.0.0.0/0"], fix: /each block once/ },
  ];
  it.each(rows)("$title", (row) => {
    expectConfigError(() => new ControlPlaneSecurityGroups(scope(), "SecurityGroups", { ...SG_PROPS, ...row.props }), row);
  });
});

describe("ControlPlaneSecurityGroups accepts boundary values", () => {
  const rows: Array<{ title: string; props: Partial<ControlPlaneSecurityGroupsProps>; clientRules: number }> = [
    { title: "accepts no allowed blocks (nodes only)", props: { allowedApiCidrs: undefined }, clientRules: 0 },
    { title: "accepts 0.0.0.0/0 written out", props: { allowedApiCidrs: ["0.0.0.0/0"] }, clientRules: 1 },
    { title: "accepts /32 and /0 blocks together", props: { allowedApiCidrs: ["203.0.113.7/32", "0.0.0.0/0"] }, clientRules: 2 },
    { title: "accepts an allowed block that is a token", props: { allowedApiCidrs: [Lazy.stringValue({ produce: () => "10.20.0.0/16" })] }, clientRules: 1 },
    { title: "accepts exactly 44 user tags", props: { tags: manyTags(44) }, clientRules: 1 },
  ];
  it.each(rows)("$title", (row) => {
    const json = synth((s) => new ControlPlaneSecurityGroups(s, "SecurityGroups", { ...SG_PROPS, ...row.props }));
    expect(resources(json, "aws_security_group")).toHaveLength(4);
    const fromClients = resources(json, "aws_vpc_security_group_ingress_rule").filter((r) => String(r.props.description).startsWith("Kubernetes API clients"));
    expect(fromClients).toHaveLength(row.clientRules);
  });
});

describe("ClusterEncryptionKey.fromKeyArn refuses bad input with a ConfigError", () => {
  const rows: BadInput<string>[] = [
    { title: "refuses an alias ARN", props: "arn:aws:kms:eu-west-1:123456789012:alias/prod", prop: "kmsKeyArn", value: "arn:aws:kms:eu-west-1:123456789012:alias/prod", fix: /alias ARN is not accepted/ },
    { title: "refuses an alias name", props: "alias/prod", prop: "kmsKeyArn", value: "alias/prod" },
    { title: "refuses a bare key id", props: "1234abcd-12ab-34cd-56ef-1234567890ab", prop: "kmsKeyArn", value: "1234abcd-12ab-34cd-56ef-1234567890ab" },
    { title: "refuses an 11-digit account id", props: "arn:aws:kms:eu-west-1:12345678901:key/1234abcd-12ab-34cd-56ef-1234567890ab", prop: "kmsKeyArn", value: "arn:aws:kms:eu-west-1:12345678901:key/1234abcd-12ab-34cd-56ef-1234567890ab" },
    { title: "refuses a missing region", props: "arn:aws:kms::123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", prop: "kmsKeyArn", value: "arn:aws:kms::123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" },
    { title: "refuses a truncated key id", props: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef", prop: "kmsKeyArn", value: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef" },
    { title: "refuses an upper-case key id", props: "arn:aws:kms:eu-west-1:123456789012:key/1234ABCD-12AB-34CD-56EF-1234567890AB", prop: "kmsKeyArn", value: "arn:aws:kms:eu-west-1:123456789012:key/1234ABCD-12AB-34CD-56EF-1234567890AB" },
    { title: "refuses a multi-Region key id of the wrong length", props: "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234", prop: "kmsKeyArn", value: "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234" },
    { title: "refuses the ARN of another service", props: "arn:aws:iam::123456789012:role/prod", prop: "kmsKeyArn", value: "arn:aws:iam::123456789012:role/prod" },
    { title: "refuses a key ARN with trailing white space", props: `${IDS.kmsKeyArn} `, prop: "kmsKeyArn", value: `${IDS.kmsKeyArn} ` },
    { title: "refuses an empty ARN", props: "", prop: "kmsKeyArn", value: "", shows: '""' },
  ];
  it.each(rows)("$title", (row) => {
    expectConfigError(() => ClusterEncryptionKey.fromKeyArn(row.props), row);
  });

  it.each([
    ["a standard key ARN", IDS.kmsKeyArn],
    ["a multi-Region key ARN", "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"],
    ["a key ARN in aws-cn", "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
    ["a key ARN in aws-us-gov", "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
    ["a token", Lazy.stringValue({ produce: () => IDS.kmsKeyArn })],
  ])("accepts %s", (_, arn) => {
    expect(ClusterEncryptionKey.fromKeyArn(arn).keyArn).toBe(arn);
  });
});

describe("ClusterEncryptionKey refuses bad input with a ConfigError", () => {
  const rows: BadInput<Partial<ClusterEncryptionKeyProps>>[] = [
    { title: "refuses a 6-day deletion window", props: { deletionWindowDays: 6 }, prop: "deletionWindowDays", value: 6, fix: /use 30/ },
    { title: "refuses a 31-day deletion window", props: { deletionWindowDays: 31 }, prop: "deletionWindowDays", value: 31 },
    { title: "refuses a zero-day deletion window", props: { deletionWindowDays: 0 }, prop: "deletionWindowDays", value: 0 },
    { title: "refuses a fractional deletion window", props: { deletionWindowDays: 7.5 }, prop: "deletionWindowDays", value: 7.5 },
  ];
  it.each(rows)("$title", (row) => {
    expectConfigError(() => new ClusterEncryptionKey(scope(), "Key", { clusterName: "prod", ...row.props }), row);
  });

  it.each([7, 30])("accepts a %i-day deletion window", (days) => {
    const json = synth((s) => new ClusterEncryptionKey(s, "Key", { clusterName: "prod", deletionWindowDays: days }));
    expect(only(json, "aws_kms_key").props).toMatchObject({ deletion_window_in_days: days, enable_key_rotation: true });
    expect(only(json, "aws_kms_alias").props.name).toBe("alias/prod-control-plane");
  });
});
