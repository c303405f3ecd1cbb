/**
 * What the boot files that boot API-server nodes share (api-server-nodes.boot.test.ts: external
 * etcd; stacked-nodes.boot.test.ts: each API-server node also runs its etcd member): the platform
 * team's mirrors (an HTTPS binary mirror pinned by SHA-256 and a local OCI registry holding images
 * built from the pinned binaries), the reference example synthesized against them and applied, the
 * node specs read from the emulator's launch templates, the spread of the API-server group over
 * its zones, one API-server node's boot checked to /readyz on its slot address, and /readyz through
 * the load balancer (haproxy from the synthesized target group).
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Server } from "node:https";
import { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { TerraformStack, Testing } from "../../lib/core";
import type { ClusterCertificateSet, HaControlPlane } from "../../lib";
import { HaClusterStack, HaClusterStackProps } from "../../examples/ha-cluster/main";
import { ApplyEmulator, TerraformApplyWorkspace } from "../harness/terraform-apply";
import { BootEnvironment, SERVICE_IP, startBootEnvironment } from "./environment";
import { NodeSpec, NspawnNode, VolumeStore, VpcNetwork, allOrAbort, nodeRootfs, waitFor } from "../harness/nspawn-node";
import { HaproxyLoadBalancer, nlbModelFromSynth } from "../harness/nlb-haproxy";
import { buildMirror, mirrorCertificate, populateRegistry, serveMirror, startRegistry } from "../harness/asset-mirror";
import { BootReport, BootedNodes, SettleTimeouts, explainFailure, settle } from "./node-report";

export const ETCD_VERSION = "3.5.21";
export const KUBERNETES_VERSION = "1.33.5";
/** kubeadm's pause tag for Kubernetes 1.33 (kubernetes/cmd/kubeadm/app/constants: PauseVersion). */
export const PAUSE_TAG = "3.10";
export const MIRROR_PORT = 8443;
const REGISTRY_PORT = 5443;
export const REGISTRY = `${SERVICE_IP}:${REGISTRY_PORT}`;
/** Beyond the target group's own timing, for haproxy's first check and the runtime socket. */
const LB_SLACK_MS = 15_000;
/**
 * The load balancer's part of a test: every target in service, bounded by the synthesized health
 * check (the slowest an NLB allows, AWS target-group limits: (10 healthy checks + 1) × 30 s + 10 s
 * timeout, ≈ 6 min; the real model's bound is asserted to fit), then the /readyz requests (10 s
 * each, two per API node).
 */
export function loadBalancerBudgetMs(apiNodes: number): number {
  return 6 * 60_000 + 2 * apiNodes * 10_000 + 30_000;
}
const execFileAsync = promisify(execFile);

/** How long an API-server node may take for cloud-init (it installs and pulls more than an etcd node). */
export const API_CLOUD_INIT_MS = 12 * 60_000;
/**
 * How an API-server node of the external etcd topology is waited for and checked. Its system is
 * `starting` until ha-complete-lifecycle ends, which it does at the latest at the node's
 * LAUNCH_READY_DEADLINE_SECONDS of boot (840 s in the reference example; checked against node.env
 * on each node), so 14 min after cloud-init covers it; then /readyz on the slot address
 * (ha-complete-lifecycle has seen it pass already).
 */
export const API_SERVER_CHECKS: ApiNodeChecks = {
  settle: { cloudInitMs: API_CLOUD_INIT_MS, settleMs: 14 * 60_000 },
  readyzMs: 2 * 60_000,
  activeUnits: ["containerd.service", "ha-kube-install.service", "ha-kube-configure.service", "kubelet.service"],
  printedUnits: ["ha-claim-slot.service", "ha-fetch-secrets.service", "ha-kube-install.service", "containerd.service", "ha-kube-configure.service", "kubelet.service", "ha-complete-lifecycle.service"],
};

/**
 * The budget of a test that boots `nodes` API-server nodes `concurrency` at a time with `checks`
 * ({@link AirGappedCluster.bootApiServers}): per wave, one node's waits in sequence; then the load
 * balancer; plus `overheadMs` for what the test does besides its waits (AWS CLI calls, checks).
 */
export function apiBootBudgetMs(nodes: number, concurrency: number, checks: ApiNodeChecks, overheadMs: number): number {
  return Math.ceil(nodes / concurrency) * (checks.settle.cloudInitMs + checks.settle.settleMs + checks.readyzMs) + loadBalancerBudgetMs(nodes) + overheadMs;
}

/**
 * The test image's adaptations of a node that runs containers in a container, which shares the
 * host's kernel: (1) the modules ha-kube-install loads are this kernel's built-in ones, listed in
 * modules.builtin as a distribution kernel ships it (`depmod` indexes it before cloud-init), and
 * (2) `sysctl --system` cannot set the Debian image's own defaults that are not namespaced
 * (kernel.pid_max, fs.protected_*): a wrapper runs the real sysctl and reports the keys of
 * kernel.*, vm.* and fs.* the kernel refuses instead of failing on them; any other error still
 * fails. The keys ha-kube-install sets and the kubelet checks are the node's own copies
 * (`ownKernelKeys`), so they never reach the wrapper's exception.
 */
export function containerKernelFiles(kernelRelease: string): Record<string, string> {
  return {
    [`usr/lib/modules/${kernelRelease}/modules.builtin`]: "kernel/fs/overlayfs/overlay.ko\nkernel/net/bridge/br_netfilter.ko\n",
    "etc/systemd/system/cloud-init.service.d/90-boot-tier-depmod.conf": "[Service]\nExecStartPre=/sbin/depmod\n",
    "usr/local/lib/ha-boot-tier/bin/sysctl": [
      "#!/bin/bash",
      "# boot tier: the container shares the host's kernel; keys that are not namespaced are reported, not set",
      "exec 3>&1",
      "errors=$(/usr/sbin/sysctl \"$@\" 2>&1 1>&3); rc=$?",
      "[ \"$rc\" -eq 0 ] && exit 0",
      "other=$(printf '%s\\n' \"$errors\" | grep -vE '^sysctl: permission denied on key \"(kernel|vm|fs)\\.[a-z0-9_.]+\"(, ignoring)?$' | grep -v '^$')",
      "printf '%s\\n' \"$errors\" | grep -E '^sysctl: permission denied' | sed 's/^/ha-boot-tier: host kernel: /' >&2",
      "if [ -n \"$other\" ]; then printf '%s\\n' \"$other\" >&2; exit \"$rc\"; fi",
      "exit 0",
      "",
    ].join("\n"),
    "etc/systemd/system/ha-kube-install.service.d/90-boot-tier.conf": "[Service]\nEnvironment=PATH=/usr/local/lib/ha-boot-tier/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
    // runc as containerd's shim finds it first on the PATH: the same runc, after raising a negative
    // oomScoreAdj in the bundle's spec to 0. The kubelet asks -998 for every pause container
    // (-997 for a Guaranteed pod); lowering oom_score_adj needs CAP_SYS_RESOURCE, which this
    // machine's capability bounding set does not have (for any process, the test's own included).
    "usr/local/sbin/runc": [
      "#!/bin/bash",
      "# boot tier: this machine cannot lower oom_score_adj (no CAP_SYS_RESOURCE); everything else is runc's",
      "bundle=\"\"",
      "args=(\"$@\")",
      "for ((i = 0; i < ${#args[@]}; i++)); do",
      "  case ${args[i]} in --bundle | -b) bundle=${args[i + 1]:-} ;; --bundle=*) bundle=${args[i]#--bundle=} ;; esac",
      "done",
      "if [ -n \"$bundle\" ] && [ -f \"$bundle/config.json\" ]; then",
      "  adj=$(jq '.process.oomScoreAdj // 0' \"$bundle/config.json\")",
      "  if [ \"$adj\" -lt 0 ]; then",
      "    jq -c '.process.oomScoreAdj = 0' \"$bundle/config.json\" > \"$bundle/config.json.boot-tier\" && mv \"$bundle/config.json.boot-tier\" \"$bundle/config.json\"",
      "    logger -t ha-boot-tier-runc \"oomScoreAdj $adj -> 0 for $(basename \"$bundle\") (no CAP_SYS_RESOURCE here)\"",
      "  fi",
      "fi",
      "exec /usr/sbin/runc \"$@\"",
      "",
    ].join("\n"),
  };
}

/** The kernel.* and vm.* keys ha-kube-install writes to its sysctl file (read from the script). */
export function installKernelKeys(): string[] {
  const script = readFileSync(path.join(__dirname, "../../lib/bootstrap/scripts/ha-kube-install.sh"), "utf8");
  const block = /cat >\/etc\/sysctl\.d\/90-kubernetes\.conf <<'EOF'\n([\s\S]*?)\nEOF/.exec(script);
  if (block === null) throw new Error("ha-kube-install.sh: no sysctl file block");
  return block[1].split("\n").map((l) => l.split("=")[0].trim()).filter((k) => /^(kernel|vm)\./.test(k));
}

/** What one API-server node showed once /readyz answered on its slot address. */
export interface ApiNode {
  readonly node: NspawnNode;
  readonly slotIp: string;
  readonly readySeconds: number;
  readonly report: BootReport;
}

/** How {@link AirGappedCluster.bootApiNode} waits for and checks one API-server node. */
export interface ApiNodeChecks {
  /** cloud-init, then systemd settling. */
  readonly settle: SettleTimeouts;
  /** /readyz on the slot address once settled. */
  readonly readyzMs: number;
  /** Units that must be active. */
  readonly activeUnits: readonly string[];
  /** Units whose start→active times are printed, in boot order. */
  readonly printedUnits: readonly string[];
}

/** The stack {@link AirGappedCluster.start} applies, built with the mirrors' props. */
export type ClusterStackBuilder = (props: HaClusterStackProps) => TerraformStack & { readonly controlPlane: HaControlPlane };

/** The reference example (examples/ha-cluster), the default of {@link AirGappedCluster.start}. */
export const referenceExample: ClusterStackBuilder = (props) => new HaClusterStack(Testing.app(), "ha-cluster", props);

/** What {@link AirGappedCluster.bootApiServers} booted. */
export interface ApiServers {
  /** The API-server group's launch template (the group is named after it). */
  readonly template: string;
  /** The nodes, each ready on its slot address and in service at the load balancer. */
  readonly nodes: ApiNode[];
}

/**
 * The reference example applied against the emulator with the platform team's mirrors, in the
 * VPC the node containers join; the file's afterAll calls {@link stop}.
 */
export class AirGappedCluster {
  public dir = "";
  public emulator?: ApplyEmulator;
  public workspace?: TerraformApplyWorkspace;
  public vpc?: VpcNetwork;
  public volumes?: VolumeStore;
  public synthesized = "";
  public lb?: HaproxyLoadBalancer;
  public readonly fleet = new BootedNodes();
  public readonly timings: string[] = [];
  private readonly started = Date.now();
  private mirror?: Server;
  private registry?: { port: number; stop(): void };
  /** The image's CA bundle plus the mirror's certificate (the image trusts the platform team's mirror and registry). */
  private trustBundle = "";
  /** The props the reference example was synthesized with (the caller's and the mirrors'). */
  public stackProps: HaClusterStackProps = {};
  /** The synthesized control plane's certificate specs. */
  public certificates?: ClusterCertificateSet;
  /** SHA-256 of kubelet, kubeadm and kubectl as the binary mirror serves them (amd64). */
  public kubeSums?: { readonly kubelet: string; readonly kubeadm: string; readonly kubectl: string };

  /**
   * Serves the mirror and the registry, synthesizes the stack `build` makes (default: the
   * reference example) with `props` and the mirrors, applies it and opens the VPC. Everything
   * started is kept for {@link stop}, also when a later step fails.
   */
  public async start(prefix: string, props: HaClusterStackProps = {}, build: ClusterStackBuilder = referenceExample): Promise<void> {
    this.dir = mkdtempSync(path.join(tmpdir(), prefix));
    this.volumes = new VolumeStore(path.join(this.dir, "volumes"));
    const tls = mirrorCertificate(this.dir, SERVICE_IP);
    this.trustBundle = readFileSync(path.join(nodeRootfs()!, "etc/ssl/certs/ca-certificates.crt"), "utf8") + readFileSync(tls.cert, "utf8");
    const sums = buildMirror(path.join(this.dir, "mirror"), ETCD_VERSION, KUBERNETES_VERSION);
    this.mirror = await serveMirror(path.join(this.dir, "mirror/www"), tls);
    this.registry = await startRegistry(path.join(this.dir, "registry"), tls);
    const pushStart = Date.now();
    const digests = await populateRegistry(this.registry.port, readFileSync(tls.cert), path.join(this.dir, "images"), KUBERNETES_VERSION, PAUSE_TAG);
    this.timings.push(`registry populated (${Object.keys(digests).join(", ")}): ${((Date.now() - pushStart) / 1000).toFixed(1)} s`);
    this.kubeSums = sums.kube;
    this.stackProps = {
      ...props,
      etcdRelease: {
        version: ETCD_VERSION,
        sha256: { amd64: sums.etcd },
        mirrorUrlTemplate: `https://${SERVICE_IP}:${MIRROR_PORT}/etcd/etcd-v{version}-linux-{arch}.tar.gz`,
        mirrorOnly: true,
      },
      kubernetesBinaryMirror: {
        version: KUBERNETES_VERSION,
        mirrorUrlTemplate: `https://${SERVICE_IP}:${MIRROR_PORT}/kubernetes/v{version}/{arch}/{file}`,
        sha256: { amd64: sums.kube! },
      },
      imageRepository: REGISTRY,
    };
    const stack = build(this.stackProps);
    this.certificates = stack.controlPlane.pki.certificates;
    this.synthesized = Testing.synth(stack);
    const env: BootEnvironment = {};
    try {
      await startBootEnvironment(env, this.synthesized, this.dir, [[(this.mirror.address() as AddressInfo).port, MIRROR_PORT], [this.registry.port, REGISTRY_PORT]], this.timings);
    } finally {
      ({ emulator: this.emulator, workspace: this.workspace, vpc: this.vpc } = env);
    }
  }

  /** Stops everything {@link start} and the nodes started, and prints the timings. */
  public async stop(label: string): Promise<void> {
    await this.lb?.stop().catch(() => undefined);
    await this.fleet.stopAll();
    this.vpc?.destroy();
    this.registry?.stop();
    await new Promise((r) => (this.mirror ? this.mirror.close(r) : r(undefined)));
    await this.workspace?.cleanup();
    await this.emulator?.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.timings.push(`boot tier (${label}) wall time: ${((Date.now() - this.started) / 1000).toFixed(1)} s`);
    console.log(this.timings.join("\n"));
  }

  /** The AWS CLI against the emulator without blocking the event loop (the IMDS stand-ins run on it). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON
  public async aws(...args: string[]): Promise<any> {
    const { stdout } = await execFileAsync(this.emulator!.awsCli, [...args, "--output", "json"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", ...this.emulator!.env },
      encoding: "utf8",
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout.trim() === "" ? undefined : JSON.parse(stdout);
  }

  /** The launch template of the API-server group (the one template not of an etcd member). */
  public async apiTemplate(): Promise<string> {
    const templates = (await this.aws("ec2", "describe-launch-templates")).LaunchTemplates.map((t: { LaunchTemplateName: string }) => t.LaunchTemplateName) as string[];
    const api = templates.filter((t) => !/etcd/.test(t));
    if (api.length !== 1) throw new Error(`expected one API-server launch template, found ${JSON.stringify(templates)}`);
    return api[0];
  }

  /** What the instances of `template` boot from, read from the emulator (one spec per running instance, by zone). */
  public async nodeSpecs(template: string, namePrefix: string, files: Record<string, string> = {}, runsContainers = false, ownKernelKeys: string[] = []): Promise<NodeSpec[]> {
    const [version] = (await this.aws("ec2", "describe-launch-template-versions", "--launch-template-name", template, "--versions", "$Latest")).LaunchTemplateVersions;
    const data = version.LaunchTemplateData;
    const userData = gunzipSync(Buffer.from(data.UserData, "base64")).toString("utf8");
    const instances = (await this.aws("ec2", "describe-instances", "--filters", `Name=tag:aws:autoscaling:groupName,Values=${template}`, "Name=instance-state-name,Values=running")).Reservations.flatMap(
      (r: { Instances: Array<{ InstanceId: string; Placement: { AvailabilityZone: string } }> }) => r.Instances,
    ).sort((a: { Placement: { AvailabilityZone: string } }, b: { Placement: { AvailabilityZone: string } }) => a.Placement.AvailabilityZone.localeCompare(b.Placement.AvailabilityZone));
    return instances.map((inst: { InstanceId: string }, i: number) => ({
      name: instances.length === 1 ? namePrefix : `${namePrefix}-${i}`,
      instanceId: inst.InstanceId,
      userData,
      instanceProfileArn: data.IamInstanceProfile?.Arn,
      hopLimit: data.MetadataOptions?.HttpPutResponseHopLimit ?? 1,
      instanceTags: data.MetadataOptions?.InstanceMetadataTags === "enabled",
      runsContainers,
      ownKernelKeys,
      executables: Object.keys(files).filter((f) => /\/s?bin\//.test(f)),
      files: this.imageFiles(files),
    }));
  }

  /** The test image's configuration of every node (the emulator's endpoint and CA, the mirrors' trust, time sync), plus `files`. */
  public imageFiles(files: Record<string, string> = {}): Record<string, string> {
    const ca = readFileSync(this.emulator!.caBundle, "utf8");
    return {
      "etc/systemd/system.conf.d/90-boot-tier.conf": `[Manager]\nDefaultEnvironment="AWS_ENDPOINT_URL=https://${SERVICE_IP}" "AWS_CA_BUNDLE=/etc/ha-boot-tier/emulator-ca.pem" "AWS_METADATA_SERVICE_TIMEOUT=5" "AWS_METADATA_SERVICE_NUM_ATTEMPTS=3"\n`,
      "etc/ha-boot-tier/emulator-ca.pem": ca,
      // The image trusts the platform team's mirror and registry (their CA in the system bundle).
      "etc/ssl/certs/ca-certificates.crt": this.trustBundle,
      "etc/apt/sources.list": `deb [trusted=yes] https://${SERVICE_IP}:${MIRROR_PORT}/apt ./\n`,
      "etc/cloud/cloud.cfg.d/91-boot-tier-locale.cfg": "locale: C.UTF-8\n",
      "etc/systemd/system/chrony.service.d/90-boot-tier.conf": "[Unit]\nConditionCapability=\n[Service]\nExecStart=\nExecStart=!/usr/sbin/chronyd -x $DAEMON_OPTS\n",
      ...files,
    };
  }

  /**
   * Spreads `group`'s instances over its subnets as EC2 Auto Scaling does ("launches instances
   * evenly across the Availability Zones" of the group's subnets): moto 5.1.22 launches every
   * instance of a group in its first subnet ("We'll create all instances in a single subnet to
   * make things easier", autoscaling/models.py), so the three API servers would be in one zone,
   * where only one apiserver slot interface is. For each subnet without an instance, one instance
   * of a crowded subnet leaves the group (detach-instances, decrementing) and is terminated, and an
   * instance of the group's launch template with the group's propagated tags is launched in that
   * subnet and attached (attach-instances tags it with the group's name, as the group's own are).
   * Returns what moved.
   */
  public async balanceAcrossZones(group: string): Promise<string[]> {
    const aws = this.aws.bind(this);
    const [asg] = (await aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", group)).AutoScalingGroups;
    const subnets = String(asg.VPCZoneIdentifier).split(",").filter(Boolean);
    const ids = (asg.Instances as Array<{ InstanceId: string }>).map((i) => i.InstanceId);
    const bySubnet = new Map<string, string[]>(subnets.map((s) => [s, []]));
    for (const r of (await aws("ec2", "describe-instances", "--instance-ids", ...ids)).Reservations) {
      for (const i of r.Instances as Array<{ InstanceId: string; SubnetId: string }>) bySubnet.get(i.SubnetId)?.push(i.InstanceId);
    }
    const moved: string[] = [];
    for (const subnet of subnets) {
      if (bySubnet.get(subnet)!.length > 0) continue;
      const crowded = [...bySubnet.entries()].find(([, list]) => list.length > 1);
      if (crowded === undefined) break;
      const surplus = crowded[1].pop()!;
      await aws("autoscaling", "detach-instances", "--auto-scaling-group-name", group, "--instance-ids", surplus, "--should-decrement-desired-capacity");
      await aws("ec2", "terminate-instances", "--instance-ids", surplus);
      const launched = await this.launchInGroup(group, subnet);
      bySubnet.get(subnet)!.push(launched);
      moved.push(`${surplus} (${crowded[0]}) → ${launched} (${subnet})`);
    }
    return moved;
  }

  /**
   * Launches an instance of `group`'s launch template in `subnet`, with the group's propagated
   * tags, and attaches it to the group (attach-instances tags it with the group's name, as the
   * group's own instances are): what the group does when it launches into that subnet's zone.
   */
  public async launchInGroup(group: string, subnet: string): Promise<string> {
    const [asg] = (await this.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", group)).AutoScalingGroups;
    const template = asg.LaunchTemplate?.LaunchTemplateName ?? asg.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification?.LaunchTemplateName;
    const tags = (asg.Tags as Array<{ Key: string; Value: string; PropagateAtLaunch: boolean }>).filter((t) => t.PropagateAtLaunch && !t.Key.startsWith("aws:"));
    const spec = ["--launch-template", `LaunchTemplateName=${template},Version=$Latest`, "--subnet-id", subnet, "--count", "1"];
    if (tags.length > 0) spec.push("--tag-specifications", JSON.stringify([{ ResourceType: "instance", Tags: tags.map((t) => ({ Key: t.Key, Value: t.Value })) }]));
    const launched = (await this.aws("ec2", "run-instances", ...spec)).Instances[0].InstanceId as string;
    await this.aws("autoscaling", "attach-instances", "--auto-scaling-group-name", group, "--instance-ids", launched);
    return launched;
  }

  /**
   * `node` completed its launch lifecycle action: ha-complete-lifecycle exited 0 after /readyz
   * passed, naming its own instance, and the group's launch hook (read from the emulator) has no active action left for the
   * instance: a second completion is refused as AWS refuses it.
   */
  public async expectLaunchActionCompleted(node: NspawnNode): Promise<void> {
    const unit = "ha-complete-lifecycle.service";
    const [membership] = (await this.aws("autoscaling", "describe-auto-scaling-instances", "--instance-ids", node.spec.instanceId)).AutoScalingInstances;
    const group = String(membership.AutoScalingGroupName);
    const hooks = (await this.aws("autoscaling", "describe-lifecycle-hooks", "--auto-scaling-group-name", group)).LifecycleHooks as Array<{ LifecycleHookName: string; LifecycleTransition: string }>;
    const launch = hooks.filter((h) => h.LifecycleTransition === "autoscaling:EC2_INSTANCE_LAUNCHING").map((h) => h.LifecycleHookName);
    expect({ group, launchHooks: launch.length }).toEqual({ group, launchHooks: 1 });
    // From the journal: systemd unloads a oneshot that ended well, so `systemctl show` reads defaults.
    const journal = (await node.exec(["journalctl", "--no-pager", "-o", "cat", "-u", unit])).stdout;
    expect({
      node: node.spec.name,
      completed: journal.includes(`completing ${launch[0]} with CONTINUE for ${node.spec.instanceId}`),
      exitedWell: journal.includes(`${unit}: Deactivated successfully.`),
      failed: /Failed with result|Main process exited, code=exited, status=[1-9]/.test(journal),
    }).toEqual({ node: node.spec.name, completed: true, exitedWell: true, failed: false });
    const again = await this.aws("autoscaling", "complete-lifecycle-action", "--auto-scaling-group-name", group, "--lifecycle-hook-name", launch[0], "--instance-id", node.spec.instanceId, "--lifecycle-action-result", "CONTINUE").then(
      () => "accepted",
      (e: Error) => e.message,
    );
    expect({ node: node.spec.name, secondCompletion: again }).toEqual({ node: node.spec.name, secondCompletion: expect.stringContaining(`No active Lifecycle Action found with instance ID ${node.spec.instanceId}`) });
  }

  /** Boots `spec` as a container of the fleet (stopped in {@link stop}). */
  public boot(spec: NodeSpec): Promise<NspawnNode> {
    return this.fleet.boot(() => NspawnNode.boot(this.emulator!, this.vpc!, this.volumes!, this.dir, spec));
  }

  /**
   * Boots one API-server node and waits for it: cloud-init done, systemd settled, every unit of
   * `checks.activeUnits` active, `systemctl --failed` empty and the system `running`, the launch
   * lifecycle action completed ({@link expectLaunchActionCompleted}), /readyz on its slot address, the control-plane containers from the local registry.
   * Prints its per-unit start times.
   */
  public async bootApiNode(spec: NodeSpec, signal: AbortSignal, checks: ApiNodeChecks): Promise<ApiNode> {
    const node = await this.boot(spec);
    // An API-server node's system is `starting` until ha-complete-lifecycle has seen /readyz pass
    // (its deadline: LAUNCH_READY_DEADLINE_SECONDS of boot, checked against the budget below).
    const report = await settle(node, checks.settle, signal);
    this.timings.push(`${report.node}: boot to settled ${report.readySeconds.toFixed(1)} s (${report.systemState}); slowest units:\n${report.blame.split("\n").slice(0, 6).map((l) => `    ${l.trim()}`).join("\n")}`);
    // Every unit active, ha-complete-lifecycle included: the emulator answers CompleteLifecycleAction
    // as Auto Scaling does (MOTO_COMPLETE_LIFECYCLE_ACTION), so the node's call must name the group's
    // launch hook, its own instance and CONTINUE, while the action is still active.
    const problems = report.failed !== "" || report.systemState !== "running" || !/status: done/.test(report.cloudInit) ? [`${report.cloudInit}; system ${report.systemState}\n${await explainFailure(node, report.failed)}`] : [];
    expect(problems).toEqual([]);
    await this.expectLaunchActionCompleted(node);
    for (const u of checks.activeUnits) {
      expect({ node: spec.name, unit: u, state: (await node.exec(["systemctl", "is-active", u])).stdout.trim() }).toEqual({ node: spec.name, unit: u, state: "active" });
    }
    // Per-unit start times, from systemd's own clock (seconds after its start in the container).
    const zero = Number((await node.exec(["systemctl", "show", "-P", "UserspaceTimestampMonotonic"])).stdout.trim());
    const starts: string[] = [];
    for (const u of checks.printedUnits) {
      const [inactiveExit, activeEnter] = (await node.exec(["systemctl", "show", "-P", "InactiveExitTimestampMonotonic", "-P", "ActiveEnterTimestampMonotonic", u])).stdout.trim().split("\n").map(Number);
      const at = (us: number) => (us > 0 ? `${((us - zero) / 1e6).toFixed(1)}` : "-");
      if (inactiveExit > 0 || activeEnter > 0) {
        starts.push(`${u.replace(/\.service$/, "")} ${at(inactiveExit)}→${at(activeEnter)}`);
        continue;
      }
      // A oneshot that ended well is unloaded (systemctl show reads defaults): its journal's first and last stamps.
      const stamps = [...(await node.exec(["journalctl", "--no-pager", "-o", "short-monotonic", "-u", u])).stdout.matchAll(/^\[\s*(\d+\.\d+)\]/gm)].map((m) => Number(m[1]) * 1e6);
      starts.push(`${u.replace(/\.service$/, "")} ${stamps.length === 0 ? "-→-" : `${at(stamps[0])}→${at(stamps[stamps.length - 1])} (ended)`}`);
    }
    this.timings.push(`${spec.name}: unit start→active, s after systemd started: ${starts.join(", ")}`);
    // The settle budget covers the node's own deadline for /readyz (ha-complete-lifecycle's).
    const deadline = Number(/^LAUNCH_READY_DEADLINE_SECONDS='?(\d+)'?$/m.exec((await node.exec(["cat", "/etc/ha-control-plane/node.env"])).stdout)?.[1]);
    expect({ node: spec.name, deadlineWithinSettleBudget: deadline > 0 && deadline * 1000 <= checks.settle.settleMs }).toEqual({ node: spec.name, deadlineWithinSettleBudget: true });
    const slotIp = /^SLOT_IP=(.*)$/m.exec((await node.exec(["cat", "/run/ha-control-plane/slot.env"])).stdout)?.[1]?.replace(/'/g, "");
    expect(slotIp).toMatch(/^10\.0\.\d+\.\d+$/);
    let readyz = "";
    await waitFor(async () => {
      const r = await node.exec(["curl", "-sS", "--max-time", "5", "--cacert", "/etc/kubernetes/pki/ca.crt", `https://${slotIp}:6443/readyz`], 60_000, signal);
      readyz = r.stdout;
      return r.stdout.trim() === "ok";
    }, checks.readyzMs, `${spec.name}: /readyz on ${slotIp} (${readyz})`, signal).catch(async (err: Error) => {
      const pods = await node.exec(["sh", "-c", "ctr -n k8s.io images ls -q; ctr -n k8s.io containers ls; ls /etc/kubernetes/manifests"]);
      throw new Error(`${err.message}\n${pods.stdout}${pods.stderr}\n--- kubelet\n${await node.journal("kubelet.service", 40)}\n--- containerd\n${await node.journal("containerd.service", 20)}`);
    });
    const readySeconds = (Date.now() - node.startedAt) / 1000;
    // The three control-plane containers run from the local registry's images (containerd's view).
    const containers = (await node.exec(["ctr", "-n", "k8s.io", "containers", "ls", "--quiet"])).stdout.trim().split("\n").filter(Boolean);
    const images = new Set<string>();
    for (const id of containers) images.add((await node.exec(["ctr", "-n", "k8s.io", "containers", "info", id])).stdout.match(/"Image": "([^"]+)"/)?.[1] ?? "");
    for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) expect({ node: spec.name, images: [...images] }).toEqual({ node: spec.name, images: expect.arrayContaining([`${REGISTRY}/${c}:v${KUBERNETES_VERSION}`]) });
    expect({ node: spec.name, images: [...images] }).toEqual({ node: spec.name, images: expect.arrayContaining([`${REGISTRY}/pause:${PAUSE_TAG}`]) });
    this.timings.push(`${spec.name}: /readyz ok on ${slotIp} ${readySeconds.toFixed(1)} s after boot`);
    return { node, slotIp: slotIp!, readySeconds, report };
  }

  /**
   * Boots the API-server group's instances (external etcd: the etcd nodes run already) and puts
   * them behind the load balancer: the group spread over its zones' subnets as EC2 Auto Scaling
   * would ({@link balanceAcrossZones}), exactly `count` instances, `count / zones.length` in each
   * of `zones`, booted `concurrency` at a time from the user data of the group's launch template
   * ({@link bootApiNode} with `checks`: every unit active, /readyz on the slot address), then
   * /readyz through the load balancer ({@link readyzThroughLoadBalancer}). A node that fails its
   * wait stops the others' (allOrAbort). Prints each node's boot to /readyz. Nodes are named
   * `<namePrefix>-<i>`.
   */
  public async bootApiServers(count: number, zones: readonly string[], concurrency: number, checks: ApiNodeChecks, namePrefix = "api"): Promise<ApiServers> {
    const template = await this.apiTemplate();
    const moved = await this.balanceAcrossZones(template);
    this.timings.push(`API-server group spread over its zones as EC2 Auto Scaling would (moto launches all in the first subnet): ${moved.join("; ") || "already spread"}`);
    const kernel = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
    const specs = await this.nodeSpecs(template, namePrefix, containerKernelFiles(kernel), true, installKernelKeys());
    this.timings.push(`API-server instances: ${specs.length} (${specs.map((s) => s.instanceId).join(", ")}), booted ${concurrency} at a time`);
    expect(specs.length).toBe(count);
    // As many in each zone, each with its zone's apiserver slot interface to claim.
    const placed = (await this.aws("ec2", "describe-instances", "--instance-ids", ...specs.map((s) => s.instanceId))).Reservations.flatMap((r: { Instances: Array<{ Placement: { AvailabilityZone: string } }> }) => r.Instances.map((i) => i.Placement.AvailabilityZone)) as string[];
    expect(Object.fromEntries(zones.map((z) => [z, placed.filter((p) => p === z).length]))).toEqual(Object.fromEntries(zones.map((z) => [z, count / zones.length])));
    const bootStart = Date.now();
    const nodes = await allOrAbort(specs, (s, signal) => this.bootApiNode(s, signal, checks), { parent: this.fleet.signal, concurrency });
    this.timings.push(`all ${nodes.length} API-server nodes ready on their slot addresses ${((Date.now() - bootStart) / 1000).toFixed(1)} s after the first boot started`);
    await this.readyzThroughLoadBalancer(nodes);
    for (const a of nodes) this.timings.push(`${a.node.spec.name}: boot to /readyz ${a.readySeconds.toFixed(1)} s`);
    return { template, nodes };
  }

  /**
   * The load balancer of the control-plane tier: haproxy configured from the synthesized listener
   * and target group (nlb-haproxy.ts), in the VPC, targets = the slot addresses of `api`. Every
   * node in service within the target group's own bound; then /readyz through it, as a client in
   * the VPC reaches it (the internal NLB's DNS name, which the API server certificate holds,
   * resolved to the listener), answered `ok` every time and by each API node (haproxy's sessions).
   */
  public async readyzThroughLoadBalancer(api: readonly ApiNode[]): Promise<void> {
    const model = nlbModelFromSynth(JSON.parse(this.synthesized));
    this.lb = await HaproxyLoadBalancer.start(model, {
      bind: `${SERVICE_IP}:${model.listenerPort}`,
      servers: api.map((a) => ({ name: a.node.spec.name, address: a.slotIp })),
      netns: this.vpc!.ns,
    });
    const lb = this.lb;
    const h = model.health;
    const inServiceMs = this.lbInServiceMs();
    expect(inServiceMs).toBeLessThanOrEqual(loadBalancerBudgetMs(api.length) - 2 * api.length * 10_000);
    const lbStart = Date.now();
    await Promise.all(api.map((a) => lb.waitHealthy(a.node.spec.name, inServiceMs)));
    this.timings.push(`every API node in service at the load balancer ${((Date.now() - lbStart) / 1000).toFixed(1)} s after it started (bound ${inServiceMs / 1000} s: ${h.healthyThreshold} × ${h.intervalSeconds} s checks, ${h.protocol} ${h.path ?? ""})`);

    writeFileSync(path.join(this.dir, "kubernetes-ca.crt"), (await api[0].node.exec(["cat", "/etc/kubernetes/pki/ca.crt"])).stdout);
    const { answers, sessions, dnsName } = await this.readyzViaLoadBalancer(2 * api.length);
    expect(answers).toEqual(Array(2 * api.length).fill("ok"));
    // Round robin over healthy targets: each API server answered some of them.
    expect(Object.fromEntries(api.map((a) => [a.node.spec.name, (sessions[a.node.spec.name] ?? 0) > 0]))).toEqual(Object.fromEntries(api.map((a) => [a.node.spec.name, true])));
    this.timings.push(`/readyz via the load balancer (${dnsName}): ${answers.length} of ${answers.length} ok, sessions per API node ${JSON.stringify(sessions)}`);
  }

  /** How long the load balancer may take to put a target in service (the synthesized health check's bound). */
  public lbInServiceMs(): number {
    const h = nlbModelFromSynth(JSON.parse(this.synthesized)).health;
    // In service: `healthyThreshold` passing checks, `interval` apart; the first within one
    // interval of the start, each answered within `timeout` (the target group's settings).
    return (h.healthyThreshold + 1) * h.intervalSeconds * 1000 + h.timeoutSeconds * 1000 + LB_SLACK_MS;
  }

  /**
   * `count` requests for /readyz through the load balancer started by
   * {@link readyzThroughLoadBalancer}, as a client in the VPC sends them (the internal NLB's DNS
   * name, which the API server certificate holds, resolved to the listener): the answers, and the
   * sessions each target took meanwhile (haproxy's counters).
   */
  public async readyzViaLoadBalancer(count: number): Promise<{ answers: string[]; sessions: Record<string, number>; dnsName: string }> {
    const lb = this.lb!;
    const port = nlbModelFromSynth(JSON.parse(this.synthesized)).listenerPort;
    const lbs = (await this.aws("elbv2", "describe-load-balancers")).LoadBalancers as Array<{ DNSName: string; Scheme: string; Type: string }>;
    const internal = lbs.find((l) => l.Type === "network" && l.Scheme === "internal");
    expect(internal).toBeDefined();
    const caFile = path.join(this.dir, "kubernetes-ca.crt");
    const before = await lb.sessions();
    const answers: string[] = [];
    for (let i = 0; i < count; i++) {
      const { stdout } = await execFileAsync("ip", ["netns", "exec", this.vpc!.ns, "curl", "-sS", "--max-time", "10", "--cacert", caFile, "--resolve", `${internal!.DNSName}:${port}:${SERVICE_IP}`, `https://${internal!.DNSName}:${port}/readyz`], { encoding: "utf8", timeout: 30_000 });
      answers.push(stdout.trim());
    }
    const after = await lb.sessions();
    const sessions = Object.fromEntries(Object.keys(after).map((n) => [n, (after[n] ?? 0) - (before[n] ?? 0)]));
    return { answers, sessions, dnsName: internal!.DNSName };
  }
}
