/** Re-exports for tests plus small shared checks. */
export { EtcdTopology, HaControlPlane, EndpointAccess, ExistingNetwork } from "../../lib";
import { USER_DATA_LIMIT_BYTES } from "../../lib";

/** True when user data as EC2 receives it (compressed bytes) fits the 16 KB limit. */
export function userDataLimitOk(raw: Buffer): boolean {
  return raw.length <= USER_DATA_LIMIT_BYTES;
}
