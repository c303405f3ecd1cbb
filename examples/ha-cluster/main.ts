/**
 * The reference HA control plane: a new VPC over 3 zones, 3 API servers behind an internal NLB,
 * 3 external etcd members. No data source needs AWS credentials (explicit zones and AMI), so
 * `npm run synth` and the offline provider-plan tier work on any machine.
 */
import { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack } from "cdktf";
import { CaRotation, EtcdRelease, EtcdTopology, HaControlPlane, KubernetesBinaryMirror } from "cdktf-ha-control-plane";

/** Props of the reference stack (tests vary the cluster name; the bench builds many copies). */
export interface HaClusterStackProps {
  /** Cluster name. @default "prod-eu1" */
  readonly clusterName?: string;
  /** Region. @default "eu-west-1" */
  readonly region?: string;
  /** Kubernetes release the next deploy rolls out (the control-plane tier upgrades to 1.34.2). @default "1.33.5" */
  readonly kubernetesVersion?: string;
  /** What the cluster runs now: the skew guard's reference. @default - none (no check) */
  readonly kubernetesVersionDeployed?: string;
  /** etcd topology (the control-plane tier runs both). @default EtcdTopology.EXTERNAL */
  readonly etcdTopology?: EtcdTopology;
  /**
   * etcd release with the platform team's mirror (an air-gapped VPC; the boot tier serves one).
   * @default - etcd 3.5.21 from the upstream release
   */
  readonly etcdRelease?: EtcdRelease;
  /**
   * Staged rotation of the Kubernetes, etcd and front-proxy CAs (the control-plane tier runs one).
   * @default - generation 1, no rotation
   */
  readonly kubernetesCaRotation?: CaRotation;
  /** @default - generation 1, no rotation */
  readonly etcdCaRotation?: CaRotation;
  /** @default - generation 1, no rotation */
  readonly frontProxyCaRotation?: CaRotation;
  /**
   * The platform team's mirror of kubelet, kubeadm and kubectl (the boot tier serves one).
   * @default - kubelet from the Kubernetes package repository
   */
  readonly kubernetesBinaryMirror?: KubernetesBinaryMirror;
  /**
   * The platform team's registry of the control-plane images (the boot tier runs one).
   * @default "registry.k8s.io"
   */
  readonly imageRepository?: string;
}

/** The reference control plane in one stack. */
export class HaClusterStack extends TerraformStack {
  /** The control plane. */
  public readonly controlPlane: HaControlPlane;

  constructor(scope: Construct, id: string, props: HaClusterStackProps = {}) {
    super(scope, id);
    const region = props.region ?? "eu-west-1";
    new AwsProvider(this, "aws", { region });
    // Private keys (PKI) live in Terraform state: keep state in an encrypted, versioned bucket.
    // new S3Backend(this, { bucket: "my-tf-state", key: `${id}/terraform.tfstate`, region, encrypt: true, dynamodbTable: "tf-locks" });
    this.controlPlane = new HaControlPlane(this, "ControlPlane", {
      clusterName: props.clusterName ?? "prod-eu1",
      kubernetesVersion: props.kubernetesVersion ?? "1.33.5",
      ...(props.kubernetesVersionDeployed !== undefined ? { kubernetesVersionDeployed: props.kubernetesVersionDeployed } : {}),
      vpcCidr: "10.0.0.0/16",
      availabilityZones: [`${region}a`, `${region}b`, `${region}c`],
      apiServerCount: 3,
      etcdMemberCount: props.etcdTopology === EtcdTopology.STACKED ? undefined : 3,
      etcdTopology: props.etcdTopology,
      kubernetesCaRotation: props.kubernetesCaRotation,
      etcdCaRotation: props.etcdCaRotation,
      frontProxyCaRotation: props.frontProxyCaRotation,
      // Ubuntu 24.04 LTS (amd64) in eu-west-1; pin the image so a new release never rolls nodes unasked.
      amiId: "ami-0a422d70f727fe93e",
      allowedApiCidrs: ["10.20.0.0/16"],
      tags: { team: "platform", environment: "production" },
      ...(props.etcdRelease !== undefined ? { etcdRelease: props.etcdRelease } : {}),
      ...(props.kubernetesBinaryMirror !== undefined ? { kubernetesBinaryMirror: props.kubernetesBinaryMirror } : {}),
      ...(props.imageRepository !== undefined ? { imageRepository: props.imageRepository } : {}),
    });
  }
}

if (require.main === module) {
  const app = new App();
  new HaClusterStack(app, "ha-cluster");
  app.synth();
}
