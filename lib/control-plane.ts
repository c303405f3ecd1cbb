import { Construct } from "constructs";
import { Annotations, TerraformOutput, TerraformResource, omitUndefinedAttributes, sameStackDependable } from "./core";
import { AutoScalingServiceRole } from "./compute/autoscaling-role";
import { ApiServerNodes, planApiServerSlots } from "./compute/api-server-nodes";
import { SecretsEncryptionKey } from "./security/secrets-encryption";
import { ControlPlaneAlarms, NODE_METRIC_NAMESPACE } from "./monitoring/control-plane-alarms";
import { EtcdBackups } from "./etcd/backups";
import { AuditLogs } from "./monitoring/audit-logs";
import { BootstrapBundles } from "./bootstrap/bundle/bootstrap-bundles";
import { DEFAULT_ETCD_RELEASE, EtcdRelease } from "./bootstrap/etcd";
import { DEFAULT_IMAGE_REPOSITORY, KubernetesBinaryMirror, checkImageRepository, checkKubernetesBinaryMirror } from "./bootstrap/kubernetes/binaries";
import { ConfigError } from "./errors";
import { EtcdCluster, EtcdTopology, checkMemberCount } from "./etcd/etcd-cluster";
import { ApiLoadBalancer, EndpointAccess } from "./loadbalancer/api-load-balancer";
import { Ipv4Block, formatCidr, overlaps, parseIpv4Cidr } from "./network/cidr";
import { ControlPlaneNetwork, INetwork, NatGatewayMode } from "./network/network";
import { NodeVpcEndpoints } from "./network/vpc-endpoints";
import { ClusterEncryptionKey, IEncryptionKey } from "./security/encryption-key";
import { NodeRole } from "./compute/node-role";
import { NodeImage, nodeImageFacts } from "./compute/ami";
import { ClusterPki } from "./pki/cluster-pki";
import { ICertificateIssuer } from "./pki/issuer";
import { CaRotation, CaTrustDomain, DEFAULT_LEAF_EARLY_RENEWAL_HOURS, KeyAlgorithm, PKI_POLICY_PROP_NAMES, resolveCaRotation, resolvePolicy } from "./pki/spec";
import { ControlPlaneSecurityGroups } from "./security/security-groups";
import { PodNetwork, resolvePodNetwork, warnPodNetwork } from "./network/pod-network";
import { checkClusterName, checkEtcdUpgrade, checkRenewalAlarm, checkKubernetesUpgrade, checkKubernetesVersion, checkSingleZone, checkTags, isUnresolved } from "./validate";
import { RESERVED_TAG_COUNT } from "./tags";

/**
 * Resource types a node's first boot reads or claims; every node group is created after all of
 * them (see the end of the HaControlPlane constructor).
 */
const BOOT_DEPENDENCY_TYPES: ReadonlySet<string> = new Set([
  "aws_network_interface",
  "aws_ebs_volume",
  "aws_secretsmanager_secret_version",
  "aws_secretsmanager_secret_policy",
  "aws_iam_role_policy",
  "aws_iam_role_policy_attachment",
]);

/** Props of {@link HaControlPlane}. */
export interface HaControlPlaneProps {
  /** Cluster name: a DNS label of 1–40 characters. Part of every AWS name and tag. */
  readonly clusterName: string;
  /**
   * Kubernetes release the nodes run (used by the node bootstrap).
   * @default "1.33.5"
   */
  readonly kubernetesVersion?: string;
  /**
   * Kubernetes release the running cluster's API servers are on now (what the last deploy set as
   * `kubernetesVersion`). Synthesis cannot see the running cluster; with this set, a
   * `kubernetesVersion` below it (a downgrade) or more than one minor above it (Kubernetes' version
   * skew policy: upgrade one minor at a time) is refused. Update it after each upgrade has rolled.
   * @default - no check (a new cluster, or the caller takes responsibility for the skew)
   */
  readonly kubernetesVersionDeployed?: string;
  /**
   * Registry (`host[:port][/path]`, no scheme) every Kubernetes image comes from: the static pods
   * (kube-apiserver, kube-controller-manager, kube-scheduler), containerd's pause image, and, through
   * `ControlPlaneAccess.fromControlPlane`, the cluster objects' kube-proxy and CoreDNS. A mirror
   * holds them under their upstream names (`kubeadm config images list`; see the README's
   * "Air-gapped installs").
   * @default "registry.k8s.io"
   */
  readonly imageRepository?: string;
  /**
   * Binary mirror API server nodes install kubelet, kubeadm and kubectl from instead of the
   * Kubernetes apt repository: an `https://` or `s3://` URL template and the SHA-256 of every file,
   * checked on the node before anything is installed (the etcd side: `etcdRelease.mirrorUrlTemplate`).
   * @default - the signed apt repository pkgs.k8s.io
   */
  readonly kubernetesBinaryMirror?: KubernetesBinaryMirror;

  /**
   * An existing network (see `ExistingNetwork.fromAttributes`).
   * @default - a new VPC from `vpcCidr`, `availabilityZones` and `natGateways`
   */
  readonly network?: INetwork;
  /**
   * IPv4 block of the new VPC (/16–/22). Not with `network`.
   * @default "10.0.0.0/16"
   */
  readonly vpcCidr?: string;
  /**
   * Zones of the new VPC. Not with `network`.
   * @default - the region's first 3 zones, looked up at plan time (needs AWS credentials)
   */
  readonly availabilityZones?: readonly string[];
  /**
   * NAT gateways of the new VPC. Not with `network`.
   * @default NatGatewayMode.PER_AZ
   */
  readonly natGateways?: NatGatewayMode;

  /**
   * Number of API servers, spread evenly over the zones.
   * @default 3
   */
  readonly apiServerCount?: number;
  /**
   * Accept a single API server (no redundancy).
   * @default false
   */
  readonly allowSingleApiServer?: boolean;
  /**
   * Instance type of API servers.
   * @default "m6i.large"
   */
  readonly apiServerInstanceType?: string;
  /**
   * AMI of every control-plane node (built from `nodeImage`). Pin it: a change rolls the API servers.
   * @default - newest official image of `nodeImage`, looked up at plan time (needs AWS credentials)
   */
  readonly amiId?: string;
  /**
   * Operating system of every control-plane node: Ubuntu 24.04 LTS or Debian 12. Chooses the image
   * lookup (Canonical's or the Debian project's official images) and the root device name; also
   * describes `amiId` when given (an image built from that OS).
   * @default NodeImage.UBUNTU_24_04
   */
  readonly nodeImage?: NodeImage;
  /**
   * IMDSv2 hop limit of control-plane nodes.
   * @default 1
   */
  readonly metadataHopLimit?: number;

  /**
   * Where etcd runs: `EXTERNAL` on dedicated nodes (API server rolls never touch quorum), or
   * `STACKED` on the API server nodes (fewer machines; one member per API server, so a lost node
   * costs both).
   * @default EtcdTopology.EXTERNAL
   */
  readonly etcdTopology?: EtcdTopology;
  /**
   * etcd members (external topology): 3 or 5 (7 allowed). Stacked etcd has one member per API server.
   * @default 3
   */
  readonly etcdMemberCount?: number;
  /**
   * Accept a single etcd member (no fault tolerance).
   * @default false
   */
  readonly allowNonHaEtcd?: boolean;
  /**
   * Accept a control plane whose private subnets all lie in one availability zone: that zone's
   * outage stops the Kubernetes API and etcd. Also accepts etcd's quorum sitting in that zone
   * (it cannot be elsewhere). Without it a single zone is a `ConfigError`; with it, a warning.
   * @default false
   */
  readonly allowSingleZone?: boolean;
  /**
   * Accept etcd members placed so that one zone holds a quorum's worth of them (e.g. 3 members
   * over 2 zones): losing that zone loses quorum. Without it such a placement is a `ConfigError`;
   * with it, a warning.
   * @default false
   */
  readonly allowEtcdZoneQuorumLoss?: boolean;
  /**
   * Instance type of etcd members.
   * @default "m6i.large"
   */
  readonly etcdInstanceType?: string;
  /**
   * etcd data volume size in GiB.
   * @default 20
   */
  readonly etcdDataVolumeSizeGiB?: number;
  /**
   * Provisioned IOPS of each etcd member's gp3 data volume: 3000 to 16000, and at most 500 per GiB
   * of `etcdDataVolumeSizeGiB` (ConfigError otherwise). etcd's fsync latency bounds its write rate.
   * @default 3000
   */
  readonly etcdDataVolumeIops?: number;
  /**
   * etcd data volume throughput in MiB/s.
   * @default 125
   */
  readonly etcdDataVolumeThroughputMiBps?: number;
  /**
   * Protect etcd data volumes from `destroy`.
   * @default true
   */
  readonly protectEtcdDataVolumes?: boolean;
  /**
   * Private zone for etcd member records.
   * @default - none
   */
  readonly etcdPrivateHostedZoneId?: string;
  /**
   * Domain of etcd member records.
   * @default - none (required with etcdPrivateHostedZoneId)
   */
  readonly etcdMemberDomain?: string;

  /**
   * The etcd release members install (version, SHA-256 per architecture, optional mirror).
   * @default DEFAULT_ETCD_RELEASE (etcd 3.5.21)
   */
  readonly etcdRelease?: EtcdRelease;
  /**
   * etcd release the running members are on now. With this set, an `etcdRelease` older than it is
   * refused: the next (planned or unplanned) member replacement would otherwise install it.
   * @default - no check
   */
  readonly etcdVersionDeployed?: string;
  /**
   * etcd backend quota in bytes.
   * @default 2147483648 (2 GiB)
   */
  readonly etcdQuotaBackendBytes?: number;
  /**
   * Snapshot etcd to an S3 bucket on a timer.
   * @default true
   */
  readonly etcdBackups?: boolean;
  /**
   * Acknowledge `etcdBackups: false`. On a running cluster, switching backups off deletes the backup
   * bucket's policy, encryption, Object Lock and lifecycle settings (the bucket itself stays while
   * `protectEtcdBackupBucket` is on), stops every snapshot and leaves no restore point.
   * @default false
   */
  readonly allowBackupRemoval?: boolean;
  /**
   * Refuse to destroy the etcd backup bucket and its snapshots (`prevent_destroy`). Turn it off only
   * to tear the cluster down on purpose (see the teardown runbook).
   * @default true
   */
  readonly protectEtcdBackupBucket?: boolean;
  /**
   * Minutes between etcd snapshots.
   * @default 5
   */
  readonly etcdBackupIntervalMinutes?: number;
  /**
   * Days an etcd snapshot is kept.
   * @default 14
   */
  readonly etcdBackupRetentionDays?: number;
  /**
   * Name of the backup bucket (global).
   * @default - `<cluster>-etcd-backups-<hash>`
   */
  readonly etcdBackupBucketName?: string;

  /**
   * Name of the bucket node bootstrap bundles go in (global). Nodes fetch their role's bundle
   * (scripts, units, configuration) from it at first boot and check its SHA-256 from the user data:
   * EC2 user data is limited to 16 KB.
   * @default - `<cluster>-bootstrap-<hash>`
   */
  readonly bootstrapBundleBucketName?: string;
  /**
   * An existing bucket for the bootstrap bundles instead of a new one (under
   * `bootstrapBundleKeyPrefix`). Its encryption, public access block and TLS-only policy are yours
   * to keep; every bundle object is encrypted with the cluster key either way.
   * @default - a new bucket
   */
  readonly existingBootstrapBundleBucketName?: string;
  /**
   * Key prefix of the bootstrap bundles: empty or ending in `/`.
   * @default ""
   */
  readonly bootstrapBundleKeyPrefix?: string;

  /**
   * Endpoints: internal only, or internal and public.
   * @default EndpointAccess.INTERNAL
   */
  readonly endpointAccess?: EndpointAccess;
  /**
   * Client networks allowed to reach the API endpoints besides the cluster's own nodes. A public
   * endpoint requires at least one; `0.0.0.0/0` must be written out.
   * @default []
   */
  readonly allowedApiCidrs?: readonly string[];
  /**
   * VPC endpoints for every AWS service the nodes call ({@link NodeVpcEndpoints}: interface
   * endpoints with private DNS for EC2, Auto Scaling, Secrets Manager, CloudWatch, CloudWatch Logs
   * and Session Manager, an S3 gateway endpoint). With this on, node role credentials also work only
   * through the cluster VPC's endpoints (`aws:SourceVpc`), never against a public endpoint. Costs one
   * interface endpoint per service and zone. An {@link ExistingNetwork} must give each private
   * subnet's `routeTableId`.
   * @default false
   */
  readonly vpcEndpoints?: boolean;
  /**
   * Destinations outside the VPC that API server and etcd nodes may reach on 443 and 80: IPv4
   * blocks or managed prefix list ids (`pl-…`), e.g. an egress proxy. `[]` removes internet egress:
   * it needs `vpcEndpoints: true` and an etcd release mirror (`etcdRelease.mirrorUrlTemplate` with
   * `mirrorOnly`) reachable inside the VPC; API server nodes additionally need containerd (the OS
   * archive, unless the image has it), kubelet (`kubernetesBinaryMirror`) and the control-plane
   * images (`imageRepository`) from mirrors reachable inside the VPC, or an allow-listed proxy
   * (synth warns when those are left at the public sources).
   * @default ["0.0.0.0/0"]
   */
  readonly internetEgress?: readonly string[];
  /**
   * Protect the API load balancers from deletion.
   * @default true
   */
  readonly loadBalancerDeletionProtection?: boolean;
  /**
   * Private zone for the internal endpoint record.
   * @default - none
   */
  readonly privateHostedZoneId?: string;
  /**
   * Internal endpoint record name.
   * @default - none (required with privateHostedZoneId)
   */
  readonly internalDnsName?: string;
  /**
   * Public zone for the public endpoint record.
   * @default - none
   */
  readonly publicHostedZoneId?: string;
  /**
   * Public endpoint record name.
   * @default - none (required with publicHostedZoneId)
   */
  readonly publicDnsName?: string;

  /**
   * Kubernetes service IPv4 block (/12 to /28). Its first address is the `kubernetes` service IP.
   * @default "10.96.0.0/12"
   */
  readonly serviceCidr?: string;
  /**
   * Pod IPv4 block.
   * @default "10.244.0.0/16"; with `podNetwork: PodNetwork.VPC_NATIVE`, the VPC block
   */
  readonly podCidr?: string;
  /**
   * How the API servers (not Nodes: no CNI agent, no kube-proxy) reach pods, for admission
   * webhooks and aggregated APIs. `VPC_NATIVE`: pods on VPC addresses (`podCidr` inside the VPC
   * block). `ROUTED`: `podCidr` outside the VPC, routed by VPC route tables (you own the routes);
   * API servers get egress to it. `OVERLAY`: API servers cannot reach pods; webhooks and
   * aggregated APIs must use `hostNetwork` (synth warns).
   * @default PodNetwork.ROUTED
   */
  readonly podNetwork?: PodNetwork;
  /**
   * Cluster DNS domain.
   * @default "cluster.local"
   */
  readonly clusterDomain?: string;

  /**
   * Turns the cluster's certificate specs into Terraform resources (e.g. an AWS Private CA issuer).
   * It must hand out the Kubernetes CA's key: the controller-manager signs node CSRs with it
   * (ConfigError otherwise).
   * @default - the Terraform tls provider (keys in Terraform state: use an encrypted backend)
   */
  readonly certificateIssuer?: ICertificateIssuer;
  /**
   * Key algorithm of every certificate and the service-account key.
   * @default KeyAlgorithm.ECDSA_P256
   */
  readonly certificateKeyAlgorithm?: KeyAlgorithm;
  /**
   * IAM principals besides each node slot's own role allowed to manage its certificate secret (see
   * `ClusterPkiProps.secretAdminPrincipalArns`); include the principal that applies this stack.
   * @default - the account root and the IAM principal applying the stack
   */
  readonly secretAdminPrincipalArns?: readonly string[];
  /**
   * CA validity in hours.
   * @default 87600 (10 years)
   */
  readonly caValidityHours?: number;
  /**
   * Leaf certificate validity in hours (at most 8760).
   * @default 8760 (1 year)
   */
  readonly leafCertificateValidityHours?: number;
  /**
   * Hours before expiry a `cdktf deploy` re-issues a leaf certificate. The defaults need at least
   * one deploy every 60 days (renewal with 30 or more days left); users re-fetch the admin
   * kubeconfig after a deploy that re-issued it.
   * @default 2160 (90 days)
   */
  readonly leafCertificateEarlyRenewalHours?: number;
  /**
   * Staged rotation of the Kubernetes CA: `{ generation, phase }`, one phase per deploy
   * (`TRUST_BOTH`, `ISSUE_NEW`, `DISTRUST_OLD`, then `{ generation: g + 1 }`); see the README's
   * *CA rotation* runbook, which also says what workers need between phases.
   * @default - generation 1, CaRotationPhase.NONE
   */
  readonly kubernetesCaRotation?: CaRotation;
  /**
   * Staged rotation of the etcd CA, as `kubernetesCaRotation` (nodes restart etcd and the API
   * servers when the bundle changes).
   * @default - generation 1, CaRotationPhase.NONE
   */
  readonly etcdCaRotation?: CaRotation;
  /**
   * Staged rotation of the front-proxy CA, as `kubernetesCaRotation`.
   * @default - generation 1, CaRotationPhase.NONE
   */
  readonly frontProxyCaRotation?: CaRotation;
  /**
   * Days before the earliest certificate on a node expires that raise the certificate-expiry alarm
   * (with `monitoring`). Must be below the early-renewal window (`leafCertificateEarlyRenewalHours`
   * in days): the alarm then means a renewal that should have happened did not.
   * @default 14 (for an early-renewal window under 28 days: half of it, at least 1)
   */
  readonly certificateExpiryAlarmDays?: number;

  /**
   * CloudWatch alarms (load balancer health, Auto Scaling groups, clock skew, certificate expiry,
   * etcd health) and the node metrics they watch.
   * @default true
   */
  readonly monitoring?: boolean;
  /**
   * Ship kube-apiserver audit events to CloudWatch Logs (a log group encrypted with the cluster key,
   * one stream per API server slot; nodes may only add events).
   * @default true
   */
  readonly auditLogShipping?: boolean;
  /**
   * Days CloudWatch Logs keeps audit events (a value CloudWatch accepts: 1, 3, 5, 7, 14, 30, 60, 90,
   * 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653).
   * @default 365
   */
  readonly auditLogRetentionDays?: number;
  /**
   * SNS topic alarms notify.
   * @default - a new topic
   */
  readonly alarmTopicArn?: string;
  /**
   * Also roll back (replace the servers deployed so far) when an API server refresh stops on an
   * alarm. The stop itself is always on with monitoring: the refresh fails as soon as an
   * `api-*-unhealthy` alarm fires. Off by default because the AWS provider saves the new launch
   * template version on the group before it starts the refresh, and Auto Scaling rolls back to the
   * group's saved configuration, i.e. to the new version (hashicorp/terraform-provider-aws#34189).
   * @default false
   */
  readonly apiServerRefreshAutoRollback?: boolean;

  /**
   * KMS key for volumes (and node secrets).
   * @default - a new key with rotation
   */
  readonly kmsKeyArn?: string;
  /**
   * The secrets-encryption key has been written by the first API server: set it in the deploy after
   * the cluster's first boot. It removes the API servers' `PutSecretValue` grant and denies them
   * writes in the secret's policy, so no node can replace the key (see `SecretsEncryptionKey`).
   * @default false
   */
  readonly secretsEncryptionKeyInitialized?: boolean;
  /**
   * Tags for every resource (at most 44: the library adds up to 6).
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * A highly available, self-managed Kubernetes control plane on AWS: composition only.
 *
 * Network (new or existing) → least-privilege security groups → KMS key → API load balancer(s)
 * → etcd (external or stacked) → API servers, plus Terraform outputs for worker nodes and clients.
 */
export class HaControlPlane extends Construct {
  /** The cluster's name (`clusterName` prop): prefix of every AWS name and the `kubernetes.io/cluster/<name>` tag. */
  public readonly clusterName: string;
  /** The Kubernetes version the API server nodes run, e.g. `1.33.5`. */
  public readonly kubernetesVersion: string;
  /** Registry of the Kubernetes images (`imageRepository`, default `registry.k8s.io`). */
  public readonly imageRepository: string;
  /** The Services' cluster IP range in effect (the prop, or `10.96.0.0/12`). */
  public readonly serviceCidr: string;
  /** The pods' IP range in effect (the prop, the VPC block with VPC-native pod networking, or `10.244.0.0/16`). */
  public readonly podCidr: string;
  /** Cluster DNS domain. */
  public readonly clusterDomain: string;
  /** The network the control plane lives in: the one passed as `network`, or a new `ControlPlaneNetwork`. */
  public readonly network: INetwork;
  /** The least-privilege security groups of API servers, etcd, the load balancer and workers. */
  public readonly securityGroups: ControlPlaneSecurityGroups;
  /** The nodes' AWS service endpoints, with `vpcEndpoints: true`. */
  public readonly vpcEndpoints?: NodeVpcEndpoints;
  /** The KMS key encrypting volumes, secrets, bundles and backups: `kmsKeyArn`'s, or a new key with rotation. */
  public readonly encryptionKey: IEncryptionKey;
  /** The API endpoint. */
  public readonly endpoint: ApiLoadBalancer;
  /** The API server nodes: launch template, Auto Scaling group and their fixed-IP slots. */
  public readonly apiServers: ApiServerNodes;
  /** The etcd cluster. */
  public readonly etcd: EtcdCluster;
  /** Security group worker nodes must carry to join. */
  public readonly workerSecurityGroupId: string;

  /** The kubernetes-admin client certificate and key (PEM; sensitive, in Terraform state). */
  public get adminCredentials(): {
    /** The kubernetes-admin client certificate, PEM (organization `kubeadm:cluster-admins`). */
    readonly certPem: string;
    /** The certificate's private key, PEM-encoded (sensitive: it is in Terraform state). */
    readonly privateKeyPem: string;
  } {
    const admin = this.pki.issued.get("admin")!;
    return { certPem: admin.certPem, privateKeyPem: admin.privateKeyPem! };
  }
  /** The cluster PKI. */
  public readonly pki: ClusterPki;
  /** The etcd snapshot bucket (when backups are on). */
  public readonly etcdBackups?: EtcdBackups;
  /** Where nodes fetch their bootstrap bundles from. */
  public readonly bootstrapBundles: BootstrapBundles;
  /** Where audit events are shipped (unless `auditLogShipping: false`). */
  public readonly auditLogs?: AuditLogs;
  /** The alarms (when monitoring is on). */
  public readonly alarms?: ControlPlaneAlarms;
  /** The key Kubernetes Secrets are encrypted with at rest. */
  public readonly secretsEncryptionKey: SecretsEncryptionKey;
  /** API URL for clients outside the VPC when there is a public endpoint, else the internal one. */
  public readonly apiUrl: string;
  /** API URL for nodes and in-VPC clients. */
  public readonly internalApiUrl: string;

  constructor(scope: Construct, id: string, props: HaControlPlaneProps) {
    super(scope, id);
    checkClusterName("clusterName", props.clusterName);
    checkTags("tags", props.tags, RESERVED_TAG_COUNT);
    const version = props.kubernetesVersion ?? "1.33.5";
    checkKubernetesVersion("kubernetesVersion", version);
    checkImageRepository("imageRepository", props.imageRepository);
    nodeImageFacts("nodeImage", props.nodeImage);
    if (props.kubernetesBinaryMirror !== undefined) checkKubernetesBinaryMirror("kubernetesBinaryMirror", props.kubernetesBinaryMirror, version);
    checkKubernetesUpgrade("kubernetesVersion", "kubernetesVersionDeployed", props.kubernetesVersionDeployed, version);
    checkEtcdUpgrade("etcdRelease.version", "etcdVersionDeployed", props.etcdVersionDeployed, (props.etcdRelease ?? DEFAULT_ETCD_RELEASE).version);
    // The PKI policy under the names the user set (ClusterPki would report pki.leafValidityHours).
    resolvePolicy(
      {
        keyAlgorithm: props.certificateKeyAlgorithm,
        caValidityHours: props.caValidityHours,
        leafValidityHours: props.leafCertificateValidityHours,
        leafEarlyRenewalHours: props.leafCertificateEarlyRenewalHours,
      },
      { ...PKI_POLICY_PROP_NAMES, keyAlgorithm: "certificateKeyAlgorithm", caValidityHours: "caValidityHours", leafValidityHours: "leafCertificateValidityHours", leafEarlyRenewalHours: "leafCertificateEarlyRenewalHours" },
    );
    resolveCaRotation(CaTrustDomain.KUBERNETES, props.kubernetesCaRotation);
    resolveCaRotation(CaTrustDomain.ETCD, props.etcdCaRotation);
    resolveCaRotation(CaTrustDomain.FRONT_PROXY, props.frontProxyCaRotation);
    const renewalHours = props.leafCertificateEarlyRenewalHours ?? DEFAULT_LEAF_EARLY_RENEWAL_HOURS;
    // The default alarm stays inside a short renewal window (short-lived leaves): half of it, at most 14 days.
    const certificateAlarmDays = props.certificateExpiryAlarmDays ?? Math.max(1, Math.min(14, Math.floor(renewalHours / 48)));
    if (props.certificateExpiryAlarmDays !== undefined) {
      checkRenewalAlarm("certificateExpiryAlarmDays", props.certificateExpiryAlarmDays, "leafCertificateEarlyRenewalHours", renewalHours);
    } else if (certificateAlarmDays * 24 >= renewalHours) {
      Annotations.of(this).addWarning(`leafCertificateEarlyRenewalHours ${renewalHours} is under 2 days: the certificate-expiry alarm (whole days, at least 1) fires on every renewal`);
    }
    const topology = props.etcdTopology ?? EtcdTopology.EXTERNAL;
    const access = props.endpointAccess ?? EndpointAccess.INTERNAL;
    const allowed = props.allowedApiCidrs ?? [];
    if (access === EndpointAccess.INTERNAL_AND_PUBLIC && allowed.length === 0) {
      throw new ConfigError(
        "allowedApiCidrs",
        allowed,
        "a public endpoint with no allowed client networks would be unreachable, and no world-open default is assumed",
        'list your client networks (write "0.0.0.0/0" to open the API to the internet deliberately)',
      );
    }
    if (props.network !== undefined) {
      for (const [p, v] of [["vpcCidr", props.vpcCidr], ["availabilityZones", props.availabilityZones], ["natGateways", props.natGateways]] as const) {
        if (v !== undefined) throw new ConfigError(p, v, "only applies to a new VPC, but an existing network was given", `drop ${p} or network`);
      }
    }
    if (topology === EtcdTopology.STACKED) {
      const apiCount = props.apiServerCount ?? 3;
      if (props.etcdMemberCount !== undefined && props.etcdMemberCount !== apiCount) {
        throw new ConfigError("etcdMemberCount", props.etcdMemberCount, `stacked etcd runs one member per API server (${apiCount})`, "drop etcdMemberCount or set apiServerCount to the member count");
      }
      checkMemberCount("apiServerCount", apiCount, props.allowNonHaEtcd ?? false, " (stacked etcd runs one member per API server)");
    }
    this.clusterName = props.clusterName;
    this.kubernetesVersion = version.replace(/^v/, "");
    this.imageRepository = props.imageRepository ?? DEFAULT_IMAGE_REPOSITORY;
    this.clusterDomain = props.clusterDomain ?? "cluster.local";
    if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(this.clusterDomain) || this.clusterDomain.length > 253) {
      throw new ConfigError("clusterDomain", props.clusterDomain, "is not a lower-case DNS domain", 'use "cluster.local" or your own domain');
    }

    this.network =
      props.network ??
      new ControlPlaneNetwork(this, "Network", {
        clusterName: props.clusterName,
        vpcCidr: props.vpcCidr,
        availabilityZones: props.availabilityZones,
        natGateways: props.natGateways,
        tags: props.tags,
      });
    const singleZone = checkSingleZone(
      props.network !== undefined ? "network.privateSubnets" : "availabilityZones",
      props.network !== undefined ? this.network.privateSubnets.map((sn) => sn.subnetId) : props.availabilityZones,
      this.network.privateSubnets.map((sn) => sn.availabilityZone),
      props.allowSingleZone ?? false,
    );
    if (singleZone) Annotations.of(this).addWarning("every control-plane node is in one availability zone (allowSingleZone): that zone's outage stops the Kubernetes API and etcd");
    const pods = resolvePodNetwork(props.podNetwork ?? PodNetwork.ROUTED, props.podCidr, this.network.vpcCidr, !isUnresolved(this.network.vpcCidr), props.serviceCidr ?? "10.96.0.0/12");
    warnPodNetwork(this, pods.podNetwork);
    const cidrs = checkCidrs(this.network.vpcCidr, props.serviceCidr ?? "10.96.0.0/12", pods.podCidr, pods.podNetwork === PodNetwork.VPC_NATIVE);
    this.serviceCidr = formatCidr(cidrs.service);
    this.podCidr = formatCidr(cidrs.pod);

    this.securityGroups = new ControlPlaneSecurityGroups(this, "SecurityGroups", {
      clusterName: props.clusterName,
      network: this.network,
      allowedApiCidrs: allowed,
      podNetwork: pods.podNetwork,
      podCidr: this.podCidr,
      internetEgress: props.internetEgress,
      tags: props.tags,
    });
    this.workerSecurityGroupId = this.securityGroups.workerNodes.id;
    if (props.vpcEndpoints !== undefined && typeof props.vpcEndpoints !== "boolean") {
      throw new ConfigError("vpcEndpoints", props.vpcEndpoints, "must be true or false", "pass true to reach AWS APIs through VPC endpoints");
    }
    if (this.securityGroups.internetEgress.length === 0) {
      if (props.vpcEndpoints !== true) {
        throw new ConfigError("internetEgress", [], "removes internet egress, but without vpcEndpoints the nodes cannot reach any AWS API (slot claim, secrets, metrics)", "set vpcEndpoints: true, or allow-list an egress proxy");
      }
      const release = props.etcdRelease;
      if (release?.mirrorUrlTemplate === undefined || release.mirrorOnly !== true) {
        throw new ConfigError("internetEgress", [], "removes internet egress, but etcd members download their release from GitHub", "set etcdRelease.mirrorUrlTemplate (a mirror inside the VPC or on S3) and etcdRelease.mirrorOnly: true");
      }
      // Not refused: an image may carry the binaries and images already.
      const publicSources = [
        ...(props.kubernetesBinaryMirror === undefined ? ["kubelet from pkgs.k8s.io (set kubernetesBinaryMirror)"] : []),
        ...(props.imageRepository === undefined ? ["control-plane images from registry.k8s.io (set imageRepository)"] : []),
      ];
      if (publicSources.length > 0) {
        Annotations.of(this).addWarning(`internetEgress is []: API server nodes still fetch ${publicSources.join(" and ")}; unless the node image carries them, they never start`);
      }
    }
    if (props.vpcEndpoints === true) {
      this.vpcEndpoints = new NodeVpcEndpoints(this, "VpcEndpoints", {
        clusterName: props.clusterName,
        network: this.network,
        clientSecurityGroupIds: [this.securityGroups.apiServer.id, this.securityGroups.etcd.id],
        tags: props.tags,
      });
      this.securityGroups.allowHttpsToPrefixList("S3Endpoint", this.vpcEndpoints.s3PrefixListId, "S3 through the VPC gateway endpoint (bootstrap bundles, backups, mirrors)");
    }
    this.encryptionKey =
      props.kmsKeyArn !== undefined
        ? ClusterEncryptionKey.fromKeyArn(props.kmsKeyArn)
        : new ClusterEncryptionKey(this, "EncryptionKey", { clusterName: props.clusterName, tags: props.tags });
    const asgRole = new AutoScalingServiceRole(this, "AutoScalingRole", {
      clusterName: props.clusterName,
      encryptionKey: this.encryptionKey,
      tags: props.tags,
    });

    this.endpoint = new ApiLoadBalancer(this, "ApiEndpoint", {
      clusterName: props.clusterName,
      network: this.network,
      securityGroupId: this.securityGroups.loadBalancer.id,
      endpointAccess: access,
      deletionProtection: props.loadBalancerDeletionProtection,
      privateHostedZoneId: props.privateHostedZoneId,
      internalDnsName: props.internalDnsName,
      publicHostedZoneId: props.publicHostedZoneId,
      publicDnsName: props.publicDnsName,
      tags: props.tags,
    });

    const stacked = topology === EtcdTopology.STACKED;
    const secretPrefix = `${props.clusterName}/control-plane`;
    const monitoring = props.monitoring ?? true;
    if (!monitoring && props.alarmTopicArn !== undefined) {
      throw new ConfigError("alarmTopicArn", props.alarmTopicArn, "there are no alarms with monitoring: false", "drop alarmTopicArn or turn monitoring on");
    }
    const metricNamespace = monitoring ? NODE_METRIC_NAMESPACE : undefined;
    const backupsOn = props.etcdBackups ?? true;
    for (const [p, v] of [["etcdBackupIntervalMinutes", props.etcdBackupIntervalMinutes], ["etcdBackupRetentionDays", props.etcdBackupRetentionDays], ["etcdBackupBucketName", props.etcdBackupBucketName]] as const) {
      if (!backupsOn && v !== undefined) throw new ConfigError(p, v, "only applies with etcdBackups on", `drop ${p} or set etcdBackups: true`);
    }
    if (!backupsOn && props.allowBackupRemoval !== true) {
      throw new ConfigError(
        "etcdBackups",
        false,
        "switches etcd snapshots off: on a running cluster this deletes the backup bucket's policy, encryption, Object Lock and lifecycle settings and leaves no restore point for a lost quorum or a bad write",
        "keep etcdBackups on, or set allowBackupRemoval: true to accept a cluster without etcd backups",
      );
    }
    if (!backupsOn && props.protectEtcdBackupBucket !== undefined) {
      throw new ConfigError("protectEtcdBackupBucket", props.protectEtcdBackupBucket, "only applies with etcdBackups on", "drop protectEtcdBackupBucket or set etcdBackups: true");
    }
    this.etcdBackups = backupsOn
      ? new EtcdBackups(this, "EtcdBackups", {
          clusterName: props.clusterName,
          encryptionKey: this.encryptionKey,
          bucketName: props.etcdBackupBucketName,
          intervalMinutes: props.etcdBackupIntervalMinutes,
          retentionDays: props.etcdBackupRetentionDays,
          protectBucket: props.protectEtcdBackupBucket,
          tags: props.tags,
        })
      : undefined;
    this.bootstrapBundles = new BootstrapBundles(this, "BootstrapBundles", {
      clusterName: props.clusterName,
      encryptionKey: this.encryptionKey,
      bucketName: props.bootstrapBundleBucketName,
      existingBucketName: props.existingBootstrapBundleBucketName,
      keyPrefix: props.bootstrapBundleKeyPrefix,
      tags: props.tags,
    });
    // API server slots are planned first: stacked etcd members live on them.
    const apiSlots = planApiServerSlots({ network: this.network, count: props.apiServerCount, allowSingleApiServer: props.allowSingleApiServer });
    this.etcd = new EtcdCluster(this, "Etcd", {
      clusterName: props.clusterName,
      network: this.network,
      securityGroupIds: [this.securityGroups.etcd.id],
      encryptionKey: this.encryptionKey,
      topology,
      stackedOn: stacked ? apiSlots.slots : undefined,
      memberCount: stacked ? undefined : props.etcdMemberCount,
      allowNonHaEtcd: props.allowNonHaEtcd,
      // In one zone etcd's quorum cannot sit anywhere else: allowSingleZone covers it.
      allowEtcdZoneQuorumLoss: (props.allowEtcdZoneQuorumLoss ?? false) || singleZone,
      autoScalingServiceRoleArn: asgRole.roleArn,
      instanceType: props.etcdInstanceType,
      amiId: props.amiId,
      nodeImage: props.nodeImage,
      dataVolumeSizeGiB: props.etcdDataVolumeSizeGiB,
      dataVolumeIops: props.etcdDataVolumeIops,
      dataVolumeThroughputMiBps: props.etcdDataVolumeThroughputMiBps,
      protectDataVolumes: props.protectEtcdDataVolumes,
      privateHostedZoneId: props.etcdPrivateHostedZoneId,
      memberDomain: props.etcdMemberDomain,
      secretPrefix,
      metricNamespace,
      release: props.etcdRelease,
      quotaBackendBytes: props.etcdQuotaBackendBytes,
      backups: this.etcdBackups,
      bootstrapBundles: this.bootstrapBundles,
      tags: props.tags,
    });

    this.secretsEncryptionKey = new SecretsEncryptionKey(this, "SecretsEncryption", {
      clusterName: props.clusterName,
      encryptionKey: this.encryptionKey,
      initialized: props.secretsEncryptionKeyInitialized,
      tags: props.tags,
    });
    if (props.auditLogShipping === false && props.auditLogRetentionDays !== undefined) {
      throw new ConfigError("auditLogRetentionDays", props.auditLogRetentionDays, "there is no audit log group with auditLogShipping: false", "drop auditLogRetentionDays or turn auditLogShipping on");
    }
    this.auditLogs =
      props.auditLogShipping === false
        ? undefined
        : new AuditLogs(this, "AuditLogs", {
          clusterName: props.clusterName,
          encryptionKey: this.encryptionKey,
          apiServerSlots: apiSlots.slots.map((s) => s.name),
          retentionDays: props.auditLogRetentionDays,
          tags: props.tags,
        });
    this.apiServers = new ApiServerNodes(this, "ApiServers", {
      clusterName: props.clusterName,
      network: this.network,
      endpoint: this.endpoint,
      securityGroupIds: stacked ? [this.securityGroups.apiServer.id, this.securityGroups.etcd.id] : [this.securityGroups.apiServer.id],
      encryptionKey: this.encryptionKey,
      autoScalingServiceRoleArn: asgRole.roleArn,
      count: props.apiServerCount,
      allowSingleApiServer: props.allowSingleApiServer,
      instanceType: props.apiServerInstanceType,
      amiId: props.amiId,
      nodeImage: props.nodeImage,
      metadataHopLimit: props.metadataHopLimit,
      stackedEtcd: stacked,
      secretPrefix,
      metricNamespace,
      additionalBoot: stacked ? this.etcd.bootExtras() : undefined,
      bootstrapBundles: this.bootstrapBundles,
      kubernetes: {
        kubernetesVersion: this.kubernetesVersion,
        etcd: this.etcd,
        serviceCidr: this.serviceCidr,
        podCidr: this.podCidr,
        clusterDomain: this.clusterDomain,
        encryptionKeySecret: this.secretsEncryptionKey,
        auditLogGroupName: this.auditLogs?.logGroupName,
        imageRepository: props.imageRepository,
        binaryMirror: props.kubernetesBinaryMirror,
      },
      tags: props.tags,
    });
    if (this.auditLogs !== undefined) this.auditLogs.grantShip(this.apiServers.role);
    if (stacked) this.etcdBackups?.grantReadWrite(this.apiServers.role);
    // Node credentials work only for instances in this VPC, through its endpoints or NAT addresses.
    const boundary = { vpcId: this.network.vpcId, egressPublicIps: this.network.egressPublicIps, requireVpcEndpoints: this.vpcEndpoints !== undefined };
    for (const role of new Set([this.apiServers.role, ...this.etcd.roles])) role.restrictToNetwork(boundary);
    const readers: Record<string, NodeRole> = {};
    this.apiServers.slots.forEach((slot) => (readers[slot.name] = this.apiServers.role));
    this.etcd.roles.forEach((role, i) => (readers[this.etcd.members[i].name] = role));
    this.pki = new ClusterPki(this, "Pki", {
      facts: {
        clusterName: props.clusterName,
        apiServers: this.apiServers.slots.map((s) => ({ name: s.name, privateIp: s.privateIp })),
        etcdMembers: this.etcd.members,
        stackedEtcd: stacked,
        apiServerNames: this.endpoint.serverNames,
        serviceCidr: this.serviceCidr,
        clusterDomain: this.clusterDomain,
      },
      encryptionKey: this.encryptionKey,
      secretReaders: readers,
      secretAdminPrincipalArns: props.secretAdminPrincipalArns,
      issuer: props.certificateIssuer,
      keyAlgorithm: props.certificateKeyAlgorithm,
      caValidityHours: props.caValidityHours,
      leafValidityHours: props.leafCertificateValidityHours,
      leafEarlyRenewalHours: props.leafCertificateEarlyRenewalHours,
      kubernetesCaRotation: props.kubernetesCaRotation,
      etcdCaRotation: props.etcdCaRotation,
      frontProxyCaRotation: props.frontProxyCaRotation,
      adminServerUrl: `https://${this.endpoint.publicHost ?? this.endpoint.internalHost}:${this.endpoint.port}`,
      tags: props.tags,
    });

    if (monitoring) {
      this.alarms = new ControlPlaneAlarms(this, "Alarms", {
        clusterName: props.clusterName,
        alarmTopicArn: props.alarmTopicArn,
        loadBalancerTargets: this.endpoint.metricTargets,
        apiServerCount: this.apiServers.slots.length,
        apiServerGroupName: this.apiServers.autoScalingGroup.name,
        etcdGroupNames: this.etcd.autoScalingGroups.map((g) => g.name),
        apiServerSlots: this.apiServers.slots.map((s) => s.name),
        etcdMemberSlots: this.etcd.members.map((m) => m.name),
        etcdBackupIntervalMinutes: this.etcdBackups?.intervalMinutes,
        certificateExpiryThresholdDays: certificateAlarmDays,
        tags: props.tags,
      });
      // An upgrade that brings up unhealthy API servers stops there (issue 18 finding 1).
      this.apiServers.stopRefreshOnAlarms(this.alarms.apiUnhealthyAlarmNames, props.apiServerRefreshAutoRollback ?? false);
    } else if (props.apiServerRefreshAutoRollback !== undefined) {
      throw new ConfigError("apiServerRefreshAutoRollback", String(props.apiServerRefreshAutoRollback), "the refresh stops on alarms, and there are no alarms with monitoring: false", "drop apiServerRefreshAutoRollback or turn monitoring on");
    }
    // A node boots into what its group's first instances claim and read: slot interfaces and
    // volumes, slot secrets with their values and resource policies, its role's permissions.
    // Terraform would otherwise create those in parallel with the groups, and a fast first boot (or
    // a scale-out) races them (issue 18 finding 5).
    const bootDependencies = this.node
      .findAll()
      .filter((c): c is TerraformResource => c instanceof TerraformResource && BOOT_DEPENDENCY_TYPES.has(c.terraformResourceType))
      .map((r) => sameStackDependable(r));
    for (const group of [this.apiServers.autoScalingGroup, ...this.etcd.autoScalingGroups]) {
      group.dependsOn = [...(group.dependsOn ?? []), ...bootDependencies];
    }
    this.internalApiUrl = `https://${this.endpoint.internalHost}:${this.endpoint.port}`;
    this.apiUrl = `https://${this.endpoint.publicHost ?? this.endpoint.internalHost}:${this.endpoint.port}`;
    new TerraformOutput(this, "internal_endpoint", {
      value: this.internalApiUrl,
      description: "Kubernetes API endpoint for nodes and in-VPC clients",
    });
    if (this.endpoint.publicHost !== undefined) {
      new TerraformOutput(this, "public_endpoint", {
        value: `https://${this.endpoint.publicHost}:${this.endpoint.port}`,
        description: "Kubernetes API endpoint for allowedApiCidrs",
      });
    }
    new TerraformOutput(this, "api_target_group_arns", { value: this.endpoint.targetGroupArns, description: "API target groups" });
    new TerraformOutput(this, "worker_security_group_id", { value: this.workerSecurityGroupId, description: "Security group worker nodes must carry" });
    new TerraformOutput(this, "api_server_ips", { value: this.apiServers.slots.map((s) => s.privateIp), description: "Fixed API server addresses" });
    new TerraformOutput(this, "etcd_client_urls", { value: this.etcd.clientUrls, description: "etcd client URLs" });
    if (this.etcd.autoScalingGroups.length > 0) {
      new TerraformOutput(this, "etcd_roll_command", {
        value: `ha-roll-etcd ${props.clusterName} ${this.etcd.autoScalingGroups.map((g) => g.name).join(" ")}`,
        description: "Rolls etcd members onto their current launch template one at a time (script shipped in dist/lib/bootstrap/scripts/ha-roll-etcd.sh)",
      });
      new TerraformOutput(this, "etcd_drift_command", {
        value: `ha-etcd-drift ${this.etcd.autoScalingGroups.map((g) => g.name).join(" ")}`,
        description: "Lists etcd members not on their group's current launch template version; exit 1 on drift (script shipped in dist/lib/bootstrap/scripts/ha-etcd-drift.sh). Run after every deploy that changed an etcd template, then ha-roll-etcd",
      });
    }
    if (this.etcdBackups !== undefined) {
      new TerraformOutput(this, "restore_command", {
        value: `ha-restore ${props.clusterName} ${this.etcdBackups.target} latest ${[this.apiServers.autoScalingGroup.name, ...this.etcd.autoScalingGroups.map((g) => g.name)].join(" ")}`,
        description: "Restores every etcd member from one snapshot (latest, or a key under the target) with the API servers stopped and replacements suspended (script shipped in dist/lib/bootstrap/scripts/ha-restore.sh; README: Backup and restore)",
      });
    }
    new TerraformOutput(this, "api_scale_in_command", {
      value: `ha-scale-in ${props.clusterName} ${this.apiServers.autoScalingGroup.name} <new count>`,
      description: "Run before a deploy that lowers apiServerCount: removes the servers of the highest slots first (script shipped in dist/lib/bootstrap/scripts/ha-scale-in.sh)",
    });
    new TerraformOutput(this, "api_shutdown_delay_seconds", {
      value: this.endpoint.shutdownDelaySeconds,
      description: "--shutdown-delay-duration API servers use (LB detection time + interval + margin)",
    });
    // Last: every resource of the control plane exists now.
    omitUndefinedAttributes(this);
  }
}

function checkCidrs(vpcCidr: string, serviceCidr: string, podCidr: string, podsInVpc: boolean): { service: Ipv4Block; pod: Ipv4Block } {
  const service = parseIpv4Cidr("serviceCidr", serviceCidr);
  const pod = parseIpv4Cidr("podCidr", podCidr);
  if (service.prefix < 12 || service.prefix > 28) {
    throw new ConfigError("serviceCidr", serviceCidr, "kube-apiserver accepts IPv4 service blocks of /12 to /28 (the first address is the kubernetes service)", 'use "10.96.0.0/12"');
  }
  if (pod.prefix > 24) {
    throw new ConfigError("podCidr", podCidr, "too small: each node takes a /24 of it", 'use a /16, e.g. "10.244.0.0/16"');
  }
  if (overlaps(service, pod)) {
    throw new ConfigError("podCidr", podCidr, `overlaps serviceCidr ${serviceCidr}`, "use disjoint blocks");
  }
  if (!isUnresolved(vpcCidr)) {
    const vpc = parseIpv4Cidr("vpcCidr", vpcCidr);
    if (overlaps(vpc, service)) throw new ConfigError("serviceCidr", serviceCidr, `overlaps the VPC block ${vpcCidr}`, "use a block outside the VPC, e.g. 10.96.0.0/12 with a 10.0.0.0/16 VPC");
    if (!podsInVpc && overlaps(vpc, pod)) {
      throw new ConfigError("podCidr", podCidr, `overlaps the VPC block ${vpcCidr}`, "use a block outside the VPC, or, for pods on VPC addresses (Amazon VPC CNI), podNetwork: PodNetwork.VPC_NATIVE");
    }
  }
  return { service, pod };
}
