/**
 * examples/platform-blueprint: a team's app using Acme's blueprint for two clusters, each as two
 * stacks. Synthesized once with `app.synth()` (cross-stack references only exist in a full synth).
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { declareClusters } from "../../examples/platform-blueprint/main";
import { acmeBlueprint } from "../../examples/platform-blueprint/acme-blueprint";
import { BLUEPRINT_TAGS } from "../../lib/blueprint";
import { Testing } from "../../lib/core";
import { SynthJson, only, resources } from "../helpers/synth";

const app = Testing.app();
const clusters = declareClusters(app);
app.synth();
const read = (id: string) => JSON.parse(readFileSync(join(app.outdir, "stacks", id, "cdk.tf.json"), "utf8")) as SynthJson;

describe("examples/platform-blueprint", () => {
  it("synthesizes both stacks of both clusters", () => {
    expect(readdirSync(join(app.outdir, "stacks")).sort()).toEqual([
      "payments-dev-cluster-objects",
      "payments-dev-control-plane",
      "payments-prod-cluster-objects",
      "payments-prod-control-plane",
    ]);
  });

  it.each(["payments-prod", "payments-dev"])("configures %s's cluster objects from its own control-plane stack's access secret, not its state", (name) => {
    const cp = read(`${name}-control-plane`);
    const objects = read(`${name}-cluster-objects`);
    const cpBackend = (cp.terraform as { backend: { s3: Record<string, unknown> } }).backend.s3;
    expect(cpBackend).toMatchObject({ bucket: "acme-terraform-state", key: `kubernetes/${name}/control-plane.tfstate`, encrypt: true });
    expect(JSON.stringify(objects)).not.toContain("terraform_remote_state");
    const secretName = resources(cp, "aws_secretsmanager_secret").find((r) => r.name.startsWith("ClusterObjectsAccess_"))!.props.name;
    const read2 = (objects.data as Record<string, Record<string, { secret_id: string }>>).aws_secretsmanager_secret_version;
    expect(Object.values(read2)).toEqual([expect.objectContaining({ secret_id: secretName })]);
    expect(secretName).toBe(`${name}/control-plane/cluster-objects-access`);
    const provider = (objects.provider as Record<string, Record<string, string>[]>).kubernetes[0];
    for (const key of ["host", "cluster_ca_certificate", "client_certificate", "client_key"]) {
      expect(provider[key]).toMatch(/^\$\{jsondecode\(data\.aws_secretsmanager_secret_version\.AccessSecret\.secret_string\)\.[a-z_]+\}$/);
    }
  });

  it("applies the organisation defaults and tags to the AWS resources", () => {
    const cp = read("payments-prod-control-plane");
    const lt = resources(cp, "aws_launch_template").find((r) => r.props.instance_type === "m7i.large");
    expect(lt).toBeDefined();
    expect(lt!.props.image_id).toBe("ami-0a422d70f727fe93e");
    expect(only(cp, "aws_vpc").props.tags).toMatchObject({
      owner: "platform-team",
      "cost-center": "cc-4711",
      team: "payments",
      environment: "production",
      [BLUEPRINT_TAGS.name]: "acme-platform",
      [BLUEPRINT_TAGS.preset]: "production",
    });
    expect(resources(cp, "aws_ebs_volume")).toHaveLength(5);
    const topic = "arn:aws:sns:eu-west-1:123456789012:acme-platform-alarms";
    expect(clusters[0].resolved.alarmTopicArn).toBe(topic);
    const alarms = resources(cp, "aws_cloudwatch_metric_alarm");
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) expect(alarm.props.alarm_actions).toEqual([topic]);
    expect(resources(cp, "aws_sns_topic")).toHaveLength(0);
  });

  it("builds the development cluster non-HA, with the policy pack's zone rule suppressed for a stated reason", () => {
    const dev = read("payments-dev-control-plane");
    expect(resources(dev, "aws_ebs_volume")).toHaveLength(1);
    const policy = (dev["//"] as { "ha-policy": { suppressions: { rule: string; reason: string; suppressed: string[] }[] } })["ha-policy"];
    expect(policy.suppressions).toEqual([expect.objectContaining({ rule: "HA-AZ1", reason: expect.stringMatching(/development preset/) })]);
    expect(policy.suppressions[0].suppressed.length).toBeGreaterThan(0);
  });

  it("passes the policy pack without errors on both control planes", () => {
    for (const c of clusters) expect(c.controlPlaneStack.policyPack!.errors).toEqual([]);
    expect(clusters[0].controlPlaneStack.policyPack!.suppressedFindings).toEqual([]);
  });

  it("gives each cluster's objects the organisation's token lifetime and admin groups", () => {
    const objects = read("payments-dev-cluster-objects");
    expect(only(objects, "tls_self_signed_cert").props).toMatchObject({ validity_period_hours: 168, early_renewal_hours: 96 });
    const platform = resources(objects, "kubernetes_cluster_role_binding_v1").find((r) => r.props.metadata.name === "platform:cluster-admins")!;
    expect(platform.props.subject.map((s: { name: string }) => s.name)).toEqual(["acme:platform-sre", "acme:payments-developers"]);
  });

  it("records the cluster-objects stacks as depending on their control-plane stacks", () => {
    for (const c of clusters) expect(c.clusterObjectsStack.dependencies).toEqual([c.controlPlaneStack]);
  });

  it("exports a blueprint with production, development and staging presets", () => {
    expect(acmeBlueprint.presetNames).toEqual(["production", "development", "staging"]);
  });
});
