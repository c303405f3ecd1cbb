/**
 * Under `set -o pipefail`, a reader that stops early (`grep -q`, `head`, an awk program that
 * `exit`s) lets the writer die of SIGPIPE, and the pipeline then fails although the reader found
 * what it looked for. Whether it happens depends on timing: a CI run saw `ha-claim-slot` add an
 * `ip rule` twice on reboot ("RTNETLINK answers: File exists") because `ip rule show | grep -q`
 * reported "absent". `apt-cache madison kubelet | awk '... exit'` would have killed
 * `ha-kube-install` under `set -e` on a real node. No node script may contain such a pipeline.
 */
import { execFileSync, spawnSync } from "child_process";
import { readdirSync, readFileSync, statSync } from "fs";
import { join } from "path";

const SCRIPTS = join(__dirname, "../../lib/bootstrap/scripts");

function scriptFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? scriptFiles(path) : [path];
  });
}

/** Logical lines: continuation lines joined, comments dropped. */
function logicalLines(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  const raw = text.split("\n");
  for (let i = 0; i < raw.length; i++) {
    const start = i;
    let joined = raw[i];
    while (joined.endsWith("\\") && i + 1 < raw.length) joined = joined.slice(0, -1) + raw[++i];
    if (!/^\s*#/.test(joined)) out.push({ line: start + 1, text: joined });
  }
  return out;
}

/** Readers that may stop before their input ends. */
const EARLY_READERS: Array<[string, RegExp]> = [
  ["grep -q / -m / -l", /^\s*grep\s+(-[a-zA-Z]*[qml][a-zA-Z]*\b|--quiet|--silent|--max-count|--files-with-matches)/],
  ["head", /^\s*head\b/],
  ["awk that exits", /^\s*awk\b.*\bexit\b/],
  ["sed that quits", /^\s*sed\b.*(^|[;{'"\s])q(\s|;|}|'|"|$)/],
];

/** The stages after the first of every pipeline on a line (`||` is not a pipe). */
function downstreamStages(text: string): string[] {
  return text.split(/(?<!\|)\|(?!\|)/).slice(1);
}

function pipefailHazards(text: string): string[] {
  if (!/set\s+-[a-z]*o\s+pipefail|set\s+-o\s+pipefail|-euo\s+pipefail/.test(text)) return [];
  const found: string[] = [];
  for (const { line, text: l } of logicalLines(text)) {
    for (const stage of downstreamStages(l)) {
      for (const [what, pattern] of EARLY_READERS) {
        if (pattern.test(stage)) found.push(`line ${line}: ${what}: ${l.trim()}`);
      }
    }
  }
  return found;
}

describe("node scripts under pipefail", () => {
  it("the hazard is real: bash reports SIGPIPE (141) for a writer cut off by grep -q", () => {
    // The real program as oracle: a writer with more than a pipe buffer of output.
    const run = spawnSync("bash", ["-c", "set -o pipefail; seq 1 2000000 | grep -q '^1$'; echo $?"], { encoding: "utf8" });
    expect(run.stdout.trim()).toBe("141");
    const safe = execFileSync("bash", ["-c", "set -o pipefail; seq 1 2000000 | grep '^1$' >/dev/null; echo $?"], { encoding: "utf8" });
    expect(safe.trim()).toBe("0");
  });

  it("the check finds each kind of early reader and ignores ||", () => {
    const script = (body: string) => `#!/bin/bash\nset -euo pipefail\n${body}\n`;
    expect(pipefailHazards(script("ip rule show | grep -qF x"))).toHaveLength(1);
    expect(pipefailHazards(script("a | \\\n  head -n 1"))).toHaveLength(1);
    expect(pipefailHazards(script("a | awk '{ print $3; exit }'"))).toHaveLength(1);
    expect(pipefailHazards(script("a | sed -n '1{p;q}'"))).toHaveLength(1);
    expect(pipefailHazards(script("a || grep -q x f"))).toHaveLength(0);
    expect(pipefailHazards(script("a | grep -F x >/dev/null"))).toHaveLength(0);
    expect(pipefailHazards("#!/bin/sh\na | grep -q x\n")).toHaveLength(0);
  });

  const files = scriptFiles(SCRIPTS);
  it("there are scripts to check", () => {
    expect(files.length).toBeGreaterThanOrEqual(18);
  });
  it.each(files.map((f) => [f.slice(SCRIPTS.length + 1), f]))("%s has no early reader in a pipeline", (_name, path) => {
    expect(pipefailHazards(readFileSync(path, "utf8"))).toEqual([]);
  });
});
