/**
 * Issue 18 finding 2: etcd drift is visible. The real `ha-etcd-drift` (bash, as shipped) with the
 * real AWS CLI against the AWS emulator: member groups on a launch template at `$Default`, as the
 * library declares them (one group per member, no instance refresh). The emulator reports, as EC2
 * Auto Scaling does, the template version each instance was LAUNCHED with (moto 5.1.22 reported the
 * group's current default for every instance, which would hide all drift; see MOTO_START in
 * test/harness/aws-emulator.ts).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { AwsEmulator, EMULATOR_REGION, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { describeTier } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-etcd-drift.sh");
const ZONE = `${EMULATOR_REGION}a`;
const GROUPS = ["prod-etcd-0", "prod-etcd-1", "prod-etcd-2"];

jest.setTimeout(180000);

describeTier("ha-etcd-drift (real bash and AWS CLI against the AWS emulator)", awsEmulatorCheck(), { tierLabel: "node e2e" }, () => {
  let aws: AwsEmulator;
  const templates: Record<string, string> = {};

  beforeAll(async () => {
    aws = await startAwsEmulator();
    const vpc = aws.aws("ec2", "create-vpc", "--cidr-block", "10.0.0.0/16").Vpc.VpcId;
    const subnet = aws.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.0.0/24", "--availability-zone", ZONE).Subnet.SubnetId;
    for (const group of GROUPS) {
      const lt = aws.aws("ec2", "create-launch-template", "--launch-template-name", group, "--launch-template-data", JSON.stringify({ ImageId: "ami-12c6146b", InstanceType: "t3.micro" })).LaunchTemplate;
      templates[group] = lt.LaunchTemplateId;
      aws.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", group, "--launch-template", JSON.stringify({ LaunchTemplateId: lt.LaunchTemplateId, Version: "$Default" }),
        "--min-size", "1", "--max-size", "1", "--desired-capacity", "1", "--vpc-zone-identifier", subnet);
    }
  });
  afterAll(async () => aws?.stop());

  const drift = async (...groups: string[]) => {
    try {
      const { stdout, stderr } = await run("bash", [SCRIPT, ...groups], { env: { PATH: `${aws.awsCli.replace(/\/aws$/, "")}:/usr/bin:/bin`, HOME: "/nonexistent", ...aws.env }, timeout: 60000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const lines = (stdout: string) => stdout.trim().split("\n").slice(1).map((l) => l.split("\t"));
  /** Each line's group, running version, current version and state (the instance id left out). */
  const columns = (stdout: string) => lines(stdout).map((l) => [l[0], l[2], l[3], l[4]]);

  it("reports every member current right after a deploy", async () => {
    const r = await drift(...GROUPS);
    console.log(`ha-etcd-drift, all current:\n${r.stdout}`);
    expect(r.code).toBe(0);
    expect(columns(r.stdout)).toEqual(GROUPS.map((g) => [g, "1", "1", "current (InService)"]));
  });

  it("reports the member whose template got a new default version, and exits 1", async () => {
    const group = GROUPS[1];
    aws.aws("ec2", "create-launch-template-version", "--launch-template-id", templates[group], "--source-version", "1", "--launch-template-data", JSON.stringify({ InstanceType: "t3.small" }));
    aws.aws("ec2", "modify-launch-template", "--launch-template-id", templates[group], "--default-version", "2");
    const r = await drift(...GROUPS);
    console.log(`ha-etcd-drift after a template change of ${group}:\n${r.stdout}`);
    expect(r.code).toBe(1);
    expect(columns(r.stdout)).toEqual([
      [GROUPS[0], "1", "1", "current (InService)"],
      [group, "1", "2", "DRIFT (InService)"],
      [GROUPS[2], "1", "1", "current (InService)"],
    ]);
  });

  it("reports it current again once the member was replaced (as ha-roll-etcd or an unplanned replacement does)", async () => {
    const group = GROUPS[1];
    const old = aws.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", group).AutoScalingGroups[0].Instances[0].InstanceId;
    aws.aws("autoscaling", "terminate-instance-in-auto-scaling-group", "--instance-id", old, "--no-should-decrement-desired-capacity");
    const r = await drift(group);
    expect(r.code).toBe(0);
    const [line] = lines(r.stdout);
    expect(line[1]).not.toBe(old);
    expect([line[2], line[3]]).toEqual(["2", "2"]);
  });

  it("prints its usage and exits 2 without a group", async () => {
    const r = await drift();
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr.trim() }).toEqual({ code: 2, stdout: "", stderr: "usage: ha-etcd-drift <member-group>..." });
  });

  it("compares with the version a group names explicitly (not $Default or $Latest): current while it matches, DRIFT once the group names another", async () => {
    const group = "prod-etcd-pinned";
    const lt = aws.aws("ec2", "create-launch-template", "--launch-template-name", group, "--launch-template-data", JSON.stringify({ ImageId: "ami-12c6146b", InstanceType: "t3.micro" })).LaunchTemplate;
    aws.aws("ec2", "create-launch-template-version", "--launch-template-id", lt.LaunchTemplateId, "--source-version", "1", "--launch-template-data", JSON.stringify({ InstanceType: "t3.small" }));
    aws.aws("ec2", "modify-launch-template", "--launch-template-id", lt.LaunchTemplateId, "--default-version", "2");
    const subnet = aws.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", GROUPS[0]).AutoScalingGroups[0].VPCZoneIdentifier;
    aws.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", group, "--launch-template", JSON.stringify({ LaunchTemplateId: lt.LaunchTemplateId, Version: "1" }),
      "--min-size", "1", "--max-size", "1", "--desired-capacity", "1", "--vpc-zone-identifier", subnet);
    const pinned = await drift(group);
    expect({ code: pinned.code, lines: columns(pinned.stdout), stderr: pinned.stderr }).toEqual({ code: 0, lines: [[group, "1", "1", "current (InService)"]], stderr: "" });
    aws.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", group, "--launch-template", JSON.stringify({ LaunchTemplateId: lt.LaunchTemplateId, Version: "2" }));
    const moved = await drift(group);
    expect({ code: moved.code, lines: columns(moved.stdout) }).toEqual({ code: 1, lines: [[group, "1", "2", "DRIFT (InService)"]] });
  });

  it("reports a group without its member as MISSING, and a wrong group name as an error (exit 2)", async () => {
    aws.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", GROUPS[2], "--min-size", "0", "--desired-capacity", "0");
    const missing = await drift(GROUPS[2]);
    expect(missing.code).toBe(1);
    expect(lines(missing.stdout)).toEqual([[GROUPS[2], "-", "-", "1", "MISSING"]]);
    const wrong = await drift("prod-etcd-9");
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/prod-etcd-9: no launch template/);
    const hostile = await drift("prod;touch /tmp/x");
    expect(hostile.code).toBe(2);
    expect(hostile.stderr).toMatch(/not an Auto Scaling group name/);
  });
});
