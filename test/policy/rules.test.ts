/**
 * Every rule on small fixtures: at least one compliant and one non-compliant stack each, run
 * through the aspect with only that rule, asserting the findings' rule id and level.
 */
import { gzipSync } from "zlib";
import { Construct } from "constructs";
import { EbsEncryptionByDefault } from "@cdktf/provider-aws/lib/ebs-encryption-by-default";
import { EbsVolume } from "@cdktf/provider-aws/lib/ebs-volume";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { S3AccountPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-account-public-access-block";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { SecurityGroupRule } from "@cdktf/provider-aws/lib/security-group-rule";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { CertRequest } from "@cdktf/provider-tls/lib/cert-request";
import { LocallySignedCert, LocallySignedCertConfig } from "@cdktf/provider-tls/lib/locally-signed-cert";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { SelfSignedCert, SelfSignedCertConfig } from "@cdktf/provider-tls/lib/self-signed-cert";
import { Fn, TerraformOutput, TerraformStack } from "../../lib/core";
import {
  API_HEALTH_CHECK,
  BUCKET_ENCRYPTION,
  BUCKET_PUBLIC_ACCESS,
  ETCD_MEMBER_COUNT,
  ETCD_PORT_EXPOSURE,
  IMDS_V1,
  LEAF_CERTIFICATE_RENEWAL,
  LEAF_CERTIFICATE_VALIDITY,
  PRIVATE_KEY_IN_USER_DATA,
  PolicyRule,
  SHUTDOWN_DELAY,
  SINGLE_ZONE,
  UNENCRYPTED_VOLUME,
  WORLD_OPEN_INGRESS,
} from "../../lib/policy";
import { READYZ, apiTargetGroup, etcdVolume, group, ingress, launchTemplate, roleGroup, shutdownDelayOutput, subnet, zoneLookup } from "./fixtures";
import { runPack } from "./helpers";

/** `rule level` of each finding of `rule` alone on the stack `build` makes. */
function check(rule: PolicyRule, build: (s: TerraformStack) => void): string[] {
  const run = runPack(build, { rules: [rule] });
  return run.pack.findings.map((f) => `${f.ruleId} ${f.level}`);
}

/** Findings (reasons) of `rule` alone. */
function reasons(rule: PolicyRule, build: (s: TerraformStack) => void): string[] {
  return runPack(build, { rules: [rule] }).pack.findings.map((f) => f.reason);
}

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

interface Case {
  readonly title: string;
  readonly build: (s: TerraformStack) => void;
  /** Findings expected (non-compliant cases). @default 1 */
  readonly findings?: number;
}

/** Declares the compliant and non-compliant cases of one rule. */
function rule(r: PolicyRule, compliant: Case[], nonCompliant: Case[]): void {
  describe(`${r.id} (${r.level})`, () => {
    it.each(compliant.map((c) => [c.title, c] as const))("passes: %s", (_t, c) => {
      expect(check(r, c.build)).toEqual([]);
    });
    it.each(nonCompliant.map((c) => [c.title, c] as const))("reports: %s", (_t, c) => {
      expect(check(r, c.build)).toEqual(Array(c.findings ?? 1).fill(`${r.id} ${r.level}`));
    });
  });
}

rule(
  WORLD_OPEN_INGRESS,
  [
    { title: "0.0.0.0/0 on 6443 of the API load-balancer group", build: (s) => ingress(s, "Public", group(s, "Lb", "api-lb"), 6443, { cidr: "0.0.0.0/0" }) },
    { title: "a client network on 22 of an API-server group", build: (s) => ingress(s, "Ssh", group(s, "Api", "apiserver"), 22, { cidr: "10.20.0.0/16" }) },
    { title: "a group that allows nothing world-open (inline)", build: (s) => new SecurityGroup(s, "G", { vpcId: "vpc-1", ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["10.0.0.0/8"] }] }) },
  ],
  [
    { title: "0.0.0.0/0 on 22 of an API-server group", build: (s) => ingress(s, "Ssh", group(s, "Api", "apiserver"), 22, { cidr: "0.0.0.0/0" }) },
    { title: "::/0 on 6443 of the API-server group (not the load balancer)", build: (s) => ingress(s, "Api6", group(s, "Api", "apiserver"), 6443, { cidr6: "::/0" }) },
    { title: "0.0.0.0/0 on a port range of the load-balancer group", build: (s) => ingress(s, "Range", group(s, "Lb", "api-lb"), [443, 6443], { cidr: "0.0.0.0/0" }) },
    {
      title: "all traffic from 0.0.0.0/0 through a legacy aws_security_group_rule",
      build: (s) => new SecurityGroupRule(s, "Legacy", { type: "ingress", securityGroupId: group(s, "Nodes", "nodes").id, protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }),
    },
    { title: "an inline ingress block open to the world", build: (s) => new SecurityGroup(s, "G", { vpcId: "vpc-1", ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] }] }) },
    { title: "6443 world-open on a group declared outside the stack", build: (s) => new SecurityGroupRule(s, "Ext", { type: "ingress", securityGroupId: "sg-0123456789abcdef0", protocol: "tcp", fromPort: 6443, toPort: 6443, cidrBlocks: ["0.0.0.0/0"] }) },
  ],
);

/** An etcd member template carrying the etcd group, and an API-server one (stacked: both groups). */
function etcdGroups(s: Construct, stacked = false): { etcd: SecurityGroup; api: SecurityGroup; nodes: SecurityGroup } {
  const etcd = group(s, "Etcd", "etcd");
  const api = group(s, "Api", "apiserver");
  const nodes = group(s, "Nodes", "nodes");
  launchTemplate(s, "EtcdTemplate", { vpcSecurityGroupIds: [etcd.id] });
  launchTemplate(s, "ApiTemplate", { vpcSecurityGroupIds: stacked ? [api.id, etcd.id] : [api.id] });
  return { etcd, api, nodes };
}

rule(
  ETCD_PORT_EXPOSURE,
  [
    {
      title: "2379 from API servers and members, 2380 from members",
      build: (s) => {
        const g = etcdGroups(s);
        ingress(s, "ClientFromApi", g.etcd, 2379, { group: g.api });
        ingress(s, "ClientFromEtcd", g.etcd, 2379, { group: g.etcd });
        ingress(s, "PeerFromEtcd", g.etcd, 2380, { group: g.etcd });
        ingress(s, "Mtu", g.etcd, [3, 4], { cidr: "10.0.0.0/16" }, { ipProtocol: "icmp" });
      },
    },
    {
      title: "a CIDR on 2379 of a worker group that protects no etcd",
      build: (s) => ingress(s, "WorkerAll", etcdGroups(s).nodes, [0, 65535], { cidr: "10.0.0.0/16" }),
    },
    {
      title: "self-referencing legacy rule on the etcd group",
      build: (s) => new SecurityGroupRule(s, "Self", { type: "ingress", securityGroupId: etcdGroups(s).etcd.id, protocol: "tcp", fromPort: 2380, toPort: 2380, selfAttribute: true }),
    },
  ],
  [
    {
      title: "2379 from the worker group",
      build: (s) => {
        const g = etcdGroups(s);
        ingress(s, "FromWorkers", g.etcd, 2379, { group: g.nodes });
      },
    },
    { title: "all traffic from the VPC CIDR on the etcd group", build: (s) => ingress(s, "Vpc", etcdGroups(s).etcd, 0, { cidr: "10.0.0.0/16" }, { ipProtocol: "-1", fromPort: undefined, toPort: undefined }) },
    { title: "2380 from a CIDR on a stacked API-server group", build: (s) => ingress(s, "Peer", etcdGroups(s, true).api, 2380, { cidr: "10.0.0.0/16" }) },
    { title: "a port range covering 2379 from a group outside the stack", build: (s) => ingress(s, "Ext", etcdGroups(s).etcd, [2000, 3000], {}, { referencedSecurityGroupId: "sg-0123456789abcdef0" }) },
  ],
);

rule(
  IMDS_V1,
  [
    { title: 'a launch template with http_tokens "required"', build: (s) => launchTemplate(s, "Lt") },
    { title: "a launch template with the metadata endpoint disabled", build: (s) => launchTemplate(s, "Lt", { metadataOptions: { httpEndpoint: "disabled" } }) },
    {
      title: "an instance launched from a compliant template",
      build: (s) => new Instance(s, "Vm", { launchTemplate: { id: launchTemplate(s, "Lt").id }, rootBlockDevice: { encrypted: true } }),
    },
  ],
  [
    { title: 'a launch template with http_tokens "optional"', build: (s) => launchTemplate(s, "Lt", { metadataOptions: { httpTokens: "optional" } }) },
    { title: "a launch template without metadata_options", build: (s) => launchTemplate(s, "Lt", { metadataOptions: undefined }) },
    { title: "an instance without metadata_options or template", build: (s) => new Instance(s, "Vm", { ami: "ami-0a422d70f727fe93e", instanceType: "t3.micro" }) },
    {
      title: "an instance launched from a template that allows IMDSv1 (both reported)",
      build: (s) => new Instance(s, "Vm", { launchTemplate: { id: launchTemplate(s, "Lt", { metadataOptions: { httpTokens: "optional" } }).id } }),
      findings: 2,
    },
  ],
);

rule(
  UNENCRYPTED_VOLUME,
  [
    { title: "an encrypted EBS volume", build: (s) => new EbsVolume(s, "V", { availabilityZone: "eu-west-1a", size: 10, encrypted: true }) },
    { title: "a launch template with an encrypted root", build: (s) => launchTemplate(s, "Lt") },
    {
      title: "a volume without `encrypted` under EBS encryption by default",
      build: (s) => {
        new EbsEncryptionByDefault(s, "AccountDefault", { enabled: true });
        new EbsVolume(s, "V", { availabilityZone: "eu-west-1a", size: 10 });
      },
    },
    { title: "an instance with an encrypted root", build: (s) => new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", rootBlockDevice: { encrypted: true } }) },
  ],
  [
    { title: "an EBS volume with encrypted = false", build: (s) => new EbsVolume(s, "V", { availabilityZone: "eu-west-1a", size: 10, encrypted: false }) },
    { title: "an EBS volume without `encrypted`", build: (s) => new EbsVolume(s, "V", { availabilityZone: "eu-west-1a", size: 10 }) },
    { title: "a launch template without block devices", build: (s) => launchTemplate(s, "Lt", { blockDeviceMappings: [] }) },
    {
      title: "a launch template whose data volume is unencrypted",
      build: (s) => launchTemplate(s, "Lt", { blockDeviceMappings: [{ deviceName: "/dev/sda1", ebs: { encrypted: "true" } }, { deviceName: "/dev/sdf", ebs: { volumeSize: 100 } }] }),
    },
    { title: "an instance with an unencrypted root", build: (s) => new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", rootBlockDevice: { encrypted: false } }) },
  ],
);

rule(
  PRIVATE_KEY_IN_USER_DATA,
  [
    { title: "literal cloud-config user data", build: (s) => launchTemplate(s, "Lt", { userData: b64("#cloud-config\npackages: [chrony]\n") }) },
    {
      title: "user data naming the SSM parameter that holds the key (fetched at boot)",
      build: (s) => {
        const key = new PrivateKey(s, "Key", { algorithm: "ED25519" });
        const param = new SsmParameter(s, "Param", { name: "/c1/node-key", type: "SecureString", value: key.privateKeyPem });
        new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userData: `#!/bin/sh\naws ssm get-parameter --name ${param.name} --with-decryption\n` });
      },
    },
    {
      title: "user data carrying the public key",
      build: (s) => launchTemplate(s, "Lt", { userData: Fn.base64encode(`ssh_authorized_keys: [${new PrivateKey(s, "Key", { algorithm: "ED25519" }).publicKeyOpenssh}]`) }),
    },
  ],
  [
    {
      title: "user data interpolating tls_private_key.private_key_pem",
      build: (s) => launchTemplate(s, "Lt", { userData: Fn.base64encode(`write_files:\n- content: ${new PrivateKey(s, "Key", { algorithm: "RSA" }).privateKeyPem}\n`) }),
    },
    {
      title: "user data interpolating an SSM parameter value that is the key",
      build: (s) => {
        const key = new PrivateKey(s, "Key", { algorithm: "ED25519" });
        const param = new SsmParameter(s, "Param", { name: "/c1/node-key", type: "SecureString", value: key.privateKeyPem });
        new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userData: `#!/bin/sh\necho '${param.value}' > /etc/key.pem\n` });
      },
    },
    {
      title: "gzip-compressed base64 user data (as the library encodes it) with a literal PEM private key",
      build: (s) => launchTemplate(s, "Lt", { userData: gzipSync(Buffer.from("#!/bin/sh\necho '-----BEGIN PRIVATE KEY-----' > /k\n")).toString("base64") }),
    },
    {
      title: "base64 user data with a literal PEM private key",
      build: (s) => launchTemplate(s, "Lt", { userData: b64("#!/bin/sh\ncat > /etc/k.pem <<EOF\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE...\n-----END EC PRIVATE KEY-----\nEOF\n") }),
    },
  ],
);

rule(
  BUCKET_ENCRYPTION,
  [
    {
      title: "a bucket with an SSE configuration referencing it",
      build: (s) => {
        const bucket = new S3Bucket(s, "B", { bucket: "c1-etcd-backups" });
        new S3BucketServerSideEncryptionConfigurationA(s, "Sse", { bucket: bucket.id, rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }] });
      },
    },
    {
      title: "a bucket with an SSE configuration naming it literally",
      build: (s) => {
        new S3Bucket(s, "B", { bucket: "c1-etcd-backups" });
        new S3BucketServerSideEncryptionConfigurationA(s, "Sse", { bucket: "c1-etcd-backups", rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] });
      },
    },
  ],
  [
    { title: "a bucket without SSE configuration", build: (s) => new S3Bucket(s, "B", { bucket: "c1-etcd-backups" }) },
    {
      title: "a bucket whose SSE configuration belongs to another bucket",
      build: (s) => {
        new S3Bucket(s, "B", { bucket: "c1-etcd-backups" });
        const other = new S3Bucket(s, "Other", { bucket: "c1-logs" });
        new S3BucketServerSideEncryptionConfigurationA(s, "Sse", { bucket: other.bucket, rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" } }] });
      },
    },
  ],
);

const ALL_BLOCKED = { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true };
rule(
  BUCKET_PUBLIC_ACCESS,
  [
    { title: "a bucket with all four public-access settings on", build: (s) => new S3BucketPublicAccessBlock(s, "Pab", { bucket: new S3Bucket(s, "B", { bucket: "c1-backups" }).id, ...ALL_BLOCKED }) },
    {
      title: "a bucket under an account-level public access block",
      build: (s) => {
        new S3Bucket(s, "B", { bucket: "c1-backups" });
        new S3AccountPublicAccessBlock(s, "Account", ALL_BLOCKED);
      },
    },
  ],
  [
    { title: "a bucket without public access block", build: (s) => new S3Bucket(s, "B", { bucket: "c1-backups" }) },
    {
      title: "a bucket whose block leaves restrict_public_buckets off",
      build: (s) => new S3BucketPublicAccessBlock(s, "Pab", { bucket: new S3Bucket(s, "B", { bucket: "c1-backups" }).id, ...ALL_BLOCKED, restrictPublicBuckets: false }),
    },
  ],
);

/** Three private subnets of the given zones. */
function subnets(s: Construct, zones: string[]) {
  return zones.map((z, i) => subnet(s, `Private${i}`, z, i));
}

rule(
  SINGLE_ZONE,
  [
    { title: "API servers over three zones", build: (s) => roleGroup(s, "Api", "apiserver", subnets(s, ["eu-west-1a", "eu-west-1b", "eu-west-1c"])) },
    {
      title: "etcd members in three zones (one group each) and their volumes",
      build: (s) => {
        subnets(s, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]).forEach((sn, i) => {
          roleGroup(s, `Etcd${i}`, "etcd", [sn]);
          etcdVolume(s, `Data${i}`, ["eu-west-1a", "eu-west-1b", "eu-west-1c"][i]);
        });
      },
    },
    {
      title: "zones looked up at plan time (distinct indexes of aws_availability_zones, at least 3 guaranteed)",
      build: (s) => {
        const zones = zoneLookup(s, "Zones", 3);
        roleGroup(s, "Api", "apiserver", subnets(s, [0, 1, 2].map((i) => Fn.element(zones.names, i))));
      },
    },
    { title: "subnets outside the stack (zones unknown: not applicable)", build: (s) => roleGroup(s, "Api", "apiserver", ["subnet-0aaaaaaaaaaaaaaa1"]) },
    { title: "a worker group in one zone (not control plane)", build: (s) => roleGroup(s, "Workers", "nodes", subnets(s, ["eu-west-1a"])) },
  ],
  [
    { title: "API servers in a single zone", build: (s) => roleGroup(s, "Api", "apiserver", subnets(s, ["eu-west-1a"])) },
    {
      title: "three etcd volumes in the same zone (reported once)",
      build: (s) => [0, 1, 2].forEach((i) => etcdVolume(s, `Data${i}`, "eu-west-1a")),
    },
    {
      title: "two subnets of the same zone",
      build: (s) => roleGroup(s, "Api", "apiserver", subnets(s, ["eu-west-1a", "eu-west-1a"])),
    },
  ],
);

rule(
  ETCD_MEMBER_COUNT,
  [
    { title: "3 etcd data volumes", build: (s) => [0, 1, 2].forEach((i) => etcdVolume(s, `Data${i}`, `eu-west-1${"abc"[i]}`)) },
    { title: "5 etcd data volumes through count", build: (s) => etcdVolume(s, "Data", "eu-west-1a", { count: 5 }) },
    {
      title: "two clusters of 3 in one stack",
      build: (s) => [0, 1, 2].forEach((i) => ["a", "b"].forEach((c) => etcdVolume(s, `Data${c}${i}`, "eu-west-1a", { cluster: c }))),
    },
  ],
  [
    { title: "4 etcd data volumes (reported once)", build: (s) => [0, 1, 2, 3].forEach((i) => etcdVolume(s, `Data${i}`, "eu-west-1a")) },
    { title: "2 volumes through count", build: (s) => etcdVolume(s, "Data", "eu-west-1a", { count: 2 }) },
  ],
);

rule(
  API_HEALTH_CHECK,
  [
    { title: "HTTPS /readyz on the API target group", build: (s) => apiTargetGroup(s, "Tg", READYZ) },
    { title: "an HTTP / check on a non-API target group", build: (s) => apiTargetGroup(s, "Web", { protocol: "HTTP", path: "/" }, 80) },
  ],
  [
    { title: "a TCP check on the API target group", build: (s) => apiTargetGroup(s, "Tg", { protocol: "TCP", interval: 10 }) },
    { title: "no health check on the API target group", build: (s) => apiTargetGroup(s, "Tg") },
    { title: "HTTPS /healthz", build: (s) => apiTargetGroup(s, "Tg", { ...READYZ, path: "/healthz" }) },
    {
      title: "a TCP check on a target group listed in api_target_group_arns (any port)",
      build: (s) => new TerraformOutput(s, "api_target_group_arns", { value: [apiTargetGroup(s, "Tg", { protocol: "TCP" }, 443).arn] }),
    },
  ],
);

rule(
  SHUTDOWN_DELAY,
  [
    {
      title: "a 20 s delay behind 5 s × 2 detection",
      build: (s) => {
        apiTargetGroup(s, "Tg", READYZ);
        shutdownDelayOutput(s, 20);
      },
    },
    {
      title: "exactly the detection time",
      build: (s) => {
        apiTargetGroup(s, "Tg", READYZ);
        shutdownDelayOutput(s, 10);
      },
    },
    { title: "no shutdown-delay output (not applicable)", build: (s) => apiTargetGroup(s, "Tg", READYZ) },
  ],
  [
    {
      title: "a 5 s delay behind 5 s × 2 detection",
      build: (s) => {
        apiTargetGroup(s, "Tg", READYZ);
        shutdownDelayOutput(s, 5);
      },
    },
    {
      title: "a 60 s delay behind the provider defaults (30 s × 3)",
      build: (s) => {
        apiTargetGroup(s, "Tg", { protocol: "HTTPS", path: "/readyz" });
        shutdownDelayOutput(s, "60");
      },
    },
  ],
);

/** A CA and a leaf it signs. */
function leaf(s: Construct, cert: Partial<LocallySignedCertConfig>, ca: Partial<SelfSignedCertConfig> = {}): void {
  const caKey = new PrivateKey(s, "CaKey", { algorithm: "ECDSA" });
  const caCert = new SelfSignedCert(s, "Ca", {
    privateKeyPem: caKey.privateKeyPem,
    isCaCertificate: true,
    validityPeriodHours: 87600,
    earlyRenewalHours: 8760,
    allowedUses: ["cert_signing", "crl_signing"],
    subject: [{ commonName: "kubernetes-ca" }],
    ...ca,
  });
  const key = new PrivateKey(s, "Key", { algorithm: "ECDSA" });
  const csr = new CertRequest(s, "Csr", { privateKeyPem: key.privateKeyPem, subject: [{ commonName: "kube-apiserver" }] });
  new LocallySignedCert(s, "Cert", {
    certRequestPem: csr.certRequestPem,
    caPrivateKeyPem: caKey.privateKeyPem,
    caCertPem: caCert.certPem,
    validityPeriodHours: 8760,
    earlyRenewalHours: 720,
    allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
    ...cert,
  });
}

rule(
  LEAF_CERTIFICATE_VALIDITY,
  [
    { title: "a 1-year leaf under a 10-year CA", build: (s) => leaf(s, {}) },
    { title: "a 90-day leaf", build: (s) => leaf(s, { validityPeriodHours: 2160, earlyRenewalHours: 360 }) },
  ],
  [
    { title: "a 2-year leaf", build: (s) => leaf(s, { validityPeriodHours: 17520 }) },
    {
      title: "a self-signed leaf valid for 5 years",
      build: (s) =>
        new SelfSignedCert(s, "Leaf", { privateKeyPem: new PrivateKey(s, "K", { algorithm: "ED25519" }).privateKeyPem, validityPeriodHours: 43800, earlyRenewalHours: 720, allowedUses: ["server_auth"] }),
    },
  ],
);

rule(
  LEAF_CERTIFICATE_RENEWAL,
  [
    { title: "a leaf renewed 30 days early", build: (s) => leaf(s, {}) },
    { title: "a CA without early renewal (not a leaf)", build: (s) => leaf(s, {}, { earlyRenewalHours: undefined }) },
  ],
  [
    { title: "a leaf without early_renewal_hours", build: (s) => leaf(s, { earlyRenewalHours: undefined }) },
    { title: "a leaf with early_renewal_hours = 0", build: (s) => leaf(s, { earlyRenewalHours: 0 }) },
    { title: "a leaf whose renewal window is its whole validity", build: (s) => leaf(s, { validityPeriodHours: 720, earlyRenewalHours: 720 }) },
  ],
);

describe("finding messages", () => {
  it("name what is wrong and how to fix it: [RULE-ID] reason: fix", () => {
    const run = runPack((s) => ingress(s, "Ssh", group(s, "Api", "apiserver"), 22, { cidr: "0.0.0.0/0" }), { rules: [WORLD_OPEN_INGRESS] });
    const [finding] = run.pack.findings;
    expect(finding.message).toBe(`[HA-SG1] ${finding.reason}: ${WORLD_OPEN_INGRESS.fix}`);
    expect(finding.reason).toMatch(/api \(aws_security_group\.Api\) \(role apiserver\) allows ingress of tcp 22 from 0\.0\.0\.0\/0/);
    expect(finding.address).toMatch(/^aws_vpc_security_group_ingress_rule\.Ssh/);
    expect(finding.path).toBe("policy/Ssh");
  });

  it("explain how a private key reaches user data", () => {
    const found = reasons(PRIVATE_KEY_IN_USER_DATA, (s) => {
      const key = new PrivateKey(s, "Key", { algorithm: "ED25519" });
      const param = new SsmParameter(s, "Param", { name: "/k", type: "SecureString", value: key.privateKeyPem });
      launchTemplate(s, "Lt", { userData: Fn.base64encode(`KEY='${param.value}'`) });
    });
    expect(found).toEqual([expect.stringMatching(/^user_data references aws_ssm_parameter\.Param\.value, which references tls_private_key\.Key\.private_key_pem$/)]);
  });

  it("give the zone and the count", () => {
    expect(reasons(SINGLE_ZONE, (s) => [0, 1, 2].forEach((i) => etcdVolume(s, `Data${i}`, "eu-west-1a")))).toEqual([
      "etcd members of cluster c1 (3 resource(s)) are all in one zone (eu-west-1a)",
    ]);
    expect(reasons(SHUTDOWN_DELAY, (s) => (apiTargetGroup(s, "Tg", READYZ), shutdownDelayOutput(s, 5)))).toEqual([
      "api_shutdown_delay_seconds is 5 s but the load balancer needs 10 s (5 s × 2) to stop routing to a shutting-down API server",
    ]);
  });
});
