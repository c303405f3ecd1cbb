/**
 * Issue 18 finding 5 (second half): scaling the API servers in removes the servers of the highest
 * slots, not whichever Auto Scaling would pick. The real `ha-scale-in` (bash, as shipped) with the
 * real AWS CLI against the AWS emulator: six servers in one group, each holding a slot interface
 * tagged as the library tags them, attached in an order unrelated to launch order (as slot claims
 * race at boot), so neither "oldest" nor "newest" would be right. The emulator keeps a terminated
 * server in the group while it drains (`terminatingSeconds`), so the script's wait for each to leave
 * runs, with its timeout and its default poll. Refusals: bad usage, a group that does not exist, a
 * server that holds no slot yet, a slot held outside the group, and a failed EC2 call (not read as
 * an unheld slot).
 */
import { spawn } from "node:child_process";
import { AddressInfo, createServer } from "node:net";
import { AwsEmulator, EMULATOR_REGION, awsEmulatorCheck, startAwsEmulator } from "../harness/aws-emulator";
import { describeTier } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const SCRIPT = renderedScript("ha-scale-in.sh");
const GROUP = "prod-apiserver";
/** Seconds a terminated server stays in the group (the emulator's stand-in for connection draining). */
const TERMINATING_SECONDS = 6;
/** Slot held by the n-th launched instance. */
const SLOT_OF_INSTANCE = [4, 0, 5, 2, 1, 3];

jest.setTimeout(300000);

describeTier("ha-scale-in (real bash and AWS CLI against the AWS emulator)", awsEmulatorCheck(), { tierLabel: "node e2e" }, () => {
  let aws: AwsEmulator;
  let subnet: string;
  const holderOfSlot: Record<number, string> = {};

  beforeAll(async () => {
    // As EC2 Auto Scaling does, a terminated server stays in the group (Terminating) while the load
    // balancer drains it; ha-scale-in waits for each to leave before the next.
    aws = await startAwsEmulator({ terminatingSeconds: TERMINATING_SECONDS });
    const vpc = aws.aws("ec2", "create-vpc", "--cidr-block", "10.0.0.0/16").Vpc.VpcId;
    subnet = aws.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.0.0/24", "--availability-zone", `${EMULATOR_REGION}a`).Subnet.SubnetId;
    const lt = aws.aws("ec2", "create-launch-template", "--launch-template-name", GROUP, "--launch-template-data", JSON.stringify({ ImageId: "ami-12c6146b", InstanceType: "t3.micro" })).LaunchTemplate;
    aws.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP, "--launch-template", JSON.stringify({ LaunchTemplateId: lt.LaunchTemplateId, Version: "$Default" }),
      "--min-size", "6", "--max-size", "6", "--desired-capacity", "6", "--vpc-zone-identifier", subnet);
    const instances: string[] = aws.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", GROUP).AutoScalingGroups[0].Instances.map((i: { InstanceId: string }) => i.InstanceId);
    expect(instances).toHaveLength(6);
    instances.forEach((instance, n) => {
      const slot = SLOT_OF_INSTANCE[n];
      const eni = aws.aws("ec2", "create-network-interface", "--subnet-id", subnet, "--private-ip-address", `10.0.0.${10 + slot}`,
        "--tag-specifications", JSON.stringify([{ ResourceType: "network-interface", Tags: [{ Key: "ha-control-plane/cluster", Value: "prod" }, { Key: "ha-control-plane/slot", Value: `apiserver-${slot}` }, { Key: "ha-control-plane/role", Value: "apiserver" }] }])).NetworkInterface.NetworkInterfaceId;
      aws.aws("ec2", "attach-network-interface", "--network-interface-id", eni, "--instance-id", instance, "--device-index", "1");
      holderOfSlot[slot] = instance;
    });
    // Another cluster's interface with the same slot name must not be taken for ours.
    aws.aws("ec2", "create-network-interface", "--subnet-id", subnet, "--tag-specifications", JSON.stringify([{ ResourceType: "network-interface", Tags: [{ Key: "ha-control-plane/cluster", Value: "staging" }, { Key: "ha-control-plane/slot", Value: "apiserver-5" }] }]));
  });
  afterAll(async () => aws?.stop());

  /** Runs ha-scale-in with `settings` over the emulator's environment (POLL_SECONDS, TIMEOUT_SECONDS: {} leaves them to the script). */
  const scaleInWith = async (settings: Record<string, string>, ...args: string[]) => {
    // stderr line by line with the time each arrived, to measure between the script's own messages.
    const lines: Array<{ at: number; text: string }> = [];
    const child = spawn("bash", [SCRIPT, ...args], { env: { PATH: `${aws.awsCli.replace(/\/aws$/, "")}:/usr/bin:/bin`, HOME: "/nonexistent", ...aws.env, ...settings }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let partial = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const text of parts) lines.push({ at: Date.now(), text });
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 240000);
    const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
    clearTimeout(timer);
    if (partial !== "") lines.push({ at: Date.now(), text: partial });
    return { code, stdout, stderr: lines.map((l) => l.text).join("\n"), lines };
  };
  const scaleIn = (...args: string[]) => scaleInWith({ POLL_SECONDS: "1", TIMEOUT_SECONDS: "60" }, ...args);
  /** Runs ha-scale-in with EC2 unreachable (a port nothing listens on) while Auto Scaling answers. */
  const scaleInWithoutEc2 = async (...args: string[]) => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, "127.0.0.1", () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    return scaleInWith({ POLL_SECONDS: "1", TIMEOUT_SECONDS: "60", AWS_ENDPOINT_URL_EC2: `http://127.0.0.1:${closed}`, AWS_MAX_ATTEMPTS: "1" }, ...args);
  };
  const group = () => aws.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", GROUP).AutoScalingGroups[0];

  it("refuses bad usage and a count that is not fewer", async () => {
    expect((await scaleIn("prod", GROUP)).code).toBe(2);
    expect((await scaleIn("prod", GROUP, "three")).code).toBe(2);
    expect((await scaleIn("prod;id", GROUP, "3")).code).toBe(2);
    expect((await scaleIn("prod", "prod apiserver;id", "3")).code).toBe(2);
    const notFewer = await scaleIn("prod", GROUP, "6");
    expect(notFewer.code).toBe(1);
    expect(notFewer.stderr).toMatch(/6 is not fewer/);
    expect(group().Instances).toHaveLength(6);
  });

  it("stops at a failed interface lookup instead of taking it for a slot no server holds", async () => {
    const r = await scaleInWithoutEc2("prod", GROUP, "3");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Could not connect to the endpoint URL/);
    expect(r.stderr).not.toMatch(/interface not attached|hold no slot|terminating|lowering/);
    unchanged();
  });

  it("refuses a group that does not exist, changing nothing", async () => {
    const r = await scaleIn("prod", "prod-nothing", "3");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERROR: no group prod-nothing/);
    expect(group().Instances).toHaveLength(6);
  });

  /** Our slot interface, its attachment and the instance it is attached to. */
  const slotInterface = (slot: number) => {
    const eni = aws.aws("ec2", "describe-network-interfaces", "--filters", "Name=tag:ha-control-plane/cluster,Values=prod", `Name=tag:ha-control-plane/slot,Values=apiserver-${slot}`).NetworkInterfaces[0];
    return { id: eni.NetworkInterfaceId as string, attachment: eni.Attachment?.AttachmentId as string | undefined, instance: eni.Attachment?.InstanceId as string | undefined };
  };
  /** Moves slot `slot`'s interface to `instance` (or leaves it detached) for `body`, then back to its holder. */
  const withSlotMoved = async (slot: number, instance: string | undefined, body: () => Promise<void>) => {
    const detach = () => {
      const { attachment } = slotInterface(slot);
      if (attachment) aws.aws("ec2", "detach-network-interface", "--attachment-id", attachment);
    };
    detach();
    if (instance) aws.aws("ec2", "attach-network-interface", "--network-interface-id", slotInterface(slot).id, "--instance-id", instance, "--device-index", "1");
    try {
      await body();
    } finally {
      detach();
      aws.aws("ec2", "attach-network-interface", "--network-interface-id", slotInterface(slot).id, "--instance-id", holderOfSlot[slot], "--device-index", "1");
      expect(slotInterface(slot).instance).toBe(holderOfSlot[slot]);
    }
  };
  const unchanged = () => {
    const g = group();
    expect([g.MinSize, g.DesiredCapacity, g.Instances.length]).toEqual([6, 6, 6]);
  };

  it("refuses while a server holds no slot of those that go (still booting), before lowering the minimum", async () => {
    await withSlotMoved(4, undefined, async () => {
      const r = await scaleIn("prod", GROUP, "3");
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/apiserver-4: interface not attached/);
      expect(r.stderr).toMatch(/ERROR: 1 server\(s\) hold no slot of apiserver-3 and up/);
      expect(r.stderr).not.toMatch(/terminating|lowering/);
      unchanged();
    });
  });

  it("refuses a slot held by an instance outside the group", async () => {
    const outsider: string = aws.aws("ec2", "run-instances", "--image-id", "ami-12c6146b", "--instance-type", "t3.micro", "--subnet-id", subnet, "--count", "1").Instances[0].InstanceId;
    try {
      await withSlotMoved(5, outsider, async () => {
        const r = await scaleIn("prod", GROUP, "3");
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`ERROR: apiserver-5 is held by ${outsider}, which is not in ${GROUP}`);
        unchanged();
      });
    } finally {
      aws.aws("ec2", "terminate-instances", "--instance-ids", outsider);
    }
  });

  it("removes exactly the servers of slots 3-5 and keeps the holders of slots 0-2", async () => {
    const started = Date.now();
    const r = await scaleIn("prod", GROUP, "3");
    console.log(`ha-scale-in 6 → 3 in ${((Date.now() - started) / 1000).toFixed(1)} s:\n${r.stderr}`);
    expect(r.code).toBe(0);
    // One at a time: each server left the group (TERMINATING_SECONDS after its termination) before the next went.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * TERMINATING_SECONDS * 1000);
    // Highest slot first.
    expect([...r.stderr.matchAll(/terminating (i-[0-9a-f]+) \((apiserver-\d)\)/g)].map((m) => [m[1], m[2]])).toEqual([5, 4, 3].map((s) => [holderOfSlot[s], `apiserver-${s}`]));
    const g = group();
    expect([g.MinSize, g.DesiredCapacity]).toEqual([3, 3]);
    expect(g.Instances.map((i: { InstanceId: string }) => i.InstanceId).sort()).toEqual([0, 1, 2].map((s) => holderOfSlot[s]).sort());
    expect(r.stderr).toMatch(/lowering the minimum of prod-apiserver from 6 to 3/);
    expect(r.stderr).not.toMatch(/WARNING/);
  });

  it("fails when a server has not left the group within TIMEOUT_SECONDS", async () => {
    const r = await scaleInWith({ POLL_SECONDS: "1", TIMEOUT_SECONDS: "1" }, "prod", GROUP, "2");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`terminating ${holderOfSlot[2]} (apiserver-2)`);
    expect(r.stderr).toContain(`ERROR: ${holderOfSlot[2]} has not left ${GROUP}`);
    // Still draining, as EC2 Auto Scaling shows it: listed as Terminating, the desired capacity already lowered.
    const draining = group();
    expect(draining.DesiredCapacity).toBe(2);
    expect(draining.Instances.find((i: { InstanceId: string }) => i.InstanceId === holderOfSlot[2])?.LifecycleState).toBe("Terminating");
    // It leaves when the group is done with it; the group then has the two servers of slots 0 and 1.
    const deadline = Date.now() + 60_000;
    while (group().Instances.length > 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 500));
    expect(group().Instances.map((i: { InstanceId: string }) => i.InstanceId).sort()).toEqual([holderOfSlot[0], holderOfSlot[1]].sort());
  });

  it("scales in to a single server with a warning that it is not highly available, polling every 10 s by default", async () => {
    const started = Date.now();
    const r = await scaleInWith({}, "prod", GROUP, "1");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/WARNING: 1 API server\(s\) is not highly available/);
    expect([...r.stderr.matchAll(/terminating (i-[0-9a-f]+) \((apiserver-\d)\)/g)].map((m) => m[2])).toEqual(["apiserver-1"]);
    expect(group().Instances.map((i: { InstanceId: string }) => i.InstanceId)).toEqual([holderOfSlot[0]]);
    expect(r.stderr).toMatch(/now has 1 servers \(slots apiserver-0 … apiserver-0\); deploy with apiServerCount: 1/);
    // The server was still in the group at the first look (it drains for TERMINATING_SECONDS), so the
    // script looked again a poll (10 s) later: the end comes at least 10 s after the termination.
    // Polling without the wait would end about TERMINATING_SECONDS after it.
    const at = (re: RegExp) => r.lines.find((l) => re.test(l.text))?.at ?? NaN;
    expect(at(/now has 1 servers/) - at(/terminating i-/)).toBeGreaterThanOrEqual(10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
  });
});
