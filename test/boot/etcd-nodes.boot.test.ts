/**
 * Boot tier: the reference example's etcd nodes boot as machines would, on Debian 12. The stack is
 * applied with terraform against the AWS API emulator (moto); each etcd node is a systemd-nspawn
 * container (systemd as PID 1, ./../harness/nspawn-node.ts) whose cloud-init reads the user data
 * the emulator's launch template stores, whose instance metadata comes from a strict IMDSv2
 * stand-in, and whose slot interface and data volume appear once the emulator records them
 * attached. etcd comes from the platform team's HTTPS mirror (../harness/asset-mirror.ts): a
 * tarball of the locally built etcd 3.5.21, pinned by its own SHA-256
 * (`etcdRelease.mirrorUrlTemplate`, `mirrorOnly`).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { Server } from "node:https";
import { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { ApplyEmulator, TerraformApplyWorkspace } from "../harness/terraform-apply";
import { AwsCli, BootEnvironment, EtcdMirror, emulatorCli, etcdNodeSpec, nodeEtcdctl, startBootEnvironment, startEtcdMirror, stopBootFile, terminateInstance } from "./environment";
import { NodeSpec, NspawnNode, VolumeStore, VpcNetwork, allOrAbort, bootTierCheck, waitFor } from "../harness/nspawn-node";
import { motoCheck } from "../harness/real-components";
import { providerPlanCheck } from "../harness/provider-plan";
import { allOf, describeTier } from "../harness/tiers";
import { BootReport, BootedNodes, expectNoJobLeft, explainFailure, settle } from "./node-report";

jest.setTimeout(15 * 60_000);

const ETCD_VERSION = "3.5.21";
const MIRROR_PORT = 8443;
/** How long an etcd node may take for cloud-init, then for systemd to settle. */
const ETCD_SETTLE = { cloudInitMs: 8 * 60_000, settleMs: 4 * 60_000 };

const execFileAsync = promisify(execFile);

describeTier("boot tier: the reference example's etcd nodes boot under systemd and cloud-init (Debian 12)", allOf(bootTierCheck(), motoCheck(), providerPlanCheck()), { tierLabel: "boot" }, () => {
  const tierStart = Date.now();
  let dir: string;
  let emulator: ApplyEmulator | undefined;
  let workspace: TerraformApplyWorkspace | undefined;
  let mirror: Server | undefined;
  let vpc: VpcNetwork | undefined;
  let volumes: VolumeStore;
  /** The image's CA bundle plus the mirror's certificate (the image trusts the platform team's mirror). */
  let trustBundle = "";
  const fleet = new BootedNodes();
  const nodes = fleet.nodes;
  const timings: string[] = [];

  /** What the node of `slot` boots from, read from the emulator. */
  function nodeSpec(slot: string): Promise<NodeSpec> {
    return etcdNodeSpec(aws, emulator!, `prod-eu1-${slot}`, slot, trustBundle, MIRROR_PORT);
  }

  /** The AWS CLI against the emulator (asynchronous: the IMDS stand-ins run on this event loop). */
  const aws: AwsCli = (...args) => emulatorCli(emulator!)(...args);

  /** A new instance from `slot`'s launch template in the subnet of `like` (what the Auto Scaling group does). */
  async function launchReplacement(slot: string, like: string): Promise<string> {
    const old = (await aws("ec2", "describe-instances", "--instance-ids", like)).Reservations[0].Instances[0];
    const run = await aws("ec2", "run-instances", "--launch-template", `LaunchTemplateName=prod-eu1-${slot}`, "--subnet-id", old.SubnetId, "--count", "1");
    return run.Instances[0].InstanceId as string;
  }

  /** Powers `old` off and terminates its instance, detaching its slot interface and data volume as EC2 does. */
  async function terminate(old: NspawnNode): Promise<void> {
    timings.push(await terminateInstance(aws, old));
  }

  function boot(spec: NodeSpec): Promise<NspawnNode> {
    return fleet.boot(() => NspawnNode.boot(emulator!, vpc!, volumes, dir, spec));
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "boot-tier-"));
    volumes = new VolumeStore(path.join(dir, "volumes"));
    let etcdRelease: EtcdMirror["etcdRelease"];
    ({ server: mirror, trustBundle, etcdRelease } = await startEtcdMirror(dir, ETCD_VERSION, MIRROR_PORT));
    const synthesized = Testing.synth(new HaClusterStack(Testing.app(), "ha-cluster", { etcdRelease }));
    const env: BootEnvironment = {};
    try {
      await startBootEnvironment(env, synthesized, dir, [[(mirror!.address() as AddressInfo).port, MIRROR_PORT]], timings);
    } finally {
      ({ emulator, workspace, vpc } = env);
    }
  });

  afterAll(async () => {
    await stopBootFile(fleet, { emulator, workspace, vpc }, mirror, dir);
    timings.push(`boot tier wall time: ${((Date.now() - tierStart) / 1000).toFixed(1)} s`);
    console.log(timings.join("\n"));
  });

  let reports: BootReport[] = [];

  it("boots all three etcd nodes: cloud-init done, every unit active, systemctl --failed empty", async () => {
    const specs = await Promise.all(["etcd-0", "etcd-1", "etcd-2"].map(nodeSpec));
    // A node that fails its wait stops the others' (allOrAbort): the test fails then, not when the
    // slowest sibling's deadline passes.
    const booted = await allOrAbort(specs, (s) => boot(s), { parent: fleet.signal });
    reports = await allOrAbort(booted, (n, signal) => settle(n, ETCD_SETTLE, signal), { parent: fleet.signal });
    for (const r of reports) {
      timings.push(`${r.node}: boot to ready ${r.readySeconds.toFixed(1)} s (${r.systemState}); slowest units:\n${r.blame.split("\n").slice(0, 8).map((l) => `    ${l.trim()}`).join("\n")}`);
    }
    const problems: string[] = [];
    for (const [i, r] of reports.entries()) {
      if (r.failed !== "" || r.systemState !== "running" || !/status: done/.test(r.cloudInit)) problems.push(`${r.cloudInit}; system ${r.systemState}\n${await explainFailure(booted[i], r.failed)}`);
    }
    expect(problems).toEqual([]);
    for (const n of booted) {
      await waitFor(async () => (await n.exec(["systemctl", "is-active", "etcd.service"])).stdout.trim() === "active", 3 * 60_000, `${n.spec.name}: etcd.service active`, fleet.signal).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await n.journal("etcd.service", 30)}`);
      });
      const active = await n.exec(["systemctl", "is-active", "ha-claim-slot.service", "ha-fetch-secrets.service", "etcd.service"]);
      expect({ node: n.spec.name, active: active.stdout.trim().split("\n") }).toEqual({ node: n.spec.name, active: ["active", "active", "active"] });
      // The boot-defects ordering, proven by the boot itself (the static checks stay in
      // test/bootstrap/systemd-units.e2e.test.ts): no start job is left waiting (the start-job
      // deadlock left cloud-final and a unit waiting on each other forever), and each unit started
      // only after its precondition was up: the certificates after the slot, etcd after both.
      await expectNoJobLeft(n, 90_000, fleet.signal);
      const at = async (unit: string, prop: string) => Number((await n.exec(["systemctl", "show", "-P", prop, unit])).stdout.trim());
      const slotUp = await at("ha-claim-slot.service", "ActiveEnterTimestampMonotonic");
      const secretsStart = await at("ha-fetch-secrets.service", "InactiveExitTimestampMonotonic");
      const secretsUp = await at("ha-fetch-secrets.service", "ActiveEnterTimestampMonotonic");
      const etcdStart = await at("etcd.service", "InactiveExitTimestampMonotonic");
      expect({ node: n.spec.name, slotBeforeSecrets: slotUp > 0 && slotUp <= secretsStart, secretsBeforeEtcd: secretsUp > 0 && secretsUp <= etcdStart }).toEqual({
        node: n.spec.name,
        slotBeforeSecrets: true,
        secretsBeforeEtcd: true,
      });
    }
  });

  it("forms a healthy etcd cluster over the slot addresses", async () => {
    if (reports.length === 0) throw new Error("the nodes did not boot (see the first test)");
    const health = await nodeEtcdctl(nodes[0], "endpoint", "health", "-w", "json");
    const seen = (JSON.parse(health.stdout || "[]") as Array<{ endpoint: string; health: boolean }>).map((h) => [h.endpoint, h.health]).sort();
    expect({ seen, stderr: health.stderr }).toEqual({ seen: [["https://10.0.0.20:2379", true], ["https://10.0.16.20:2379", true], ["https://10.0.32.20:2379", true]], stderr: health.stderr });
    const members = JSON.parse((await nodeEtcdctl(nodes[0], "member", "list", "-w", "json", "--hex")).stdout).members as Array<{ name: string; peerURLs: string[] }>;
    expect(members.map((m) => [m.name, m.peerURLs]).sort()).toEqual([
      ["etcd-0", ["https://10.0.0.20:2380"]],
      ["etcd-1", ["https://10.0.16.20:2380"]],
      ["etcd-2", ["https://10.0.32.20:2380"]],
    ]);
  });

  it("respects the launch template's IMDS hop limit: a process one router hop behind the node (NATed, as a container) gets no token with hop limit 1, the node does; with 2 it does", async () => {
    if (reports.length === 0) throw new Error("the nodes did not boot (see the first test)");
    const node = nodes.find((n) => n.spec.name === "etcd-0")!;
    // The reference example's launch template, as the emulator stores it.
    expect(node.spec.hopLimit).toBe(1);
    const pod = `hacp-pod-${process.pid % 10000}`;
    const nat = ["POSTROUTING", "-s", "192.168.251.0/30", "-j", "MASQUERADE"];
    const curl = (...args: string[]) => ["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", ...args];
    const put = curl("-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", "http://169.254.169.254/latest/api/token");
    const inPod = async (argv: string[]) => {
      try {
        const { stdout } = await execFileAsync("ip", ["netns", "exec", pod, ...argv], { encoding: "utf8", timeout: 30_000 });
        return { code: 0, stdout };
      } catch (err) {
        const e = err as { code?: number; stdout?: string };
        return { code: e.code ?? -1, stdout: e.stdout ?? "" };
      }
    };
    await execFileAsync("ip", ["netns", "add", pod]);
    try {
      // A container network as containerd's bridge plugin makes one: a veth into the node, the node
      // forwarding and masquerading the container's traffic.
      await execFileAsync("ip", ["-n", node.ns, "link", "add", "hpod0", "type", "veth", "peer", "name", "eth0", "netns", pod]);
      await execFileAsync("ip", ["-n", node.ns, "addr", "add", "192.168.251.1/30", "dev", "hpod0"]);
      await execFileAsync("ip", ["-n", node.ns, "link", "set", "hpod0", "up"]);
      await execFileAsync("ip", ["-n", pod, "link", "set", "lo", "up"]);
      await execFileAsync("ip", ["-n", pod, "addr", "add", "192.168.251.2/30", "dev", "eth0"]);
      await execFileAsync("ip", ["-n", pod, "link", "set", "eth0", "up"]);
      await execFileAsync("ip", ["-n", pod, "route", "add", "default", "via", "192.168.251.1"]);
      await execFileAsync("ip", ["netns", "exec", node.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
      const masquerade = await node.exec(["iptables", "-t", "nat", "-A", ...nat]);
      expect({ masquerade: masquerade.code, stderr: masquerade.stderr }).toEqual({ masquerade: 0, stderr: "" });

      // The node itself gets a token.
      expect((await node.exec(put)).stdout).toBe("200");
      // The container reaches the endpoint (a GET without a token is answered, 401, with the default TTL)...
      expect(await inPod(curl("http://169.254.169.254/latest/meta-data/instance-id"))).toEqual({ code: 0, stdout: "401" });
      // ...but the token's response, sent with TTL 1, dies at the node's forwarding: curl times out (28).
      expect(await inPod(put)).toEqual({ code: 28, stdout: "000" });

      // Hop limit 2 (modify-instance-metadata-options on the running instance): one hop more reaches the container.
      expect(await node.modifyHopLimit(2)).toBe(2);
      expect(await inPod(put)).toEqual({ code: 0, stdout: "200" });
      timings.push("IMDS hop limit: token from the node with hop limit 1, none one routed hop behind it (curl timeout), one with hop limit 2");
    } finally {
      await node.modifyHopLimit(1).catch(() => undefined);
      await node.exec(["iptables", "-t", "nat", "-D", ...nat]);
      await execFileAsync("ip", ["-n", node.ns, "link", "del", "hpod0"]).catch(() => undefined);
      await execFileAsync("ip", ["netns", "del", pod]).catch(() => undefined);
    }
  });

  it("replaces a terminated etcd node: the new instance claims the same slot and volume, keeps the member's data and rejoins", async () => {
    if (reports.length === 0) throw new Error("the nodes did not boot (see the first test)");
    const old = nodes.find((n) => n.spec.name === "etcd-1")!;
    const membersBefore = JSON.parse((await nodeEtcdctl(nodes[0], "member", "list", "-w", "json", "--hex")).stdout).members as Array<{ ID: string; name: string }>;
    const idBefore = membersBefore.find((m) => m.name === "etcd-1")!.ID;
    await terminate(old);
    const instanceId = await launchReplacement("etcd-1", old.spec.instanceId);
    const replacement = await boot({ ...old.spec, name: "etcd-1-replacement", instanceId });
    const report = await settle(replacement, ETCD_SETTLE, fleet.signal);
    timings.push(`etcd-1 replacement: boot to ready ${report.readySeconds.toFixed(1)} s (${report.systemState})`);
    if (report.failed !== "" || report.systemState !== "running") throw new Error(await explainFailure(replacement, report.failed));
    await waitFor(async () => (await nodeEtcdctl(replacement, "endpoint", "health")).code === 0, 60_000, "every member healthy after the replacement", fleet.signal);
    const membersAfter = JSON.parse((await nodeEtcdctl(replacement, "member", "list", "-w", "json", "--hex")).stdout).members as Array<{ ID: string; name: string }>;
    // Same member id: the replacement started from the member's data on the volume, it did not join anew.
    expect(membersAfter.map((m) => [m.name, m.ID]).sort()).toEqual(membersBefore.map((m) => [m.name, m.ID]).sort());
    expect(membersAfter.find((m) => m.name === "etcd-1")!.ID).toBe(idBefore);
  });

  it("refuses a bootstrap bundle whose checksum does not match: cloud-final fails with a clear journal line, nothing is extracted, etcd never starts", async () => {
    if (reports.length === 0) throw new Error("the nodes did not boot (see the first test)");
    const spec = await nodeSpec("etcd-2");
    const bucket = /^\s*HA_BUNDLE_BUCKET='([^']+)'$/m.exec(spec.userData)![1];
    const key = /^\s*HA_BUNDLE_KEY='([^']+)'$/m.exec(spec.userData)![1];
    const sha = /^\s*HA_BUNDLE_SHA256='([0-9a-f]{64})'$/m.exec(spec.userData)![1];
    const original = path.join(dir, "bundle-original.tar.gz");
    const tampered = path.join(dir, "bundle-tampered.tar.gz");
    await aws("s3api", "get-object", "--bucket", bucket, "--key", key, original);
    // One byte changed, as a corrupted or replaced object would be.
    const bytes = readFileSync(original);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(tampered, bytes);
    const got = createHash("sha256").update(bytes).digest("hex");
    await aws("s3api", "put-object", "--bucket", bucket, "--key", key, "--body", tampered);
    try {
      const like = nodes.find((n) => n.spec.name === "etcd-2")!.spec.instanceId;
      const instanceId = await launchReplacement("etcd-2", like);
      const node = await boot({ ...spec, name: "etcd-2-tampered", instanceId });
      let status = "";
      await waitFor(async () => /status: (done|error)/.test((status = (await node.exec(["cloud-init", "status"])).stdout)), 6 * 60_000, `etcd-2-tampered: cloud-init to finish (${status})`, fleet.signal);
      expect(status).toContain("status: error");
      expect((await node.exec(["systemctl", "is-failed", "cloud-final.service"])).stdout.trim()).toBe("failed");
      const journal = (await node.exec(["journalctl", "--no-pager", "-o", "cat"])).stdout;
      expect(journal).toContain(`ERROR: bootstrap bundle s3://${bucket}/${key} has SHA-256 ${got}, user data expects ${sha}: refusing it; nothing extracted, no unit started`);
      // Nothing of the bundle on the node, etcd neither installed nor started, no slot claimed.
      const present = await node.exec(["sh", "-c", "ls /etc/systemd/system/etcd.service /usr/local/sbin/ha-claim-slot /usr/local/bin/etcd 2>/dev/null; systemctl is-active etcd.service ha-claim-slot.service"]);
      expect(present.stdout.trim().split("\n")).toEqual(["inactive", "inactive"]);
      const enis = (await aws("ec2", "describe-network-interfaces", "--filters", `Name=attachment.instance-id,Values=${instanceId}`)).NetworkInterfaces as Array<{ Attachment: { DeviceIndex: number } }>;
      expect(enis.map((e) => e.Attachment.DeviceIndex)).toEqual([0]);
      await node.stop();
    } finally {
      await aws("s3api", "put-object", "--bucket", bucket, "--key", key, "--body", original);
    }
  });

  /** Waits for cloud-init to finish on a node expected to fail, and returns its status line. */
  async function finished(node: NspawnNode): Promise<string> {
    let status = "";
    await waitFor(async () => /status: (done|error)/.test((status = (await node.exec(["cloud-init", "status"])).stdout)), 8 * 60_000, `${node.spec.name}: cloud-init to finish (${status})`, fleet.signal);
    return status;
  }

  /** The systemd property `prop` of `unit` on `node`. */
  async function prop(node: NspawnNode, unit: string, name: string): Promise<string> {
    return (await node.exec(["systemctl", "show", "-P", name, unit])).stdout.trim();
  }

  /** etcd and what it needs never ran on `node`, and no certificate or key reached it. */
  async function expectNothingStarted(node: NspawnNode, units: readonly string[]): Promise<void> {
    for (const unit of units) {
      // ExecMainStartTimestampMonotonic is 0 until the unit's main process was started once.
      expect({ node: node.spec.name, unit, started: await prop(node, unit, "ExecMainStartTimestampMonotonic"), active: await prop(node, unit, "ActiveState") }).toEqual({
        node: node.spec.name,
        unit,
        started: "0",
        active: expect.stringMatching(/^(inactive|failed)$/),
      });
    }
    const pki = await node.exec(["sh", "-c", "find /etc/kubernetes/pki -type f 2>/dev/null; pgrep -x etcd || true"]);
    expect({ node: node.spec.name, pkiFilesAndEtcdPids: pki.stdout.trim() }).toEqual({ node: node.spec.name, pkiFilesAndEtcdPids: "" });
  }

  /**
   * Waits until `unit` on `node` has failed and no job is left: cloud-init's runcmd goes on after a
   * failed unit, and starting what Requires= it (ha-fetch-secrets, etcd) pulls it in again, each
   * attempt ending the same way.
   */
  async function failedForGood(node: NspawnNode, unit: string): Promise<void> {
    let state = "";
    await waitFor(
      async () => (state = `${await prop(node, unit, "ActiveState")}; jobs: ${(await node.exec(["systemctl", "list-jobs", "--no-legend"])).stdout.trim()}`) === "failed; jobs: ",
      6 * 60_000,
      `${node.spec.name}: ${unit} to fail with no job left (${state})`,
      fleet.signal,
    );
  }

  /** The journal tail of the failing `unit`, recorded in the tier's output. */
  async function report(node: NspawnNode, unit: string): Promise<string> {
    const tail = await node.journal(unit, 15);
    timings.push(`${node.spec.name}: ${unit} failed as expected; journal tail:\n${tail.trimEnd().split("\n").map((l) => `    ${l}`).join("\n")}`);
    return (await node.exec(["journalctl", "--no-pager", "-o", "cat", "-u", unit])).stdout;
  }

  it("fails the slot claim of a node whose slot interface is attached to another instance: ha-claim-slot fails with a clear journal line, no secret is fetched, etcd never starts", async () => {
    if (reports.length === 0) throw new Error("the nodes did not boot (see the first test)");
    // etcd-2 runs and holds its slot interface: a second instance of its launch template (an Auto
    // Scaling group launching a replacement of a node that has not terminated yet) finds none free.
    const holder = nodes.find((n) => n.spec.name === "etcd-2")!;
    const spec = await nodeSpec("etcd-2");
    const role = /^\s*NODE_ROLE='([^']+)'$/m.exec(spec.userData)![1];
    const slotEni = (await aws("ec2", "describe-network-interfaces", "--filters", `Name=attachment.instance-id,Values=${holder.spec.instanceId}`)).NetworkInterfaces.find(
      (e: { Attachment: { DeviceIndex: number } }) => e.Attachment.DeviceIndex !== 0,
    ).NetworkInterfaceId as string;
    const instanceId = await launchReplacement("etcd-2", holder.spec.instanceId);
    const zone = (await aws("ec2", "describe-instances", "--instance-ids", instanceId)).Reservations[0].Instances[0].Placement.AvailabilityZone as string;
    // The claim's deadline (CLAIM_TIMEOUT_SECONDS, 900 s by default) shortened for the test by a
    // drop-in of the test image; the script's loop and message are unchanged.
    const files = { ...spec.files, "etc/systemd/system/ha-claim-slot.service.d/90-boot-tier.conf": "[Service]\nEnvironment=CLAIM_TIMEOUT_SECONDS=20\n" };
    const node = await boot({ ...spec, name: "etcd-2-unclaimable", instanceId, files });
    try {
      const started = Date.now();
      await finished(node);
      await failedForGood(node, "ha-claim-slot.service");
      timings.push(`etcd-2-unclaimable: the claim failed for good ${((Date.now() - started) / 1000).toFixed(1)} s after the boot started`);
      const journal = await report(node, "ha-claim-slot.service");
      expect(journal.split("\n")).toContain(`ha-claim-slot: no free ${role} interface in ${zone} yet (the replaced node may still be detaching)`);
      expect(journal.split("\n")).toContain(`ha-claim-slot: ERROR: no ${role} interface could be claimed in ${zone} within 20 s`);
      await expectNothingStarted(node, ["ha-fetch-secrets.service", "etcd.service"]);
      // The holder keeps its interface; the new instance got none.
      const enis = (await aws("ec2", "describe-network-interfaces", "--filters", `Name=attachment.instance-id,Values=${instanceId}`)).NetworkInterfaces as Array<{ Attachment: { DeviceIndex: number } }>;
      expect(enis.map((e) => e.Attachment.DeviceIndex)).toEqual([0]);
      const held = (await aws("ec2", "describe-network-interfaces", "--network-interface-ids", slotEni)).NetworkInterfaces[0].Attachment.InstanceId;
      expect(held).toBe(holder.spec.instanceId);
    } finally {
      await node.stop();
      await aws("ec2", "terminate-instances", "--instance-ids", instanceId);
    }
  });

  it("fails the secret fetch of a node whose secret Secrets Manager refuses (scheduled for deletion): ha-fetch-secrets fails with a clear journal line, no certificate is written, etcd never starts", async () => {
    if (reports.length === 0) throw new Error("the nodes did not boot (see the first test)");
    const old = nodes.find((n) => n.spec.name === "etcd-2")!;
    const spec = await nodeSpec("etcd-2");
    const prefix = /^\s*SECRET_PREFIX='([^']+)'$/m.exec(spec.userData)![1];
    const secretId = `${prefix}/etcd-2`;
    // moto 5.1.22 cannot refuse by policy here: it enforces IAM only with authentication switched on
    // for every caller, evaluates Secrets Manager calls against resource "*" and no resource policy.
    // A secret scheduled for deletion is refused by Secrets Manager and moto alike
    // (InvalidRequestException on GetSecretValue during the recovery window).
    await terminate(old);
    await aws("secretsmanager", "delete-secret", "--secret-id", secretId, "--recovery-window-in-days", "7");
    try {
      const instanceId = await launchReplacement("etcd-2", old.spec.instanceId);
      const node = await boot({ ...spec, name: "etcd-2-nosecret", instanceId });
      try {
        await finished(node);
        await failedForGood(node, "ha-fetch-secrets.service");
        // The slot was claimed (the secret fetch runs only after it)...
        expect(await prop(node, "ha-claim-slot.service", "ActiveState")).toBe("active");
        // ...the fetch failed, saying which secret, and wrote nothing.
        const journal = await report(node, "ha-fetch-secrets.service");
        expect(journal).toMatch(/An error occurred \(InvalidRequestException\) when calling the GetSecretValue operation/);
        expect(journal.split("\n")).toContain(`ha-fetch-secrets: ERROR: cannot read secret ${secretId} (the AWS CLI's error is above): no certificate written`);
        await expectNothingStarted(node, ["etcd.service"]);
      } finally {
        await node.stop();
      }
    } finally {
      await aws("secretsmanager", "restore-secret", "--secret-id", secretId);
    }
  });
});
