import { Construct } from "constructs";
import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import { ConfigError } from "../errors";
import { checkAmiId, isArmInstanceType } from "../validate";

/** Canonical's AWS account, owner of the official Ubuntu images. */
export const CANONICAL_OWNER_ID = "099720109477";

/** The Debian project's AWS account, owner of the official Debian 12 images (wiki.debian.org/Cloud/AmazonEC2Image/Bookworm). */
export const DEBIAN_OWNER_ID = "136693071363";

/** The operating system of the control-plane nodes (the official image, or what `amiId` is built from). */
export enum NodeImage {
  /** Ubuntu 24.04 LTS (noble): the default; netplan with systemd-networkd; root device `/dev/sda1`. */
  UBUNTU_24_04 = "ubuntu-24.04",
  /** Debian 12 (bookworm): the cloud images use netplan with systemd-networkd too; root device `/dev/xvda`. */
  DEBIAN_12 = "debian-12",
}

/** How the official images of a {@link NodeImage} are found and how they boot. */
export interface NodeImageFacts {
  /** AWS account that publishes the images. */
  readonly ownerId: string;
  /** `name` filter of the image lookup, per architecture. */
  readonly namePattern: (arch: "amd64" | "arm64") => string;
  /** Regex the name must match in full (excludes backports or other variants). @default - none */
  readonly nameRegex?: (arch: "amd64" | "arm64") => string;
  /** Root device name the images register (the launch template maps the root volume there). */
  readonly rootDeviceName: string;
}

/**
 * Facts of each node image. Names: Canonical's `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-<arch>-server-<date>`,
 * Debian's `debian-12-<arch>-<yyyymmdd>-<build>` (root device as debian-cloud-images registers it).
 */
export const NODE_IMAGES: Readonly<Record<NodeImage, NodeImageFacts>> = {
  [NodeImage.UBUNTU_24_04]: {
    ownerId: CANONICAL_OWNER_ID,
    namePattern: (arch) => `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${arch}-server-*`,
    rootDeviceName: "/dev/sda1",
  },
  [NodeImage.DEBIAN_12]: {
    ownerId: DEBIAN_OWNER_ID,
    namePattern: (arch) => `debian-12-${arch}-*`,
    nameRegex: (arch) => `^debian-12-${arch}-\\d{8}-\\d+$`,
    rootDeviceName: "/dev/xvda",
  },
};

/** The facts of `image`, or a ConfigError naming `prop` for a value that is not a {@link NodeImage}. */
export function nodeImageFacts(prop: string, image: NodeImage | undefined): NodeImageFacts {
  const facts = NODE_IMAGES[image ?? NodeImage.UBUNTU_24_04];
  if (facts === undefined) {
    throw new ConfigError(prop, image, `is not a supported node image (${Object.values(NodeImage).join(", ")})`, "use NodeImage.UBUNTU_24_04 or NodeImage.DEBIAN_12");
  }
  return facts;
}

/**
 * The AMI for a node group: `amiId` when given (validated; built from `nodeImage`), otherwise the
 * newest official image of `nodeImage` for the instance type's architecture, looked up at plan time
 * (needs AWS credentials; pass explicit ids to plan offline and to control when nodes roll).
 */
export function resolveAmi(scope: Construct, id: string, prop: string, amiId: string | undefined, instanceType: string, nodeImage?: NodeImage): string {
  const facts = nodeImageFacts("nodeImage", nodeImage);
  if (amiId !== undefined) {
    checkAmiId(prop, amiId);
    return amiId;
  }
  const arch = isArmInstanceType(instanceType) ? "arm64" : "amd64";
  const image = new DataAwsAmi(scope, id, {
    owners: [facts.ownerId],
    mostRecent: true,
    nameRegex: facts.nameRegex?.(arch),
    filter: [
      { name: "name", values: [facts.namePattern(arch)] },
      { name: "virtualization-type", values: ["hvm"] },
      { name: "root-device-type", values: ["ebs"] },
    ],
  });
  return image.id;
}
