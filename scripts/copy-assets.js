// Copies non-TypeScript files the library reads at run time (shell scripts) next to the compiled JS.
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
for (const rel of ["lib/bootstrap/scripts"]) {
  const from = path.join(root, rel);
  const to = path.join(root, "dist", rel);
  fs.cpSync(from, to, { recursive: true });
}
