// etcd member boot: pure renderers (no constructs, no provider imports).
export * from "./config";
export * from "./release";
export * from "./unit";
export * from "./node";
