// Jest's node environment, except that after a file's first failing test the rest of that file's
// tests are skipped; their afterAll/afterEach hooks still run, so everything is cleaned up. Only the
// shell mutation runner (scripts/mutate-scripts.js) selects it, with HA_CP_FAIL_FAST=1: any failure
// kills a mutant, so the tests after the first failure would only cost time (a killed mutant of
// ha-fetch-secrets.sh took the file's whole 70 s on two loaded cores). It only skips, never fails a
// test, so it cannot turn a surviving mutant into a killed one. A failing hook does not skip
// anything: jest fails the tests it guards by itself, and skipping them instead would end the file
// with exit 0, a killed mutant counted as a survivor. `npm test` never uses it.
//
// With HA_CP_FAIL_FAST_REPORT=FILE it also appends one JSON line per failure to FILE:
// `{ "kind": "test", "name": "describe › test", "timeout": false, "message": "its first line", "detail": "all of it, on one line" }` or `{ "kind": "hook", "hook":
// "beforeAll", "message": …, "detail": … }`, so the runner can tell a test's own failure from one of setup or of time.
"use strict";
const fs = require("node:fs");
const { TestEnvironment } = require("jest-environment-node");

/** `describe › … › test`, as jest prints it. */
function fullName(test) {
  const names = [];
  for (let block = test; block && block.name !== "ROOT_DESCRIBE_BLOCK"; block = block.parent) names.unshift(block.name);
  return names.join(" › ");
}

/**
 * A failure's message; its first line, so a kill by a test that fails under load can be told from
 * the mutant's; and the whole of it on one line (jest's diff of expected and received), to read in
 * the log.
 */
function described(error) {
  const message = String(error?.message ?? error ?? "");
  const first = (message.split("\n").find((l) => l.trim() !== "") ?? "").trim().slice(0, 200);
  const plain = message.replace(/\u001b\[[0-9;]*m/g, "");
  const detail = plain.split("\n").map((l) => l.trim()).filter((l) => l !== "").join(" | ").slice(0, 800);
  return { message, first, detail };
}

class FailFastEnvironment extends TestEnvironment {
  failed = false;
  report = process.env.HA_CP_FAIL_FAST_REPORT;

  record(entry) {
    if (this.report) fs.appendFileSync(this.report, JSON.stringify(entry) + "\n");
  }

  async handleTestEvent(event) {
    if (event.name === "test_fn_failure") {
      this.failed = true;
      const { message, first, detail } = described(event.error);
      this.record({ kind: "test", name: fullName(event.test), timeout: /Exceeded timeout/.test(message), message: first, detail });
    } else if (event.name === "hook_failure") {
      // With its message: a hook that ran the mutated script may carry bash's own diagnostic of it.
      const { first, detail } = described(event.error);
      this.record({ kind: "hook", hook: event.hook?.type ?? "unknown", message: first, detail });
    }
    // jest-circus dispatches test_start before it checks the test's mode: a skip set here is honoured.
    else if (event.name === "test_start" && this.failed) event.test.mode = "skip";
  }
}

module.exports = FailFastEnvironment;
