// The hash test/mutation-results.json records for each mutated source: SHA-256 of its code with
// comment-only lines, block comments and all white space removed, so a doc comment or a reformat
// does not invalidate a mutation result while any change to code does (test/mutation/results.test.ts).
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");

/** SHA-256 of `file`'s code (TypeScript: `//` lines and block comments out; shell: `#` lines out; no white space). */
function codeHash(file) {
  let text = fs.readFileSync(file, "utf8");
  const shell = file.endsWith(".sh");
  if (!shell) text = text.replace(/\/\*[\s\S]*?\*\//g, "");
  const lines = text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l, i) => {
      const t = l.trim();
      if (t === "") return false;
      if (shell) return i === 0 || !t.startsWith("#");
      return !t.startsWith("//");
    });
  return crypto.createHash("sha256").update(lines.join("").replace(/\s+/g, "")).digest("hex");
}

module.exports = { codeHash };
