/**
 * The suite's test sequencer (test/harness/sequencer.js): files start longest first by the seconds
 * the last full CI run recorded, whatever their size; files it has no figure for go first, in
 * jest's order. Jest's default on a clean clone orders by size, which started the two 4-line
 * property files (~290 worker-seconds) last.
 */
import * as path from "node:path";
import { readFileSync, statSync } from "node:fs";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Sequencer = require("./sequencer.js");
const ROOT = path.join(__dirname, "..", "..");
const table = JSON.parse(readFileSync(path.join(__dirname, "file-seconds.json"), "utf8")).seconds as Record<string, number>;

/** A jest Test for `rel`, `size` bytes big, with no duration cache (config.cache false). */
function test(rel: string, size: number) {
  const context = { config: { cache: false, cacheDirectory: "/nonexistent", id: "x" }, hasteFS: { getSize: () => size } };
  return { path: path.join(ROOT, rel), context, duration: undefined as number | undefined };
}

describe("longest-first sequencer", () => {
  it("orders the timed files by the recorded seconds, not by size", async () => {
    const timed = Object.keys(table);
    expect(timed.length).toBeGreaterThan(50);
    // Sizes inverse to nothing in particular: the smallest file claims the biggest size order.
    const tests = timed.map((rel, i) => test(rel, i));
    const sorted = (await new Sequencer({ contexts: new Set(), globalConfig: {} }).sort(tests)).map((t: { path: string }) => path.relative(ROOT, t.path));
    const expected = [...timed].sort((a, b) => table[b] - table[a]);
    expect(sorted.map((f: string) => table[f])).toEqual(expected.map((f) => table[f]));
    expect(sorted[0]).toBe(expected[0]);
  });

  it("puts files without a figure first, by size as jest does", async () => {
    const [longest] = Object.entries(table).sort((a, b) => b[1] - a[1])[0];
    const tests = [test(longest, 1), test("test/new-small.test.ts", 10), test("test/new-big.test.ts", 1000)];
    const sorted = (await new Sequencer({ contexts: new Set(), globalConfig: {} }).sort(tests)).map((t: { path: string }) => path.relative(ROOT, t.path));
    expect(sorted).toEqual(["test/new-big.test.ts", "test/new-small.test.ts", longest]);
  });

  it("starts the property files before the short plan and unit files (the rehearsal's tail)", async () => {
    const files = ["test/control-plane.prop.test.ts", "test/control-plane-b.prop.test.ts", "test/monitoring/alarms.plan.test.ts", "test/names.test.ts"];
    for (const f of files) expect(table[f]).toBeDefined();
    // Their real sizes: the property files are the smallest of the four.
    expect(statSync(path.join(ROOT, files[0])).size).toBeLessThan(statSync(path.join(ROOT, files[2])).size);
    const sorted = (await new Sequencer({ contexts: new Set(), globalConfig: {} }).sort(files.map((f) => test(f, statSync(path.join(ROOT, f)).size)))).map((t: { path: string }) => path.relative(ROOT, t.path));
    expect(sorted.slice(0, 2).sort()).toEqual(files.slice(0, 2).sort());
  });
});
