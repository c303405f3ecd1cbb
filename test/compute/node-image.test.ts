/**
 * Debian 12 beside Ubuntu 24.04 as the node image. Expected values are the publishers' own facts,
 * written out here: Canonical's account 099720109477 and image names
 * `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-<arch>-server-*` with root device /dev/sda1; the
 * Debian project's account 136693071363 (wiki.debian.org/Cloud/AmazonEC2Image/Bookworm) and names
 * `debian-12-<arch>-<yyyymmdd>-<build>` registered with root device /dev/xvda (debian-cloud-images'
 * EC2 upload).
 */
import { App } from "cdktf";
import { ConfigError, EtcdTopology, HaControlPlane, NodeImage } from "../../lib";
import { PlatformBlueprint } from "../../lib/blueprint";
import { SynthJson, resources, synth } from "../helpers/synth";

const zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
type Ami = { owners: string[]; name_regex?: string; filter: Array<{ name: string; values: string[] }> };
const amis = (json: SynthJson) => Object.values(json.data?.aws_ami ?? {}) as Ami[];
const rootDevices = (json: SynthJson) =>
  resources(json, "aws_launch_template").map((lt) => (lt.props.block_device_mappings as Array<{ device_name: string; ebs: { encrypted: string | boolean } }>).map((b) => b.device_name));

describe("nodeImage", () => {
  it("DEBIAN_12 looks up the Debian project's bookworm images per architecture, releases only", () => {
    const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", availabilityZones: zones, etcdInstanceType: "m7g.large", nodeImage: NodeImage.DEBIAN_12 }));
    const found = amis(json);
    expect(found).toHaveLength(2);
    found.forEach((a) => expect(a.owners).toEqual(["136693071363"]));
    expect(found.map((a) => a.filter.find((f) => f.name === "name")!.values[0]).sort()).toEqual(["debian-12-amd64-*", "debian-12-arm64-*"]);
    const regexes = found.map((a) => new RegExp(a.name_regex as string));
    // Release names match their own architecture's regex; backports and the other architecture do not.
    expect(found.map((a) => a.name_regex).sort()).toEqual([expect.stringContaining("amd64"), expect.stringContaining("arm64")]);
    const amd = regexes[found.findIndex((a) => a.name_regex!.includes("amd64"))];
    expect(["debian-12-amd64-20240717-1811", "debian-12-amd64-20231013-1532"].every((n) => amd.test(n))).toBe(true);
    expect(["debian-12-backports-amd64-20240717-1811", "debian-12-arm64-20240717-1811", "debian-12-amd64-daily-20240717-1811"].some((n) => amd.test(n))).toBe(false);
  });

  it("maps the root volume to the image's root device: /dev/xvda for Debian 12, /dev/sda1 for Ubuntu 24.04 (default)", () => {
    const debian = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", availabilityZones: zones, amiId: "ami-0123456789abcdef0", nodeImage: NodeImage.DEBIAN_12 }));
    const ubuntu = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", availabilityZones: zones, amiId: "ami-0123456789abcdef0" }));
    expect(rootDevices(debian).length).toBeGreaterThanOrEqual(2);
    for (const devices of rootDevices(debian)) expect(devices[0]).toBe("/dev/xvda");
    for (const devices of rootDevices(ubuntu)) expect(devices[0]).toBe("/dev/sda1");
    // A pinned AMI needs no lookup, whatever its OS.
    expect(amis(debian)).toEqual([]);
  });

  it("also for stacked etcd", () => {
    const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", availabilityZones: zones, amiId: "ami-0123456789abcdef0", nodeImage: NodeImage.DEBIAN_12, etcdTopology: EtcdTopology.STACKED }));
    for (const devices of rootDevices(json)) expect(devices[0]).toBe("/dev/xvda");
  });

  it("refuses a value that is not a NodeImage", () => {
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", availabilityZones: zones, nodeImage: "debian-13" as NodeImage }))).toThrow(ConfigError);
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", availabilityZones: zones, nodeImage: "debian-13" as NodeImage }))).toThrow(/nodeImage/);
  });

  it("the blueprint's organisation default reaches every cluster", () => {
    const blueprint = new PlatformBlueprint({ name: "org", defaults: { region: "eu-west-1", amiIds: { "eu-west-1": "ami-0123456789abcdef0" }, nodeImage: NodeImage.DEBIAN_12, clusterObjectsReaderRoleArn: "arn:aws:iam::111122223333:role/objects" } });
    expect(blueprint.resolve({ clusterName: "c1", preset: "production" }).controlPlaneProps.nodeImage).toBe(NodeImage.DEBIAN_12);
    const cluster = blueprint.createCluster(new App(), { clusterName: "c1", preset: "production" });
    expect(cluster.controlPlaneStack.controlPlane).toBeDefined();
  });
});
