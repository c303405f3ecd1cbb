/**
 * The suite's test sequencer (test/harness/sequencer.js), checked by replaying its order the way
 * jest's worker pool runs it (each worker takes the next file when it frees) with the seconds of
 * the last full CI run: near the 2-worker lower bound (sum of the files' seconds / 2), a heavy file
 * (control plane, boot, apply: a real cluster each) never starts while another runs unless only
 * heavy files are left, and the long property files no longer run last. Jest's default on a clean
 * clone ordered by size: 1,651 s, with the two 4-line property files as the tail.
 */
import * as path from "node:path";
import { readFileSync, statSync } from "node:fs";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Sequencer = require("./sequencer.js");
const ROOT = path.join(__dirname, "..", "..");
const table = JSON.parse(readFileSync(path.join(__dirname, "file-seconds.json"), "utf8")).seconds as Record<string, number>;
const heavy = (f: string) => /\.(cp|boot|apply)\.test\.ts$/.test(f);

/** A jest Test for `rel` (its real size when it exists), with no duration cache (config.cache false). */
function test(rel: string, size?: number) {
  const real = (() => {
    try {
      return statSync(path.join(ROOT, rel)).size;
    } catch {
      return 0;
    }
  })();
  const context = { config: { cache: false, cacheDirectory: "/nonexistent", id: "x" }, hasteFS: { getSize: () => size ?? real } };
  return { path: path.join(ROOT, rel), context };
}

async function order(files: string[], maxWorkers = 2, sizes?: number[]): Promise<string[]> {
  const sorted = await new Sequencer({ contexts: new Set(), globalConfig: { maxWorkers } }).sort(files.map((f, i) => test(f, sizes?.[i])));
  return sorted.map((t: { path: string }) => path.relative(ROOT, t.path));
}

/** Replays `files` in order on `workers` workers as jest does: start/end of each, by the table. */
function replay(files: string[], workers: number): Array<{ file: string; start: number; end: number }> {
  const free = Array.from({ length: workers }, () => 0);
  return files.map((file) => {
    const w = free.indexOf(Math.min(...free));
    const start = free[w];
    free[w] = start + table[file];
    return { file, start, end: free[w] };
  });
}

describe("planned sequencer", () => {
  const timed = Object.keys(table);

  // Within 2 %: since the real tiers arrived the heavy files hold more than half of the seconds
  // (2,617 of 3,826 in the 2026-11-30 23:22 CI rehearsal), so they must overlap at the tail and the plan
  // cannot reach the bound exactly (replayed: 1,918 s against 1,913 s; 1,779 against 1,753 before).
  it("finishes the recorded files within 2 % of the 2-worker lower bound", async () => {
    expect(timed.length).toBeGreaterThan(50);
    const runs = replay(await order(timed), 2);
    const total = timed.reduce((s, f) => s + table[f], 0);
    const bound = Math.max(total / 2, ...timed.map((f) => table[f]));
    const wall = Math.max(...runs.map((r) => r.end));
    console.log(`sequencer: replayed wall ${wall.toFixed(0)} s, lower bound ${bound.toFixed(0)} s`);
    expect(wall).toBeLessThanOrEqual(bound * 1.02);
  });

  it("starts a heavy file only when no other heavy file runs, unless only heavy files are left", async () => {
    const runs = replay(await order(timed), 2);
    for (const [i, r] of runs.entries()) {
      if (!heavy(r.file)) continue;
      const other = runs.find((o) => o !== r && heavy(o.file) && o.start <= r.start && o.end > r.start);
      const lightLeft = runs.slice(i + 1).some((o) => !heavy(o.file));
      if (other !== undefined) expect({ file: r.file, overlaps: other.file, lightLeft }).toEqual({ file: r.file, overlaps: other.file, lightLeft: false });
    }
  });

  it("does not leave the long property files to the end", async () => {
    const files = await order(timed);
    for (const f of ["test/control-plane.prop.test.ts", "test/control-plane-b.prop.test.ts"]) {
      expect(table[f]).toBeGreaterThan(45); // ~60 s each since the bundle is read with tar -O
      expect(files.indexOf(f)).toBeLessThan(files.length / 2);
    }
  });

  it("puts light files without a figure first, by size as jest does", async () => {
    const [longest] = Object.entries(table).sort((a, b) => b[1] - a[1])[0];
    expect(await order([longest, "test/new-small.test.ts", "test/new-big.test.ts"], 2, [1, 10, 1000])).toEqual(["test/new-big.test.ts", "test/new-small.test.ts", longest]);
  });

  it("plans a heavy file without a figure among the heavy files, not beside one", async () => {
    const added = "test/controlplane/new-scenario.cp.test.ts";
    const files = await order([...timed, added]);
    expect(files.indexOf(added)).toBeGreaterThan(0);
    // Replayed with the estimate the sequencer uses (the longest heavy figure), it overlaps no heavy file.
    const estimate = Math.max(...timed.filter(heavy).map((f) => table[f]));
    const free = [0, 0];
    const runs = files.map((file) => {
      const w = free.indexOf(Math.min(...free));
      const start = free[w];
      free[w] = start + (file === added ? estimate : table[file]);
      return { file, start, end: free[w] };
    });
    const mine = runs.find((r) => r.file === added) as { start: number; end: number };
    const overlapping = runs.filter((o) => o.file !== added && heavy(o.file) && o.start < mine.end && o.end > mine.start).map((o) => o.file);
    expect(overlapping).toEqual([]);
  });

  it("keeps every file once", async () => {
    expect([...(await order(timed))].sort()).toEqual([...timed].sort());
  });
});
