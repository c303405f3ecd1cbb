// The public API of cdktf-ha-control-plane. Re-exports only.
// The policy pack, the cluster-objects stack and blueprints are subpath exports
// ("cdktf-ha-control-plane/policy", "/cluster", "/blueprint"): most apps need none of them, and
// loading them (the kubernetes provider bindings among them) would cost every synth.
export * from "./errors";
export * from "./names";
export * from "./control-plane";
export * from "./network/network";
export * from "./network/cidr";
export * from "./network/pod-network";
export * from "./network/vpc-endpoints";
export * from "./security/security-groups";
export * from "./security/encryption-key";
export * from "./loadbalancer/api-load-balancer";
export * from "./loadbalancer/timing";
export { CANONICAL_OWNER_ID, DEBIAN_OWNER_ID, NodeImage } from "./compute/ami";
export * from "./compute/api-server-nodes";
export * from "./compute/autoscaling-role";
export * from "./compute/node-role";
export * from "./compute/slots";
export * from "./etcd/etcd-cluster";
export * from "./etcd/quorum";
export * from "./bootstrap/node-user-data";
export { CLUSTER_TAG, ROLE_TAG, SLOT_TAG } from "./tags";
export * from "./pki/spec";
export * from "./pki/openssl";
export * from "./pki/issuer";
export * from "./pki/kubeconfig";
export * from "./pki/cluster-pki";
export * from "./pki/private-ca-issuer";
export * from "./security/secrets-encryption";
export * from "./bootstrap/kubernetes/components";
export * from "./bootstrap/kubernetes/node";
export * from "./bootstrap/kubernetes/binaries";
export * from "./monitoring/control-plane-alarms";
export * from "./monitoring/audit-logs";
export * from "./etcd/backups";
export * from "./bootstrap/etcd";
export * from "./bootstrap/etcd-backup";
export * from "./bootstrap/bundle";
export * from "./diagram/mermaid";
