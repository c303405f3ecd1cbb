// The public API of cdktf-ha-control-plane. Re-exports only.
export * from "./errors";
export * from "./names";
export * from "./control-plane";
export * from "./network/network";
export * from "./network/cidr";
export * from "./security/security-groups";
export * from "./security/encryption-key";
export * from "./loadbalancer/api-load-balancer";
export * from "./loadbalancer/timing";
export * from "./compute/api-server-nodes";
export * from "./compute/autoscaling-role";
export * from "./compute/node-role";
export * from "./compute/slots";
export * from "./etcd/etcd-cluster";
export * from "./etcd/quorum";
export * from "./bootstrap/node-user-data";
export { CLUSTER_TAG, ROLE_TAG, SLOT_TAG } from "./tags";
