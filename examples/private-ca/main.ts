/**
 * The reference control plane with AWS Private CA as certificate issuer: the etcd and front-proxy
 * CA keys never leave Private CA; the Kubernetes CA stays with the tls provider because the
 * controller-manager signs node certificates with its key.
 */
import { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack } from "cdktf";
import { HaControlPlane, PrivateCaIssuer } from "cdktf-ha-control-plane";

/** The Private CA stack. */
export class PrivateCaStack extends TerraformStack {
  /** The control plane. */
  public readonly controlPlane: HaControlPlane;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "eu-central-1" });
    this.controlPlane = new HaControlPlane(this, "ControlPlane", {
      clusterName: "pca-demo",
      availabilityZones: ["eu-central-1a", "eu-central-1b", "eu-central-1c"],
      amiId: "ami-0e04bcbe83a83792e",
      certificateIssuer: new PrivateCaIssuer(),
    });
  }
}

if (require.main === module) {
  const app = new App();
  new PrivateCaStack(app, "private-ca");
  app.synth();
}
