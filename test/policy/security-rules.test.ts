/**
 * Issue 14's policy-pack rules for what users' own stacks can reintroduce: an AWS managed policy on
 * a node role (HA-IAM1), a backup bucket nodes write to without Object Lock (HA-BKP1), and the
 * super-admin (`system:masters`) key in a Terraform output (HA-OUT1). Each on a violating and a
 * compliant stack built with the library's own constructs where they exist.
 */
import { DataAwsIamPolicy } from "@cdktf/provider-aws/lib/data-aws-iam-policy";
import { IamPolicyAttachment } from "@cdktf/provider-aws/lib/iam-policy-attachment";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketObjectLockConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration";
import { CertRequest } from "@cdktf/provider-tls/lib/cert-request";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { TerraformLocal } from "cdktf";
import { Fn, TerraformOutput, TerraformStack } from "../../lib/core";
import { EtcdBackups, NodeRole } from "../../lib";
import { BACKUP_BUCKET_OBJECT_LOCK, HA_POLICY_RULES, NODE_ROLE_MANAGED_POLICY, PolicyRule, SUPER_ADMIN_OUTPUT } from "../../lib/policy";
import { runPack } from "./helpers";

const KEY = "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555";

function findings(rule: PolicyRule, build: (s: TerraformStack) => void): string[] {
  return runPack(build, { rules: [rule] }).pack.findings.map((f) => `${f.ruleId} ${f.level}: ${f.reason}`);
}

describe("HA-IAM1: AWS managed policies on node roles", () => {
  const SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";

  it("is in the pack", () => expect(HA_POLICY_RULES).toContain(NODE_ROLE_MANAGED_POLICY));

  it("flags a managed policy attached to a node role by reference, by name, through aws_iam_policy_attachment and a data source", () => {
    const out = findings(NODE_ROLE_MANAGED_POLICY, (s) => {
      const role = new NodeRole(s, "Api", { clusterName: "prod", nodeRole: "apiserver" });
      new IamRolePolicyAttachment(s, "Ssm", { role: role.role.name, policyArn: SSM_CORE });
      new IamRolePolicyAttachment(s, "Cw", { role: "prod-apiserver", policyArn: "arn:${data.aws_partition.p.partition}:iam::aws:policy/CloudWatchAgentServerPolicy" });
      const etcd = new NodeRole(s, "Etcd", { clusterName: "prod", nodeRole: "etcd-0" });
      const admin = new DataAwsIamPolicy(s, "Admin", { arn: "arn:aws:iam::aws:policy/AdministratorAccess" });
      new IamPolicyAttachment(s, "Everyone", { name: "admins", roles: [etcd.role.name], policyArn: admin.arn });
    });
    expect(out).toHaveLength(3);
    expect(out.every((f) => f.startsWith("HA-IAM1 error"))).toBe(true);
    expect(out.join("\n")).toMatch(/AmazonSSMManagedInstanceCore.*prod-apiserver/);
    expect(out.join("\n")).toMatch(/AdministratorAccess.*prod-etcd-0/);
  });

  it("flags managed_policy_arns on a node role", () => {
    const out = findings(NODE_ROLE_MANAGED_POLICY, (s) => {
      const role = new NodeRole(s, "Api", { clusterName: "prod", nodeRole: "apiserver" });
      role.role.managedPolicyArns = [SSM_CORE];
    });
    expect(out).toEqual([expect.stringMatching(/^HA-IAM1 error: node role prod-apiserver .*AmazonSSMManagedInstanceCore/)]);
  });

  it("passes node roles with inline statements only, customer managed policies, and managed policies on roles that are not node roles", () => {
    const out = findings(NODE_ROLE_MANAGED_POLICY, (s) => {
      const role = new NodeRole(s, "Api", { clusterName: "prod", nodeRole: "apiserver" });
      role.addStatement({ sid: "Extra", actions: ["s3:GetObject"], resources: ["arn:aws:s3:::mine/*"] });
      new IamRolePolicyAttachment(s, "Own", { role: role.role.name, policyArn: "arn:aws:iam::111122223333:policy/prod-extra" });
      const lambda = new IamRole(s, "Lambda", {
        name: "ops-lambda",
        assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] }),
        tags: { "ha-control-plane/cluster": "prod" },
      });
      new IamRolePolicyAttachment(s, "Basic", { role: lambda.name, policyArn: "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" });
    });
    expect(out).toEqual([]);
  });
});

describe("HA-BKP1: backup buckets without Object Lock", () => {
  it("is in the pack", () => expect(HA_POLICY_RULES).toContain(BACKUP_BUCKET_OBJECT_LOCK));

  it("flags a bucket a node role writes to without Object Lock, and one with Object Lock but no default retention", () => {
    const out = findings(BACKUP_BUCKET_OBJECT_LOCK, (s) => {
      const role = new NodeRole(s, "Etcd", { clusterName: "prod", nodeRole: "etcd-0" });
      const plain = new S3Bucket(s, "Plain", { bucket: "prod-my-snapshots" });
      role.addStatement({ sid: "MySnapshots", actions: ["s3:PutObject"], resources: [`${plain.arn}/etcd/*`] });
      const noRetention = new S3Bucket(s, "NoRetention", { bucket: "prod-locked-no-retention", objectLockEnabled: true });
      role.addStatement({ sid: "Other", actions: ["s3:Put*"], resources: ["arn:aws:s3:::prod-locked-no-retention/*"] });
      void noRetention;
    });
    expect(out).toHaveLength(2);
    expect(out.join("\n")).toMatch(/HA-BKP1 error: bucket prod-my-snapshots .* written by node role prod-etcd-0.* has no Object Lock/);
    expect(out.join("\n")).toMatch(/prod-locked-no-retention .* no default retention/);
  });

  it("passes the library's EtcdBackups bucket, a locked bucket with a default retention, and buckets nodes only read", () => {
    const out = findings(BACKUP_BUCKET_OBJECT_LOCK, (s) => {
      const role = new NodeRole(s, "Etcd", { clusterName: "prod", nodeRole: "etcd-0" });
      new EtcdBackups(s, "Backups", { clusterName: "prod", encryptionKey: { keyArn: KEY } }).grantReadWrite(role);
      const locked = new S3Bucket(s, "Locked", { bucket: "prod-mine-locked", objectLockEnabled: true });
      new S3BucketObjectLockConfigurationA(s, "Lock", { bucket: locked.id, rule: { defaultRetention: { mode: "GOVERNANCE", days: 30 } } });
      role.addStatement({ sid: "Mine", actions: ["s3:PutObject"], resources: [`${locked.arn}/*`] });
      const readOnly = new S3Bucket(s, "Config", { bucket: "prod-config" });
      role.addStatement({ sid: "ReadConfig", actions: ["s3:GetObject"], resources: [`${readOnly.arn}/*`] });
    });
    expect(out).toEqual([]);
  });
});

describe("HA-OUT1: super-admin credentials in outputs", () => {
  function superAdmin(s: TerraformStack, organization = "system:masters"): PrivateKey {
    const key = new PrivateKey(s, "SuperAdminKey", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    new CertRequest(s, "SuperAdminCsr", { privateKeyPem: key.privateKeyPem, subject: [{ commonName: "kubernetes-super-admin", organization }] });
    return key;
  }

  it("is in the pack", () => expect(HA_POLICY_RULES).toContain(SUPER_ADMIN_OUTPUT));

  it("flags the system:masters key in an output, sensitive or not, directly or inside a kubeconfig built through a local", () => {
    const direct = findings(SUPER_ADMIN_OUTPUT, (s) => {
      const key = superAdmin(s);
      new TerraformOutput(s, "super_admin_key", { value: key.privateKeyPem, sensitive: true });
    });
    expect(direct).toEqual([expect.stringMatching(/^HA-OUT1 error: the system:masters key tls_private_key\.\S+ is in output super_admin_key$/)]);
    const viaLocal = findings(SUPER_ADMIN_OUTPUT, (s) => {
      const key = superAdmin(s);
      const kubeconfig = new TerraformLocal(s, "kubeconfig", Fn.yamlencode({ users: [{ name: "root", user: { "client-key-data": Fn.base64encode(key.privateKeyPem) } }] }));
      new TerraformOutput(s, "admin_kubeconfig", { value: kubeconfig.expression, sensitive: true });
    });
    expect(viaLocal).toHaveLength(1);
  });

  it("passes a system:masters key kept out of outputs, and an RBAC-revocable admin's key in a sensitive output", () => {
    const out = findings(SUPER_ADMIN_OUTPUT, (s) => {
      const masters = superAdmin(s);
      new TerraformOutput(s, "super_admin_public_key", { value: masters.publicKeyPem });
      const admin = new PrivateKey(s, "AdminKey", { algorithm: "ECDSA", ecdsaCurve: "P256" });
      new CertRequest(s, "AdminCsr", { privateKeyPem: admin.privateKeyPem, subject: [{ commonName: "kubernetes-admin", organization: "kubeadm:cluster-admins" }] });
      new TerraformOutput(s, "admin_key", { value: admin.privateKeyPem, sensitive: true });
    });
    expect(out).toEqual([]);
  });
});
