// Blueprints: organisation defaults, named presets and per-cluster overrides producing validated clusters.
export * from "./presets";
export * from "./control-plane-stack";
export * from "./blueprint";
export * from "./state-backend";
