// The policy pack: an Aspect checking synthesized stacks against HA and security rules.
export * from "./rule";
export * from "./context";
export * from "./values";
export * from "./security-groups";
export * from "./buckets";
export * from "./iam";
export * from "./api-endpoint";
export * from "./certificates";
export * from "./suppressions";
export * from "./record";
export * from "./pack";
export * from "./rules";
