import { Construct } from "constructs";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { TerraformOutput, TerraformStack } from "../core";
import { ConfigError } from "../errors";
import { ClientCredentials, IControlPlaneAccess, checkAccess } from "./access";
import { ClusterObjects, ClusterObjectsOptions } from "./cluster-objects";

/** Which identity the cluster-objects stack's kubernetes provider authenticates as. */
export enum ProviderIdentity {
  /**
   * The `system:masters` super-admin certificate: works on a fresh cluster, where nothing is bound
   * yet (the only identity that does).
   */
  SUPER_ADMIN = "SUPER_ADMIN",
  /**
   * kubernetes-admin (`kubeadm:cluster-admins`): least privilege (revocable by RBAC), but only once
   * the `kubeadm:cluster-admins` binding exists — i.e. after a first deploy with SUPER_ADMIN.
   */
  ADMIN = "ADMIN",
}

/** Props of {@link ClusterObjectsStack}. */
export interface ClusterObjectsStackProps extends ClusterObjectsOptions {
  /**
   * The cluster, with values from the control plane's stack (`ControlPlaneAccess.fromControlPlane`).
   * cdktf turns each into an output of that stack and a `terraform_remote_state` read here.
   */
  readonly access: IControlPlaneAccess;
  /**
   * Identity of the kubernetes provider.
   * @default ProviderIdentity.SUPER_ADMIN
   */
  readonly providerIdentity?: ProviderIdentity;
}

/**
 * The second stack of a cluster: its in-cluster objects ({@link ClusterObjects}), with a kubernetes
 * provider configured from the control plane's stack through cdktf cross-stack references.
 *
 * Why a second stack: a provider configured from values only known after apply (the load
 * balancer's name, the CA) silently falls back to localhost when they are unknown at plan time.
 * Here they come from the first stack's state (`terraform_remote_state`), so they are known at
 * plan time; before the first stack is applied this stack fails to plan instead of guessing.
 * Deploy order: the control-plane stack, then this one (cdktf records the dependency).
 *
 * The machine running Terraform must reach `access.apiUrl` (the internal load balancer unless the
 * control plane has a public endpoint): run it from the VPC, a peered network or a VPN.
 */
export class ClusterObjectsStack extends TerraformStack {
  /** The kubernetes provider. */
  public readonly provider: KubernetesProvider;
  /** The cluster objects. */
  public readonly objects: ClusterObjects;

  constructor(scope: Construct, id: string, props: ClusterObjectsStackProps) {
    super(scope, id);
    checkAccess("access", props.access);
    const identity = props.providerIdentity ?? ProviderIdentity.SUPER_ADMIN;
    if (!Object.values(ProviderIdentity).includes(identity)) {
      throw new ConfigError("providerIdentity", identity, "is not a provider identity", "use ProviderIdentity.SUPER_ADMIN or ADMIN");
    }
    const credentials: ClientCredentials | undefined =
      identity === ProviderIdentity.SUPER_ADMIN ? props.access.superAdminCredentials : props.access.adminCredentials;
    if (credentials === undefined) {
      throw new ConfigError(
        "access.superAdminCredentials",
        undefined,
        "the provider cannot create the kubeadm:cluster-admins binding as kubernetes-admin, whose rights come from that very binding; it needs a system:masters identity the first time",
        "create a SuperAdminCertificate in the control plane's stack and pass it (ControlPlaneAccess.fromControlPlane(cp, { superAdmin })), or use providerIdentity ADMIN once the binding exists",
      );
    }
    this.provider = new KubernetesProvider(this, "kubernetes", {
      host: props.access.apiUrl,
      clusterCaCertificate: props.access.caCertPem,
      clientCertificate: credentials.certPem,
      clientKey: credentials.privateKeyPem,
    });
    this.objects = new ClusterObjects(this, "ClusterObjects", props);

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
