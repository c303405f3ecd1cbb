// Jest's node environment, except that after a file's first failing test (or hook) the rest of that
// file's tests are skipped; their afterAll/afterEach hooks still run, so everything is cleaned up.
// Only the shell mutation runner (scripts/mutate-scripts.js) selects it, with HA_CP_FAIL_FAST=1: any
// failure kills a mutant, so the tests after the first failure would only cost time (a killed mutant of
// ha-fetch-secrets.sh took the file's whole 70 s on two loaded cores). It only skips, never fails a
// test, so it cannot turn a surviving mutant into a killed one. `npm test` never uses it.
"use strict";
const { TestEnvironment } = require("jest-environment-node");

class FailFastEnvironment extends TestEnvironment {
  failed = false;

  async handleTestEvent(event) {
    if (event.name === "test_fn_failure" || event.name === "hook_failure") this.failed = true;
    // jest-circus dispatches test_start before it checks the test's mode: a skip set here is honoured.
    else if (event.name === "test_start" && this.failed) event.test.mode = "skip";
  }
}

module.exports = FailFastEnvironment;
