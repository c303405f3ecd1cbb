/**
 * What the boot-tier files run their nodes against: the synthesized stack applied to a fresh AWS
 * emulator, and the VPC network namespace the node containers join (the emulator, the files'
 * mirrors and registry reachable on the service address, time sync, the instance metadata service).
 */
import { ApplyEmulator, TerraformApplyWorkspace, startApplyEmulator } from "../harness/terraform-apply";
import { NspawnNode, VpcNetwork } from "../harness/nspawn-node";

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
