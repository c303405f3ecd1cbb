/**
 * Node scripts as nodes receive them (compacted by `nodeScript`), written to a temp directory so
 * the end-to-end tests run exactly that text.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { nodeScript } from "../../lib";

let dir: string | undefined;

/** Path of the rendered (compacted) script `name` of `lib/bootstrap/scripts/`. */
export function renderedScript(name: string): string {
  dir ??= mkdtempSync(path.join(tmpdir(), "node-scripts-"));
  const file = path.join(dir, name);
  writeFileSync(file, nodeScript(name), { mode: 0o755 });
  return file;
}

/**
 * Scripts in `lib/bootstrap/scripts/` that an operator runs from a workstation with its own AWS
 * configuration (the Terraform outputs name them), not on a node.
 */
export const OPERATOR_SCRIPTS: ReadonlySet<string> = new Set(["ha-roll-etcd.sh", "ha-etcd-drift.sh", "ha-scale-in.sh", "ha-restore.sh"]);
