import { Construct } from "constructs";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { DataAwsSecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-version";
import { Fn, TerraformOutput, TerraformStack } from "../core";
import { ConfigError } from "../errors";
import { isUnresolved } from "../validate";
import { ClientCredentials, IControlPlaneAccess, checkAccess } from "./access";
import { ACCESS_SECRET_KEYS, IClusterAccessSecret, ProviderIdentity } from "./access-secret";
import { ClusterObjects, ClusterObjectsOptions } from "./cluster-objects";

/** Props of {@link ClusterObjectsStack}. */
export interface ClusterObjectsStackProps extends ClusterObjectsOptions {
  /**
   * The cluster. With `accessSecret`, only its literal values are used here (name, version, CIDRs);
   * the endpoint, CA and credentials come from the secret.
   */
  readonly access: IControlPlaneAccess;
  /**
   * The secret the control plane's stack delivers the endpoint, CA and client credentials through
   * (`ClusterAccessSecret`, or `ControlPlaneStack.accessSecret`), read here with
   * `aws_secretsmanager_secret_version`. Required when `access` comes from
   * `ControlPlaneAccess.fromControlPlane`: the alternative, cross-stack outputs read through
   * `terraform_remote_state`, needs read access to the control plane's whole state (every CA key).
   * @default - none: `access` must carry literal values (a control plane managed elsewhere)
   */
  readonly accessSecret?: IClusterAccessSecret;
  /**
   * Identity of the kubernetes provider when `access` carries literal credentials. With
   * `accessSecret` the identity is chosen where the secret is written (`ClusterAccessSecret.identity`).
   * @default ProviderIdentity.SUPER_ADMIN
   */
  readonly providerIdentity?: ProviderIdentity;
}

/**
 * The second stack of a cluster: its in-cluster objects ({@link ClusterObjects}), with a kubernetes
 * provider configured from values known at plan time.
 *
 * Why a second stack: a provider configured from values only known after apply (the load
 * balancer's name, the CA) silently falls back to localhost when they are unknown at plan time.
 * With `accessSecret` they come from a Secrets Manager secret the control plane's stack writes (a
 * data source read at plan time), so whoever plans this stack needs no access to the control
 * plane's state; before the first stack is applied this stack fails to plan instead of guessing.
 * Deploy order: the control-plane stack, then this one (recorded as a stack dependency).
 *
 * The machine running Terraform must reach the API endpoint (the internal load balancer unless the
 * control plane has a public endpoint): run it from the VPC, a peered network or a VPN.
 */
export class ClusterObjectsStack extends TerraformStack {
  /** The kubernetes provider. */
  public readonly provider: KubernetesProvider;
  /** The cluster objects. */
  public readonly objects: ClusterObjects;
  /** The secret read, with `accessSecret`. */
  public readonly accessSecretVersion?: DataAwsSecretsmanagerSecretVersion;

  constructor(scope: Construct, id: string, props: ClusterObjectsStackProps) {
    super(scope, id);
    checkAccess("access", props.access);
    let access = props.access;
    let host: string;
    let credentials: ClientCredentials | undefined;
    if (props.accessSecret !== undefined) {
      const secret = props.accessSecret;
      if (props.providerIdentity !== undefined) {
        throw new ConfigError("providerIdentity", props.providerIdentity, "has no effect with accessSecret: the identity is the one the control plane's stack wrote into the secret", "remove it and set ClusterAccessSecret's identity (ControlPlaneStack's providerIdentity) instead");
      }
      for (const key of ["secretName", "region"] as const) {
        if (typeof secret[key] !== "string" || isUnresolved(secret[key])) {
          throw new ConfigError(`accessSecret.${key}`, secret[key], "must be a literal: a value of another stack would be read through terraform_remote_state", "pass the ClusterAccessSecret (its name and region are literals)");
        }
      }
      new AwsProvider(this, "aws", { region: secret.region });
      this.accessSecretVersion = new DataAwsSecretsmanagerSecretVersion(this, "AccessSecret", { secretId: secret.secretName, versionStage: "AWSCURRENT" });
      const value = (key: string) => Fn.lookup(Fn.jsondecode(this.accessSecretVersion!.secretString), key) as string;
      const K = ACCESS_SECRET_KEYS;
      access = {
        ...props.access,
        apiUrl: value(K.apiUrl),
        internalApiUrl: value(K.internalApiUrl),
        caCertPem: value(K.caCertPem),
      };
      host = access.apiUrl;
      credentials = { certPem: value(K.clientCertPem), privateKeyPem: value(K.clientKeyPem) };
      if (secret instanceof Construct) this.addDependency(TerraformStack.of(secret));
    } else {
      if (props.access.source !== undefined && TerraformStack.of(props.access.source) !== this) {
        throw new ConfigError(
          "accessSecret",
          undefined,
          `is required with access from the control plane in ${TerraformStack.of(props.access.source).node.path}: its credentials would reach this stack as cross-stack outputs through terraform_remote_state, which needs read access to that stack's whole state (every CA key)`,
          "create a ClusterAccessSecret in the control plane's stack (ControlPlaneStack creates one) and pass it as accessSecret",
        );
      }
      const identity = props.providerIdentity ?? ProviderIdentity.SUPER_ADMIN;
      if (!Object.values(ProviderIdentity).includes(identity)) {
        throw new ConfigError("providerIdentity", identity, "is not a provider identity", "use ProviderIdentity.SUPER_ADMIN or ADMIN");
      }
      credentials = identity === ProviderIdentity.SUPER_ADMIN ? props.access.superAdminCredentials : props.access.adminCredentials;
      if (credentials === undefined) {
        throw new ConfigError(
          "access.superAdminCredentials",
          undefined,
          "the provider cannot create the kubeadm:cluster-admins binding as kubernetes-admin, whose rights come from that very binding; it needs a system:masters identity the first time",
          "create a SuperAdminCertificate in the control plane's stack and pass it (ControlPlaneAccess.fromControlPlane(cp, { superAdmin })), or use providerIdentity ADMIN once the binding exists",
        );
      }
      host = props.access.apiUrl;
    }
    this.provider = new KubernetesProvider(this, "kubernetes", {
      host,
      clusterCaCertificate: access.caCertPem,
      clientCertificate: credentials.certPem,
      clientKey: credentials.privateKeyPem,
    });
    this.objects = new ClusterObjects(this, "ClusterObjects", { ...props, access });

    const o = this.objects;
    new TerraformOutput(this, "join_endpoint", { value: o.joinEndpoint, description: "API endpoint nodes join through" });
    new TerraformOutput(this, "kubernetes_ca_certificate", {
      value: o.caCertPem,
      description: "Kubernetes CA certificate (PEM); kubeadm's sha256 pin of it cannot be computed in Terraform: see caCertHash()",
    });
    new TerraformOutput(this, "discovery_kubeconfig", {
      value: o.discoveryKubeconfig,
      sensitive: true,
      description: "kubeadm join --discovery-file content: endpoint, CA and the bootstrap token (anonymous discovery is refused with 401 by these API servers)",
    });
    new TerraformOutput(this, "cluster_dns_ip", { value: o.clusterDnsIp, description: "Cluster DNS address (kube-dns Service, clusterDNS of the workers' kubelets)" });
    new TerraformOutput(this, "bootstrap_token_id", { value: o.bootstrapToken.tokenId, description: "Id of the current node bootstrap token" });
    new TerraformOutput(this, "bootstrap_token_expiration", { value: o.bootstrapToken.expiration, description: "When the current bootstrap token expires (RFC 3339); deploy before" });
    new TerraformOutput(this, "bootstrap_token", { value: o.bootstrapToken.token, sensitive: true, description: "Node bootstrap token <id>.<secret>" });
    new TerraformOutput(this, "bootstrap_kubeconfig", { value: o.bootstrapKubeconfig, sensitive: true, description: "kubelet --bootstrap-kubeconfig (TLS bootstrapping with the token)" });
    new TerraformOutput(this, "join_command", { value: o.joinCommand, description: "kubeadm join with file discovery (write discovery_kubeconfig to /etc/kubernetes/discovery.yaml, mode 0600, first)" });
  }
}
