// The cluster stack: in-cluster objects Terraform owns, in a second stack configured from the first.
export * from "./access";
export * from "./access-secret";
export * from "./bootstrap-token";
export * from "./rbac";
export * from "./join";
export * from "./cluster-info";
export * from "./kubeadm-config";
export * from "./node-config";
export * from "./addons";
export * from "./kubelet-serving-approver";
export * from "./priority-classes";
export * from "./cluster-objects";
export * from "./cluster-objects-stack";
