/**
 * Stack 2's kubernetes provider must be configured from stack 1's values through cdktf cross-stack
 * references (terraform_remote_state + outputs), never from values unknown at plan time. Checked on
 * the synthesized JSON of both stacks, as `cdktf synth` writes them (`Testing.synth` of one stack
 * does not create cross-stack references; `app.synth()` does).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { ClusterObjectsStack, ControlPlaneAccess, SUPER_ADMIN_COMMON_NAME, SuperAdminCertificate } from "../../lib/cluster";
import { TerraformStack, Testing } from "../../lib/core";
import { ConfigError } from "../../lib/errors";
import { SynthJson, follow, only, resources } from "../helpers/synth";

const app = Testing.app();
const controlPlaneStack = new HaClusterStack(app, "cp");
const superAdmin = new SuperAdminCertificate(controlPlaneStack, "SuperAdmin", { controlPlane: controlPlaneStack.controlPlane });
const objectsStack = new ClusterObjectsStack(app, "objects", {
  access: ControlPlaneAccess.fromControlPlane(controlPlaneStack.controlPlane, { superAdmin }),
});
app.synth();
const read = (id: string) => JSON.parse(readFileSync(join(app.outdir, "stacks", id, "cdk.tf.json"), "utf8")) as SynthJson;
const cp = read("cp");
const objects = read("objects");

const REMOTE = /^\$\{data\.terraform_remote_state\.([^.]+)\.outputs\.([^}]+)\}$/;

/** The stack-1 output a `${data.terraform_remote_state.x.outputs.y}` reference reads, checked to exist. */
function outputBehind(reference: string): { remoteState: string; output: { value: string; sensitive?: boolean } } {
  const m = REMOTE.exec(reference);
  if (!m) throw new Error(`not a remote state output reference: ${reference}`);
  const output = (cp.output as Record<string, { value: string; sensitive?: boolean }>)[m[2]];
  if (!output) throw new Error(`stack cp has no output ${m[2]}`);
  return { remoteState: m[1], output };
}

describe("cluster-objects stack configured from the control-plane stack", () => {
  const provider = (objects.provider as Record<string, Record<string, string>[]>).kubernetes[0];

  it("reads stack 1's state through one terraform_remote_state with stack 1's backend", () => {
    const remote = (objects.data as Record<string, Record<string, Record<string, unknown>>>).terraform_remote_state;
    expect(Object.keys(remote)).toEqual(["cross-stack-reference-input-cp"]);
    const backend = (cp.terraform as { backend: { local: { path: string } } }).backend.local;
    expect(remote["cross-stack-reference-input-cp"]).toMatchObject({ backend: "local", config: { path: backend.path } });
  });

  it("points the provider's host at the internal load balancer's DNS name from stack 1", () => {
    const m = /^https:\/\/(\$\{[^}]+\}):6443$/.exec(provider.host);
    expect(m).not.toBeNull();
    const { remoteState, output } = outputBehind(m![1]);
    expect(remoteState).toBe("cross-stack-reference-input-cp");
    const lb = follow(cp, output.value);
    expect(lb.type).toBe("aws_lb");
    expect(lb.props.internal).toBe(true);
  });

  it("trusts stack 1's Kubernetes CA", () => {
    const { output } = outputBehind(provider.cluster_ca_certificate);
    const ca = follow(cp, output.value);
    expect(ca.type).toBe("tls_self_signed_cert");
    expect(ca.props.is_ca_certificate).toBe(true);
    expect(ca.props.subject[0].common_name).toBe("kubernetes");
  });

  it("authenticates with the super-admin certificate and key of stack 1", () => {
    const cert = follow(cp, outputBehind(provider.client_certificate).output.value);
    const key = follow(cp, outputBehind(provider.client_key).output.value);
    expect(cert.type).toBe("tls_locally_signed_cert");
    expect(key.type).toBe("tls_private_key");
    expect(outputBehind(provider.client_key).output.value).toMatch(/\.private_key_pem\}$/);
  });

  it("marks every cross-stack output of stack 1 sensitive", () => {
    const crossStack = Object.entries(cp.output as Record<string, { sensitive?: boolean }>).filter(([name]) => name.startsWith("cross-stack-output-"));
    expect(crossStack.length).toBeGreaterThanOrEqual(4);
    for (const [, o] of crossStack) expect(o.sensitive).toBe(true);
  });

  it("never leaves a provider value unknown at plan time or pointing at localhost", () => {
    for (const [key, value] of Object.entries(provider)) {
      expect(value).not.toMatch(/localhost|127\.0\.0\.1/);
      // Every reference in the provider block reads remote state: no resource of this stack.
      for (const ref of String(value).match(/\$\{[^}]+\}/g) ?? []) expect(`${key}: ${ref}`).toMatch(/: \$\{data\.terraform_remote_state\./);
    }
  });

  it("records that stack 2 deploys after stack 1", () => {
    expect(objectsStack.dependencies).toContain(controlPlaneStack);
  });

  it("writes the internal endpoint and the CA into cluster-info, revealed (they are public by design)", () => {
    const kubeconfig = only(objects, "kubernetes_config_map_v1_data").props.data.kubeconfig as string;
    expect(kubeconfig).toMatch(/server: \$\{nonsensitive\("https:\/\/\$\{data\.terraform_remote_state\.cross-stack-reference-input-cp\.outputs\.[^}]+\}:6443"\)\}/);
    expect(kubeconfig).toMatch(/certificate-authority-data: \$\{base64encode\(nonsensitive\(data\.terraform_remote_state\./);
  });
});

describe("SuperAdminCertificate", () => {
  const request = resources(cp, "tls_cert_request").find((r) => r.name.startsWith("SuperAdmin_"))!;
  const cert = resources(cp, "tls_locally_signed_cert").find((r) => r.name.startsWith("SuperAdmin_"))!;

  it("is a client certificate of system:masters (CN kubernetes-super-admin) signed by the Kubernetes CA", () => {
    expect(request.props.subject[0]).toEqual({ common_name: SUPER_ADMIN_COMMON_NAME, organization: "system:masters" });
    expect(cert.props.allowed_uses).toContain("client_auth");
    expect(cert.props.allowed_uses).not.toContain("server_auth");
    const ca = follow(cp, cert.props.ca_cert_pem);
    expect(ca.props.subject[0].common_name).toBe("kubernetes");
  });

  it("follows the PKI's leaf policy (validity and early renewal)", () => {
    const admin = resources(cp, "tls_locally_signed_cert").find((r) => r.name.startsWith("ControlPlane_Pki_admin-cert"))!;
    expect(cert.props.validity_period_hours).toBe(admin.props.validity_period_hours);
    expect(cert.props.early_renewal_hours).toBe(admin.props.early_renewal_hours);
  });

  it("goes to no node: no secret bundle references it", () => {
    for (const v of resources(cp, "aws_secretsmanager_secret_version")) expect(JSON.stringify(v.props)).not.toContain("SuperAdmin_");
    for (const lt of resources(cp, "aws_launch_template")) expect(JSON.stringify(lt.props)).not.toContain("SuperAdmin_");
  });

  it("must be declared in the control plane's stack, where the CA key is", () => {
    const other = new TerraformStack(app, "elsewhere");
    expect(() => new SuperAdminCertificate(other, "SuperAdmin", { controlPlane: controlPlaneStack.controlPlane })).toThrow(ConfigError);
    expect(() => new SuperAdminCertificate(other, "SuperAdmin2", { controlPlane: controlPlaneStack.controlPlane })).toThrow(/CA key, which must not leave that stack's state/);
  });

  it("refuses a validity the policy pack would flag", () => {
    expect(() => new SuperAdminCertificate(controlPlaneStack, "TooLong", { controlPlane: controlPlaneStack.controlPlane, validityHours: 20000 })).toThrow(/^validityHours is 20000/);
  });
});

describe("join configuration from the control-plane stack", () => {
  const configMaps = resources(objects, "kubernetes_config_map_v1");
  const clusterConfiguration = configMaps.find((r) => r.props.metadata.name === "kubeadm-config")!.props.data.ClusterConfiguration as string;

  it("writes the internal endpoint as host:port into the ClusterConfiguration", () => {
    expect(clusterConfiguration).toMatch(/controlPlaneEndpoint: \$\{replace\(nonsensitive\("https:\/\/\$\{data\.terraform_remote_state\.cross-stack-reference-input-cp\.outputs\.[^}]+\}:6443"\), "https:\/\/", ""\)\}/);
    expect(clusterConfiguration).toContain("kubernetesVersion: v1.33.5");
  });

  it("limits the serving-certificate approver to the control plane's VPC block", () => {
    const approver = resources(objects, "kubernetes_deployment_v1").find((r) => r.props.metadata.name === "kubelet-csr-approver")!;
    const args = approver.props.spec.template.spec.container[0].args as string[];
    expect(args).toContain(`-provider-ip-prefixes=${controlPlaneStack.controlPlane.network.vpcCidr}`);
  });
});
