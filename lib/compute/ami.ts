import { Construct } from "constructs";
import { dataAwsAmi } from "../optional-providers";
import { checkAmiId, isArmInstanceType } from "../validate";

/** Canonical's AWS account, owner of the official Ubuntu images. */
export const CANONICAL_OWNER_ID = "099720109477";

/**
 * The AMI for a node group: `amiId` when given (validated), otherwise the newest Ubuntu 24.04 LTS
 * image for the instance type's architecture, looked up at plan time (needs AWS credentials; pass
 * explicit ids to plan offline and to control when nodes roll).
 */
export function resolveAmi(scope: Construct, id: string, prop: string, amiId: string | undefined, instanceType: string): string {
  if (amiId !== undefined) {
    checkAmiId(prop, amiId);
    return amiId;
  }
  const arch = isArmInstanceType(instanceType) ? "arm64" : "amd64";
  const image = new (dataAwsAmi())(scope, id, {
    owners: [CANONICAL_OWNER_ID],
    mostRecent: true,
    filter: [
      { name: "name", values: [`ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${arch}-server-*`] },
      { name: "virtualization-type", values: ["hvm"] },
      { name: "root-device-type", values: ["ebs"] },
    ],
  });
  return image.id;
}
