import { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Aspects, TerraformStack } from "../core";
import { HaControlPlane, HaControlPlaneProps } from "../control-plane";
import { ControlPlaneAccess, IControlPlaneAccess, SuperAdminCertificate } from "../cluster/access";
import { ClusterAccessSecret, ProviderIdentity } from "../cluster/access-secret";
import { HaPolicyPack } from "../policy/pack";
import { PresetPolicySuppression } from "./presets";

/** Props of {@link ControlPlaneStack}. */
export interface ControlPlaneStackProps {
  /** The AWS region of the stack's AWS provider (where every resource of the control plane is created). */
  readonly region: string;
  /** Props of the stack's {@link HaControlPlane}, usually a blueprint's `ResolvedCluster.controlPlaneProps`. */
  readonly controlPlane: HaControlPlaneProps;
  /**
   * ARN of the IAM role that applies the cluster-objects stack: the only reader (besides this
   * stack's deployer) of the secret carrying that stack's API credentials (see `ClusterAccessSecret`).
   */
  readonly clusterObjectsReaderRoleArn: string;
  /**
   * Identity delivered to the cluster-objects stack: `SUPER_ADMIN` for the first deploy, then
   * `ADMIN` (the second deploy, once the `kubeadm:cluster-admins` binding exists), which also
   * destroys the super-admin certificate.
   * @default ProviderIdentity.SUPER_ADMIN
   */
  readonly providerIdentity?: ProviderIdentity;
  /**
   * Check the stack with `HaPolicyPack` (errors fail `cdktf synth`).
   * @default true
   */
  readonly policyPack?: boolean;
  /**
   * Policy-pack rules silenced on the control plane.
   * @default - none
   */
  readonly policySuppressions?: readonly PresetPolicySuppression[];
}

/**
 * The first stack of a cluster: AWS provider, `HaControlPlane`, and the secret delivering the
 * cluster-objects stack's endpoint, CA and client certificate (`ClusterAccessSecret`: the
 * short-lived `system:masters` certificate on the first deploy, kubernetes-admin afterwards).
 */
export class ControlPlaneStack extends TerraformStack {
  /** The stack's {@link HaControlPlane} (construct id `ControlPlane`: changing it would replace every resource). */
  public readonly controlPlane: HaControlPlane;
  /** The super-admin certificate, while `providerIdentity` is `SUPER_ADMIN`. */
  public readonly superAdmin?: SuperAdminCertificate;
  /** The cluster's values; pass it with {@link accessSecret} to the cluster-objects stack. */
  public readonly access: IControlPlaneAccess;
  /** The secret the cluster-objects stack reads its endpoint, CA and credentials from. */
  public readonly accessSecret: ClusterAccessSecret;
  /** The policy pack, when enabled. */
  public readonly policyPack?: HaPolicyPack;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: props.region });
    this.controlPlane = new HaControlPlane(this, "ControlPlane", props.controlPlane);
    this.accessSecret = new ClusterAccessSecret(this, "ClusterObjectsAccess", {
      controlPlane: this.controlPlane,
      region: props.region,
      readerRoleArn: props.clusterObjectsReaderRoleArn,
      identity: props.providerIdentity,
    });
    this.superAdmin = this.accessSecret.superAdmin;
    this.access = ControlPlaneAccess.fromControlPlane(this.controlPlane);
    for (const s of props.policySuppressions ?? []) HaPolicyPack.suppress(this.controlPlane, s.ruleId, s.reason);
    if (props.policyPack ?? true) {
      this.policyPack = new HaPolicyPack();
      Aspects.of(this).add(this.policyPack);
    }
  }
}
