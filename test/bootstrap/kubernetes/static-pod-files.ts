/**
 * What a static pod's container can read, checked the way the kubelet and the components see it:
 * every absolute path in a flag, every file a `--*kubeconfig` references (parsed as the node has
 * it), and every plugin file the admission configuration names must lie inside a hostPath volume
 * mounted into that container. The rules come from Kubernetes, not from the library:
 * - a container sees only its volumeMounts (a hostPath volume maps `hostPath.path` to `mountPath`);
 * - a kubeconfig names files in `cluster.certificate-authority`, `user.client-certificate`,
 *   `user.client-key`, `user.tokenFile` and `user.exec.command`; relative ones are resolved against
 *   the kubeconfig's own directory (client-go `ResolvePaths`).
 */
import * as path from "node:path";
import { parse } from "yaml";

/** A file a container reads, and whether and where it is mounted. */
export interface ContainerRead {
  /** Pod name. */
  readonly pod: string;
  /** Path inside the container. */
  readonly path: string;
  /** Where the path came from, e.g. `--kubeconfig`, `/etc/kubernetes/scheduler.conf users[0].client-certificate`. */
  readonly from: string;
  /** The host path behind it, or undefined when no mount covers it. */
  readonly hostPath?: string;
}

/** Reads a file of the node by host path (undefined when the node has no such file). */
export type NodeFileReader = (hostPath: string) => string | undefined;

interface Mount {
  readonly mountPath: string;
  readonly hostPath: string;
}

/** Maps a container path through the mounts (longest mount path wins). */
function hostPathOf(mounts: readonly Mount[], p: string): string | undefined {
  const m = [...mounts]
    .sort((a, b) => b.mountPath.length - a.mountPath.length)
    .find((x) => p === x.mountPath || p.startsWith(x.mountPath.endsWith("/") ? x.mountPath : `${x.mountPath}/`));
  return m === undefined ? undefined : m.hostPath + p.slice(m.mountPath.length);
}

/** Files a kubeconfig makes its reader open, as absolute paths. */
export function kubeconfigFileReferences(text: string, kubeconfigPath: string): Array<{ path: string; field: string }> {
  const doc = parse(text) ?? {};
  const out: Array<{ path: string; field: string }> = [];
  const add = (value: unknown, field: string) => {
    if (typeof value === "string" && value.length > 0) out.push({ path: path.posix.resolve(path.posix.dirname(kubeconfigPath), value), field });
  };
  (doc.clusters ?? []).forEach((c: { cluster?: Record<string, unknown> }, i: number) => add(c.cluster?.["certificate-authority"], `clusters[${i}].certificate-authority`));
  (doc.users ?? []).forEach((u: { user?: Record<string, unknown> & { exec?: { command?: string } } }, i: number) => {
    for (const f of ["client-certificate", "client-key", "tokenFile"]) add(u.user?.[f], `users[${i}].${f}`);
    const cmd = u.user?.exec?.command;
    if (typeof cmd === "string" && cmd.includes("/")) add(cmd, `users[${i}].exec.command`);
  });
  return out;
}

/** Every file the containers of a static pod manifest read, mapped through their mounts. */
export function containerReads(manifest: string, readNodeFile: NodeFileReader): ContainerRead[] {
  const pod = parse(manifest);
  const volumes = new Map<string, string>();
  for (const v of pod.spec.volumes ?? []) if (v.hostPath?.path) volumes.set(v.name, v.hostPath.path);
  const out: ContainerRead[] = [];
  for (const c of pod.spec.containers) {
    const mounts: Mount[] = (c.volumeMounts ?? [])
      .filter((m: { name: string }) => volumes.has(m.name))
      .map((m: { name: string; mountPath: string }) => ({ mountPath: m.mountPath, hostPath: volumes.get(m.name)! }));
    const read = (p: string, from: string): string | undefined => {
      const hostPath = hostPathOf(mounts, p);
      out.push({ pod: pod.metadata.name, path: p, from, hostPath });
      return hostPath === undefined ? undefined : readNodeFile(hostPath);
    };
    for (const arg of (c.command ?? []).slice(1).concat(c.args ?? [])) {
      const m = /^--([^=]+)=(.*)$/.exec(arg);
      if (!m) continue;
      const [, flag, value] = m;
      for (const p of value.split(",").filter((x) => x.startsWith("/"))) {
        const text = read(p, `--${flag}`);
        if (flag.endsWith("kubeconfig")) {
          if (text === undefined) {
            out.push({ pod: pod.metadata.name, path: p, from: `--${flag} (no such file on the node)` });
            continue;
          }
          for (const ref of kubeconfigFileReferences(text, p)) read(ref.path, `${p} ${ref.field}`);
        }
        if (flag === "admission-control-config-file" && text !== undefined) {
          (parse(text).plugins ?? []).forEach((plugin: { path?: string }, i: number) => {
            if (plugin.path) read(path.posix.resolve(path.posix.dirname(p), plugin.path), `${p} plugins[${i}].path`);
          });
        }
      }
    }
  }
  return out;
}

/** The reads no mount covers, as readable lines (empty when every read is covered). */
export function unmountedReads(reads: readonly ContainerRead[]): string[] {
  return reads.filter((r) => r.hostPath === undefined).map((r) => `${r.pod}: ${r.path} (${r.from}) is not inside a mounted hostPath`);
}
