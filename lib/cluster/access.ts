import { Construct, IConstruct } from "constructs";
import { TerraformStack } from "../core";
import { HaControlPlane } from "../control-plane";
import { ConfigError } from "../errors";
import { TlsProviderIssuer } from "../pki/issuer";
import { CA_IDS, CertificateSpec, specById } from "../pki/spec";
import { parseIpv4Cidr } from "../network/cidr";
import { checkClusterName, checkKubernetesVersion, isUnresolved } from "../validate";

/** The Kubernetes version assumed when the access values name none (the control plane's default). */
export const DEFAULT_KUBERNETES_VERSION = "1.33.5";

/** A client certificate and its key (PEM; usually tokens, sensitive). */
export interface ClientCredentials {
  /** The client certificate, PEM-encoded: its subject names the Kubernetes user and groups. */
  readonly certPem: string;
  /** The certificate's private key, PEM-encoded (sensitive: it is in Terraform state). */
  readonly privateKeyPem: string;
}

/**
 * What a second stack needs to talk to a control plane created in another stack. Pass the values of
 * the control plane's stack as they are: cdktf turns every one of them into an output of that stack
 * and a `terraform_remote_state` read in the consuming stack, so they are known at plan time.
 */
export interface IControlPlaneAccess {
  /** The control plane's cluster name (kubeconfig cluster entry, `kubernetes.io/cluster/<name>` tag). */
  readonly clusterName: string;
  /** API URL Terraform reaches the cluster through (`https://host:port`). */
  readonly apiUrl: string;
  /** API URL nodes join through (the internal load balancer). */
  readonly internalApiUrl: string;
  /** The Kubernetes CA certificate (PEM). */
  readonly caCertPem: string;
  /** kubernetes-admin (group `kubeadm:cluster-admins`): has rights only once that group is bound. */
  readonly adminCredentials: ClientCredentials;
  /**
   * A `system:masters` client certificate for the cluster-objects stack's provider: the one identity
   * that has rights before any binding exists (see {@link SuperAdminCertificate}).
   * @default - none: the provider must use the admin identity, which needs the binding to exist already
   */
  readonly superAdminCredentials?: ClientCredentials;
  /**
   * Kubernetes version of the control plane (`1.33.5`): written into the `kubeadm-config`
   * ClusterConfiguration joining nodes read, and the kube-proxy image tag.
   * @default "1.33.5"
   */
  readonly kubernetesVersion?: string;
  /**
   * Service CIDR of the API servers; CoreDNS's Service takes its 10th address (kubeadm's rule).
   * @default "10.96.0.0/12"
   */
  readonly serviceCidr?: string;
  /**
   * Pod CIDR (kube-proxy's clusterCIDR, kubeadm's podSubnet).
   * @default "10.244.0.0/16"
   */
  readonly podCidr?: string;
  /**
   * Cluster DNS domain.
   * @default "cluster.local"
   */
  readonly clusterDomain?: string;
  /**
   * Registry of the Kubernetes images (the control plane's `imageRepository`): the default of the
   * cluster objects' `addons.imageRepository`.
   * @default "registry.k8s.io"
   */
  readonly imageRepository?: string;
  /**
   * The VPC's IPv4 block: the only addresses a kubelet serving certificate may name when the
   * serving-certificate approver is on.
   * @default - none: the approver then needs `kubeletServingCertificates.nodeIpPrefixes`
   */
  readonly vpcCidr?: string;
  /**
   * The construct the values come from, so a stack can refuse to use a control plane created in the
   * same stack (its endpoint is unknown until apply and the provider would fall back to localhost).
   * @default - not checked
   */
  readonly source?: IConstruct;
}

/** Id of the super-admin certificate spec. */
export const SUPER_ADMIN_SPEC_ID = "super-admin";
/** Common name of the super-admin certificate (as kubeadm's `super-admin.conf`). */
export const SUPER_ADMIN_COMMON_NAME = "kubernetes-super-admin";
/** Default validity of the super-admin certificate (hours). */
export const SUPER_ADMIN_DEFAULT_VALIDITY_HOURS = 24;
/** The group the API server grants every right to, without RBAC (and which RBAC cannot revoke). */
export const SYSTEM_MASTERS_GROUP = "system:masters";

/** Ways to obtain an {@link IControlPlaneAccess}. */
export class ControlPlaneAccess {
  /**
   * The access values of a control plane. Super-admin credentials are taken from `options.superAdmin`,
   * else from a `super-admin` certificate of the control plane's own PKI when it issues one.
   */
  public static fromControlPlane(controlPlane: HaControlPlane, options: { readonly superAdmin?: ClientCredentials } = {}): IControlPlaneAccess {
    const native = controlPlane.pki.issued.get(SUPER_ADMIN_SPEC_ID);
    const nativeCredentials = native?.privateKeyPem !== undefined ? { certPem: native.certPem, privateKeyPem: native.privateKeyPem } : undefined;
    return {
      clusterName: controlPlane.clusterName,
      apiUrl: controlPlane.apiUrl,
      internalApiUrl: controlPlane.internalApiUrl,
      caCertPem: controlPlane.pki.kubernetesCaPem,
      adminCredentials: controlPlane.adminCredentials,
      superAdminCredentials: options.superAdmin ?? nativeCredentials,
      kubernetesVersion: controlPlane.kubernetesVersion,
      serviceCidr: controlPlane.serviceCidr,
      podCidr: controlPlane.podCidr,
      clusterDomain: controlPlane.clusterDomain,
      imageRepository: controlPlane.imageRepository,
      vpcCidr: controlPlane.network.vpcCidr,
      source: controlPlane,
    };
  }

  /** Access values given one by one (e.g. a control plane managed elsewhere); validated. */
  public static fromAttributes(attributes: IControlPlaneAccess): IControlPlaneAccess {
    checkAccess("access", attributes);
    return attributes;
  }

  private constructor() {}
}

/** Validates access values; tokens pass. */
export function checkAccess(prop: string, access: IControlPlaneAccess): void {
  checkClusterName(`${prop}.clusterName`, access.clusterName);
  for (const key of ["apiUrl", "internalApiUrl"] as const) {
    const url = access[key];
    if (isUnresolved(url)) continue;
    if (typeof url !== "string" || !/^https:\/\/[^\s/:]+(:\d{1,5})?\/?$/.test(url)) {
      throw new ConfigError(`${prop}.${key}`, url, "must be an https URL of the API endpoint (https://host[:port])", "pass the control plane's apiUrl / internalApiUrl");
    }
  }
  checkKubernetesVersion(`${prop}.kubernetesVersion`, access.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION);
  for (const key of ["serviceCidr", "podCidr", "vpcCidr"] as const) {
    const cidr = access[key];
    if (cidr !== undefined && !isUnresolved(cidr)) parseIpv4Cidr(`${prop}.${key}`, cidr);
  }
  const pems: [string, string | undefined, string][] = [
    ["caCertPem", access.caCertPem, "CERTIFICATE"],
    ["adminCredentials.certPem", access.adminCredentials?.certPem, "CERTIFICATE"],
    ["adminCredentials.privateKeyPem", access.adminCredentials?.privateKeyPem, "PRIVATE KEY"],
    ["superAdminCredentials.certPem", access.superAdminCredentials?.certPem, "CERTIFICATE"],
    ["superAdminCredentials.privateKeyPem", access.superAdminCredentials?.privateKeyPem, "PRIVATE KEY"],
  ];
  for (const [key, value, label] of pems) {
    if (value === undefined) {
      if (key.startsWith("superAdmin")) continue;
      throw new ConfigError(`${prop}.${key}`, value, "is required", "pass the PEM from the control plane's stack");
    }
    if (isUnresolved(value)) continue;
    if (typeof value !== "string" || !value.includes(`-----BEGIN `) || !value.includes(label)) {
      throw new ConfigError(`${prop}.${key}`, value, `is not a PEM ${label.toLowerCase()}`, "pass the PEM from the control plane's stack");
    }
  }
}

/** Props of {@link SuperAdminCertificate}. */
export interface SuperAdminCertificateProps {
  /** The control plane whose Kubernetes CA signs the certificate; must be in the same stack. */
  readonly controlPlane: HaControlPlane;
  /**
   * Validity in hours: the super-admin is needed only until the first binding exists, and RBAC
   * cannot revoke it, so it lives a day.
   * @default 24
   */
  readonly validityHours?: number;
  /**
   * Hours before expiry a deploy of the control-plane stack re-issues it.
   * @default - validityHours - 1: any deploy after the certificate's first hour re-issues it
   */
  readonly earlyRenewalHours?: number;
}

/**
 * A `system:masters` client certificate (CN `kubernetes-super-admin`, like kubeadm's
 * `super-admin.conf`) for the cluster-objects stack's kubernetes provider, and nothing else.
 *
 * Why it exists: the admin certificate's group `kubeadm:cluster-admins` has no rights until the
 * `kubeadm:cluster-admins` ClusterRoleBinding exists, and creating that binding needs rights.
 * `system:masters` is authorized by the API server without RBAC, so it breaks the cycle.
 *
 * It is declared in the control plane's stack (the CA key never leaves that stack's state), goes
 * to no node and into no output; `ClusterAccessSecret` creates it and delivers it to the
 * cluster-objects stack through a Secrets Manager secret only that stack's deployer role can read.
 * It cannot be revoked by RBAC, so it is short-lived (24 h by default) and only used until the
 * `kubeadm:cluster-admins` binding exists.
 */
export class SuperAdminCertificate extends Construct implements ClientCredentials {
  /** The `system:masters` client certificate, PEM-encoded. */
  public readonly certPem: string;
  /** The certificate's private key, PEM-encoded (in Terraform state: destroy the construct after the first deploy). */
  public readonly privateKeyPem: string;

  constructor(scope: Construct, id: string, props: SuperAdminCertificateProps) {
    super(scope, id);
    if (TerraformStack.of(this) !== TerraformStack.of(props.controlPlane)) {
      throw new ConfigError(
        "scope",
        this.node.path,
        `is not in the stack of the control plane ${props.controlPlane.node.path}: the certificate is signed with the Kubernetes CA key, which must not leave that stack's state`,
        "create the SuperAdminCertificate in the control plane's stack",
      );
    }
    // The CA that issues now: during a CA rotation the new one from ISSUE_NEW on.
    const ca = props.controlPlane.pki.kubernetesIssuingCa;
    if (ca.privateKeyPem === undefined) {
      throw new ConfigError("controlPlane.certificateIssuer", CA_IDS.kubernetes, "keeps the Kubernetes CA key, so no client certificate can be signed in Terraform", "issue the Kubernetes CA with the tls provider (the default)");
    }
    const admin = specById(props.controlPlane.pki.certificates, "admin");
    const validityHours = props.validityHours ?? SUPER_ADMIN_DEFAULT_VALIDITY_HOURS;
    if (!isUnresolved(validityHours) && (!Number.isInteger(validityHours) || validityHours < 2 || validityHours > 720)) {
      throw new ConfigError("validityHours", validityHours, "must be a whole number of hours from 2 to 720: a system:masters credential RBAC cannot revoke should not outlive the first deploy by much", "use 24 and switch the cluster-objects stack to ProviderIdentity.ADMIN after its first deploy");
    }
    const earlyRenewalHours = props.earlyRenewalHours ?? Math.max(1, validityHours - 1);
    if (!isUnresolved(earlyRenewalHours) && (!Number.isInteger(earlyRenewalHours) || earlyRenewalHours < 1 || earlyRenewalHours >= validityHours)) {
      throw new ConfigError("earlyRenewalHours", earlyRenewalHours, `must be a whole number of hours from 1 to ${validityHours - 1}`, `use ${validityHours - 1}`);
    }
    const spec: CertificateSpec = {
      ...admin,
      id: SUPER_ADMIN_SPEC_ID,
      commonName: SUPER_ADMIN_COMMON_NAME,
      organizations: [SYSTEM_MASTERS_GROUP],
      validityHours,
      earlyRenewalHours,
      fileStem: "super-admin",
    };
    const issued = new TlsProviderIssuer().issue(this, spec, ca);
    this.certPem = issued.certPem;
    this.privateKeyPem = issued.privateKeyPem!;
  }
}
