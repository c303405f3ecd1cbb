/**
 * Finding 6 (issue 14): node credentials used from elsewhere, and one node's role reaching another
 * slot's secret. Requests are decided by the IAM evaluator (test/helpers/iam-eval.ts, written from
 * AWS's documented evaluation logic) over the synthesized role policies and secret resource
 * policies. The request contexts follow AWS's documentation of the global condition keys:
 * `aws:Ec2InstanceSourceVpc` is in every request signed with EC2 instance role credentials (the VPC
 * the credentials were delivered to); `aws:SourceVpc`/`aws:SourceVpce`/`aws:VpcSourceIp` only when
 * the request goes through a VPC endpoint; `aws:SourceIp` (the public source address) only when it
 * does not.
 */
import { ConfigError, ExistingNetwork, HaControlPlane } from "../../lib";
import { PolicyDocument, evaluate } from "../helpers/iam-eval";
import { SynthJson, resources, synth } from "../helpers/synth";

const ACCOUNT = "111122223333";
const VPC = "vpc-0a1b2c3d4e5f60718";
const NAT_IPS = ["203.0.113.10", "203.0.113.11", "203.0.113.12"];
const DEPLOYER = `arn:aws:iam::${ACCOUNT}:role/platform/terraform-deployer`;
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

/** Replaces Terraform references with what AWS would return for them. */
function resolver(json: SynthJson): (text: string) => string {
  return (text) =>
    text.replace(/\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}/g, (all, data: string | undefined, type: string, name: string, attr: string) => {
      const props = (data ? json.data : json.resource)?.[type]?.[name] as Record<string, string> | undefined;
      if (!props) throw new Error(`unresolvable ${all}`);
      if (data) {
        if (type === "aws_caller_identity" && attr === "account_id") return ACCOUNT;
        if (type === "aws_partition" && attr === "partition") return "aws";
        if (type === "aws_iam_session_context" && attr === "issuer_arn") return DEPLOYER;
        return `unresolved:${type}.${name}.${attr}`;
      }
      if (type === "aws_iam_role") return attr === "arn" ? `arn:aws:iam::${ACCOUNT}:role/${props.name}` : props.name;
      if (type === "aws_secretsmanager_secret" && attr === "arn") return `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:${props.name}-AbCdEf`;
      if (type === "aws_kms_key" && attr === "arn") return `arn:aws:kms:eu-west-1:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
      if (type === "aws_vpc" && attr === "id") return VPC;
      if (type === "aws_eip" && attr === "public_ip") return NAT_IPS[Number(/(\d+)_[0-9A-F]+$/i.exec(name)?.[1] ?? /(\d+)$/.exec(name)![1])];
      return `unresolved:${type}.${name}.${attr}`;
    });
}

interface Cluster {
  readonly json: SynthJson;
  readonly resolve: (text: string) => string;
  /** The identity policies of the role named `…<suffix>`. */
  identity(roleSuffix: string): PolicyDocument[];
  roleArn(roleSuffix: string): string;
  secretArn(slot: string): string;
  secretPolicy(slot: string): PolicyDocument;
}

function cluster(json: SynthJson): Cluster {
  const resolve = resolver(json);
  const role = (suffix: string) => {
    const found = resources(json, "aws_iam_role").filter((r) => String(r.props.name).endsWith(suffix));
    if (found.length !== 1) throw new Error(`${found.length} roles end with ${suffix}`);
    return found[0];
  };
  const secret = (slot: string) => resources(json, "aws_secretsmanager_secret").find((s) => s.props.tags?.["ha-control-plane/slot"] === slot)!;
  return {
    json,
    resolve,
    identity: (suffix) =>
      resources(json, "aws_iam_role_policy")
        .filter((p) => resolve(String(p.props.role)) === role(suffix).props.name)
        .map((p) => JSON.parse(resolve(String(p.props.policy))) as PolicyDocument),
    roleArn: (suffix) => `arn:aws:iam::${ACCOUNT}:role/${role(suffix).props.name}`,
    secretArn: (slot) => resolve(`\${aws_secretsmanager_secret.${secret(slot).name}.arn}`),
    secretPolicy: (slot) => {
      const ref = `\${aws_secretsmanager_secret.${secret(slot).name}.arn}`;
      const policies = resources(json, "aws_secretsmanager_secret_policy").filter((p) => p.props.secret_arn === ref);
      if (policies.length !== 1) throw new Error(`${policies.length} resource policies on the secret of ${slot}`);
      return JSON.parse(resolve(String(policies[0].props.policy))) as PolicyDocument;
    },
  };
}

// Request contexts as AWS builds them for a node's call (see the file comment).
const fromNodeViaNat = (ip = NAT_IPS[1]) => ({ "aws:Ec2InstanceSourceVpc": VPC, "aws:Ec2InstanceSourcePrivateIPv4": "10.0.1.10", "aws:SourceIp": ip });
const fromNodeViaEndpoint = () => ({ "aws:Ec2InstanceSourceVpc": VPC, "aws:Ec2InstanceSourcePrivateIPv4": "10.0.1.10", "aws:SourceVpc": VPC, "aws:SourceVpce": "vpce-0aaaabbbbccccdddd", "aws:VpcSourceIp": "10.0.1.10" });
const stolenFromInternet = () => ({ "aws:Ec2InstanceSourceVpc": VPC, "aws:Ec2InstanceSourcePrivateIPv4": "10.0.1.10", "aws:SourceIp": "198.51.100.7" });
const stolenViaForeignEndpoint = () => ({ "aws:Ec2InstanceSourceVpc": VPC, "aws:Ec2InstanceSourcePrivateIPv4": "10.0.1.10", "aws:SourceVpc": "vpc-0ffffeeeeddddcccc", "aws:SourceVpce": "vpce-0ffffeeeeddddcccc", "aws:VpcSourceIp": "172.16.0.9" });
// The role passed (iam:PassRole) to an instance in another VPC: its own credentials, its own NAT.
const passedToForeignInstance = () => ({ "aws:Ec2InstanceSourceVpc": "vpc-0ffffeeeeddddcccc", "aws:Ec2InstanceSourcePrivateIPv4": "172.16.0.9", "aws:SourceIp": NAT_IPS[0] });

const ADMIN_POLICY: PolicyDocument = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };

describe("node credentials outside the cluster's network (IAM policy simulation)", () => {
  const c = cluster(synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES })));

  const getSecret = (roleSuffix: string, slot: string, context: Record<string, string>) =>
    evaluate({ principalArn: c.roleArn(roleSuffix), action: "secretsmanager:GetSecretValue", resource: c.secretArn(slot), context }, c.identity(roleSuffix), c.secretPolicy(slot));

  it("lets a node read its secret through the public endpoint from the NAT gateways and through a VPC endpoint of its VPC", () => {
    expect(getSecret("etcd-0", "etcd-0", fromNodeViaNat())).toMatchObject({ allowed: true });
    expect(getSecret("etcd-0", "etcd-0", fromNodeViaEndpoint())).toMatchObject({ allowed: true });
    expect(getSecret("apiserver", "apiserver-1", fromNodeViaNat(NAT_IPS[2]))).toMatchObject({ allowed: true });
    expect(getSecret("apiserver", "apiserver-1", fromNodeViaEndpoint())).toMatchObject({ allowed: true });
  });

  it("refuses stolen node credentials used from the internet or through another VPC's endpoint", () => {
    for (const [suffix, slot] of [["etcd-0", "etcd-0"], ["apiserver", "apiserver-0"]]) {
      expect(getSecret(suffix, slot, stolenFromInternet())).toMatchObject({ allowed: false });
      expect(getSecret(suffix, slot, stolenViaForeignEndpoint())).toMatchObject({ allowed: false });
    }
  });

  it("refuses the node role passed to an instance outside the cluster's VPC", () => {
    expect(getSecret("etcd-1", "etcd-1", passedToForeignInstance())).toMatchObject({ allowed: false });
    expect(getSecret("apiserver", "apiserver-0", passedToForeignInstance())).toMatchObject({ allowed: false });
  });

  it("applies the same boundary to the node's other direct calls (slot claims, backups)", () => {
    const attach = (context: Record<string, string>) =>
      evaluate(
        {
          principalArn: c.roleArn("etcd-0"),
          action: "ec2:AttachNetworkInterface",
          resource: `arn:aws:ec2:eu-west-1:${ACCOUNT}:network-interface/eni-0123456789abcdef0`,
          context: { ...context, "ec2:ResourceTag/ha-control-plane/cluster": "prod", "ec2:ResourceTag/ha-control-plane/role": "etcd", "ec2:ResourceTag/ha-control-plane/slot": "etcd-0" },
        },
        c.identity("etcd-0"),
      ).allowed;
    expect(attach(fromNodeViaNat())).toBe(true);
    expect(attach(stolenFromInternet())).toBe(false);
  });

  it("still lets Secrets Manager decrypt for the node (a forward access session carries the service's network, not the node's)", () => {
    const decrypt = evaluate(
      {
        principalArn: c.roleArn("etcd-0"),
        action: "kms:Decrypt",
        resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`,
        context: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com", "aws:ViaAWSService": "true" },
      },
      c.identity("etcd-0"),
    );
    expect(decrypt.allowed).toBe(true);
  });

  it("keeps each role's inline policies within IAM's 10,240-character aggregate quota (whitespace not counted)", () => {
    for (const suffix of ["apiserver", "etcd-0"]) {
      const size = c.identity(suffix).reduce((n, doc) => n + JSON.stringify(doc).replace(/\s/g, "").length, 0);
      expect(size).toBeLessThan(10240);
    }
  });

  it("denies another slot's role a secret even when an account admin grants it everything", () => {
    const asEtcd1 = evaluate(
      { principalArn: c.roleArn("etcd-1"), action: "secretsmanager:GetSecretValue", resource: c.secretArn("etcd-0"), context: fromNodeViaNat() },
      [...c.identity("etcd-1"), ADMIN_POLICY],
      c.secretPolicy("etcd-0"),
    );
    expect(asEtcd1).toMatchObject({ allowed: false, reason: "explicit-deny" });
    const asApi = evaluate(
      { principalArn: c.roleArn("apiserver"), action: "secretsmanager:GetSecretValue", resource: c.secretArn("etcd-0"), context: fromNodeViaNat() },
      [...c.identity("apiserver"), ADMIN_POLICY],
      c.secretPolicy("etcd-0"),
    );
    expect(asApi).toMatchObject({ allowed: false, reason: "explicit-deny" });
  });

  it("denies other account principals with AdministratorAccess, but not the deployer or the root user", () => {
    const as = (principalArn: string, action: string) => evaluate({ principalArn, action, resource: c.secretArn("etcd-0") }, [ADMIN_POLICY], c.secretPolicy("etcd-0"));
    expect(as(`arn:aws:iam::${ACCOUNT}:role/ops-admin`, "secretsmanager:GetSecretValue")).toMatchObject({ allowed: false, reason: "explicit-deny" });
    expect(as(`arn:aws:iam::${ACCOUNT}:role/ops-admin`, "secretsmanager:DeleteResourcePolicy")).toMatchObject({ allowed: false, reason: "explicit-deny" });
    expect(as(`arn:aws:iam::${ACCOUNT}:role/ops-admin`, "secretsmanager:DescribeSecret")).toMatchObject({ allowed: true });
    for (const action of ["secretsmanager:PutSecretValue", "secretsmanager:PutResourcePolicy", "secretsmanager:GetSecretValue"]) {
      expect(as(DEPLOYER, action)).toMatchObject({ allowed: true });
      expect(as(ROOT, action)).toMatchObject({ allowed: true });
    }
  });

  it("denies the slot's own role every write to its secret, whatever else it is granted", () => {
    const put = evaluate(
      { principalArn: c.roleArn("etcd-0"), action: "secretsmanager:PutSecretValue", resource: c.secretArn("etcd-0"), context: fromNodeViaNat() },
      [...c.identity("etcd-0"), ADMIN_POLICY],
      c.secretPolicy("etcd-0"),
    );
    expect(put).toMatchObject({ allowed: false, reason: "explicit-deny" });
  });

  it("lets the secret admins be listed explicitly", () => {
    const other = `arn:aws:iam::${ACCOUNT}:role/break-glass`;
    const e = cluster(synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, secretAdminPrincipalArns: [other] })));
    const as = (principalArn: string) => evaluate({ principalArn, action: "secretsmanager:GetSecretValue", resource: e.secretArn("etcd-0") }, [ADMIN_POLICY], e.secretPolicy("etcd-0")).allowed;
    expect(as(other)).toBe(true);
    expect(as(DEPLOYER)).toBe(false);
  });

  it("refuses an assumed-role session ARN as a secret admin (it never matches aws:PrincipalArn)", () => {
    expect(() =>
      synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, secretAdminPrincipalArns: [`arn:aws:sts::${ACCOUNT}:assumed-role/deployer/session`] })),
    ).toThrow(ConfigError);
  });
});

describe("node credentials in an existing VPC", () => {
  const subnets = ZONES.map((z, i) => ({ subnetId: `subnet-0000000000000000${i}`, availabilityZone: z, cidrBlock: `10.1.${i * 16}.0/20` }));
  const network = (egressPublicIps?: string[]) => ExistingNetwork.fromAttributes({ vpcId: VPC, vpcCidr: "10.1.0.0/16", privateSubnets: subnets, egressPublicIps });

  it("checks the source address only when the egress addresses are given", () => {
    const known = cluster(synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", network: network(["198.51.100.128/28"]) })));
    const unknown = cluster(synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", network: network() })));
    const read = (k: Cluster, context: Record<string, string>) =>
      evaluate({ principalArn: k.roleArn("etcd-0"), action: "secretsmanager:GetSecretValue", resource: k.secretArn("etcd-0"), context }, k.identity("etcd-0"), k.secretPolicy("etcd-0")).allowed;
    expect(read(known, fromNodeViaNat("198.51.100.131"))).toBe(true);
    expect(read(known, stolenFromInternet())).toBe(false);
    expect(read(unknown, fromNodeViaNat("192.0.2.200"))).toBe(true);
    // What stays refused without egress addresses: another VPC's endpoint, another VPC's instance.
    expect(read(unknown, stolenViaForeignEndpoint())).toBe(false);
    expect(read(unknown, passedToForeignInstance())).toBe(false);
  });

  it("refuses a private address as an egress address", () => {
    expect(() => network(["10.1.0.5"])).toThrow(/egressPublicIps\[0\].*private/);
    expect(() => network(["not-an-ip"])).toThrow(ConfigError);
  });
});

describe("node credentials with vpcEndpoints: true (every AWS call through the cluster VPC's endpoints)", () => {
  const c = cluster(synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, vpcEndpoints: true })));
  const getSecret = (roleSuffix: string, slot: string, context: Record<string, string>) =>
    evaluate({ principalArn: c.roleArn(roleSuffix), action: "secretsmanager:GetSecretValue", resource: c.secretArn(slot), context }, c.identity(roleSuffix), c.secretPolicy(slot));

  it("allows a node's own secret through an endpoint of its VPC only", () => {
    expect(getSecret("etcd-0", "etcd-0", fromNodeViaEndpoint())).toMatchObject({ allowed: true });
    expect(getSecret("apiserver", "apiserver-0", fromNodeViaEndpoint())).toMatchObject({ allowed: true });
  });

  it("refuses the same node's call through the public endpoint, even from the NAT gateways", () => {
    expect(getSecret("etcd-0", "etcd-0", fromNodeViaNat())).toMatchObject({ allowed: false });
    expect(getSecret("apiserver", "apiserver-0", fromNodeViaNat())).toMatchObject({ allowed: false });
    expect(getSecret("etcd-0", "etcd-0", stolenViaForeignEndpoint())).toMatchObject({ allowed: false });
  });
});
