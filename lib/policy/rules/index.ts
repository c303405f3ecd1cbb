import { PolicyRule } from "../rule";
import { API_HEALTH_CHECK } from "./api-health-check";
import { BACKUP_BUCKET_OBJECT_LOCK } from "./backup-bucket-object-lock";
import { BUCKET_ENCRYPTION } from "./bucket-encryption";
import { BUCKET_PUBLIC_ACCESS } from "./bucket-public-access";
import { ETCD_MEMBER_COUNT } from "./etcd-member-count";
import { ETCD_PORT_EXPOSURE } from "./etcd-port-exposure";
import { IMDS_V1 } from "./imds-v1";
import { LEAF_CERTIFICATE_RENEWAL } from "./leaf-certificate-renewal";
import { LEAF_CERTIFICATE_VALIDITY } from "./leaf-certificate-validity";
import { NODE_ROLE_MANAGED_POLICY } from "./node-role-managed-policy";
import { PRIVATE_KEY_IN_USER_DATA } from "./private-key-in-user-data";
import { SHUTDOWN_DELAY } from "./shutdown-delay";
import { SINGLE_ZONE } from "./single-zone";
import { SUPER_ADMIN_OUTPUT } from "./super-admin-output";
import { UNENCRYPTED_VOLUME } from "./unencrypted-volume";
import { WORLD_OPEN_INGRESS } from "./world-open-ingress";

export {
  API_HEALTH_CHECK,
  BACKUP_BUCKET_OBJECT_LOCK,
  BUCKET_ENCRYPTION,
  BUCKET_PUBLIC_ACCESS,
  ETCD_MEMBER_COUNT,
  ETCD_PORT_EXPOSURE,
  IMDS_V1,
  LEAF_CERTIFICATE_RENEWAL,
  LEAF_CERTIFICATE_VALIDITY,
  NODE_ROLE_MANAGED_POLICY,
  PRIVATE_KEY_IN_USER_DATA,
  SHUTDOWN_DELAY,
  SINGLE_ZONE,
  SUPER_ADMIN_OUTPUT,
  UNENCRYPTED_VOLUME,
  WORLD_OPEN_INGRESS,
};
export { zoneKey } from "./single-zone";

/** Every rule of the pack, in report order. */
export const HA_POLICY_RULES: readonly PolicyRule[] = [
  WORLD_OPEN_INGRESS,
  ETCD_PORT_EXPOSURE,
  IMDS_V1,
  UNENCRYPTED_VOLUME,
  PRIVATE_KEY_IN_USER_DATA,
  BUCKET_ENCRYPTION,
  BUCKET_PUBLIC_ACCESS,
  SINGLE_ZONE,
  ETCD_MEMBER_COUNT,
  API_HEALTH_CHECK,
  SHUTDOWN_DELAY,
  LEAF_CERTIFICATE_VALIDITY,
  LEAF_CERTIFICATE_RENEWAL,
  NODE_ROLE_MANAGED_POLICY,
  BACKUP_BUCKET_OBJECT_LOCK,
  SUPER_ADMIN_OUTPUT,
];
