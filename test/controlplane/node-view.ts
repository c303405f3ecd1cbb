/**
 * How the control-plane tier runs a node's programs at the paths the node has them, without
 * touching the host's files: every process gets a private mount namespace (`unshare --mount
 * --propagation private`, so nothing it mounts reaches the host) in which the node's own files
 * are bind-mounted at their node paths, and a private UTS namespace whose hostname is the node's
 * (leader-election identities carry it, as on EC2).
 *
 * Two views:
 * - the *node view* (scripts and systemd units): each node-owned directory (`/etc/kubernetes`,
 *   `/etc/ha-control-plane`, `/run/ha-control-plane`, …) is the node root's copy, so the real
 *   scripts run with their default paths;
 * - the *pod view* (static pods): an empty tmpfs over each node-owned directory a container path
 *   lies under, then exactly the pod's hostPath volumes bound at their mountPaths (read-only where
 *   the manifest says so): the program sees its mounts and nothing else of the node, as in its
 *   container. hostPaths the node root does not own (`/etc/ssl/certs`) are the host's.
 *
 * A mount needs a mount point: the node-owned directories that do not exist on the host are created
 * empty there (and removed again when empty at teardown) — the only change to the host's filesystem.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import * as path from "node:path";

/** Node-owned directories: the node root holds them, the host only their empty mount points. */
export const NODE_DIRS = [
  "/etc/kubernetes",
  "/etc/ha-control-plane",
  "/run/ha-control-plane",
  "/var/lib/etcd",
  "/var/lib/ha-control-plane",
  "/etc/etcd",
  "/var/log/kubernetes",
  "/var/lib/kubelet",
] as const;

/** One mount of a view. */
export interface ViewMount {
  readonly kind: "tmpfs" | "dir" | "file" | "fs";
  /** Host path of the source (unused for tmpfs; `<fstype>:<options>` for fs, a new mount of that file system). */
  readonly source: string;
  /** Path inside the view. */
  readonly target: string;
  readonly readOnly: boolean;
}

/**
 * A writable overlay of the host's directory `lower` (e.g. `/etc`) whose upper layer lies in
 * `<root>/overlay/<name>/upper`: mount points and files made under `lower` in a view land there, so
 * the host's own directory is not touched, not even by an empty directory.
 */
export function overlayMount(root: string, name: string, lower: string): ViewMount {
  for (const d of ["upper", "work"]) mkdirSync(path.join(root, "overlay", name, d), { recursive: true });
  return { kind: "fs", source: `overlay:lowerdir=${lower},upperdir=${path.join(root, "overlay", name, "upper")},workdir=${path.join(root, "overlay", name, "work")}`, target: lower, readOnly: false };
}

const createdMountPoints = new Set<string>();

/** Creates the missing host mount points of {@link NODE_DIRS} (empty directories). */
export function ensureMountPoints(): void {
  for (const d of NODE_DIRS) {
    if (existsSync(d)) continue;
    // Record the top-most directory created, so teardown removes exactly what was added.
    let top: string = d;
    while (!existsSync(path.dirname(top))) top = path.dirname(top);
    mkdirSync(d, { recursive: true, mode: 0o755 });
    createdMountPoints.add(top);
  }
}

/** Removes the mount points {@link ensureMountPoints} created, where still empty. */
export function removeMountPoints(): void {
  for (const d of [...createdMountPoints].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(d);
      createdMountPoints.delete(d);
    } catch {
      // In use by another run or not empty: left as it is.
    }
  }
}

/**
 * The host's cgroup file systems as {@link ViewMount}s (a tmpfs at /sys/fs/cgroup, then each cgroup
 * and cgroup2 mount with its options): `ip netns exec` mounts a fresh sysfs over /sys, which hides
 * them, and the kubelet and kubeadm read them. Mounting a cgroup v1 controller again attaches the
 * same hierarchy, so the view shows exactly the host's cgroups.
 */
export function hostCgroupMounts(): ViewMount[] {
  const mounts: ViewMount[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [left, right] = line.split(" - ");
    if (!right) continue;
    const target = left.split(" ")[4];
    const [fstype, , superOptions] = right.split(" ");
    if (!target.startsWith("/sys/fs/cgroup")) continue;
    if (target === "/sys/fs/cgroup" && fstype === "tmpfs") mounts.push({ kind: "tmpfs", source: "", target, readOnly: false });
    else if (fstype === "cgroup" || fstype === "cgroup2") mounts.push({ kind: "fs", source: `${fstype}:${superOptions}`, target, readOnly: false });
  }
  return mounts;
}

/** The node view: every node-owned directory from `root`, plus `extra` mounts. */
export function nodeViewMounts(root: string, extra: readonly ViewMount[] = []): ViewMount[] {
  const mounts: ViewMount[] = NODE_DIRS.map((d) => {
    mkdirSync(path.join(root, d), { recursive: true });
    return { kind: "dir", source: path.join(root, d), target: d, readOnly: false };
  });
  return [...mounts, ...extra];
}

/** A static pod's hostPath volumes as mounted into its (only) container. */
export interface PodVolumeMount {
  readonly hostPath: string;
  readonly mountPath: string;
  readonly readOnly: boolean;
  /** hostPath type: `File`, `DirectoryOrCreate`, `Directory`, … */
  readonly type: string;
}

/**
 * The pod view on a node whose files are under `root`: tmpfs over the node directories the mounts
 * lie under, then each volume (the node's file when `root` has it, else the host's). Fails like the
 * kubelet on a `File` volume whose file is missing; creates `DirectoryOrCreate` sources.
 */
export function podViewMounts(root: string, volumes: readonly PodVolumeMount[]): ViewMount[] {
  const under = (p: string, d: string) => p === d || p.startsWith(`${d}/`);
  const tmpfs = NODE_DIRS.filter((d) => volumes.some((v) => under(v.mountPath, d)));
  const mounts: ViewMount[] = tmpfs.map((d) => ({ kind: "tmpfs", source: "", target: d, readOnly: false }));
  for (const v of [...volumes].sort((a, b) => a.mountPath.length - b.mountPath.length)) {
    const nodeOwned = NODE_DIRS.some((d) => under(v.hostPath, d));
    const source = nodeOwned ? path.join(root, v.hostPath) : v.hostPath;
    if (!existsSync(source)) {
      if (v.type === "DirectoryOrCreate" && nodeOwned) mkdirSync(source, { recursive: true, mode: 0o755 });
      else throw new Error(`hostPath ${v.hostPath} (type ${v.type}) does not exist on the node (${source}): the kubelet would not start this pod`);
    }
    if (!nodeOwned && source === v.mountPath) continue; // the host's own directory at its own path
    mounts.push({ kind: statSync(source).isDirectory() ? "dir" : "file", source, target: v.mountPath, readOnly: v.readOnly });
  }
  return mounts;
}

const VIEW_SCRIPT = `set -e
hostname "$1"; shift
while [ "$1" != "--" ]; do
  kind=$1 src=$2 dst=$3 ro=$4; shift 4
  case $kind in
    tmpfs) mount -t tmpfs -o mode=0755 hacp "$dst" ;;
    dir) mkdir -p "$dst"; mount --bind "$src" "$dst" ;;
    file) mkdir -p "$(dirname "$dst")"; [ -e "$dst" ] || : >"$dst"; mount --bind "$src" "$dst" ;;
    fs) mkdir -p "$dst"; mount -t "\${src%%:*}" -o "\${src#*:}" hacp "$dst" ;;
  esac
  if [ "$ro" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done
shift
exec "$@"`;

/**
 * argv that runs `command` in network namespace `netns` (none: the host's) with the view `mounts`
 * and hostname `hostname`. Every step execs, so the returned process is `command` itself (signals
 * reach it directly); `setpriv --pdeathsig KILL` ends it with the test process.
 */
export function inView(options: { readonly netns?: string; readonly hostname: string; readonly mounts: readonly ViewMount[] }, command: readonly string[]): string[] {
  const binds = options.mounts.flatMap((m) => [m.kind, m.source || "-", m.target, m.readOnly ? "ro" : "rw"]);
  return [
    "setpriv",
    "--pdeathsig",
    "KILL",
    "--",
    ...(options.netns ? ["ip", "netns", "exec", options.netns] : []),
    "unshare",
    "--mount",
    "--uts",
    "--propagation",
    "private",
    "sh",
    "-c",
    VIEW_SCRIPT,
    "hacp-view",
    options.hostname,
    ...binds,
    "--",
    ...command,
  ];
}
