/**
 * The apply emulator's CompleteLifecycleAction (MOTO_COMPLETE_LIFECYCLE_ACTION: moto 5.1.22 answers
 * the operation with a 500), driven by the real AWS CLI as nodes drive it. Oracle: the Auto Scaling
 * API reference (CompleteLifecycleAction: required parameters, the result values, the errors AWS
 * returns for an unknown hook and for an instance without an active lifecycle action).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { motoCheck } from "./real-components";
import { type ApplyEmulator, startApplyEmulator } from "./terraform-apply";
import { describeTier } from "./tiers";

const execFileAsync = promisify(execFile);
jest.setTimeout(120_000);

describeTier("apply emulator: CompleteLifecycleAction as the Auto Scaling API reference describes it", motoCheck(), { tierLabel: "e2e" }, () => {
  let emulator: ApplyEmulator;
  let members: string[] = [];
  let outsider = "";
  const GROUP = "prod-eu1-apiserver";

  /** The AWS CLI's exit code and error text for one call. */
  async function cli(...args: string[]): Promise<{ code: number; stderr: string }> {
    try {
      await execFileAsync(emulator.awsCli, [...args, "--output", "json"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", ...emulator.env }, encoding: "utf8", timeout: 60_000 });
      return { code: 0, stderr: "" };
    } catch (e) {
      const err = e as { code?: number; stderr?: string };
      return { code: typeof err.code === "number" ? err.code : -1, stderr: err.stderr ?? "" };
    }
  }
  const complete = (hook: string, instance: string, result = "CONTINUE") =>
    cli("autoscaling", "complete-lifecycle-action", "--auto-scaling-group-name", GROUP, "--lifecycle-hook-name", hook, "--instance-id", instance, "--lifecycle-action-result", result);

  beforeAll(async () => {
    emulator = await startApplyEmulator();
    const vpc = emulator.aws("ec2", "create-vpc", "--cidr-block", "10.0.0.0/16").Vpc.VpcId;
    const subnet = emulator.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.0.0/20").Subnet.SubnetId;
    emulator.aws("ec2", "create-launch-template", "--launch-template-name", GROUP, "--launch-template-data", JSON.stringify({ ImageId: "ami-0a422d70f727fe93e", InstanceType: "t3.medium" }));
    emulator.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP, "--launch-template", `LaunchTemplateName=${GROUP}`, "--min-size", "2", "--max-size", "2", "--desired-capacity", "2", "--vpc-zone-identifier", subnet);
    emulator.aws("autoscaling", "put-lifecycle-hook", "--auto-scaling-group-name", GROUP, "--lifecycle-hook-name", "apiserver-ready", "--lifecycle-transition", "autoscaling:EC2_INSTANCE_LAUNCHING", "--heartbeat-timeout", "900", "--default-result", "ABANDON");
    emulator.aws("autoscaling", "put-lifecycle-hook", "--auto-scaling-group-name", GROUP, "--lifecycle-hook-name", "drain", "--lifecycle-transition", "autoscaling:EC2_INSTANCE_TERMINATING", "--heartbeat-timeout", "300");
    members = emulator.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", GROUP).AutoScalingGroups[0].Instances.map((i: { InstanceId: string }) => i.InstanceId);
    outsider = emulator.aws("ec2", "run-instances", "--image-id", "ami-0a422d70f727fe93e", "--subnet-id", subnet, "--count", "1").Instances[0].InstanceId;
  }, 120_000);
  afterAll(async () => {
    await emulator?.stop();
  });

  test("a group member's launch action completes once with CONTINUE; a second completion finds no active action", async () => {
    expect(members).toHaveLength(2);
    expect(await complete("apiserver-ready", members[0])).toEqual({ code: 0, stderr: "" });
    const again = await complete("apiserver-ready", members[0]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(`ValidationError`);
    expect(again.stderr).toContain(`No active Lifecycle Action found with instance ID ${members[0]}`);
  });

  test("ABANDON is a valid result; any other value is refused", async () => {
    const bad = await complete("apiserver-ready", members[1], "PROCEED");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("ValidationError");
    expect(await complete("apiserver-ready", members[1], "ABANDON")).toEqual({ code: 0, stderr: "" });
  });

  test("an instance outside the group has no active launch action", async () => {
    const r = await complete("apiserver-ready", outsider);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`No active Lifecycle Action found with instance ID ${outsider}`);
  });

  test("an unknown hook, a termination hook and an unknown group are refused", async () => {
    for (const hook of ["apiserver-readyz", "drain"]) {
      const r = await complete(hook, members[1]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`No Lifecycle Hook found with name ${hook} for group ${GROUP}`);
    }
    const r = await cli("autoscaling", "complete-lifecycle-action", "--auto-scaling-group-name", "other", "--lifecycle-hook-name", "apiserver-ready", "--instance-id", members[1], "--lifecycle-action-result", "CONTINUE");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Group other not found");
  });

  test("neither an instance nor a token: refused", async () => {
    const r = await cli("autoscaling", "complete-lifecycle-action", "--auto-scaling-group-name", GROUP, "--lifecycle-hook-name", "apiserver-ready", "--lifecycle-action-result", "CONTINUE");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Either InstanceId or LifecycleActionToken must be specified");
  });
});
