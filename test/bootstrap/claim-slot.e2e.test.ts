/**
 * The real slot-claim script (bash, as nodes receive it) with the real AWS CLI against the AWS
 * emulator (moto), the instance metadata from a strict IMDSv2 stand-in, and the real `ip` inside a
 * network namespace the test creates: the instance, its primary interface (tagged as the
 * synthesized launch template tags it), the slot interfaces and data volumes (tagged as the
 * synthesized stack tags them) all exist in the emulator, and a slot interface appears in the
 * namespace (a veth with the interface's MAC) once the emulator shows it attached, as on EC2.
 * `mkfs.ext4` and `blkid` run for real on an image file that stands for the attached volume.
 * `mount`, `netplan` and `systemctl` are stand-ins that accept exactly the argument vector the
 * script must use and fail on anything else (`netplan apply` runs the real `netplan generate` on
 * the written file).
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { Testing } from "../../lib/core";
import { renderNodeEnv, NodeBootInput } from "../../lib";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { AwsEmulator, EMULATOR_REGION, MOTO_SETUP_COMMAND, attachedInterfaces, awsEmulatorCheck, startAwsEmulator, startImds, xmlItems, xmlValues } from "../harness/aws-emulator";
import { TierCheck, describeTier } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";
import { FoundResource, resources, synthStack } from "../helpers/synth";

const SCRIPT = renderedScript("ha-claim-slot.sh");
const ZONE = `${EMULATOR_REGION}a`;
const PRIMARY_IP = "10.0.0.50";
const GATEWAY = "10.0.0.1";
const REF = synthStack(new HaClusterStack(Testing.app(), "ref"));

type Tags = Record<string, string>;
const tagList = (tags: Tags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

function launchTemplate(nodeRole: string): FoundResource {
  const lt = resources(REF, "aws_launch_template").find((r) => r.props.name === `prod-eu1-${nodeRole}`);
  if (lt === undefined) throw new Error(`no launch template for ${nodeRole}`);
  return lt;
}

function templateTags(nodeRole: string, type: string): Tags {
  const spec = (launchTemplate(nodeRole).props.tag_specifications as Array<{ resource_type: string; tags: Tags }>).find((s) => s.resource_type === type);
  if (spec === undefined) throw new Error(`no ${type} tag specification`);
  return spec.tags;
}

const slotEniTags = (slot: string): Tags => resources(REF, "aws_network_interface").find((e) => e.props.tags["ha-control-plane/slot"] === slot)!.props.tags;
const volumeTags = (slot: string): Tags => resources(REF, "aws_ebs_volume").find((v) => v.props.tags["ha-control-plane/slot"] === slot)!.props.tags;
const slotIp = (slot: string): string => resources(REF, "aws_network_interface").find((e) => e.props.tags["ha-control-plane/slot"] === slot)!.props.private_ips[0];

function netnsCheck(): TierCheck {
  if (process.getuid?.() !== 0) return { available: false, reason: "network namespaces need root" };
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    execFileSync("nsenter", ["--version"], { stdio: "ignore" });
    return { available: true, reason: "" };
  } catch (err) {
    return { available: false, reason: `ip netns / nsenter unavailable: ${(err as Error).message.split("\n")[0]}` };
  }
}

function tierCheck(): TierCheck {
  const emu = awsEmulatorCheck();
  if (!emu.available) return emu;
  const ns = netnsCheck();
  if (!ns.available) return ns;
  for (const tool of ["mkfs.ext4", "blkid"]) {
    if (!existsSync(`/usr/sbin/${tool}`) && !existsSync(`/sbin/${tool}`)) return { available: false, reason: `${tool} missing (e2fsprogs, util-linux)` };
  }
  if (!existsSync("/usr/sbin/netplan")) return { available: false, reason: "netplan missing (Debian package netplan.io; bash scripts/setup-test-env.sh apt)" };
  return { available: true, reason: "" };
}

interface WorldOptions {
  /** Node role as the launch template names it: `apiserver` or `etcd-0`. */
  readonly template: "apiserver" | "etcd-0";
  /** Tags of the instance's primary interface: the launch template's, or the instance's full set (what the template gave it before the fix). */
  readonly primaryTags: "template" | "instance-tags";
  /** Replaces the slot interface's slot tag value. */
  readonly slotTagValue?: string;
  /** Give the node netplan (Ubuntu) or not (Debian 12). */
  readonly netplan?: boolean;
  /** Extra environment for the script. */
  readonly env?: Readonly<Record<string, string>>;
}

interface BootResult {
  readonly code: number;
  readonly stderr: string;
}

const sh = (args: string[]) => execFileSync(args[0], args.slice(1), { encoding: "utf8" });

let nsCounter = 0;

/** One emulated node: resources in moto, a network namespace, an IMDS stand-in. */
async function makeWorld(emu: AwsEmulator, o: WorldOptions) {
  const slot = o.template === "apiserver" ? "apiserver-0" : "etcd-0";
  const input: NodeBootInput = o.template === "apiserver" ? { clusterName: "prod-eu1", nodeRole: "apiserver" } : { clusterName: "prod-eu1", nodeRole: "etcd", slotName: "etcd-0", dataVolume: "by-slot" };
  await emu.reset();
  const vpc = emu.aws("ec2", "create-vpc", "--cidr-block", "10.0.0.0/16").Vpc.VpcId;
  const subnet = emu.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.0.0/20", "--availability-zone", ZONE).Subnet.SubnetId;
  const eniTags = { ...slotEniTags(slot), ...(o.slotTagValue !== undefined ? { "ha-control-plane/slot": o.slotTagValue } : {}) };
  const slotEni = emu.aws("ec2", "create-network-interface", "--subnet-id", subnet, "--private-ip-address", slotIp(slot), "--tag-specifications", JSON.stringify([{ ResourceType: "network-interface", Tags: tagList(eniTags) }])).NetworkInterface;
  let volumeId: string | undefined;
  let decoyVolumeId: string | undefined;
  if (o.template === "etcd-0") {
    const key = emu.aws("kms", "create-key", "--description", "cluster key").KeyMetadata.Arn;
    // Another cluster in the same account uses the same slot names: its etcd-0 volume, created first,
    // must never be the one this node claims.
    const foreignTags = Object.fromEntries(Object.entries(volumeTags(slot)).map(([k, v]) => [k, v.replace(/prod-eu1/g, "prod-eu2")]));
    decoyVolumeId = emu.aws("ec2", "create-volume", "--availability-zone", ZONE, "--size", "20", "--volume-type", "gp3", "--encrypted", "--kms-key-id", key, "--tag-specifications", JSON.stringify([{ ResourceType: "volume", Tags: tagList(foreignTags) }])).VolumeId;
    volumeId = emu.aws("ec2", "create-volume", "--availability-zone", ZONE, "--size", "20", "--volume-type", "gp3", "--encrypted", "--kms-key-id", key, "--tag-specifications", JSON.stringify([{ ResourceType: "volume", Tags: tagList(volumeTags(slot)) }])).VolumeId;
  }
  const image: string = emu.aws("ec2", "describe-images", "--query", "Images[0].ImageId");
  const instance = emu.aws("ec2", "run-instances", "--image-id", image, "--instance-type", "m6i.large", "--subnet-id", subnet, "--private-ip-address", PRIMARY_IP, "--count", "1",
    "--tag-specifications", JSON.stringify([{ ResourceType: "instance", Tags: tagList(templateTags(o.template, "instance")) }])).Instances[0];
  const instanceId: string = instance.InstanceId;
  const primary = (await attachedInterfaces(emu, instanceId)).find((e) => e.deviceIndex === 0)!;
  // moto does not apply a run's network-interface tag specification to the primary interface; EC2
  // does, so the test applies the launch template's.
  const primaryTags = o.primaryTags === "template" ? templateTags(o.template, "network-interface") : templateTags(o.template, "instance");
  emu.aws("ec2", "create-tags", "--resources", primary.id, "--tags", JSON.stringify(tagList(primaryTags)));

  const dir = mkdtempSync(path.join(tmpdir(), "claim-slot-"));
  const ns = `hacp-claim-${process.pid}-${nsCounter++}`;
  const bin = path.join(dir, "bin");
  const root = path.join(dir, "root");
  const sysfs = path.join(dir, "sys");
  const byId = path.join(dir, "by-id");
  const calls = path.join(dir, "calls.log");
  for (const d of [bin, sysfs, byId, path.join(dir, "disks"), path.join(dir, "run"), path.join(root, "etc/cloud"), path.join(root, "etc/systemd")]) mkdirSync(d, { recursive: true });
  if (o.netplan) mkdirSync(path.join(root, "etc/netplan"), { recursive: true });
  writeFileSync(calls, "");
  const dataMount = path.join(dir, "data");
  const stubs: Record<string, string> = {
    ip: `#!/bin/sh\nexec /usr/sbin/ip -n ${ns} "$@"\n`,
    mount: `#!/bin/sh\necho "mount $*" >> ${calls}\n[ "$#" -eq 4 ] && [ "$1" = -o ] && [ "$2" = noatime ] && [ -f "$3" ] && [ "$4" = ${dataMount} ] || { echo "mount stand-in: unexpected arguments: $*" >&2; exit 99; }\n`,
    systemctl: `#!/bin/sh\necho "systemctl $*" >> ${calls}\n[ "$*" = "is-active --quiet systemd-networkd.service" ] || { echo "systemctl stand-in: unexpected arguments: $*" >&2; exit 99; }\nexit 3\n`,
    ...(o.netplan ? { netplan: `#!/bin/sh\necho "netplan $*" >> ${calls}\n[ "$*" = apply ] || { echo "netplan stand-in: unexpected arguments: $*" >&2; exit 99; }\nexec /usr/sbin/netplan generate --root-dir ${root}\n` } : {}),
  };
  for (const [name, body] of Object.entries(stubs)) {
    writeFileSync(path.join(bin, name), body);
    chmodSync(path.join(bin, name), 0o755);
  }
  symlinkSync(emu.awsCli, path.join(bin, "aws"));
  for (const tool of ["mkfs.ext4", "blkid"]) symlinkSync(existsSync(`/usr/sbin/${tool}`) ? `/usr/sbin/${tool}` : `/sbin/${tool}`, path.join(bin, tool));
  writeFileSync(path.join(dir, "node.env"), renderNodeEnv({ ...input, dataMountPath: dataMount }));

  sh(["ip", "netns", "add", ns]);
  sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
  sh(["ip", "-n", ns, "link", "add", "eth0", "address", primary.mac, "type", "veth", "peer", "name", "peth0"]);
  sh(["ip", "-n", ns, "link", "set", "peth0", "up"]);
  sh(["ip", "-n", ns, "link", "set", "eth0", "up"]);
  sh(["ip", "-n", ns, "addr", "add", `${PRIMARY_IP}/20`, "dev", "eth0"]);
  // The primary's DHCP default route as each system leaves it: networkd (Ubuntu) at metric 100,
  // Debian 12's dhclient at metric 0.
  sh(["ip", "-n", ns, "route", "add", "default", "via", GATEWAY, "dev", "eth0", ...(o.netplan ? ["proto", "dhcp", "metric", "100"] : [])]);
  sh(["nsenter", `--net=/run/netns/${ns}`, "mount", "-t", "sysfs", "sysfs", sysfs]);
  const imds = await startImds(emu, instanceId);

  // EC2 hot-plugs what is attached: a veth with the interface's MAC, an image file for a volume.
  const plugged = new Set<string>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (const eni of await attachedInterfaces(emu, instanceId)) {
        if (eni.deviceIndex === 0 || plugged.has(eni.id)) continue;
        plugged.add(eni.id);
        sh(["ip", "-n", ns, "link", "add", `eth${eni.deviceIndex}`, "address", eni.mac, "type", "veth", "peer", "name", `peth${eni.deviceIndex}`]);
        sh(["ip", "-n", ns, "link", "set", `peth${eni.deviceIndex}`, "up"]);
      }
      const vols = xmlItems(await emu.ec2("DescribeVolumes", { "Filter.1.Name": "attachment.instance-id", "Filter.1.Value.1": instanceId }), "volumeSet");
      for (const v of vols) {
        const id = xmlValues(v, "volumeId")[0];
        if (plugged.has(id)) continue;
        plugged.add(id);
        const img = path.join(dir, "disks", `${id}.img`);
        execFileSync("truncate", ["-s", "16M", img]);
        symlinkSync(img, path.join(byId, `nvme-Amazon_Elastic_Block_Store_${id.replace("-", "")}`));
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  const boot = () =>
    new Promise<BootResult>((resolve) => {
      execFile(
        "bash",
        [SCRIPT],
        {
          env: {
            PATH: `${bin}:/usr/bin:/bin`,
            HOME: dir,
            ...emu.env,
            AWS_DEFAULT_REGION: "",
            AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint,
            ENV_FILE: path.join(dir, "node.env"),
            STATE_DIR: path.join(dir, "run"),
            SYSFS_NET: path.join(sysfs, "class/net"),
            DISK_BY_ID: byId,
            NETPLAN_DIR: path.join(root, "etc/netplan"),
            NETWORKD_CONF_DIR: path.join(root, "etc/systemd/networkd.conf.d"),
            CLOUD_CFG_DIR: path.join(root, "etc/cloud/cloud.cfg.d"),
            CLAIM_TIMEOUT_SECONDS: "20",
            ...o.env,
          },
          timeout: 120000,
        },
        (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });

  return {
    dir,
    ns,
    root,
    instanceId,
    primary,
    slotEniId: slotEni.NetworkInterfaceId as string,
    volumeId,
    decoyVolumeId,
    dataMount,
    boot,
    calls: () => readFileSync(calls, "utf8").trim().split("\n").filter((l) => l !== ""),
    slotEnv: () => readFileSync(path.join(dir, "run/slot.env"), "utf8"),
    inNs: (...args: string[]) => sh(["ip", "-n", ns, ...args]),
    async cleanup() {
      watching = false;
      await watcher.catch(() => undefined);
      await imds.stop();
      try {
        sh(["umount", sysfs]);
      } catch {
        // already gone
      }
      try {
        sh(["ip", "netns", "del", ns]);
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type World = Awaited<ReturnType<typeof makeWorld>>;

/** KEY='value' lines as written for readers that parse (never source) the file. */
function parseSlotEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split("\n")
      .map((line) => {
        const m = /^([A-Z_]+)='([^']*)'$/.exec(line);
        if (!m) throw new Error(`slot.env line not KEY='value': ${line}`);
        return [m[1], m[2]];
      }),
  );
}

describeTier(`ha-claim-slot against the AWS emulator (real bash, AWS CLI, ip in a network namespace; setup: ${MOTO_SETUP_COMMAND})`, tierCheck(), { tierLabel: "AWS emulator" }, () => {
  let emu: AwsEmulator;
  const worlds: World[] = [];
  beforeAll(async () => {
    emu = await startAwsEmulator();
  }, 60000);
  afterEach(async () => {
    for (const w of worlds.splice(0)) await w.cleanup();
  });
  afterAll(async () => {
    await emu?.stop();
  });
  const world = async (o: WorldOptions) => {
    const w = await makeWorld(emu, o);
    worlds.push(w);
    return w;
  };
  const eni = (id: string) => emu.aws("ec2", "describe-network-interfaces", "--network-interface-ids", id).NetworkInterfaces[0];

  async function expectApiSlotClaimed(w: World) {
    const r = await w.boot();
    expect(r.stderr).not.toMatch(/None/);
    expect(r.code).toBe(0);
    const attached = eni(w.slotEniId);
    expect(attached.Attachment).toMatchObject({ InstanceId: w.instanceId, DeviceIndex: 1 });
    expect(parseSlotEnv(w.slotEnv())).toEqual({ SLOT_NAME: "apiserver-0", SLOT_IP: "10.0.0.10", SLOT_ENI: w.slotEniId, SLOT_INTERFACE: "eth1", DATA_DEVICE: "" });
    // The kernel's view inside the namespace: slot address on the slot NIC, new connections from it,
    // replies for the primary address through the primary NIC.
    expect(w.inNs("-4", "-o", "addr", "show", "dev", "eth1")).toContain("inet 10.0.0.10/20");
    expect(w.inNs("-4", "route", "show", "default")).toMatch(/default via 10\.0\.0\.1 dev eth1 src 10\.0\.0\.10 metric 10/);
    expect(w.inNs("-4", "route", "get", "10.9.9.9")).toMatch(/dev eth1 src 10\.0\.0\.10/);
    // A peer in the node's own subnet (another etcd member of the zone) too: etcd refuses a peer
    // whose certificate does not name the address it connects from.
    expect(w.inNs("-4", "route", "get", "10.0.0.77")).toMatch(/dev eth1 src 10\.0\.0\.10/);
    expect(w.inNs("-4", "route", "get", "10.9.9.9", "from", PRIMARY_IP)).toMatch(/via 10\.0\.0\.1 dev eth0 table 1000/);
    expect(w.inNs("-4", "rule", "show")).toMatch(/^100:\s+from 10\.0\.0\.50 lookup 1000/m);
  }

  it("claims the free API slot interface (never the primary) with the launch template's primary-interface tags", async () => {
    await expectApiSlotClaimed(await world({ template: "apiserver", primaryTags: "template" }));
  }, 120000);

  it("claims the real slot even when the primary interface carries the role tags (templates from before the fix)", async () => {
    const w = await world({ template: "apiserver", primaryTags: "instance-tags" });
    await expectApiSlotClaimed(w);
    expect(eni(w.primary.id).Attachment.DeviceIndex).toBe(0);
  }, 120000);

  it("gives an etcd member its own slot interface and volume, formats a blank volume once, and changes nothing on reboot", async () => {
    const w = await world({ template: "etcd-0", primaryTags: "instance-tags" });
    const first = await w.boot();
    // On failure the script's stderr is the diagnosis (one CI run saw exit 2 here, not reproduced since).
    expect({ code: first.code, stderr: first.code === 0 ? "" : first.stderr }).toEqual({ code: 0, stderr: "" });
    expect(eni(w.slotEniId).Attachment).toMatchObject({ InstanceId: w.instanceId, DeviceIndex: 1 });
    const vol = emu.aws("ec2", "describe-volumes", "--volume-ids", w.volumeId!).Volumes[0];
    expect(vol.Attachments[0]).toMatchObject({ InstanceId: w.instanceId, Device: "/dev/sdf" });
    expect(emu.aws("ec2", "describe-volumes", "--volume-ids", w.decoyVolumeId!).Volumes[0]).toMatchObject({ State: "available", Attachments: [] });
    const env = parseSlotEnv(w.slotEnv());
    expect(env).toMatchObject({ SLOT_NAME: "etcd-0", SLOT_IP: "10.0.0.20", SLOT_ENI: w.slotEniId, SLOT_INTERFACE: "eth1" });
    expect(execFileSync("/usr/sbin/blkid", ["-p", "-s", "TYPE", "-o", "value", env.DATA_DEVICE], { encoding: "utf8" }).trim()).toBe("ext4");
    expect(w.calls()).toContain(`mount -o noatime ${env.DATA_DEVICE} ${w.dataMount}`);
    expect(w.inNs("-4", "-o", "addr", "show", "dev", "eth1")).toContain("inet 10.0.0.20/20");
    // Reboot: the same interface, volume and filesystem (a marker written into it survives).
    execFileSync("/usr/sbin/debugfs", ["-w", "-R", "mkdir member-data", env.DATA_DEVICE], { stdio: "ignore" });
    const second = await w.boot();
    // On failure the script's stderr is the diagnosis (one CI run saw exit 2 here, not reproduced since).
    expect({ code: second.code, stderr: second.code === 0 ? "" : second.stderr }).toEqual({ code: 0, stderr: "" });
    expect(parseSlotEnv(w.slotEnv())).toEqual(env);
    expect(execFileSync("/usr/sbin/debugfs", ["-R", "ls -l /", env.DATA_DEVICE], { encoding: "utf8" })).toContain("member-data");
    expect(w.inNs("-4", "rule", "show").match(/lookup 1000/g)).toHaveLength(1);
  }, 180000);

  it("owns the slot interface on a netplan system: a netplan file netplan accepts, cloud-init hotplug off, networkd keeps foreign routes", async () => {
    const w = await world({ template: "apiserver", primaryTags: "template", netplan: true });
    const r = await w.boot();
    expect(r.code).toBe(0);
    expect(w.calls()).toEqual(["systemctl is-active --quiet systemd-networkd.service", "netplan apply"]);
    const mac = eni(w.slotEniId).MacAddress;
    // What netplan itself made of the file (systemd-networkd's .network syntax, systemd.network(5)).
    const network = readFileSync(path.join(w.root, "run/systemd/network/10-netplan-ha-slot.network"), "utf8");
    expect(network).toContain(`PermanentMACAddress=${mac}`);
    expect(network).toContain("Address=10.0.0.10/20");
    expect(network).toMatch(/\[Route\]\nDestination=0\.0\.0\.0\/0\nGateway=10\.0\.0\.1\nPreferredSource=10\.0\.0\.10\nMetric=10/);
    expect(network).toMatch(/\[RoutingPolicyRule\]\nFrom=10\.0\.0\.50\nTable=1000\nPriority=100/);
    expect(network).not.toMatch(/DHCP=(yes|ipv4)/);
    // cloud-init's `updates` setting (cloud-init docs, "Events and updates"): no hotplug, no boot re-render.
    expect(parseYaml(readFileSync(path.join(w.root, "etc/cloud/cloud.cfg.d/90-ha-control-plane-slot.cfg"), "utf8"))).toEqual({ updates: { network: { when: ["boot-new-instance"] } } });
    const networkd = readFileSync(path.join(w.root, "etc/systemd/networkd.conf.d/60-ha-control-plane.conf"), "utf8");
    expect(networkd).toMatch(/^\[Network\]$/m);
    expect(networkd).toMatch(/^ManageForeignRoutes=no$/m);
    expect(networkd).toMatch(/^ManageForeignRoutingPolicyRules=no$/m);
    // Rewritten only when it changes: a reboot applies nothing again.
    await w.boot();
    expect(w.calls().filter((c) => c === "netplan apply")).toHaveLength(1);
  }, 120000);

  it.each([
    ["a command list", "x; touch PWNED"],
    ["a command substitution", "$(touch PWNED)"],
    ["a backquoted command", "apiserver-0`touch PWNED`"],
    ["the CLI's null", "None"],
  ])("refuses a slot tag holding %s: nothing runs, nothing is attached, no slot.env", async (_what, value) => {
    const pwned = path.join(tmpdir(), `hacp-pwned-${process.pid}-${nsCounter}`);
    const w = await world({ template: "apiserver", primaryTags: "template", slotTagValue: value.replace("PWNED", pwned) });
    const r = await w.boot();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refusing slot name/);
    expect(existsSync(pwned)).toBe(false);
    expect(eni(w.slotEniId).Attachment).toBeUndefined();
    expect(existsSync(path.join(w.dir, "run/slot.env"))).toBe(false);
  }, 120000);

  it("refuses an instance metadata endpoint that is not http://host[:port]", async () => {
    const pwned = path.join(tmpdir(), `hacp-pwned-imds-${process.pid}`);
    const w = await world({ template: "apiserver", primaryTags: "template", env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://x$(touch ${pwned})` } });
    const r = await w.boot();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refusing AWS_EC2_METADATA_SERVICE_ENDPOINT/);
    expect(existsSync(pwned)).toBe(false);
    expect(eni(w.slotEniId).Attachment).toBeUndefined();
  }, 120000);
});
