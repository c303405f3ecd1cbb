import { Construct } from "constructs";
import { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
import { EbsVolume } from "@cdktf/provider-aws/lib/ebs-volume";
import { NetworkInterface } from "@cdktf/provider-aws/lib/network-interface";
import { Annotations } from "../core";
import { BootExtras, NodeBootInput, mergeBootExtras, renderNodeUserData } from "../bootstrap/node-user-data";
import type { IBootstrapBundles } from "../bootstrap/bundle/bootstrap-bundles";
import { EtcdRelease, etcdBootExtras, etcdInitialCluster } from "../bootstrap/etcd";
import { etcdBackupBootExtras } from "../bootstrap/etcd-backup";
import { EtcdBackups } from "./backups";
import { NodeImage, nodeImageFacts, resolveAmi } from "../compute/ami";
import { nodeLaunchTemplate } from "../compute/launch-template";
import { NodeRole } from "../compute/node-role";
import { NodeSlot, allocateSlots, slotsPerZone } from "../compute/slots";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName } from "../names";
import { route53Record } from "../optional-providers";
import { INetwork } from "../network/network";
import { IEncryptionKey } from "../security/encryption-key";
import { ETCD_CLIENT_PORT } from "../security/security-groups";
import { CLUSTER_TAG, ClusterTags, RESERVED_TAG_COUNT, ROLE_TAG, SLOT_TAG } from "../tags";
import { checkClusterName, checkEtcdZonePlacement, checkInstanceType, checkInteger, checkTags, isUnresolved } from "../validate";
import { faultTolerance } from "./quorum";

/** Where etcd runs. */
export enum EtcdTopology {
  /** Dedicated etcd nodes (default): API server rolls never touch etcd quorum. */
  EXTERNAL = "EXTERNAL",
  /** etcd on the API server nodes: fewer machines, but a node loss costs an API server and a member. */
  STACKED = "STACKED",
}

/** One etcd member as clients and certificates see it. */
export interface EtcdMemberInfo {
  /** Member name (`etcd-0`, or `apiserver-0` when stacked). */
  readonly name: string;
  /** Fixed private IP. */
  readonly privateIp: string;
  /** Availability zone (may be a token). */
  readonly availabilityZone: string;
  /**
   * Stable DNS name of the member, in its certificates' SANs.
   * @default - none: no Route 53 records are created, clients use the fixed IP
   */
  readonly dnsName?: string;
}

/**
 * An etcd cluster API servers can use. Implemented by {@link EtcdCluster}; use
 * {@link ExternalEtcdCluster.fromAttributes} for an etcd managed elsewhere.
 */
export interface IEtcdCluster {
  /** Members in a stable order. */
  readonly members: readonly EtcdMemberInfo[];
  /** Client URLs (`https://<ip>:2379`), one per member. */
  readonly clientUrls: readonly string[];
  /** Whether etcd runs on dedicated nodes (`EXTERNAL`) or on the API server nodes (`STACKED`). */
  readonly topology: EtcdTopology;
}

/** Props of {@link EtcdCluster}. */
export interface EtcdClusterProps {
  /** Cluster name (DNS label). */
  readonly clusterName: string;
  /** Network: members go in its private subnets, round-robin. */
  readonly network: INetwork;
  /** Security groups of member interfaces (see `ControlPlaneSecurityGroups.etcd`). */
  readonly securityGroupIds: readonly string[];
  /** Key encrypting data and root volumes. */
  readonly encryptionKey: IEncryptionKey;
  /**
   * Topology. With `STACKED`, pass `stackedOn` and no compute is created here: only data volumes.
   * @default EtcdTopology.EXTERNAL
   */
  readonly topology?: EtcdTopology;
  /**
   * API server slots etcd runs on (STACKED only; one member per slot).
   * @default - none
   */
  readonly stackedOn?: readonly NodeSlot[];
  /**
   * Members: 3 (tolerates 1 failure), 5 (tolerates 2) or 7.
   * @default 3
   */
  readonly memberCount?: number;
  /**
   * Accept a single member (no fault tolerance at all).
   * @default false
   */
  readonly allowNonHaEtcd?: boolean;
  /**
   * Accept members placed so that one zone holds a quorum's worth of them (e.g. 3 members over 2
   * zones): losing that zone loses quorum. Without it such a placement is a `ConfigError`; with
   * it, a warning.
   * @default false
   */
  readonly allowEtcdZoneQuorumLoss?: boolean;
  /**
   * Auto Scaling service-linked role allowed to use the key.
   * @default - the account's default Auto Scaling role
   */
  readonly autoScalingServiceRoleArn?: string;
  /**
   * EC2 instance type of members.
   * @default "m6i.large"
   */
  readonly instanceType?: string;
  /**
   * AMI of the etcd nodes (`ami-` and 8 or 17 hex digits; ConfigError otherwise): an image of
   * `nodeImage` for the instance type's architecture. Pin one to plan offline and to decide when nodes roll.
   * @default - newest official image of `nodeImage`, looked up at plan time
   */
  readonly amiId?: string;
  /**
   * Data volume size in GiB (gp3).
   * @default 20
   */
  readonly dataVolumeSizeGiB?: number;
  /**
   * Data volume IOPS (gp3: 3000–16000).
   * @default 3000
   */
  readonly dataVolumeIops?: number;
  /**
   * Data volume throughput in MiB/s (gp3: 125–1000).
   * @default 125
   */
  readonly dataVolumeThroughputMiBps?: number;
  /**
   * Refuse to destroy data volumes (`prevent_destroy`), and snapshot one that is deleted anyway.
   * @default true
   */
  readonly protectDataVolumes?: boolean;
  /**
   * Host offset of the first member IP in each subnet.
   * @default 20
   */
  readonly slotHostOffset?: number;
  /**
   * Root device name of the AMI.
   * @default - the node image's ("/dev/sda1" for Ubuntu, "/dev/xvda" for Debian)
   */
  readonly rootDeviceName?: string;
  /**
   * Operating system of the members: which official images are looked up, and the root device name.
   * @default NodeImage.UBUNTU_24_04
   */
  readonly nodeImage?: NodeImage;
  /**
   * Private Route 53 zone for member records (`<member>.<memberDomain>`).
   * @default - no records; members are addressed by IP
   */
  readonly privateHostedZoneId?: string;
  /**
   * Domain of member records, e.g. `etcd.prod.internal`.
   * @default - required with `privateHostedZoneId`
   */
  readonly memberDomain?: string;
  /**
   * Secrets Manager prefix of node secrets (see `ClusterPki.secretPrefix`).
   * @default - members fetch no secrets
   */
  readonly secretPrefix?: string;
  /**
   * CloudWatch namespace members publish health metrics to (see `ControlPlaneAlarms`).
   * @default - no node metrics
   */
  readonly metricNamespace?: string;
  /**
   * The etcd release members install (version and SHA-256 per architecture; a mirror URL for
   * air-gapped installs).
   * @default DEFAULT_ETCD_RELEASE
   */
  readonly release?: EtcdRelease;
  /**
   * Backend quota in bytes (etcd refuses writes beyond it).
   * @default 2147483648 (2 GiB; at most 8 GiB)
   */
  readonly quotaBackendBytes?: number;
  /**
   * Heartbeat interval in milliseconds.
   * @default 100
   */
  readonly heartbeatIntervalMs?: number;
  /**
   * Election timeout in milliseconds (at least 5 × the heartbeat).
   * @default 1000
   */
  readonly electionTimeoutMs?: number;
  /**
   * Where snapshots go.
   * @default - no backups
   */
  readonly backups?: EtcdBackups;
  /**
   * Where the files that are the same on every node of a member go (see `BootstrapBundles`):
   * each member's user data then keeps `node.env`, the bundle's location and SHA-256, and the
   * fetch step (external topology; stacked members boot from the API servers' bundle).
   * @default - every file in the user data (EC2 limits it to 16 KB)
   */
  readonly bootstrapBundles?: IBootstrapBundles;
  /**
   * User data per member.
   * @default - `renderNodeUserData` for the member: time sync, slot claim, data volume
   */
  readonly userData?: (member: EtcdMemberInfo, dataVolumeId: string) => string;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Node role tag of etcd slots. */
export const ETCD_ROLE = "etcd";
/** Purpose tag value of etcd data volumes. */
export const ETCD_DATA_PURPOSE = "etcd-data";
/** Purpose tag key. */
export const PURPOSE_TAG = "ha-control-plane/purpose";

/**
 * One highly available etcd cluster.
 *
 * Each member has a fixed identity that survives VM replacement: a network interface with a fixed
 * IP (its certificates name it), an encrypted gp3 data volume in its zone (protected from destroy),
 * and an Auto Scaling group of one in that zone whose instances re-attach both at boot. A replaced
 * VM therefore restarts the same member with the same data; only a lost volume needs the
 * remove-then-add procedure. Launch-template changes do not roll members by themselves: etcd must
 * be rolled one member at a time, which groups rolling in parallel would not guarantee.
 */
export class EtcdCluster extends Construct implements IEtcdCluster {
  public readonly members: readonly EtcdMemberInfo[];
  public readonly clientUrls: readonly string[];
  public readonly topology: EtcdTopology;
  /** The members' slots: name, fixed IP, subnet and zone of each (the API server slots when etcd is stacked). */
  public readonly slots: readonly NodeSlot[];
  /** Data volumes, by member index. */
  public readonly dataVolumes: readonly EbsVolume[];
  /** Member interfaces, by member index (external topology only). */
  public readonly interfaces: readonly NetworkInterface[];
  /** Member roles, by member index (external topology only). */
  public readonly roles: readonly NodeRole[];
  /** Member groups, by member index (external topology only). */
  public readonly autoScalingGroups: readonly AutoscalingGroup[];
  /** etcd backend quota in bytes. */
  public readonly quotaBackendBytes: number;
  private readonly bootProps: EtcdClusterProps;

  constructor(scope: Construct, id: string, props: EtcdClusterProps) {
    super(scope, id);
    checkClusterName("clusterName", props.clusterName);
    checkTags("tags", props.tags, RESERVED_TAG_COUNT);
    const topology = props.topology ?? EtcdTopology.EXTERNAL;
    if (!Object.values(EtcdTopology).includes(topology)) {
      throw new ConfigError("etcdTopology", topology, "is not an EtcdTopology", "use EtcdTopology.EXTERNAL or EtcdTopology.STACKED");
    }
    const stacked = topology === EtcdTopology.STACKED;
    if (stacked && (props.stackedOn === undefined || props.stackedOn.length === 0)) {
      throw new ConfigError("stackedOn", props.stackedOn, "stacked etcd needs the API server slots it runs on", "pass ApiServerNodes.slots");
    }
    if (!stacked && props.stackedOn !== undefined) {
      throw new ConfigError("stackedOn", "slots", "only applies to EtcdTopology.STACKED", "drop stackedOn or set topology: EtcdTopology.STACKED");
    }
    const count = stacked ? props.stackedOn!.length : (props.memberCount ?? 3);
    checkMemberCount(stacked ? "apiServerCount" : "etcdMemberCount", count, props.allowNonHaEtcd ?? false, stacked ? " (stacked etcd runs one member per API server)" : "");
    if (!stacked) checkInstanceType("etcdInstanceType", props.instanceType ?? "m6i.large");
    const size = props.dataVolumeSizeGiB ?? 20;
    checkInteger("etcdDataVolumeSizeGiB", size, 10, 16384, "etcd's quota is 2 GiB by default and 8 GiB at most: 20 GiB leaves room for snapshots and WAL");
    const iops = props.dataVolumeIops ?? 3000;
    checkInteger("etcdDataVolumeIops", iops, 3000, 16000, "gp3 volumes have 3000 to 16000 IOPS");
    const throughput = props.dataVolumeThroughputMiBps ?? 125;
    checkInteger("etcdDataVolumeThroughputMiBps", throughput, 125, 1000, "gp3 volumes have 125 to 1000 MiB/s");
    if (!isUnresolved(iops) && !isUnresolved(size) && iops > size * 500) {
      throw new ConfigError("etcdDataVolumeIops", iops, `gp3 allows at most 500 IOPS per GiB (${size * 500} for ${size} GiB)`, `raise etcdDataVolumeSizeGiB to ${Math.ceil(iops / 500)} or lower the IOPS`);
    }
    if (!isUnresolved(iops) && throughput > iops / 4) {
      throw new ConfigError("etcdDataVolumeThroughputMiBps", throughput, `gp3 allows at most 0.25 MiB/s per IOPS (${Math.floor(iops / 4)} for ${iops} IOPS)`, "raise the IOPS or lower the throughput");
    }
    if ((props.privateHostedZoneId === undefined) !== (props.memberDomain === undefined)) {
      throw new ConfigError(props.privateHostedZoneId === undefined ? "etcdPrivateHostedZoneId" : "etcdMemberDomain", undefined, "member DNS records need both a zone and a domain", "pass both etcdPrivateHostedZoneId and etcdMemberDomain, or neither");
    }
    if (props.privateHostedZoneId !== undefined && !isUnresolved(props.privateHostedZoneId) && !/^Z[0-9A-Z]{1,31}$/.test(props.privateHostedZoneId)) {
      throw new ConfigError("etcdPrivateHostedZoneId", props.privateHostedZoneId, "is not a Route 53 hosted zone id", 'pass an id like "Z0123456789ABCDEFGHIJ"');
    }
    const memberOffset = props.slotHostOffset ?? 20;
    checkInteger("etcdSlotHostOffset", memberOffset, 4, 250, "AWS reserves the first four addresses of a subnet: use 20");
    if (props.memberDomain !== undefined && !isUnresolved(props.memberDomain) && !/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(props.memberDomain)) {
      throw new ConfigError("etcdMemberDomain", props.memberDomain, "is not a lower-case DNS domain", 'use for example "etcd.prod.internal"');
    }

    this.topology = topology;
    this.bootProps = props;
    this.quotaBackendBytes = props.quotaBackendBytes ?? 2147483648;
    const tags = new ClusterTags(props.clusterName, props.tags);
    this.slots = stacked
      ? [...props.stackedOn!]
      : allocateSlots({ namePrefix: ETCD_ROLE, count, subnets: props.network.privateSubnets, hostOffset: memberOffset, prop: "network.privateSubnets" });
    const weak = checkEtcdZonePlacement(stacked ? "apiServerCount" : "etcdMemberCount", count, slotsPerZone(this.slots), props.allowEtcdZoneQuorumLoss ?? false);
    if (weak) warnOnWeakSpread(this, this.slots);

    const protect = props.protectDataVolumes ?? true;
    this.dataVolumes = this.slots.map((slot) => {
      const volume = new EbsVolume(this, `DataVolume${slot.index}`, {
        availabilityZone: slot.availabilityZone,
        size,
        type: "gp3",
        iops,
        throughput,
        encrypted: true,
        kmsKeyId: props.encryptionKey.keyArn,
        finalSnapshot: protect,
        tags: {
          ...tags.of(`${props.clusterName}-${slot.name}-data`, { role: stacked ? "apiserver" : ETCD_ROLE, slot: slot.name }),
          [PURPOSE_TAG]: ETCD_DATA_PURPOSE,
        },
      });
      if (protect) volume.addOverride("lifecycle.prevent_destroy", true);
      return volume;
    });

    this.members = this.slots.map((slot) => ({
      name: slot.name,
      privateIp: slot.privateIp,
      availabilityZone: slot.availabilityZone,
      dnsName: props.memberDomain !== undefined ? `${slot.name}.${props.memberDomain}` : undefined,
    }));
    this.clientUrls = this.members.map((m) => `https://${m.privateIp}:${ETCD_CLIENT_PORT}`);
    if (props.privateHostedZoneId !== undefined) {
      this.members.forEach((m, i) => {
        new (route53Record())(this, `MemberRecord${i}`, {
          zoneId: props.privateHostedZoneId!,
          name: m.dnsName!,
          type: "A",
          ttl: 60,
          records: [m.privateIp],
        });
      });
    }

    // Renders (and so validates) the member configuration now, not at first use.
    this.bootExtras();
    if (stacked) {
      this.interfaces = [];
      this.roles = [];
      this.autoScalingGroups = [];
      return;
    }

    const instanceType = props.instanceType ?? "m6i.large";
    const imageId = resolveAmi(this, "Ami", "amiId", props.amiId, instanceType, props.nodeImage);
    const interfaces: NetworkInterface[] = [];
    const roles: NodeRole[] = [];
    const groups: AutoscalingGroup[] = [];
    this.slots.forEach((slot, i) => {
      const member = this.members[i];
      const slotTags = tags.of(`${props.clusterName}-${slot.name}`, { role: ETCD_ROLE, slot: slot.name });
      interfaces.push(
        new NetworkInterface(this, `MemberInterface${i}`, {
          subnetId: slot.subnet.subnetId,
          privateIps: [slot.privateIp],
          securityGroups: [...props.securityGroupIds],
          description: `${slot.name} of ${props.clusterName}: fixed etcd member address`,
          tags: slotTags,
        }),
      );
      const role = new NodeRole(this, `MemberRole${i}`, { clusterName: props.clusterName, nodeRole: slot.name, tags: props.tags });
      const own = {
        [`ec2:ResourceTag/${CLUSTER_TAG}`]: props.clusterName,
        [`ec2:ResourceTag/${ROLE_TAG}`]: ETCD_ROLE,
        [`ec2:ResourceTag/${SLOT_TAG}`]: slot.name,
      };
      role.addStatement({ sid: "DescribeSlot", actions: ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVolumes", "ec2:DescribeInstances"], resources: ["*"] });
      role.addStatement({ sid: "ClaimMemberInterfaceAndVolume", actions: ["ec2:AttachNetworkInterface", "ec2:AttachVolume"], resources: ["*"], condition: { StringEquals: own } });
      role.grantAttachEncryptedVolumes(props.encryptionKey.keyArn);
      roles.push(role);
      props.backups?.grantReadWrite(role);
      const boot: NodeBootInput = {
        clusterName: props.clusterName,
        nodeRole: ETCD_ROLE,
        slotName: slot.name,
        dataVolume: "by-slot",
        secretPrefix: props.secretPrefix,
        metrics: props.metricNamespace === undefined ? undefined : { namespace: props.metricNamespace, runsEtcd: true, etcdQuotaBytes: this.quotaBackendBytes },
      };
      const bundle = props.userData ? undefined : props.bootstrapBundles?.addNodeBundle({ role: slot.name, boot, extras: this.bootExtras([slot.name]), grantee: role });
      const userData = props.userData ? props.userData(member, this.dataVolumes[i].id) : (bundle?.userData ?? renderNodeUserData(boot, this.bootExtras([slot.name])));
      const template = nodeLaunchTemplate(this, `MemberLaunchTemplate${i}`, {
        clusterName: props.clusterName,
        nodeRole: slot.name,
        imageId,
        instanceType,
        instanceProfileArn: role.instanceProfile.arn,
        securityGroupIds: props.securityGroupIds,
        userData,
        kmsKeyArn: props.encryptionKey.keyArn,
        rootVolumeSizeGiB: 30,
        rootDeviceName: props.rootDeviceName ?? nodeImageFacts("nodeImage", props.nodeImage).rootDeviceName,
        metadataHopLimit: 1,
        tags: slotTags,
        dependsOn: bundle !== undefined ? [bundle.object] : undefined,
      });
      groups.push(
        new AutoscalingGroup(this, `MemberGroup${i}`, {
          name: deriveName([props.clusterName, slot.name], NAME_RULES.autoscalingGroup),
          minSize: 1,
          maxSize: 1,
          desiredCapacity: 1,
          vpcZoneIdentifier: [slot.subnet.subnetId],
          // "$Default": a template change applies to the member's next replacement, never to all
          // members at once (see the class comment).
          launchTemplate: { id: template.id, version: "$Default" },
          healthCheckType: "EC2",
          healthCheckGracePeriod: 300,
          serviceLinkedRoleArn: props.autoScalingServiceRoleArn,
          waitForCapacityTimeout: "0",
          enabledMetrics: ["GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances"],
          tag: Object.entries(slotTags).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
        }),
      );
    });
    this.interfaces = interfaces;
    this.roles = roles;
    this.autoScalingGroups = groups;
  }

  /**
   * What a node running members of this cluster adds to its boot: etcd install, configuration,
   * bootstrap/replacement script and unit (and backups when configured). `nodeMembers` fixes the
   * member a node serves; omit it for nodes that claim their slot at boot (stacked etcd).
   */
  public bootExtras(nodeMembers?: readonly string[]): BootExtras {
    const p = this.bootProps;
    const members = this.members.map((m) => ({ name: m.name, ip: m.privateIp }));
    return mergeBootExtras(
      etcdBootExtras({
        members,
        nodeMembers,
        initialClusterToken: `${p.clusterName}-etcd`,
        release: p.release,
        quotaBackendBytes: this.quotaBackendBytes,
        heartbeatIntervalMs: p.heartbeatIntervalMs,
        electionTimeoutMs: p.electionTimeoutMs,
      }),
      p.backups === undefined
        ? undefined
        : etcdBackupBootExtras({ target: p.backups.target, intervalMinutes: p.backups.intervalMinutes, initialCluster: etcdInitialCluster(members) }),
    );
  }
}

/** Validates an etcd member count. */
export function checkMemberCount(prop: string, count: number, allowNonHa: boolean, context = "", nonHaFlag: string | undefined = "allowNonHaEtcd"): void {
  checkInteger(prop, count, 1, 7, `use 3 or 5${context}`);
  if (count === 1) {
    if (!allowNonHa) {
      const fix = nonHaFlag ? `use 3 or 5, or set ${nonHaFlag}: true for a throw-away cluster` : "use 3 or 5 members";
      throw new ConfigError(prop, count, `a single etcd member tolerates no failure: losing it loses the cluster state${context}`, fix);
    }
    return;
  }
  if (count % 2 === 0) {
    throw new ConfigError(
      prop,
      count,
      `an even member count tolerates no more failures than ${count - 1} (${faultTolerance(count)}) and splits votes${context}`,
      `use ${count - 1} or ${count + 1}`,
    );
  }
}

/** The accepted (allowEtcdZoneQuorumLoss) case of a placement that one zone's loss breaks. */
function warnOnWeakSpread(scope: Construct, slots: readonly NodeSlot[]): void {
  const perZone = slotsPerZone(slots);
  Annotations.of(scope).addWarning(
    `etcd members are spread over ${perZone.size} zone(s) (${[...perZone.entries()].map(([z, n]) => `${z}: ${n}`).join(", ")}): losing one zone loses quorum; use at least 3 zones`,
  );
}

/** Attributes of an etcd cluster managed outside this library. */
export interface ExternalEtcdClusterAttributes {
  /** Members (name and fixed IP; zone for spread checks). */
  readonly members: readonly EtcdMemberInfo[];
}

/** An etcd cluster managed elsewhere, plugged in through {@link IEtcdCluster}. */
export class ExternalEtcdCluster implements IEtcdCluster {
  /** Validates and wraps the members of an existing etcd cluster. */
  public static fromAttributes(attrs: ExternalEtcdClusterAttributes): IEtcdCluster {
    return new ExternalEtcdCluster(attrs);
  }

  public readonly members: readonly EtcdMemberInfo[];
  public readonly clientUrls: readonly string[];
  public readonly topology = EtcdTopology.EXTERNAL;

  private constructor(attrs: ExternalEtcdClusterAttributes) {
    checkMemberCount("etcd.members.length", attrs.members.length, false, "", undefined);
    attrs.members.forEach((m, i) => {
      if (typeof m.name !== "string" || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(m.name)) {
        throw new ConfigError(`etcd.members[${i}].name`, m.name, "is not a DNS label", 'use a name like "etcd-0"');
      }
      if (!isUnresolved(m.privateIp) && !/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(m.privateIp ?? "")) {
        throw new ConfigError(`etcd.members[${i}].privateIp`, m.privateIp, "is not an IPv4 address", "pass the member's private IPv4 address");
      }
    });
    const names = new Set(attrs.members.map((m) => m.name));
    if (names.size !== attrs.members.length) {
      throw new ConfigError("etcd.members", attrs.members.map((m) => m.name), "member names must be unique", "give each member its own name");
    }
    this.members = [...attrs.members];
    this.clientUrls = this.members.map((m) => `https://${m.dnsName ?? m.privateIp}:${ETCD_CLIENT_PORT}`);
  }
}
