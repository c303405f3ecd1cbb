// Four test tiers, one jest run (`npm test`). A tier is chosen by the test file's suffix:
//   *.test.ts        unit        synthesize with cdktf Testing and assert on the JSON
//   *.plan.test.ts   plan        terraform validate + plan against the real AWS provider (offline mirror)
//   *.e2e.test.ts    e2e         real processes: etcd, openssl, shellcheck, cloud-init
//   *.prop.test.ts   property    fast-check over the public props
//   *.cp.test.ts     control plane  real etcd + Kubernetes control plane behind haproxy (test/controlplane)
//   *.apply.test.ts  apply       terraform apply / plan / destroy against the AWS API emulator (moto)
//   *.consumer.test.ts consumer  the packed tarball in a scratch app: strict tsc, synth, plan
//   *.boot.test.ts     boot      node user data booted under systemd + cloud-init in systemd-nspawn (Debian 12)
const transform = {
  "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }],
};
const common = {
  // HA_CP_FAIL_FAST=1 (set only by the shell mutation runner): skip the rest of a file after its first failure.
  testEnvironment: process.env.HA_CP_FAIL_FAST === "1" ? "<rootDir>/test/harness/fail-fast-environment.js" : "node",
  transform,
  moduleFileExtensions: ["ts", "js", "json"],
  roots: ["<rootDir>/test"],
  // Not the default <tmp>/jest_<uid>: the cache outlives runs, and the temp dir must be left as found.
  cacheDirectory: "<rootDir>/node_modules/.cache/jest",
  // The package's own name (examples import it as a user would) resolves to the sources, like tsconfig.json "paths".
  moduleNameMapper: {
    "^cdktf-ha-control-plane$": "<rootDir>/lib/index.ts",
    "^cdktf-ha-control-plane/(policy|cluster|blueprint)$": "<rootDir>/lib/$1/index.ts",
  },
};
const special = ["\\.plan\\.test\\.ts$", "\\.e2e\\.test\\.ts$", "\\.prop\\.test\\.ts$", "\\.apply\\.test\\.ts$", "\\.consumer\\.test\\.ts$", "\\.cp\\.test\\.ts$", "\\.boot\\.test\\.ts$"];
module.exports = {
  maxWorkers: 2,
  // Longest files first, by the last full CI run's per-file seconds (see the file).
  testSequencer: "<rootDir>/test/harness/sequencer.js",
  globalSetup: "<rootDir>/test/harness/global-setup.js",
  globalTeardown: "<rootDir>/test/harness/global-teardown.js",
  // The failure digest last: the end of a long CI log names every failure and its cause. Jest's
  // summary reporter always runs after every other reporter, and above 20 files it prints each
  // failure in full again ("Summary of all failing tests"), which pushed the digest out of the
  // part of the log CI keeps (stop 24); the threshold keeps that repeat off (each failure is
  // printed in full once, when its file ends), so only the counts follow the digest.
  reporters: [["default", { summaryThreshold: Number.MAX_SAFE_INTEGER }], "<rootDir>/test/harness/tier-banner-reporter.js", "<rootDir>/test/harness/timing-reporter.js", "<rootDir>/test/harness/failure-digest-reporter.js"],
  testTimeout: 30000,
  projects: [
    { ...common, displayName: "unit", testMatch: ["**/*.test.ts"], testPathIgnorePatterns: [...special, "/node_modules/"] },
    { ...common, displayName: "plan", testMatch: ["**/*.plan.test.ts"] },
    { ...common, displayName: "e2e", testMatch: ["**/*.e2e.test.ts"] },
    { ...common, displayName: "property", testMatch: ["**/*.prop.test.ts"] },
    { ...common, displayName: "control plane", testMatch: ["**/*.cp.test.ts"] },
    { ...common, displayName: "apply", testMatch: ["**/*.apply.test.ts"] },
    // npm pack, install with the lowest and highest peer versions, strict tsc, synth, plan (test/consumer).
    { ...common, displayName: "consumer", testMatch: ["**/*.consumer.test.ts"] },
    // systemd-nspawn containers of the node rootfs booting the applied stack's user data (test/boot).
    { ...common, displayName: "boot", testMatch: ["**/*.boot.test.ts"] },
  ],
};
