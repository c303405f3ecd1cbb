/**
 * Issue 14 finding 4: the secrets-encryption key can be neither overwritten by a node after
 * initialization nor deleted or relabelled by anyone but the deployer. Decided by the IAM evaluator
 * (test/helpers/iam-eval.ts, written from AWS's documented evaluation logic) over the synthesized
 * resource policy, with identity policies that grant everything (what a careless grant would add).
 * The script side (only ResourceNotFoundException means "no key", retries, rotation) runs for real
 * in test/bootstrap/kubernetes/kube-configure.e2e.test.ts.
 */
import { NodeRole } from "../../lib/compute/node-role";
import { SecretsEncryptionKey } from "../../lib/security/secrets-encryption";
import { PolicyDocument, evaluate } from "../helpers/iam-eval";
import { SynthJson, only, synth } from "../helpers/synth";

const ACCOUNT = "111122223333";
const KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const DEPLOYER = `arn:aws:iam::${ACCOUNT}:role/control-plane-deployer`;
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/Admin`;

function build(initialized?: boolean): { json: SynthJson; roles: NodeRole[]; key: SecretsEncryptionKey } {
  let key!: SecretsEncryptionKey;
  const roles: NodeRole[] = [];
  const json = synth((s) => {
    key = new SecretsEncryptionKey(s, "SecretsEncryption", { clusterName: "prod", encryptionKey: { keyArn: KEY }, initialized });
    for (const slot of ["api-0", "api-1"]) {
      const role = new NodeRole(s, `Role-${slot}`, { clusterName: "prod", nodeRole: slot });
      key.grantInitialize(role);
      roles.push(role);
    }
  });
  return { json, roles, key };
}

function policyOf(json: SynthJson): PolicyDocument {
  const text = String(only(json, "aws_secretsmanager_secret_policy").props.policy)
    .replace(/\$\{aws_iam_role\.([A-Za-z0-9_-]+)\.arn\}/g, (_all, name: string) => `arn:aws:iam::${ACCOUNT}:role/${(json.resource!.aws_iam_role as Record<string, { name: string }>)[name].name}`)
    .replace(/\$\{data\.aws_iam_session_context\.[^.]+\.issuer_arn\}/g, DEPLOYER)
    .replace(/\$\{data\.aws_partition\.[^.]+\.partition\}/g, "aws")
    .replace(/\$\{data\.aws_caller_identity\.[^.]+\.account_id\}/g, ACCOUNT);
  if (text.includes("${")) throw new Error(`unresolved reference in ${text}`);
  return JSON.parse(text) as PolicyDocument;
}

const roleArn = (json: SynthJson, slot: string) => `arn:aws:iam::${ACCOUNT}:role/${Object.values(json.resource!.aws_iam_role as Record<string, { name: string }>).find((r) => r.name.endsWith(slot))!.name}`;
const SECRET_ARN = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:prod/control-plane/encryption-key-AbCdEf`;
const everything: PolicyDocument = { Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };

describe("SecretsEncryptionKey before initialization", () => {
  const { json, roles } = build();
  const policy = policyOf(json);
  const as = (principalArn: string, action: string) => evaluate({ principalArn, action, resource: SECRET_ARN }, [everything], policy);

  it("keeps a deleted secret recoverable for 30 days", () => {
    expect(only(json, "aws_secretsmanager_secret").props.recovery_window_in_days).toBe(30);
  });

  it("lets the API servers read and write the first key, and grants the write", () => {
    for (const slot of ["api-0", "api-1"]) {
      expect(as(roleArn(json, slot), "secretsmanager:GetSecretValue").allowed).toBe(true);
      expect(as(roleArn(json, slot), "secretsmanager:PutSecretValue").allowed).toBe(true);
    }
    expect(roles[0].policyStatements.some((s) => s.actions.includes("secretsmanager:PutSecretValue"))).toBe(true);
  });

  it("denies API servers deleting, relabelling or re-policing the key, even with every action granted", () => {
    for (const action of ["secretsmanager:DeleteSecret", "secretsmanager:UpdateSecretVersionStage", "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy", "secretsmanager:UpdateSecret", "secretsmanager:RotateSecret"]) {
      expect(as(roleArn(json, "api-0"), action)).toMatchObject({ allowed: false, reason: "explicit-deny" });
    }
  });

  it("denies any other principal of the account (administrators included) reading, writing or deleting the key", () => {
    for (const action of ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret", "secretsmanager:UpdateSecretVersionStage", "secretsmanager:PutResourcePolicy"]) {
      expect(as(ADMIN, action)).toMatchObject({ allowed: false, reason: "explicit-deny" });
    }
    expect(as(ADMIN, "secretsmanager:DescribeSecret").allowed).toBe(true);
  });

  it("leaves deletion to the deployer alone (the root user must change the policy first), rotation to the deployer", () => {
    expect(as(DEPLOYER, "secretsmanager:DeleteSecret").allowed).toBe(true);
    expect(as(DEPLOYER, "secretsmanager:PutSecretValue").allowed).toBe(true);
    expect(as(DEPLOYER, "secretsmanager:UpdateSecretVersionStage").allowed).toBe(true);
    expect(as(ROOT, "secretsmanager:DeleteSecret")).toMatchObject({ allowed: false, reason: "explicit-deny" });
    expect(as(ROOT, "secretsmanager:PutResourcePolicy").allowed).toBe(true);
  });
});

describe("SecretsEncryptionKey after initialization (the second deploy)", () => {
  const { json, roles } = build(true);
  const policy = policyOf(json);

  it("takes the write grant away from the API servers", () => {
    for (const role of roles) expect(role.policyStatements.flatMap((s) => s.actions)).not.toContain("secretsmanager:PutSecretValue");
  });

  it("denies a node writing a second key even if every action were granted to it", () => {
    for (const slot of ["api-0", "api-1"]) {
      expect(evaluate({ principalArn: roleArn(json, slot), action: "secretsmanager:PutSecretValue", resource: SECRET_ARN }, [everything], policy)).toMatchObject({ allowed: false, reason: "explicit-deny" });
      expect(evaluate({ principalArn: roleArn(json, slot), action: "secretsmanager:GetSecretValue", resource: SECRET_ARN }, [everything], policy).allowed).toBe(true);
    }
  });
});
