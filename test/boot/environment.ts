/**
 * What the boot-tier files run their nodes against: the synthesized stack applied to a fresh AWS
 * emulator, and the VPC network namespace the node containers join (the emulator, the files'
 * mirrors and registry reachable on the service address, time sync, the instance metadata service).
 */
import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { Server } from "node:https";
import * as path from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { ApplyEmulator, TerraformApplyWorkspace, startApplyEmulator } from "../harness/terraform-apply";
import { NodeSpec, NspawnNode, VpcNetwork, nodeRootfs } from "../harness/nspawn-node";
import { buildMirror, mirrorCertificate, serveMirror } from "../harness/asset-mirror";
import type { HaControlPlaneProps } from "../../lib";
import type { BootedNodes } from "./node-report";

const execFileAsync = promisify(execFile);

/** The three zones' subnets of the reference example. */
const SUBNETS = ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"];
/** The service address in the VPC: the emulator (443), mirrors and registry, the load balancer. */
export const SERVICE_IP = "10.0.0.1";

/** What {@link startBootEnvironment} started, for the file's afterAll to stop. */
export interface BootEnvironment {
  emulator?: ApplyEmulator;
  workspace?: TerraformApplyWorkspace;
  vpc?: VpcNetwork;
}

/**
 * Applies `synthesized` against a fresh emulator (timed into `timings`) and opens the VPC in `dir`:
 * the emulator at SERVICE_IP:443, each `[hostPort, port]` of `forwards` at SERVICE_IP:port, time
 * sync and IMDS. Fills `env` step by step, so whatever started is stopped even if a later step fails.
 */
export async function startBootEnvironment(env: BootEnvironment, synthesized: string, dir: string, forwards: ReadonlyArray<readonly [number, number]>, timings: string[]): Promise<void> {
  env.emulator = await startApplyEmulator({ extraIpSans: [SERVICE_IP] });
  const applyStart = Date.now();
  env.workspace = await TerraformApplyWorkspace.create(synthesized, env.emulator);
  const apply = await env.workspace.apply();
  if (apply.code !== 0) throw new Error(`apply failed: ${apply.stderr.slice(-2000)}`);
  timings.push(`terraform apply against the emulator: ${((Date.now() - applyStart) / 1000).toFixed(1)} s`);
  env.vpc = VpcNetwork.create(dir, SUBNETS);
  env.vpc.serviceIp = SERVICE_IP;
  await env.vpc.forward(env.emulator.port, 443);
  for (const [hostPort, port] of forwards) await env.vpc.forward(hostPort, port);
  env.vpc.startTimeSync();
  await env.vpc.startImds();
}

/** What {@link startEtcdMirror} serves and how nodes reach it. */
export interface EtcdMirror {
  readonly server: Server;
  /** The node image's CA bundle plus the mirror's certificate (the image trusts the platform team's mirror). */
  readonly trustBundle: string;
  /** The `etcdRelease` prop that points nodes at the mirror only. */
  readonly etcdRelease: NonNullable<HaControlPlaneProps["etcdRelease"]>;
}

/**
 * The etcd release `etcdVersion` served over HTTPS from `dir`, for the VPC to forward to
 * SERVICE_IP:`port` (`server`'s own port is the host's).
 */
export async function startEtcdMirror(dir: string, etcdVersion: string, port: number): Promise<EtcdMirror> {
  const tls = mirrorCertificate(dir, SERVICE_IP);
  const trustBundle = readFileSync(path.join(nodeRootfs()!, "etc/ssl/certs/ca-certificates.crt"), "utf8") + readFileSync(tls.cert, "utf8");
  const { etcd: sha256 } = buildMirror(path.join(dir, "mirror"), etcdVersion);
  const server = await serveMirror(path.join(dir, "mirror/www"), tls);
  const etcdRelease = { version: etcdVersion, sha256: { amd64: sha256 }, mirrorUrlTemplate: `https://${SERVICE_IP}:${port}/etcd/etcd-v{version}-linux-{arch}.tar.gz`, mirrorOnly: true };
  return { server, trustBundle, etcdRelease };
}

/**
 * Stops what a boot file started, whatever got started: its nodes, the VPC, the mirror, the
 * terraform workspace, the emulator, then removes `dir`.
 */
export async function stopBootFile(fleet: BootedNodes, env: BootEnvironment, mirror: Server | undefined, dir: string | undefined): Promise<void> {
  await fleet.stopAll();
  env.vpc?.destroy();
  await new Promise((r) => (mirror ? mirror.close(r) : r(undefined)));
  await env.workspace?.cleanup();
  await env.emulator?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/**
 * etcdctl on `node` with the member's own certificates, against every member's client URL (the
 * node's `HA_ETCD_ENDPOINTS`, as the node scripts use them).
 */
export async function nodeEtcdctl(node: NspawnNode, ...args: string[]): ReturnType<NspawnNode["exec"]> {
  const env = (await node.exec(["cat", "/etc/ha-control-plane/node.env"])).stdout;
  const endpoints = /^HA_ETCD_ENDPOINTS='([^']+)'$/m.exec(env)?.[1] ?? "";
  const pki = "/etc/kubernetes/pki/etcd";
  return node.exec(["/usr/local/bin/etcdctl", `--endpoints=${endpoints}`, `--cacert=${pki}/ca.crt`, `--cert=${pki}/server.crt`, `--key=${pki}/server.key`, "--command-timeout=10s", ...args]);
}

/** The AWS CLI against the emulator, its JSON answer parsed. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON
export type AwsCli = (...args: string[]) => Promise<any>;

/**
 * The AWS CLI against `emulator`, run asynchronously: the IMDS stand-ins share this process's event
 * loop, and a blocked loop also stops the reading of the emulator's log pipe (a full pipe stalls
 * the emulator itself).
 */
export function emulatorCli(emulator: ApplyEmulator): AwsCli {
  return async (...args: string[]) => {
    const { stdout } = await execFileAsync(emulator.awsCli, [...args, "--output", "json"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", ...emulator.env },
      encoding: "utf8",
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout.trim() === "" ? undefined : JSON.parse(stdout);
  };
}

/**
 * What the etcd node of launch template `template` boots from, read from the emulator: the user
 * data as stored, the running instance of the template's group, its profile and metadata options,
 * and the test image's own configuration (`trustBundle`: the image's CA bundle plus the mirror's
 * certificate; the apt mirror on `mirrorPort`).
 */
export async function etcdNodeSpec(aws: AwsCli, emulator: ApplyEmulator, template: string, name: string, trustBundle: string, mirrorPort: number): Promise<NodeSpec> {
  const [version] = (await aws("ec2", "describe-launch-template-versions", "--launch-template-name", template, "--versions", "$Latest")).LaunchTemplateVersions;
  const data = version.LaunchTemplateData;
  const userData = gunzipSync(Buffer.from(data.UserData, "base64")).toString("utf8");
  const reservations = (await aws("ec2", "describe-instances", "--filters", `Name=tag:aws:autoscaling:groupName,Values=${template}`, "Name=instance-state-name,Values=running")).Reservations;
  return {
    name,
    instanceId: reservations[0].Instances[0].InstanceId as string,
    userData,
    instanceProfileArn: data.IamInstanceProfile?.Arn,
    hopLimit: data.MetadataOptions?.HttpPutResponseHopLimit ?? 1,
    instanceTags: data.MetadataOptions?.InstanceMetadataTags === "enabled",
    files: {
      // The test image's configuration (never the user data): the AWS endpoint of this "region"
      // (a VPC endpoint in effect) and the CA its certificate is issued by; the apt mirror.
      // The AWS CLI gives IMDS 1 s and one attempt by default; the stand-ins answer from this
      // test process's event loop on a shared machine (EC2's answers in well under a millisecond):
      // 5 s and 3 attempts, so a busy host does not read as "Unable to locate credentials".
      "etc/systemd/system.conf.d/90-boot-tier.conf": `[Manager]\nDefaultEnvironment="AWS_ENDPOINT_URL=https://${SERVICE_IP}" "AWS_CA_BUNDLE=/etc/ha-boot-tier/emulator-ca.pem" "AWS_METADATA_SERVICE_TIMEOUT=5" "AWS_METADATA_SERVICE_NUM_ATTEMPTS=3"\n`,
      "etc/ha-boot-tier/emulator-ca.pem": readFileSync(emulator.caBundle, "utf8"),
      "etc/ssl/certs/ca-certificates.crt": trustBundle,
      "etc/apt/sources.list": `deb [trusted=yes] https://${SERVICE_IP}:${mirrorPort}/apt ./\n`,
      // The image has no locales package (Debian's cloud images set C.UTF-8 the same way).
      "etc/cloud/cloud.cfg.d/91-boot-tier-locale.cfg": "locale: C.UTF-8\n",
      // chrony follows the time sync stand-in without setting the (host's) clock.
      "etc/systemd/system/chrony.service.d/90-boot-tier.conf": "[Unit]\nConditionCapability=\n[Service]\nExecStart=\nExecStart=!/usr/sbin/chronyd -x $DAEMON_OPTS\n",
    },
  };
}

/**
 * Powers `old` off and terminates its instance in the emulator, detaching its slot interface and
 * data volume as EC2 does at termination. Returns what was done, for the file's timings.
 */
export async function terminateInstance(aws: AwsCli, old: NspawnNode): Promise<string> {
  await old.stop();
  // Terminating an instance detaches its secondary interfaces and its volumes (EC2 does it as part
  // of the termination). moto 5.1.22 does not, and answers 500 to detaching them from a
  // terminated instance, so the harness detaches them at the termination, as EC2 would.
  const gaps: string[] = [];
  for (const eni of (await aws("ec2", "describe-network-interfaces", "--filters", `Name=attachment.instance-id,Values=${old.spec.instanceId}`)).NetworkInterfaces) {
    if (eni.Attachment.DeviceIndex === 0) continue;
    gaps.push(`interface ${eni.NetworkInterfaceId}`);
    await aws("ec2", "detach-network-interface", "--attachment-id", eni.Attachment.AttachmentId);
  }
  const rootDevice = (await aws("ec2", "describe-instances", "--instance-ids", old.spec.instanceId)).Reservations[0].Instances[0].RootDeviceName;
  for (const vol of (await aws("ec2", "describe-volumes", "--filters", `Name=attachment.instance-id,Values=${old.spec.instanceId}`)).Volumes) {
    // The root volume goes with the instance (DeleteOnTermination in the launch template).
    if (vol.Attachments[0].Device === rootDevice || vol.Attachments[0].DeleteOnTermination) continue;
    gaps.push(`volume ${vol.VolumeId}`);
    // moto 5.1.22 answers 500 unless the instance and device are named (EC2 takes the volume id alone).
    await aws("ec2", "detach-volume", "--volume-id", vol.VolumeId, "--instance-id", old.spec.instanceId, "--device", vol.Attachments[0].Device);
  }
  await aws("ec2", "terminate-instances", "--instance-ids", old.spec.instanceId);
  return `terminated ${old.spec.instanceId}; detached at termination: ${gaps.join(", ")}`;
}
