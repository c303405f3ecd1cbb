/**
 * The suite's test sequencer (test/harness/sequencer.js), checked by replaying its order the way
 * jest's worker pool runs it (each worker takes the next file when it frees; a cluster file, of the
 * control-plane or boot tier, waits for the cluster lock while another runs) with the seconds of
 * the last full CI run: near the lower bound (the cluster files back to back, or the sum of all
 * seconds / 2), a cluster file taken while another runs only when nothing else is left, and the
 * long property files not last. Jest's default on a clean clone ordered by size: 1,651 s, with the
 * two 4-line property files as the tail.
 */
import * as path from "node:path";
import { readFileSync, statSync } from "node:fs";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Sequencer = require("./sequencer.js");
const ROOT = path.join(__dirname, "..", "..");
const table = JSON.parse(readFileSync(path.join(__dirname, "file-seconds.json"), "utf8")).seconds as Record<string, number>;
// From jest.config.js's tier suffixes, not from the sequencer.
const cluster = (f: string) => /\.(cp|boot)\.test\.ts$/.test(f);

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

/**
 * Replays `files` in order on `workers` workers as jest does: start/end of each, by `seconds`
 * (default: the table). With `lock`, a cluster file that a worker takes while another cluster file
 * runs waits for it (the cluster lock); without, it starts at once.
 */
function replay(files: string[], workers: number, lock = true, seconds: Record<string, number> = table): Array<{ file: string; taken: number; start: number; end: number }> {
  const free = Array.from({ length: workers }, () => 0);
  let clusterUntil = 0;
  return files.map((file) => {
    const w = free.indexOf(Math.min(...free));
    const taken = free[w];
    const start = lock && cluster(file) ? Math.max(taken, clusterUntil) : taken;
    free[w] = start + seconds[file];
    if (cluster(file)) clusterUntil = Math.max(clusterUntil, free[w]);
    return { file, taken, start, end: free[w] };
  });
}

describe("planned sequencer", () => {
  const timed = Object.keys(table);

  // Within 2 % of the lower bound: since the cluster files hold the lock, their sum (3,123 of
  // 4,777 s in the 7deb018 rehearsal) is the bound, above half of all the seconds.
  it("finishes the recorded files within 2 % of the lower bound (cluster files back to back, or half of all seconds)", async () => {
    expect(timed.length).toBeGreaterThan(50);
    const runs = replay(await order(timed), 2);
    const total = timed.reduce((s, f) => s + table[f], 0);
    const clusterSum = timed.filter(cluster).reduce((s, f) => s + table[f], 0);
    const bound = Math.max(total / 2, clusterSum, ...timed.map((f) => table[f]));
    const wall = Math.max(...runs.map((r) => r.end));
    console.log(`sequencer: replayed wall ${wall.toFixed(0)} s, lower bound ${bound.toFixed(0)} s (cluster files ${clusterSum.toFixed(0)} s, half of all ${(total / 2).toFixed(0)} s)`);
    expect(wall).toBeLessThanOrEqual(bound * 1.02);
  });

  it("takes a cluster file while another runs only when nothing else is left (the lock then makes it wait)", async () => {
    const files = await order(timed);
    const runs = replay(files, 2, false);
    for (const [i, r] of runs.entries()) {
      if (!cluster(r.file)) continue;
      const other = runs.find((o) => o !== r && cluster(o.file) && o.start <= r.start && o.end > r.start);
      const otherLeft = runs.slice(i + 1).some((o) => !cluster(o.file));
      if (other !== undefined) expect({ file: r.file, overlaps: other.file, otherLeft }).toEqual({ file: r.file, overlaps: other.file, otherLeft: false });
    }
    // With the lock, no two cluster files run at once.
    const locked = replay(files, 2).filter((r) => cluster(r.file));
    for (const r of locked) expect(locked.filter((o) => o !== r && o.start < r.end && o.end > r.start).map((o) => o.file)).toEqual([]);
  });

  it("loses at most the overrun when a file runs longer than its figure (the lock, not the plan, keeps cluster files apart)", async () => {
    const files = await order(timed);
    const wall = (seconds: Record<string, number>) => Math.max(...replay(files, 2, true, seconds).map((r) => r.end));
    const planned = wall(table);
    for (const f of [...timed].sort((a, b) => table[b] - table[a]).slice(0, 20)) {
      const overrun = table[f];
      expect({ file: f, wall: Math.round(wall({ ...table, [f]: table[f] + overrun })) <= Math.round(planned + overrun) }).toEqual({ file: f, wall: true });
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

  it("plans a cluster file without a figure in the chain of cluster files, with the longest cluster figure", async () => {
    const added = "test/controlplane/new-scenario.cp.test.ts";
    const files = await order([...timed, added]);
    expect(files.indexOf(added)).toBeGreaterThan(0);
    const estimate = Math.max(...timed.filter(cluster).map((f) => table[f]));
    const runs = replay(files, 2, false, { ...table, [added]: estimate });
    const mine = runs.find((r) => r.file === added) as { start: number; end: number };
    const overlapping = runs.filter((o) => o.file !== added && cluster(o.file) && o.start < mine.end && o.end > mine.start).map((o) => o.file);
    expect(overlapping).toEqual([]);
  });

  it("keeps every file once", async () => {
    expect([...(await order(timed))].sort()).toEqual([...timed].sort());
  });
});
