/**
 * Where the real programs the tiers run live: built or installed by `scripts/setup-test-env.sh`,
 * cached by version outside the repository. The script is the one source of the paths
 * (`--print-env`); jest's global setup puts the binaries first on PATH for every worker.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { TierCheck } from "./tiers";

/** The command that provides every real component (what a failing gate tells you to run). */
export const SETUP_COMMAND = "bash scripts/setup-test-env.sh";

const REPO = path.resolve(__dirname, "..", "..");

/** Paths printed by `setup-test-env.sh --print-env`. */
export interface RealComponentPaths {
  readonly cache: string;
  readonly etcdBin: string;
  readonly kubeBin: string;
  /** The next minor's build (the control-plane tier's upgrade scenario). */
  readonly kubeUpgradeBin: string;
  readonly motoVenv: string;
  readonly tfMirror: string;
}

let cached: RealComponentPaths | undefined;

/**
 * The component paths: from the environment jest's global setup exported (it ran `--print-env`
 * once for the whole run), else from the setup script itself (no build happens).
 */
export function realComponentPaths(): RealComponentPaths {
  if (cached) return cached;
  const vars: Record<string, string | undefined> = { ...process.env };
  if (!vars.HA_CP_CACHE) {
    const out = execFileSync("bash", [path.join(REPO, "scripts", "setup-test-env.sh"), "--print-env"], { encoding: "utf8", env: process.env });
    for (const line of out.split("\n")) {
      const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) vars[m[1]] = m[2];
    }
  }
  const need = (k: string): string => {
    const v = vars[k];
    if (!v) throw new Error(`${SETUP_COMMAND} --print-env did not print ${k}`);
    return v;
  };
  cached = {
    cache: need("HA_CP_CACHE"),
    etcdBin: need("HA_CP_ETCD_BIN"),
    kubeBin: need("HA_CP_KUBE_BIN"),
    kubeUpgradeBin: need("HA_CP_KUBE_UPGRADE_BIN"),
    motoVenv: need("HA_CP_MOTO_VENV"),
    tfMirror: need("HA_CP_TF_MIRROR"),
  };
  return cached;
}

/**
 * A cache directory is usable only when its build finished: `root/.complete` is written last, so a
 * half-built cache from an interrupted setup is never used.
 */
function completeDir(root: string, binDir: string, files: readonly string[], what: string, component: string): TierCheck {
  if (!existsSync(path.join(root, ".complete"))) {
    return { available: false, reason: `${what} not built: ${root} has no .complete marker (run \`${SETUP_COMMAND} ${component}\`)` };
  }
  for (const f of files) {
    if (!existsSync(path.join(binDir, f))) {
      return { available: false, reason: `${what}: ${path.join(binDir, f)} missing (run \`${SETUP_COMMAND} ${component}\`)` };
    }
  }
  return { available: true, reason: "" };
}

/**
 * The kernel's per-user inotify limits are at least what scripts/setup-test-env.sh (component
 * host-limits) raises them to. Every kubelet, kube-apiserver, containerd and container systemd
 * holds inotify instances, all charged to root; with the default 128, a boot-tier cluster beside a
 * control-plane tier one runs out, and a kubelet that gets none exits 1 ("Failed to start cAdvisor"
 * err="inotify_init: too many open files") until kubeadm join gives up: the 2026-12-01 CI failure.
 */
export function inotifyLimitsCheck(procSys = "/proc/sys"): TierCheck {
  for (const [key, min] of [["max_user_instances", 8192], ["max_user_watches", 524288]] as const) {
    let value = NaN;
    try {
      value = Number(readFileSync(path.join(procSys, "fs", "inotify", key), "utf8").trim());
    } catch {
      // unreadable: reported below
    }
    if (!(value >= min)) return { available: false, reason: `fs.inotify.${key} is ${Number.isNaN(value) ? "unreadable" : value}, below the ${min} the clusters' kubelets and systemds need (run \`bash scripts/setup-test-env.sh host-limits\` as root)` };
  }
  return { available: true, reason: "" };
}

/** etcd, etcdctl and etcdutl at the version nodes install (3.5.21). */
export function etcdBinariesCheck(): TierCheck {
  const bin = realComponentPaths().etcdBin;
  return completeDir(path.dirname(bin), bin, ["etcd", "etcdctl", "etcdutl"], "etcd 3.5.21", "etcd");
}

/** The six Kubernetes programs in `bin` (a release's cache dir), built by setup component `component`. */
function kubernetesProgramsCheck(bin: string, release: string, component: string): TierCheck {
  return completeDir(path.dirname(bin), bin, ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubeadm", "kubectl"], `Kubernetes ${release} binaries`, component);
}

/** kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubeadm, kubectl 1.33.5. */
export function kubernetesBinariesCheck(): TierCheck {
  return kubernetesProgramsCheck(realComponentPaths().kubeBin, "1.33.5", "kubernetes");
}

/** The same six programs of the next minor, 1.34.2 (the control-plane tier's upgrade scenario). */
export function kubernetesUpgradeBinariesCheck(): TierCheck {
  return kubernetesProgramsCheck(realComponentPaths().kubeUpgradeBin, "1.34.2", "kubernetes-upgrade");
}

/** The AWS API emulator (moto server) and the AWS CLI in their virtualenv. */
export function motoCheck(): TierCheck {
  const venv = realComponentPaths().motoVenv;
  return completeDir(venv, path.join(venv, "bin"), ["moto_server", "aws"], "moto + AWS CLI", "moto");
}
