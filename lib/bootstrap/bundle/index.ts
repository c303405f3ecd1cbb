export * from "./archive";
export * from "./node-bundle";
export * from "./bootstrap-bundles";
