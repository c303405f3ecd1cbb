/**
 * Issue 14 finding 3: the cluster-objects stack (stack 2) gets its endpoint, CA and client
 * credentials from a Secrets Manager secret the control-plane stack (stack 1) writes, never from
 * stack 1's state. Checked on the synthesized JSON of both stacks as `cdktf synth` writes them
 * (`app.synth()`: cross-stack references only appear there), by walking every reference to the
 * credential's key, and by deciding requests against the secret's resource policy with the IAM
 * evaluator (test/helpers/iam-eval.ts, written from AWS's documented evaluation logic).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { ControlPlaneStack } from "../../lib/blueprint";
import { ClusterAccessSecret, ClusterObjectsStack, ControlPlaneAccess, ProviderIdentity, SUPER_ADMIN_COMMON_NAME, SuperAdminCertificate } from "../../lib/cluster";
import { App, TerraformStack, Testing } from "../../lib/core";
import { ConfigError } from "../../lib/errors";
import { PolicyDocument, evaluate } from "../helpers/iam-eval";
import { SynthJson, allResources, dataSources, follow, only, resources } from "../helpers/synth";

const ACCOUNT = "111122223333";
const READER = `arn:aws:iam::${ACCOUNT}:role/cluster-objects-deployer`;
const DEPLOYER = `arn:aws:iam::${ACCOUNT}:role/control-plane-deployer`;

function build(identity?: ProviderIdentity): { app: App; cpStack: HaClusterStack; secret: ClusterAccessSecret; objectsStack: ClusterObjectsStack; cp: SynthJson; objects: SynthJson } {
  const app = Testing.app();
  const cpStack = new HaClusterStack(app, "cp");
  const secret = new ClusterAccessSecret(cpStack, "ClusterObjectsAccess", { controlPlane: cpStack.controlPlane, region: "eu-west-1", readerRoleArn: READER, identity });
  const objectsStack = new ClusterObjectsStack(app, "objects", { access: ControlPlaneAccess.fromControlPlane(cpStack.controlPlane), accessSecret: secret });
  app.synth();
  const read = (id: string) => JSON.parse(readFileSync(join(app.outdir, "stacks", id, "cdk.tf.json"), "utf8")) as SynthJson;
  return { app, cpStack, secret, objectsStack, cp: read("cp"), objects: read("objects") };
}

/** Every `${...}` expression in a JSON value, with the path it sits at. */
function expressions(value: unknown, path = ""): { path: string; text: string }[] {
  if (typeof value === "string") return (value.match(/\$\{[^}]*\}/g) ?? []).map((text) => ({ path, text }));
  if (Array.isArray(value)) return value.flatMap((v, i) => expressions(v, `${path}[${i}]`));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => expressions(v, path === "" ? k : `${path}.${k}`));
  return [];
}

/**
 * Addresses (`type.name`) of resources that reference `address`, directly or through other
 * resources, plus outputs: any mention of `address.` in their JSON (inside `${...}` or inside a
 * function call such as jsonencode, where references are bare).
 */
function dependents(json: SynthJson, address: string): Set<string> {
  const found = new Set<string>();
  const frontier = [address];
  while (frontier.length > 0) {
    const target = frontier.pop()!;
    for (const r of allResources(json)) {
      const self = `${r.type}.${r.name}`;
      if (found.has(self)) continue;
      if (JSON.stringify(r.props).includes(`${target}.`)) {
        found.add(self);
        frontier.push(self);
      }
    }
    for (const [name, output] of Object.entries((json.output ?? {}) as Record<string, unknown>)) {
      if (JSON.stringify(output).includes(`${target}.`)) found.add(`output.${name}`);
    }
  }
  return found;
}

describe("cluster-objects access through a secret (first deploy: super-admin)", () => {
  const { cpStack, objectsStack, secret, cp, objects } = build();
  const provider = (objects.provider as Record<string, Record<string, string>[]>).kubernetes[0];
  const superKey = resources(cp, "tls_private_key").find((r) => r.name.startsWith("ClusterObjectsAccess_SuperAdmin_"))!;

  it("issues the super-admin key in stack 1 only", () => {
    expect(superKey).toBeDefined();
    expect(JSON.stringify(objects)).not.toContain(superKey.name);
    expect(JSON.stringify(objects)).not.toContain("SuperAdmin");
  });

  it("lets nothing but the certificate request and the secret version reference the super-admin key: no output, no cross-stack path", () => {
    const users = dependents(cp, `tls_private_key.${superKey.name}`);
    const kinds = [...users].map((a) => a.split(".")[0]).sort();
    expect(kinds).toEqual(["aws_secretsmanager_secret_version", "tls_cert_request", "tls_locally_signed_cert"]);
    expect([...users].filter((a) => a.startsWith("output."))).toEqual([]);
    expect(Object.keys((cp.output ?? {}) as object).filter((o) => o.startsWith("cross-stack-output-"))).toEqual([]);
    const version = follow(cp, `\${${[...users].find((a) => a.startsWith("aws_secretsmanager_secret_version"))}.id}`);
    expect(follow(cp, version.props.secret_id).props.name).toBe(secret.secretName);
  });

  it("reads no state of stack 1: no terraform_remote_state at all in stack 2", () => {
    expect(JSON.stringify(objects)).not.toContain("terraform_remote_state");
    expect(JSON.stringify(objects)).not.toContain("cross-stack");
  });

  it("configures the kubernetes provider from the secret data source only", () => {
    const [data, ...more] = dataSources(objects, "aws_secretsmanager_secret_version");
    expect(more).toEqual([]);
    expect(data.props.secret_id).toBe(secret.secretName);
    for (const key of ["host", "cluster_ca_certificate", "client_certificate", "client_key"]) {
      const refs = expressions(provider[key]).map((e) => e.text);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) expect(`${key}: ${ref}`).toMatch(new RegExp(`^${key}: \\$\\{jsondecode\\(data\\.aws_secretsmanager_secret_version\\.${data.name}\\.secret_string\\)\\.[a-z_]+\\}$`));
    }
    expect(provider.host).toMatch(/\.api_url\}$/);
    expect(provider.cluster_ca_certificate).toMatch(/\.ca_cert_pem\}$/);
    expect(provider.client_certificate).toMatch(/\.client_cert_pem\}$/);
    expect(provider.client_key).toMatch(/\.client_key_pem\}$/);
  });

  it("references nothing in stack 2 that stack 2 does not declare", () => {
    const data = Object.keys(objects.data ?? {}).flatMap((type) => dataSources(objects, type).map((d) => `data.${type}.${d.name}`));
    const declared = new Set([...allResources(objects).map((r) => `${r.type}.${r.name}`), ...data, ...Object.keys((objects.locals ?? {}) as object).map((l) => `local.${l}`)]);
    for (const e of expressions({ resource: objects.resource, data: objects.data, provider: objects.provider, output: objects.output })) {
      for (const m of e.text.matchAll(/\b((?:data\.)?[a-z][a-z0-9_]*\.[A-Za-z0-9_-]+)\.[a-z_]+/g)) {
        if (/^(data\.)?(each|count|self|path|var)\./.test(m[1])) continue;
        const address = m[1];
        expect(`${e.path}: ${address}`).toBe(`${e.path}: ${declared.has(address) ? address : "<undeclared>"}`);
      }
    }
  });

  it("writes the endpoint, CA and super-admin credential into the secret, encrypted with the cluster key", () => {
    const version = resources(cp, "aws_secretsmanager_secret_version").find((r) => r.name.startsWith("ClusterObjectsAccess_"))!;
    const value = version.props.secret_string as string;
    expect(value).toMatch(/^\$\{jsonencode\(/);
    expect(value).toContain(`tls_private_key.${superKey.name}.private_key_pem`);
    expect(value).toContain('"identity" = "SUPER_ADMIN"');
    const s = follow(cp, version.props.secret_id);
    expect(s.props.kms_key_id).toBe(`\${${only(cp, "aws_kms_key").type}.${only(cp, "aws_kms_key").name}.arn}`);
  });

  it("records that stack 2 deploys after stack 1", () => {
    expect(objectsStack.dependencies).toContain(cpStack);
  });

  it("writes the internal endpoint and the CA into cluster-info from the secret, revealed (they are public by design)", () => {
    const kubeconfig = only(objects, "kubernetes_config_map_v1_data").props.data.kubeconfig as string;
    expect(kubeconfig).toMatch(/server: \$\{nonsensitive\(jsondecode\(data\.aws_secretsmanager_secret_version\.[^.]+\.secret_string\)\.internal_api_url\)\}/);
    expect(kubeconfig).toMatch(/certificate-authority-data: \$\{base64encode\(nonsensitive\(jsondecode\(data\.aws_secretsmanager_secret_version\.[^.]+\.secret_string\)\.ca_cert_pem\)\)\}/);
  });

  it("limits the serving-certificate approver to the control plane's VPC block", () => {
    const approver = resources(objects, "kubernetes_deployment_v1").find((r) => r.props.metadata.name === "kubelet-csr-approver")!;
    const args = approver.props.spec.template.spec.container[0].args as string[];
    expect(args).toContain(`-provider-ip-prefixes=${cpStack.controlPlane.network.vpcCidr}`);
  });

  describe("the secret's resource policy (IAM evaluation)", () => {
    const policyResource = resources(cp, "aws_secretsmanager_secret_policy").find((r) => r.name.startsWith("ClusterObjectsAccess_"))!;
    const resolved = String(policyResource.props.policy)
      .replace(/\$\{data\.aws_iam_session_context\.[^.]+\.issuer_arn\}/g, DEPLOYER)
      .replace(/\$\{data\.aws_partition\.[^.]+\.partition\}/g, "aws")
      .replace(/\$\{data\.aws_caller_identity\.[^.]+\.account_id\}/g, ACCOUNT);
    const policy = JSON.parse(resolved) as PolicyDocument;
    const secretArn = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:${secret.secretName}-AbCdEf`;
    // An administrator of the account: every action on everything in its identity policy.
    const everything: PolicyDocument = { Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };
    const as = (principalArn: string, action: string, identity: PolicyDocument[] = [everything]) => evaluate({ principalArn, action, resource: secretArn }, identity, policy);

    it("has no reference left unresolved", () => expect(resolved).not.toContain("${"));

    it("lets the named reader role read the value, even with no identity policy of its own", () => {
      expect(as(READER, "secretsmanager:GetSecretValue", [])).toMatchObject({ allowed: true });
    });

    it("refuses the value to any other principal of the account, administrators included", () => {
      for (const principal of [`arn:aws:iam::${ACCOUNT}:role/Admin`, `arn:aws:iam::${ACCOUNT}:user/alice`, `arn:aws:iam::${ACCOUNT}:role/prod-control-plane-api-0`, `arn:aws:iam::${ACCOUNT}:root`]) {
        expect(as(principal, "secretsmanager:GetSecretValue")).toMatchObject({ allowed: false, reason: "explicit-deny" });
      }
    });

    it("refuses others the actions that would change who may read it", () => {
      for (const action of ["secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret", "secretsmanager:TagResource"]) {
        expect(as(`arn:aws:iam::${ACCOUNT}:role/Admin`, action)).toMatchObject({ allowed: false, reason: "explicit-deny" });
        expect(as(READER, action)).toMatchObject({ allowed: false, reason: "explicit-deny" });
      }
    });

    it("leaves reading and managing it to the deployer, and repairing the policy to the root user", () => {
      expect(as(DEPLOYER, "secretsmanager:GetSecretValue").allowed).toBe(true);
      expect(as(DEPLOYER, "secretsmanager:PutSecretValue").allowed).toBe(true);
      expect(as(`arn:aws:iam::${ACCOUNT}:root`, "secretsmanager:PutResourcePolicy").allowed).toBe(true);
    });
  });
});

describe("cluster-objects access, second deploy (ProviderIdentity.ADMIN)", () => {
  const { cp, objects } = build(ProviderIdentity.ADMIN);

  it("issues no super-admin certificate or key any more", () => {
    expect(resources(cp, "tls_private_key").filter((r) => r.name.includes("SuperAdmin"))).toEqual([]);
    expect(resources(cp, "tls_cert_request").filter((r) => r.name.includes("SuperAdmin"))).toEqual([]);
  });

  it("delivers the kubernetes-admin certificate (kubeadm:cluster-admins, revocable by RBAC) through the same secret", () => {
    const version = resources(cp, "aws_secretsmanager_secret_version").find((r) => r.name.startsWith("ClusterObjectsAccess_"))!;
    const value = version.props.secret_string as string;
    expect(value).toContain('"identity" = "ADMIN"');
    const keyRef = /"client_key_pem" = (tls_private_key\.[A-Za-z0-9_-]+)\.private_key_pem/.exec(value)!;
    expect(keyRef).not.toBeNull();
    const request = resources(cp, "tls_cert_request").find((r) => String(r.props.private_key_pem).includes(keyRef[1]))!;
    expect(request.props.subject[0]).toEqual({ common_name: "kubernetes-admin", organization: "kubeadm:cluster-admins" });
    expect(dataSources(objects, "aws_secretsmanager_secret_version")[0].props.version_stage).toBe("AWSCURRENT");
  });
});

describe("refusals", () => {
  const app = Testing.app();
  const cpStack = new HaClusterStack(app, "cp2");
  const access = ControlPlaneAccess.fromControlPlane(cpStack.controlPlane);

  it("refuses access from another stack without the secret (it would cross through terraform_remote_state)", () => {
    expect(() => new ClusterObjectsStack(app, "objects-a", { access })).toThrow(ConfigError);
    expect(() => new ClusterObjectsStack(app, "objects-b", { access })).toThrow(/^accessSecret is undefined: is required with access from the control plane in cp2: .*terraform_remote_state/);
  });

  it("refuses a reader that is not a role ARN", () => {
    for (const readerRoleArn of ["*", `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/session`, "deployer"]) {
      expect(() => new ClusterAccessSecret(cpStack, `S-${readerRoleArn.length}`, { controlPlane: cpStack.controlPlane, region: "eu-west-1", readerRoleArn })).toThrow(/^readerRoleArn is /);
    }
  });

  it("must be declared in the control plane's stack", () => {
    const other = new TerraformStack(app, "elsewhere");
    expect(() => new ClusterAccessSecret(other, "S", { controlPlane: cpStack.controlPlane, region: "eu-west-1", readerRoleArn: READER })).toThrow(/^scope is .*terraform_remote_state/);
  });

  it("refuses a provider identity on stack 2 when the secret decides it", () => {
    const s = new ClusterAccessSecret(cpStack, "S2", { controlPlane: cpStack.controlPlane, region: "eu-west-1", readerRoleArn: READER });
    expect(() => new ClusterObjectsStack(app, "objects-c", { access, accessSecret: s, providerIdentity: ProviderIdentity.ADMIN })).toThrow(/^providerIdentity is "ADMIN": has no effect with accessSecret/);
  });

  it("ControlPlaneStack requires the reader role and creates the secret", () => {
    const a = Testing.app();
    const stack = new ControlPlaneStack(a, "cps", {
      region: "eu-west-1",
      clusterObjectsReaderRoleArn: READER,
      controlPlane: { clusterName: "demo", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0a422d70f727fe93e" },
    });
    expect(stack.accessSecret.identity).toBe(ProviderIdentity.SUPER_ADMIN);
    expect(stack.superAdmin).toBeDefined();
  });
});

describe("SuperAdminCertificate", () => {
  const { cp } = build();
  const request = resources(cp, "tls_cert_request").find((r) => r.name.startsWith("ClusterObjectsAccess_SuperAdmin_"))!;
  const cert = resources(cp, "tls_locally_signed_cert").find((r) => r.name.startsWith("ClusterObjectsAccess_SuperAdmin_"))!;
  const app = Testing.app();
  const cpStack = new HaClusterStack(app, "cp3");

  it("is a client certificate of system:masters (CN kubernetes-super-admin) signed by the Kubernetes CA", () => {
    expect(request.props.subject[0]).toEqual({ common_name: SUPER_ADMIN_COMMON_NAME, organization: "system:masters" });
    expect(cert.props.allowed_uses).toContain("client_auth");
    expect(cert.props.allowed_uses).not.toContain("server_auth");
    const ca = follow(cp, cert.props.ca_cert_pem);
    expect(ca.props.subject[0].common_name).toBe("kubernetes");
  });

  it("lives a day and is re-issued by any deploy of stack 1 after its first hour", () => {
    expect(cert.props.validity_period_hours).toBe(24);
    expect(cert.props.early_renewal_hours).toBe(23);
  });

  it("goes to no node: no node secret bundle or launch template references it", () => {
    for (const v of resources(cp, "aws_secretsmanager_secret_version").filter((r) => !r.name.startsWith("ClusterObjectsAccess_"))) expect(JSON.stringify(v.props)).not.toContain("SuperAdmin_");
    for (const lt of resources(cp, "aws_launch_template")) expect(JSON.stringify(lt.props)).not.toContain("SuperAdmin_");
  });

  it("must be declared in the control plane's stack, where the CA key is", () => {
    const other = new TerraformStack(app, "elsewhere");
    expect(() => new SuperAdminCertificate(other, "SuperAdmin", { controlPlane: cpStack.controlPlane })).toThrow(/CA key, which must not leave that stack's state/);
  });

  it("refuses a validity longer than a month", () => {
    expect(() => new SuperAdminCertificate(cpStack, "TooLong", { controlPlane: cpStack.controlPlane, validityHours: 8760 })).toThrow(/^validityHours is 8760: must be a whole number of hours from 2 to 720/);
  });
});
