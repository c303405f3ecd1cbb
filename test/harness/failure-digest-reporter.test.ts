/**
 * The failure digest (test/harness/failure-digest-reporter.js): what the end of a CI log shows of
 * each failed test. A message as jest formats it (colour codes, code frame, stack) keeps its
 * first and last lines of text, so a cause at the end of a long report is not lost.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { digest } = require("./failure-digest-reporter.js") as { digest: (m: string) => string[] };

describe("failure digest", () => {
  it("keeps the first and last lines of a long message, without colour codes, code frames or stack lines", () => {
    const message = [
      "\u001b[31mError: the nodes did not boot\u001b[39m",
      ...Array.from({ length: 30 }, (_, i) => `report line ${i}`),
      "kubelet: E1201 Failed to start cAdvisor err=\"inotify_init: too many open files\"",
      "\u001b[0m \u001b[90m 142 |\u001b[39m       if (!booted) throw new Error(\"the nodes did not boot\");",
      "    at Object.<anonymous> (test/boot/stacked-nodes.boot.test.ts:142:26)",
    ].join("\n");
    const lines = digest(message);
    expect(lines[0]).toBe("Error: the nodes did not boot");
    expect(lines[lines.length - 1]).toContain("inotify_init: too many open files");
    expect(lines.join("\n")).not.toMatch(/\u001b|142 \||at Object/);
    expect(lines).toContain("    … (22 lines)");
    expect(lines.length).toBe(11);
  });

  it("keeps a short message whole and cuts an overlong line", () => {
    expect(digest("expect(received).toBe(expected)\n\nExpected: 0\nReceived: 1")).toEqual(["expect(received).toBe(expected)", "Expected: 0", "Received: 1"]);
    const [line] = digest("x".repeat(1000));
    expect(line).toBe(`${"x".repeat(300)}…`);
  });
});
