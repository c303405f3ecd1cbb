import { Construct } from "constructs";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { Fn, ITerraformDependable, Token } from "../core";
import { compressUserData } from "../bootstrap/node-user-data";
import { NAME_RULES, deriveName } from "../names";
import { CLUSTER_TAG, ROLE_TAG, SLOT_TAG, kubernetesClusterTag } from "../tags";

/** Input of {@link nodeLaunchTemplate}. */
export interface NodeLaunchTemplateInput {
  /** Cluster name. */
  readonly clusterName: string;
  /** Node role, e.g. `apiserver`, `etcd-0` (part of the name). */
  readonly nodeRole: string;
  /** AMI id (literal or token). */
  readonly imageId: string;
  /** EC2 instance type. */
  readonly instanceType: string;
  /** Instance profile ARN. */
  readonly instanceProfileArn: string;
  /** Security groups of the primary interface. */
  readonly securityGroupIds: readonly string[];
  /** Raw user data (cloud-config or a MIME multipart); base64-encoded here. */
  readonly userData: string;
  /** KMS key for the root volume. */
  readonly kmsKeyArn: string;
  /** Root volume size in GiB. */
  readonly rootVolumeSizeGiB: number;
  /** Root device name of the AMI (`/dev/sda1` on Ubuntu, `/dev/xvda` on Amazon Linux). */
  readonly rootDeviceName: string;
  /** IMDSv2 hop limit (1: only the host; 2: containers too). */
  readonly metadataHopLimit: number;
  /**
   * The node's tags. Only the library's own keys (Name, cluster, role, slot, Kubernetes ownership)
   * go into the template and its tag specifications: any change to a template makes a new version,
   * which rolls every API server and each etcd member on its next replacement, so a user tag edit
   * must not reach it. User tags reach instances through the group's tags (`propagate_at_launch`).
   */
  readonly tags: Record<string, string>;
  /**
   * What must exist before the template (its nodes' bootstrap bundle).
   * @default - nothing
   */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/**
 * A hardened launch template: IMDSv2 required (tokens, hop limit), instance tags readable from IMDS
 * (nodes find their slot by them), encrypted gp3 root volume with the cluster key, detailed
 * monitoring, and no key pair (Session Manager instead of SSH).
 */
export function nodeLaunchTemplate(scope: Construct, id: string, input: NodeLaunchTemplateInput): LaunchTemplate {
  const name = deriveName([input.clusterName, input.nodeRole], NAME_RULES.launchTemplate);
  const own = libraryTags(input.clusterName, input.tags);
  return new LaunchTemplate(scope, id, {
    name,
    description: `${input.nodeRole} nodes of ${input.clusterName}`,
    imageId: input.imageId,
    instanceType: input.instanceType,
    iamInstanceProfile: { arn: input.instanceProfileArn },
    vpcSecurityGroupIds: [...input.securityGroupIds],
    userData: encodeUserData(input.userData),
    updateDefaultVersion: true,
    ebsOptimized: "true",
    metadataOptions: {
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: input.metadataHopLimit,
      instanceMetadataTags: "enabled",
    },
    monitoring: { enabled: true },
    blockDeviceMappings: [
      {
        deviceName: input.rootDeviceName,
        ebs: {
          volumeSize: input.rootVolumeSizeGiB,
          volumeType: "gp3",
          encrypted: "true",
          kmsKeyId: input.kmsKeyArn,
          deleteOnTermination: "true",
        },
      },
    ],
    tagSpecifications: [
      { resourceType: "instance", tags: own },
      { resourceType: "volume", tags: own },
      { resourceType: "network-interface", tags: primaryInterfaceTags(own) },
    ],
    tags: own,
    dependsOn: input.dependsOn !== undefined && input.dependsOn.length > 0 ? [...input.dependsOn] : undefined,
  });
}

/** The library's own tags of `tags` (what a launch template may carry without user edits rolling nodes). */
export function libraryTags(clusterName: string, tags: Readonly<Record<string, string>>): Record<string, string> {
  const keys = new Set(["Name", CLUSTER_TAG, ROLE_TAG, SLOT_TAG, kubernetesClusterTag(clusterName)]);
  return Object.fromEntries(Object.entries(tags).filter(([key]) => keys.has(key)));
}

/**
 * Tags of an instance's primary network interface: the instance's tags without the role and slot
 * keys. Slot interfaces are found by those keys at boot; a primary interface carrying them would
 * look like a slot the node already holds.
 */
export function primaryInterfaceTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([key]) => key !== ROLE_TAG && key !== SLOT_TAG));
}

/**
 * Base64 user data for a launch template. Literal text is gzip-compressed and encoded here, so
 * Terraform never reads the shell's `${VAR}` as an interpolation and the 16 KB limit applies to the
 * compressed bytes; text with cdktf tokens is encoded by Terraform, with every literal `${` and `%{`
 * escaped.
 */
export function encodeUserData(text: string): string {
  if (!Token.isUnresolved(text)) return Buffer.from(compressUserData(text)).toString("base64");
  return Fn.base64encode(escapeTemplateLiterals(text));
}

/** Escapes Terraform template sequences in `text`, leaving cdktf string tokens intact. */
export function escapeTemplateLiterals(text: string): string {
  return text.replace(/\$\{(?!TfToken\[)/g, () => "$${").replace(/%\{/g, () => "%%{");
}
