// Jest configuration for mutation testing (`npm run test:mutation`, scripts/mutation.js): the unit
// tests that mirror one group of pure modules. scripts/mutation.js runs Stryker once per group and
// names that group's test files in HA_CP_MUTATION_TESTS (comma-separated, relative to the root).
// The synthesize-everything tests of other folders would cover each mutant too, but running them
// for every mutant does not fit two cores.
const base = require("./jest.config.js");
const unit = base.projects.find((p) => p.displayName === "unit");
const tests = (process.env.HA_CP_MUTATION_TESTS ?? "").split(",").filter((t) => t !== "");
if (tests.length === 0) throw new Error("stryker.jest.config.js: set HA_CP_MUTATION_TESTS (scripts/mutation.js does)");
module.exports = {
  ...Object.fromEntries(Object.entries(unit).filter(([k]) => k !== "displayName")),
  rootDir: __dirname,
  testMatch: tests.map((t) => `<rootDir>/${t}`),
  testTimeout: 30000,
};
