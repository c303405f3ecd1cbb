/** Re-exports for tests plus small shared checks. */
export { EtcdTopology, HaControlPlane, EndpointAccess, ExistingNetwork } from "../../lib";
import { USER_DATA_LIMIT_BYTES } from "../../lib";

/** True when raw user data fits EC2's 16 KB limit. */
export function userDataLimitOk(text: string): boolean {
  return Buffer.byteLength(text, "utf8") <= USER_DATA_LIMIT_BYTES;
}
