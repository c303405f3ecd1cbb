import { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Aspects, TerraformStack } from "../core";
import { HaControlPlane, HaControlPlaneProps } from "../control-plane";
import { ControlPlaneAccess, IControlPlaneAccess, SuperAdminCertificate } from "../cluster/access";
import { HaPolicyPack } from "../policy/pack";
import { PresetPolicySuppression } from "./presets";

/** Props of {@link ControlPlaneStack}. */
export interface ControlPlaneStackProps {
  /** AWS region. */
  readonly region: string;
  /** The control plane. */
  readonly controlPlane: HaControlPlaneProps;
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
 * The first stack of a cluster: AWS provider, `HaControlPlane`, and the `system:masters`
 * certificate the cluster-objects stack's provider authenticates with (see `SuperAdminCertificate`).
 */
export class ControlPlaneStack extends TerraformStack {
  /** The control plane. */
  public readonly controlPlane: HaControlPlane;
  /** The super-admin certificate. */
  public readonly superAdmin: SuperAdminCertificate;
  /** What the cluster-objects stack needs (values of this stack). */
  public readonly access: IControlPlaneAccess;
  /** The policy pack, when enabled. */
  public readonly policyPack?: HaPolicyPack;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: props.region });
    this.controlPlane = new HaControlPlane(this, "ControlPlane", props.controlPlane);
    this.superAdmin = new SuperAdminCertificate(this, "SuperAdmin", { controlPlane: this.controlPlane });
    this.access = ControlPlaneAccess.fromControlPlane(this.controlPlane, { superAdmin: this.superAdmin });
    for (const s of props.policySuppressions ?? []) HaPolicyPack.suppress(this.controlPlane, s.ruleId, s.reason);
    if (props.policyPack ?? true) {
      this.policyPack = new HaPolicyPack();
      Aspects.of(this).add(this.policyPack);
    }
  }
}
