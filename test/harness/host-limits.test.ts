/**
 * inotifyLimitsCheck: the control-plane and boot tiers refuse to run (a failure under CI=true)
 * while the kernel's per-user inotify limits are below what scripts/setup-test-env.sh host-limits
 * raises them to. Oracle for the watches figure: kind's known-issues page ("Pod errors due to
 * 'too many open files'": fs.inotify.max_user_watches = 524288); the instances figure is the
 * harness's own (kind suggests 512; eleven systemd containers with kubelets, API servers and
 * containerd beside a control-plane cluster on the host need several hundred).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { inotifyLimitsCheck } from "./real-components";

describe("inotifyLimitsCheck", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "proc-sys-"));
    mkdirSync(path.join(root, "fs", "inotify"), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const set = (instances: string | undefined, watches: string | undefined) => {
    if (instances !== undefined) writeFileSync(path.join(root, "fs", "inotify", "max_user_instances"), instances);
    if (watches !== undefined) writeFileSync(path.join(root, "fs", "inotify", "max_user_watches"), watches);
  };

  test("the kernel's defaults (128 instances, 8192 watches) are refused, naming the key, its value and the setup command", () => {
    set("128\n", "8192\n");
    const r = inotifyLimitsCheck(root);
    expect(r.available).toBe(false);
    expect(r.reason).toContain("fs.inotify.max_user_instances is 128");
    expect(r.reason).toContain("bash scripts/setup-test-env.sh host-limits");
  });

  test("enough instances but kind's watch count not reached: refused for the watches", () => {
    set("8192\n", "524287\n");
    const r = inotifyLimitsCheck(root);
    expect(r.available).toBe(false);
    expect(r.reason).toContain("fs.inotify.max_user_watches is 524287");
  });

  test("at or above both limits: available", () => {
    set("8192\n", "524288\n");
    expect(inotifyLimitsCheck(root)).toEqual({ available: true, reason: "" });
    set("65536\n", "1048576\n");
    expect(inotifyLimitsCheck(root).available).toBe(true);
  });

  test("an unreadable or non-numeric limit is refused, never read as enough", () => {
    set(undefined, "524288\n");
    expect(inotifyLimitsCheck(root).reason).toContain("max_user_instances is unreadable");
    set("lots\n", "524288\n");
    expect(inotifyLimitsCheck(root).available).toBe(false);
  });
});
