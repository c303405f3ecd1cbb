import { Construct } from "constructs";
import { AutoscalingGroup, AutoscalingGroupInstanceRefresh } from "@cdktf/provider-aws/lib/autoscaling-group";
import { AutoscalingLifecycleHook } from "@cdktf/provider-aws/lib/autoscaling-lifecycle-hook";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { NetworkInterface } from "@cdktf/provider-aws/lib/network-interface";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { Annotations } from "../core";
import { BootExtras, NodeBootInput, mergeBootExtras, renderNodeUserData } from "../bootstrap/node-user-data";
import type { IBootstrapBundles } from "../bootstrap/bundle/bootstrap-bundles";
import { apiServerBootExtras } from "../bootstrap/kubernetes/node";
import { KubernetesBinaryMirror, checkImageRepository, checkKubernetesBinaryMirror, s3MirrorLocation } from "../bootstrap/kubernetes/binaries";
import { launchHookBootExtras } from "../bootstrap/kubernetes/launch-hook";
import type { IEtcdCluster } from "../etcd/etcd-cluster";
import { SecretsEncryptionKey } from "../security/secrets-encryption";
import { ConfigError } from "../errors";
import { IApiEndpoint } from "../loadbalancer/api-load-balancer";
import { NAME_RULES, deriveName } from "../names";
import { INetwork } from "../network/network";
import { IEncryptionKey } from "../security/encryption-key";
import { CLUSTER_TAG, ClusterTags, RESERVED_TAG_COUNT, ROLE_TAG } from "../tags";
import { checkClusterName, checkInstanceType, checkInteger, checkTags, isUnresolved } from "../validate";
import { NodeImage, nodeImageFacts, resolveAmi } from "./ami";
import { nodeLaunchTemplate } from "./launch-template";
import { NodeRole } from "./node-role";
import { NodeSlot, allocateSlots } from "./slots";

/** Node role tag of API server slots and instances. */
export const API_SERVER_ROLE = "apiserver";

/** Input of {@link planApiServerSlots}. */
export interface ApiServerSlotPlanInput {
  /** Network: slots go in its private subnets. */
  readonly network: INetwork;
  /**
   * Number of API server slots, 1 to 9; with at least as many slots as zones, a multiple of the
   * zone count (the Auto Scaling group balances zones). ConfigError otherwise.
   * @default 3
   */
  readonly count?: number;
  /**
   * Accept `count: 1`, which is not highly available (ConfigError without it).
   * @default false
   */
  readonly allowSingleApiServer?: boolean;
  /**
   * Host offset of the first slot IP in each subnet, 4 to 250 (AWS reserves offsets 0–3); later
   * slots in the same subnet take the following offsets.
   * @default 10
   */
  readonly slotHostOffset?: number;
}

/**
 * The API server slots of a network: validates the count (even spread over the zones) and
 * allocates each slot's fixed IP. Pure and deterministic, so stacked etcd and the PKI can know the
 * slots before the nodes exist; {@link ApiServerNodes} uses the same plan.
 */
export function planApiServerSlots(input: ApiServerSlotPlanInput): {
  /** The slots, `apiserver-0` … , spread over the zones round-robin, each with its fixed IP. */
  slots: NodeSlot[];
  /** Ids of the private subnets the slots use (the Auto Scaling group's zones), one per zone in use. */
  subnetIds: string[];
} {
  const count = input.count ?? 3;
  checkInteger("apiServerCount", count, 1, 9, "use 3 (one per zone) or another count up to 9");
  if (count === 1 && !input.allowSingleApiServer) {
    throw new ConfigError("apiServerCount", count, "a single API server is not highly available", "use 3, or set allowSingleApiServer: true for a throw-away cluster");
  }
  const zones = input.network.privateSubnets.length;
  if (zones === 0) {
    throw new ConfigError("network.privateSubnets", [], "API servers need private subnets", "pass at least one private subnet per zone");
  }
  if (count >= zones && count % zones !== 0) {
    throw new ConfigError(
      "apiServerCount",
      count,
      `does not spread evenly over ${zones} zones (the Auto Scaling group balances zones, each zone needs as many slots as nodes)`,
      `use a multiple of ${zones}, e.g. ${zones} or ${zones * 2}`,
    );
  }
  const offset = input.slotHostOffset ?? 10;
  checkInteger("apiServerSlotHostOffset", offset, 4, 250);
  const subnets = input.network.privateSubnets.slice(0, Math.min(count, zones));
  return {
    slots: allocateSlots({ namePrefix: API_SERVER_ROLE, count, subnets, hostOffset: offset, prop: "network.privateSubnets" }),
    subnetIds: subnets.map((s) => s.subnetId),
  };
}

/** Name of the API server group's launch lifecycle hook that `ha-complete-lifecycle` completes. */
export const LAUNCH_READY_HOOK_NAME = "apiserver-ready";

/** Instance-refresh checkpoints after each of `count` replacements (the last is 100). */
export function rollCheckpoints(count: number): number[] {
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? 100 : Math.floor((100 * (i + 1)) / count)));
}

/** What API server nodes run (see `apiServerBootExtras`). */
export interface ApiServerKubernetesProps {
  /** Kubernetes version the nodes run (kubelet, kubeadm and the control-plane images), e.g. `1.33.5`. */
  readonly kubernetesVersion: string;
  /** The etcd cluster (every member goes into `--etcd-servers`). */
  readonly etcd: IEtcdCluster;
  /** Cluster IP range of Services (`--service-cluster-ip-range`). */
  readonly serviceCidr: string;
  /** IP range of pods (kube-controller-manager's `--cluster-cidr`). */
  readonly podCidr: string;
  /** Cluster DNS domain. */
  readonly clusterDomain: string;
  /** The secrets-encryption key secret (see `SecretsEncryptionKey`). */
  readonly encryptionKeySecret: SecretsEncryptionKey;
  /**
   * Registry (`host[:port][/path]`) the control-plane images (kube-apiserver,
   * kube-controller-manager, kube-scheduler, and containerd's pause image) are pulled from: a
   * mirror for air-gapped installs, holding them under their upstream names.
   * @default "registry.k8s.io"
   */
  readonly imageRepository?: string;
  /**
   * Kubernetes apt repository (a mirror for air-gapped installs).
   * @default - pkgs.k8s.io for the version's minor release
   */
  readonly aptRepository?: string;
  /**
   * Binary mirror of kubelet, kubeadm and kubectl (HTTPS or S3, SHA-256 of every file pinned and
   * checked on the node): installs from files instead of the apt repository. An `s3://` mirror is
   * readable by the node role (`s3:GetObject` on its key prefix).
   * @default - the apt repository (`aptRepository`)
   */
  readonly binaryMirror?: KubernetesBinaryMirror;
  /**
   * CloudWatch Logs group the nodes ship audit events to (see `AuditLogs`).
   * @default - audit events stay on the nodes
   */
  readonly auditLogGroupName?: string;
}

/** Props of {@link ApiServerNodes}. */
export interface ApiServerNodesProps {
  /** Cluster name (DNS label). */
  readonly clusterName: string;
  /** Network: API servers go in its private subnets. */
  readonly network: INetwork;
  /** The endpoint whose target groups the instances register in. */
  readonly endpoint: IApiEndpoint;
  /** Security groups of API server interfaces (API group, plus etcd group when etcd is stacked). */
  readonly securityGroupIds: readonly string[];
  /** Key encrypting root volumes. */
  readonly encryptionKey: IEncryptionKey;
  /**
   * Auto Scaling service-linked role allowed to use the key (see `AutoScalingServiceRole`).
   * @default - the account's default Auto Scaling role, which must then be granted the key
   */
  readonly autoScalingServiceRoleArn?: string;
  /**
   * Number of API servers, spread evenly over the zones (a multiple of the zone count, or fewer
   * servers than zones).
   * @default 3
   */
  readonly count?: number;
  /**
   * Accept a single API server (no redundancy: any restart is an outage).
   * @default false
   */
  readonly allowSingleApiServer?: boolean;
  /**
   * EC2 instance type.
   * @default "m6i.large"
   */
  readonly instanceType?: string;
  /**
   * AMI of the API server nodes (`ami-` and 8 or 17 hex digits; ConfigError otherwise), an image of
   * `nodeImage`. Pin one to plan offline and to decide when nodes roll: a new AMI replaces the
   * nodes one by one.
   * @default - newest official image of `nodeImage` for the instance type's architecture, looked up at plan time
   */
  readonly amiId?: string;
  /**
   * Operating system of the nodes: which official images are looked up, and the root device name.
   * @default NodeImage.UBUNTU_24_04
   */
  readonly nodeImage?: NodeImage;
  /**
   * Root volume size in GiB.
   * @default 50
   */
  readonly rootVolumeSizeGiB?: number;
  /**
   * Root device name of the AMI.
   * @default - the node image's ("/dev/sda1" for Ubuntu, "/dev/xvda" for Debian)
   */
  readonly rootDeviceName?: string;
  /**
   * IMDSv2 hop limit: 1 keeps instance credentials away from containers; 2 lets pods use IMDS.
   * @default 1
   */
  readonly metadataHopLimit?: number;
  /**
   * Seconds after launch before load-balancer health counts (boot, downloads, first start).
   * @default 600
   */
  readonly healthCheckGracePeriodSeconds?: number;
  /**
   * Seconds a new API server may take from launch until its local `/readyz` passes. A launch
   * lifecycle hook holds it out of service (Pending:Wait) until then: the node completes the hook
   * with CONTINUE once `/readyz` passes (`ha-complete-lifecycle`, by 60 s before this timeout);
   * otherwise the hook times out and the instance is abandoned, so an instance refresh never
   * terminates the next server while the new one does not serve. Only with `kubernetes` and the
   * library's own user data (custom user data would never complete the hook).
   * @default 900
   */
  readonly launchReadyTimeoutSeconds?: number;
  /**
   * Host offset of the first API server IP in each subnet (AWS reserves offsets 0–3).
   * @default 10
   */
  readonly slotHostOffset?: number;
  /**
   * etcd runs on these nodes (stacked topology): their user data claims the slot's data volume.
   * @default false
   */
  readonly stackedEtcd?: boolean;
  /**
   * Secrets Manager prefix of node secrets (see `ClusterPki.secretPrefix`).
   * @default - nodes fetch no secrets
   */
  readonly secretPrefix?: string;
  /**
   * CloudWatch namespace nodes publish health metrics to (see `ControlPlaneAlarms`).
   * @default - no node metrics
   */
  readonly metricNamespace?: string;
  /**
   * Run the Kubernetes control plane (kube-apiserver, controller-manager, scheduler as static pods).
   * @default - nodes only claim their slot, sync time and fetch their certificates
   */
  readonly kubernetes?: ApiServerKubernetesProps;
  /**
   * More boot steps for these nodes (the etcd member boot when etcd is stacked).
   * @default - none
   */
  readonly additionalBoot?: BootExtras;
  /**
   * Where the files that are the same on every API server go (see `BootstrapBundles`): the user
   * data then keeps `node.env`, the bundle's location and SHA-256, and the fetch step.
   * @default - every file in the user data (EC2 limits it to 16 KB)
   */
  readonly bootstrapBundles?: IBootstrapBundles;
  /**
   * Raw user data (cloud-config) of API server nodes.
   * @default - `renderNodeUserData` for the `apiserver` role: time sync and slot claim
   */
  readonly userData?: string;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Stateless, redundant kube-apiserver nodes.
 *
 * **Stable identity.** Each API server slot has a pre-created network interface with a fixed
 * private IP computed at synth time (its serving certificate names that IP). A node claims a free
 * slot interface in its zone at boot (see `lib/bootstrap/scripts/ha-claim-slot.sh`), so a replaced
 * VM comes back with the same IP.
 *
 * **Replacement.** One Auto Scaling group spans the zones with load-balancer health checks: a node
 * whose `/readyz` fails is replaced. One group (rather than one per zone) because only a single
 * group's instance refresh replaces nodes strictly one at a time: groups per zone would all roll at
 * once on the same `cdktf deploy`. The refresh terminates before it launches (min and max healthy
 * 100 %), so the freed slot interface is there for the new node.
 */
export class ApiServerNodes extends Construct {
  /** The slots, in order. */
  public readonly slots: readonly NodeSlot[];
  /** Slot interfaces, by slot index. */
  public readonly interfaces: readonly NetworkInterface[];
  /** The API server nodes' IAM role and instance profile: inline least-privilege statements only (no managed policy). */
  public readonly role: NodeRole;
  /** The launch template every API server node boots from (one for all slots; the node claims its slot at boot). */
  public readonly launchTemplate: LaunchTemplate;
  /** The Auto Scaling group keeping `count` API server nodes, spread over the slots' zones. */
  public readonly autoScalingGroup: AutoscalingGroup;
  /** Zones (subnets) the group spans. */
  public readonly subnetIds: readonly string[];
  /** The launch lifecycle hook gating new servers on `/readyz` (absent without `kubernetes` or with custom user data). */
  public readonly launchHook?: AutoscalingLifecycleHook;
  private readonly refresh: AutoscalingGroupInstanceRefresh;

  /**
   * Stops the group's instance refresh when any of `alarmNames` goes to ALARM (the refresh fails:
   * no further server is replaced), and with `autoRollback` also replaces the servers it deployed
   * so far with the group's saved configuration (see the README, *Upgrading*, for why that is off
   * by default). At most 10 alarms (StartInstanceRefresh's AlarmSpecification).
   */
  public stopRefreshOnAlarms(alarmNames: readonly string[], autoRollback = false): void {
    if (alarmNames.length === 0 || alarmNames.length > 10) {
      throw new ConfigError("alarmNames", String(alarmNames.length), "an instance refresh takes 1 to 10 alarms", "pass the alarms that mean an API server is unhealthy");
    }
    this.autoScalingGroup.putInstanceRefresh({
      ...this.refresh,
      preferences: { ...this.refresh.preferences, autoRollback, alarmSpecification: { alarms: [...alarmNames] } },
    });
  }

  constructor(scope: Construct, id: string, props: ApiServerNodesProps) {
    super(scope, id);
    checkClusterName("clusterName", props.clusterName);
    checkTags("tags", props.tags, RESERVED_TAG_COUNT);
    checkImageRepository("imageRepository", props.kubernetes?.imageRepository);
    const mirror = props.kubernetes?.binaryMirror;
    if (mirror !== undefined) checkKubernetesBinaryMirror("kubernetesBinaryMirror", mirror, (props.kubernetes as ApiServerKubernetesProps).kubernetesVersion);
    const plan = planApiServerSlots({ network: props.network, count: props.count, allowSingleApiServer: props.allowSingleApiServer, slotHostOffset: props.slotHostOffset });
    const count = plan.slots.length;
    const zones = props.network.privateSubnets.length;
    const instanceType = props.instanceType ?? "m6i.large";
    checkInstanceType("apiServerInstanceType", instanceType);
    const rootSize = props.rootVolumeSizeGiB ?? 50;
    checkInteger("apiServerRootVolumeSizeGiB", rootSize, 20, 16384, "use at least 20 GiB for images and logs");
    const hopLimit = props.metadataHopLimit ?? 1;
    checkInteger("metadataHopLimit", hopLimit, 1, 64, "use 1, or 2 when pods need IMDS");
    const grace = props.healthCheckGracePeriodSeconds ?? 600;
    checkInteger("healthCheckGracePeriodSeconds", grace, 60, 7200, "allow at least a minute for boot");
    const readyTimeout = props.launchReadyTimeoutSeconds ?? 900;
    checkInteger("launchReadyTimeoutSeconds", readyTimeout, 300, 7200, "allow the boot (package install, image pulls, first start) at least 5 minutes");
    if (props.securityGroupIds.length === 0) {
      throw new ConfigError("securityGroupIds", [], "API servers need their security group", "pass ControlPlaneSecurityGroups.apiServer.id");
    }
    if (count < zones) {
      Annotations.of(this).addWarning(`apiServerCount ${count} is less than the ${zones} zones: API servers run in the first ${count} zones only`);
    }

    this.subnetIds = plan.subnetIds;
    this.slots = plan.slots;
    const tags = new ClusterTags(props.clusterName, props.tags);

    this.interfaces = this.slots.map(
      (slot) =>
        new NetworkInterface(this, `SlotInterface${slot.index}`, {
          subnetId: slot.subnet.subnetId,
          privateIps: [slot.privateIp],
          securityGroups: [...props.securityGroupIds],
          description: `${slot.name} of ${props.clusterName}: fixed API server address`,
          tags: tags.of(`${props.clusterName}-${slot.name}`, { role: API_SERVER_ROLE, slot: slot.name }),
        }),
    );

    this.role = new NodeRole(this, "Role", { clusterName: props.clusterName, nodeRole: API_SERVER_ROLE, tags: props.tags });
    const ownTags = {
      [`ec2:ResourceTag/${CLUSTER_TAG}`]: props.clusterName,
      [`ec2:ResourceTag/${ROLE_TAG}`]: API_SERVER_ROLE,
    };
    this.role.addStatement({ sid: "DescribeSlots", actions: ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVolumes", "ec2:DescribeInstances"], resources: ["*"] });
    this.role.addStatement({ sid: "ClaimSlotInterface", actions: ["ec2:AttachNetworkInterface"], resources: ["*"], condition: { StringEquals: ownTags } });
    if (props.kubernetes !== undefined) props.kubernetes.encryptionKeySecret.grantInitialize(this.role);
    const s3Mirror = mirror !== undefined && !isUnresolved(mirror.mirrorUrlTemplate) ? s3MirrorLocation(mirror.mirrorUrlTemplate) : undefined;
    if (s3Mirror !== undefined) {
      this.role.addStatement({ sid: "ReadKubernetesBinaryMirror", actions: ["s3:GetObject"], resources: [`arn:${new DataAwsPartition(this, "MirrorPartition").partition}:s3:::${s3Mirror.bucket}/${s3Mirror.keyPrefix}*`] });
    }
    if (props.stackedEtcd) {
      this.role.addStatement({ sid: "ClaimSlotVolume", actions: ["ec2:AttachVolume"], resources: ["*"], condition: { StringEquals: ownTags } });
      this.role.grantAttachEncryptedVolumes(props.encryptionKey.keyArn);
    }

    const name = deriveName([props.clusterName, API_SERVER_ROLE], NAME_RULES.autoscalingGroup);
    // The launch hook needs a node that completes it: the library's user data running the API server.
    const launchHook = props.kubernetes !== undefined && props.userData === undefined ? { hookName: LAUNCH_READY_HOOK_NAME, groupName: name, deadlineSeconds: readyTimeout - 60 } : undefined;
    if (launchHook !== undefined) {
      // Only on its own group (the name is fixed at synth; region, account and group id are not).
      this.role.addStatement({
        sid: "CompleteOwnLaunchHook",
        actions: ["autoscaling:CompleteLifecycleAction"],
        resources: [`arn:*:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${name}`],
      });
    }
    const imageId = resolveAmi(this, "Ami", "amiId", props.amiId, instanceType, props.nodeImage);
    const instanceTags = tags.of(`${props.clusterName}-${API_SERVER_ROLE}`, { role: API_SERVER_ROLE });
    const boot: NodeBootInput = {
      clusterName: props.clusterName,
      nodeRole: API_SERVER_ROLE,
      dataVolume: props.stackedEtcd ? "by-slot" : "none",
      secretPrefix: props.secretPrefix,
      metrics: props.metricNamespace === undefined ? undefined : { namespace: props.metricNamespace, runsEtcd: props.stackedEtcd ?? false },
    };
    const extras = (): BootExtras => mergeBootExtras(
      props.additionalBoot,
      props.kubernetes === undefined
        ? undefined
        : apiServerBootExtras({
          clusterName: props.clusterName,
          kubernetesVersion: props.kubernetes.kubernetesVersion,
          etcdServers: props.kubernetes.etcd.clientUrls,
          serviceCidr: props.kubernetes.serviceCidr,
          podCidr: props.kubernetes.podCidr,
          clusterDomain: props.kubernetes.clusterDomain,
          shutdownDelaySeconds: props.endpoint.shutdownDelaySeconds,
          encryptionKeySecret: props.kubernetes.encryptionKeySecret.secretName,
          imageRepository: props.kubernetes.imageRepository,
          kubernetesAptRepository: props.kubernetes.aptRepository,
          binaryMirror: props.kubernetes.binaryMirror,
          auditLogGroup: props.kubernetes.auditLogGroupName,
        }),
      launchHook === undefined ? undefined : launchHookBootExtras(launchHook),
    );
    const bundle = props.userData === undefined ? props.bootstrapBundles?.addNodeBundle({ role: API_SERVER_ROLE, boot, extras: extras(), grantee: this.role }) : undefined;
    this.launchTemplate = nodeLaunchTemplate(this, "LaunchTemplate", {
      clusterName: props.clusterName,
      nodeRole: API_SERVER_ROLE,
      imageId,
      instanceType,
      instanceProfileArn: this.role.instanceProfile.arn,
      securityGroupIds: props.securityGroupIds,
      userData: props.userData ?? bundle?.userData ?? renderNodeUserData(boot, extras()),
      dependsOn: bundle !== undefined ? [bundle.object] : undefined,
      kmsKeyArn: props.encryptionKey.keyArn,
      rootVolumeSizeGiB: rootSize,
      rootDeviceName: props.rootDeviceName ?? nodeImageFacts("nodeImage", props.nodeImage).rootDeviceName,
      metadataHopLimit: hopLimit,
      tags: instanceTags,
    });

    const warmup = props.endpoint.readmissionTimeSeconds + 30;
    this.refresh = {
      strategy: "Rolling",
      preferences: {
        // 100/100: one instance at a time, terminated before its replacement launches.
        minHealthyPercentage: 100,
        maxHealthyPercentage: 100,
        instanceWarmup: String(warmup),
        skipMatching: true,
        // Pause after each server until the load balancer has re-admitted it.
        checkpointPercentages: rollCheckpoints(count),
        checkpointDelay: String(warmup),
      },
    };
    this.autoScalingGroup = new AutoscalingGroup(this, "Group", {
      name,
      minSize: count,
      maxSize: count,
      desiredCapacity: count,
      vpcZoneIdentifier: [...this.subnetIds],
      launchTemplate: { id: this.launchTemplate.id, version: this.launchTemplate.latestVersion.toString() },
      targetGroupArns: [...props.endpoint.targetGroupArns],
      healthCheckType: "ELB",
      healthCheckGracePeriod: grace,
      defaultInstanceWarmup: warmup,
      serviceLinkedRoleArn: props.autoScalingServiceRoleArn,
      terminationPolicies: ["OldestLaunchTemplate", "OldestInstance"],
      waitForCapacityTimeout: "0",
      enabledMetrics: ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances"],
      instanceRefresh: this.refresh,
      tag: Object.entries(instanceTags).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
    });
    if (launchHook !== undefined) {
      // A separate resource, not the group's initial_lifecycle_hook (applied only when a group is
      // created): existing clusters get the hook on their next deploy.
      this.launchHook = new AutoscalingLifecycleHook(this, "LaunchReadyHook", {
        name: LAUNCH_READY_HOOK_NAME,
        autoscalingGroupName: this.autoScalingGroup.name,
        lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING",
        heartbeatTimeout: readyTimeout,
        defaultResult: "ABANDON",
      });
    }
  }
}
