/**
 * Apply tier: the zone lookup of {@link ControlPlaneNetwork} against the AWS API emulator, in a
 * region that offers fewer zones than the default count. `element()` wraps around, so without a
 * check `availabilityZoneCount: 3` in a two-zone region (us-west-1 as most accounts see it, and as
 * moto models it) would put subnets 0 and 2 in the same zone — and two of three etcd members with
 * them, whose zone's loss then takes quorum. Terraform must refuse at plan, naming the prop.
 *
 * The oracle is the emulator: the zones it lists for the region and the zones of the subnets
 * terraform created, read back with the AWS CLI.
 */
import { TerraformStack, Testing } from "../../lib/core";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { ControlPlaneNetwork } from "../../lib/network/network";
import { providerPlanCheck } from "../harness/provider-plan";
import { motoCheck } from "../harness/real-components";
import { type ApplyEmulator, TerraformApplyWorkspace, startApplyEmulator, terraformText } from "../harness/terraform-apply";
import { allOf, describeTier } from "../harness/tiers";

jest.setTimeout(10 * 60_000);

const REGION = "us-west-1";

function networkStack(availabilityZoneCount: number): string {
  const app = Testing.app();
  const stack = new TerraformStack(app, "zones");
  new AwsProvider(stack, "aws", { region: REGION });
  new ControlPlaneNetwork(stack, "Net", { clusterName: "zones", availabilityZoneCount });
  return Testing.synth(stack);
}

describeTier("apply tier: the zone lookup refuses a count the region cannot meet", allOf(motoCheck(), providerPlanCheck()), { tierLabel: "apply" }, () => {
  let emulator: ApplyEmulator;
  const workspaces: TerraformApplyWorkspace[] = [];
  let regionZones: string[];

  beforeAll(async () => {
    emulator = await startApplyEmulator();
    const listed = emulator.aws("ec2", "describe-availability-zones", "--region", REGION, "--filters", "Name=state,Values=available", "Name=opt-in-status,Values=opt-in-not-required");
    regionZones = (listed.AvailabilityZones as Array<{ ZoneName: string }>).map((z) => z.ZoneName).sort();
  });
  afterAll(async () => {
    for (const w of workspaces) await w.cleanup();
    await emulator?.stop();
  });

  test("the emulated region offers two zones (the premise of the other tests)", () => {
    expect(regionZones).toEqual(["us-west-1a", "us-west-1b"]);
  });

  test("three zones asked of a two-zone region: terraform refuses before creating anything, naming the prop and the zones", async () => {
    const workspace = await TerraformApplyWorkspace.create(networkStack(3), emulator);
    workspaces.push(workspace);
    const failure = await workspace.apply().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(Error);
    const text = String((failure as Error).message);
    expect(text).toContain("availabilityZoneCount is 3 but the region offers 2 available zone(s)");
    expect(text).toContain(regionZones.join(", "));
    const state = await workspace.state();
    expect(JSON.stringify(state)).not.toContain("aws_subnet");
    const subnets = emulator.aws("ec2", "describe-subnets", "--region", REGION, "--filters", "Name=tag:Name,Values=zones-*");
    expect(subnets.Subnets).toEqual([]);
  });

  test("two zones asked of it: the subnets are created in two different zones", async () => {
    const workspace = await TerraformApplyWorkspace.create(networkStack(2), emulator);
    workspaces.push(workspace);
    const run = await workspace.apply();
    expect(terraformText(run)).toContain("Apply complete");
    const subnets = emulator.aws("ec2", "describe-subnets", "--region", REGION) as { Subnets: Array<{ AvailabilityZone: string; VpcId: string; Tags?: Array<{ Key: string; Value: string }> }> };
    const ours = subnets.Subnets.filter((s) => (s.Tags ?? []).some((t) => t.Key === "Name" && t.Value.startsWith("zones-") && t.Value.includes("private")));
    expect(ours.map((s) => s.AvailabilityZone).sort()).toEqual(regionZones);
    await workspace.destroy();
  });
});
