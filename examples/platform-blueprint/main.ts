/**
 * A product team's app using Acme's blueprint for two clusters, each as two stacks: the AWS control
 * plane (`<cluster>-control-plane`) and its in-cluster objects (`<cluster>-cluster-objects`, whose
 * kubernetes provider reads its endpoint and credentials from a secret the first stack writes). Zones and the image are
 * explicit, so it synthesizes without AWS credentials.
 *
 * Deploy order per cluster: `cdktf deploy payments-prod-control-plane`, then
 * `cdktf deploy payments-prod-cluster-objects` from a machine that reaches the internal endpoint.
 */
import { Construct } from "constructs";
import { App } from "cdktf";
import { BlueprintCluster, BlueprintPreset } from "cdktf-ha-control-plane/blueprint";
import { ACME_REGION, acmeBlueprint } from "./acme-blueprint";

/** Declares the team's clusters in `scope` (tests build them in their own app). */
export function declareClusters(scope: Construct): BlueprintCluster[] {
  const zones = ["a", "b", "c"].map((z) => `${ACME_REGION}${z}`);
  return [
    acmeBlueprint.createCluster(scope, {
      clusterName: "payments-prod",
      preset: BlueprintPreset.PRODUCTION,
      overrides: { availabilityZones: zones, vpcCidr: "10.40.0.0/16", tags: { team: "payments", environment: "production" } },
    }),
    acmeBlueprint.createCluster(scope, {
      clusterName: "payments-dev",
      preset: BlueprintPreset.DEVELOPMENT,
      overrides: { availabilityZones: zones.slice(0, 2), vpcCidr: "10.41.0.0/16", tags: { team: "payments", environment: "development" } },
      clusterObjects: { platformAdminGroups: ["acme:platform-sre", "acme:payments-developers"] },
    }),
  ];
}

if (require.main === module) {
  const app = new App();
  declareClusters(app);
  app.synth();
}
