/**
 * A worker joining the control-plane tier's cluster with the README's documented command
 * (`kubeadm join --discovery-file /etc/kubernetes/discovery.yaml`): real kubeadm 1.33.5, real
 * containerd (Debian 12) as its CRI runtime and the real kubelet, all in the worker's own network
 * namespace on the tier's flat network.
 *
 * The worker's files: a node root under the tier's work dir whose `/etc/kubernetes`,
 * `/var/lib/kubelet`, `/var/log` and `/run` are bind-mounted at those paths in a private
 * mount namespace for each of the worker's programs (see node-view.ts), with the host's cgroup
 * hierarchies mounted again (`ip netns exec` hides them; see hostCgroupMounts), so kubeadm writes
 * `/etc/kubernetes/kubelet.conf`, `/var/lib/kubelet/config.yaml`, … where it always does and the
 * host's real directories are never written. `/etc/hosts` and `/etc/resolv.conf` are the worker's
 * own files too: the join endpoint's name resolves to the load balancer (the VPC's DNS does that
 * for the internal NLB's name), and there is no DNS server (nothing leaves the tier's namespaces).
 *
 * The harness is the worker's init system. kubeadm finds no `systemctl` on the PATH it gets (it
 * would run `systemctl daemon-reload` and `systemctl restart kubelet` on the host), says "No
 * supported init system detected", and the harness starts the kubelet at the moment kubeadm's
 * kubelet-start phase prints "Starting the kubelet" (where kubeadm restarts kubelet.service) with
 * the ExecStart of kubeadm's systemd drop-in (`10-kubeadm.conf` of the kubeadm package):
 * `kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS`,
 * `KUBELET_KUBEADM_ARGS` read (validated, never sourced) from the `kubeadm-flags.env` kubeadm wrote.
 *
 * What differs from a real worker is passed as `KUBELET_EXTRA_ARGS` (the drop-in's documented
 * override, `/etc/default/kubelet`), so the KubeletConfiguration on disk stays exactly what kubeadm
 * wrote from the `kubelet-config` ConfigMap: {@link KUBELET_DEVIATIONS}. The kubelet also sets six
 * kernel tunables at start (container_manager_linux.go setupKernelTunables: vm.overcommit_memory,
 * vm.panic_on_oom, kernel.panic, kernel.panic_on_oops, kernel.keys.root_maxkeys,
 * kernel.keys.root_maxbytes; not namespaced, they would change the host): in the kubelet's mount
 * namespace each of those /proc/sys files is a bind-mounted regular file holding the host's value,
 * so what the kubelet writes lands there ({@link JoinedWorker.kernelTunablesWritten}).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { CommandResult, runCommand } from "../harness/etcd-cluster";
import { realComponentPaths } from "../harness/real-components";
import type { ControlPlaneCluster, RunningProcess } from "./control-plane";
import { ViewMount, hostCgroupMounts, inView } from "./node-view";

/**
 * Flags the tier's kubelet gets on top of what kubeadm wrote, each with why. Every other setting is
 * the rendered KubeletConfiguration as kubeadm wrote it to /var/lib/kubelet/config.yaml.
 */
export const KUBELET_DEVIATIONS: ReadonlyArray<{ readonly flag: string; readonly why: string }> = [
  {
    flag: "--cgroup-driver=cgroupfs",
    why: "the rendered config says cgroupDriver: systemd; the tier has no systemd as PID 1 (and must not create slices on the host's)",
  },
  {
    flag: "--cgroups-per-qos=false",
    why: "no kubepods/QoS cgroup hierarchy is created on the host (the rendered config keeps the default true)",
  },
  {
    flag: "--enforce-node-allocatable=",
    why: "nothing to enforce without the QoS hierarchy (the default pods requires cgroupsPerQOS)",
  },
];

/** The kernel tunables the kubelet sets at start (Kubernetes 1.33 pkg/kubelet/cm setupKernelTunables). */
const KERNEL_TUNABLES = ["vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"] as const;

/** Worker directories the node root holds (bind-mounted at these paths). */
// /run whole: containerd's socket and state, and what the kubelet creates there for pods (kube-proxy's
// FileOrCreate hostPath /run/xtables.lock) stay the worker's.
const WORKER_DIRS = ["/etc/kubernetes", "/var/lib/kubelet", "/var/log", "/run"] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The worker's network host name on the tier's flat network. */
export const WORKER_HOST = "worker";

/** kubeadm-flags.env: `KUBELET_KUBEADM_ARGS="--flag=value …"`, each flag checked before use. */
export function parseKubeadmFlags(text: string): string[] {
  const m = /^KUBELET_KUBEADM_ARGS="([^"]*)"\s*$/.exec(text.trim());
  if (!m) throw new Error(`kubeadm-flags.env is not KUBELET_KUBEADM_ARGS="…": ${JSON.stringify(text)}`);
  const args = m[1].split(" ").filter((a) => a !== "");
  for (const a of args) if (!/^--[a-z0-9-]+=[A-Za-z0-9_.,:/=@+-]*$/.test(a)) throw new Error(`kubeadm-flags.env: unexpected argument ${JSON.stringify(a)}`);
  return args;
}

/** What a join did and took. */
export interface JoinedWorker {
  /** Node name (the worker's host name). */
  readonly nodeName: string;
  /** The worker's node root. */
  readonly root: string;
  /** `kubeadm join` start → kubeadm exited 0. */
  readonly kubeadmMs: number;
  /** `kubeadm join` start → the Node object exists. */
  readonly nodeRegisteredMs: number;
  /** kubeadm's output. */
  readonly kubeadm: CommandResult;
  /** The kubelet's argv (after the binary). */
  readonly kubeletArgs: readonly string[];
  /** Each kernel tunable: the host's value and what the kubelet wrote into its private copy. */
  readonly kernelTunablesWritten: Readonly<Record<string, { host: string; kubelet: string }>>;
  readonly kubelet: RunningProcess;
  readonly containerd: RunningProcess;
}

/** The worker's address: inside the VPC CIDR, away from every slot and the client. */
export function workerAddress(vpcCidr: string): string {
  const o = vpcCidr.split("/")[0].split(".").map(Number);
  return `${o[0]}.${o[1]}.250.20`;
}

/** containerd 1.6 configuration: every path in the worker root or its private /run/containerd. */
function containerdConfig(root: string): string {
  return [
    "version = 2",
    `root = "${root}/var/lib/containerd"`,
    `state = "/run/containerd"`,
    // Snapshotters and tracing that need host kernel features or services the worker does not have.
    `disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]`,
    "[grpc]",
    `  address = "/run/containerd/containerd.sock"`,
    "[plugins]",
    `  [plugins."io.containerd.internal.v1.opt"]`,
    `    path = "${root}/opt/containerd"`,
    `  [plugins."io.containerd.grpc.v1.cri"]`,
    `    [plugins."io.containerd.grpc.v1.cri".cni]`,
    `      bin_dir = "${root}/opt/cni/bin"`,
    `      conf_dir = "${root}/etc/cni/net.d"`,
    "",
  ].join("\n");
}

/**
 * Prepares the worker (its root, containerd running) and runs `joinCommand` (the `join_command`
 * output) there after writing `discoveryKubeconfig` (the `discovery_kubeconfig` output) to the file
 * it names, mode 0600, as the README says. kubeadm gets `-v=1` added (its log, for diagnostics);
 * no preflight check is skipped.
 */
export async function joinWorker(
  cp: ControlPlaneCluster,
  options: { readonly joinCommand: string; readonly discoveryKubeconfig: string; readonly timeoutMs?: number },
): Promise<JoinedWorker> {
  const ns = cp.net.namespaces.get(WORKER_HOST);
  const ip = cp.net.addresses.get(WORKER_HOST);
  if (!ns || !ip) throw new Error("the tier's network has no worker host");
  const nodeName = `ip-${ip.replace(/\./g, "-")}`;
  const root = path.join(cp.workDir, "worker");
  for (const d of [...WORKER_DIRS, "/etc/containerd", "/proc-sys", "/etc/kubernetes/manifests"]) mkdirSync(path.join(root, d), { recursive: true });
  const kube = realComponentPaths().kubeBin;

  // The join endpoint's name resolves to the load balancer (as the VPC's DNS resolves the NLB's name).
  const discovery = /server:\s*(\S+)/.exec(options.discoveryKubeconfig)?.[1];
  if (!discovery) throw new Error(`the discovery kubeconfig names no server:\n${options.discoveryKubeconfig}`);
  const endpointHost = new URL(discovery).hostname;
  const hosts = path.join(root, "etc-hosts");
  writeFileSync(hosts, `127.0.0.1 localhost\n${ip} ${nodeName}\n${/^[0-9.]+$/.test(endpointHost) ? "" : `${cp.clientIp} ${endpointHost}\n`}`);
  const resolv = path.join(root, "etc-resolv.conf");
  writeFileSync(resolv, "# the tier's worker has no DNS server\n");
  const argv = options.joinCommand.trim().split(/\s+/);
  const fileAt = argv.indexOf("--discovery-file");
  if (argv[0] !== "kubeadm" || argv[1] !== "join" || fileAt < 0 || !argv.every((a) => /^[A-Za-z0-9_.\/=:-]+$/.test(a))) throw new Error(`unexpected join command ${JSON.stringify(options.joinCommand)}`);
  const discoveryFile = argv[fileAt + 1];
  if (!discoveryFile?.startsWith("/etc/kubernetes/")) throw new Error(`the join command's discovery file ${discoveryFile} is not under /etc/kubernetes`);
  writeFileSync(path.join(root, discoveryFile), options.discoveryKubeconfig, { mode: 0o600 });

  const tunables: Record<string, string> = {};
  const tunableMounts: ViewMount[] = KERNEL_TUNABLES.map((t) => {
    const copy = path.join(root, "proc-sys", t.replace(/\//g, "."));
    tunables[t] = readFileSync(`/proc/sys/${t}`, "utf8").trim();
    writeFileSync(copy, `${tunables[t]}\n`);
    return { kind: "file", source: copy, target: `/proc/sys/${t}`, readOnly: false };
  });
  const mounts: ViewMount[] = [
    ...WORKER_DIRS.map((d): ViewMount => ({ kind: "dir", source: path.join(root, d), target: d, readOnly: false })),
    ...hostCgroupMounts(),
    { kind: "file", source: hosts, target: "/etc/hosts", readOnly: true },
    { kind: "file", source: resolv, target: "/etc/resolv.conf", readOnly: true },
    ...tunableMounts,
  ];
  const view = (argv: readonly string[]) => inView({ netns: ns, hostname: nodeName, mounts }, argv);
  // Worker preparation kubeadm's docs ask for (its preflight checks it): IPv4 forwarding, here the
  // worker namespace's own net.ipv4.ip_forward (a per-namespace sysctl).
  const fwd = await runCommand("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"], { timeoutMs: 10_000 });
  if (fwd.exitCode !== 0) throw new Error(`net.ipv4.ip_forward in the worker namespace: ${fwd.stderr}`);

  // containerd, as containerd.service runs it, with its own root, state, socket and config.
  writeFileSync(path.join(root, "etc/containerd/config.toml"), containerdConfig(root));
  const containerd = cp.spawnLogged(WORKER_HOST, "containerd", view(["containerd", "--config", path.join(root, "etc/containerd/config.toml"), "--root", path.join(root, "var/lib/containerd"), "--state", "/run/containerd", "--address", "/run/containerd/containerd.sock"]), { PATH: process.env.PATH });
  const sock = path.join(root, "run/containerd/containerd.sock");
  for (const deadline = Date.now() + 30_000; !existsSync(sock); ) {
    if (containerd.child.exitCode !== null || Date.now() > deadline) throw new Error(`containerd did not come up:\n${cp.logs("containerd", 30)}`);
    await sleep(100);
  }

  // kubeadm join, the README's command. Its PATH: the Kubernetes binaries and the host tools its
  // preflight requires (losetup, mount, cp, uname), nothing else: no systemctl (see above).
  const pathDir = path.join(root, "path");
  mkdirSync(pathDir, { recursive: true });
  for (const tool of ["losetup", "mount", "cp", "uname"]) {
    const found = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    if (!existsSync(path.join(pathDir, tool))) symlinkSync(found, path.join(pathDir, tool));
  }
  for (const bin of ["kubeadm", "kubelet"]) if (!existsSync(path.join(pathDir, bin))) symlinkSync(path.join(kube, bin), path.join(pathDir, bin));
  const joinView = view(["env", `PATH=${pathDir}`, path.join(kube, "kubeadm"), ...argv.slice(1), "-v=1"]);
  const started = Date.now();
  let kubelet: RunningProcess | undefined;
  let kubeletArgs: string[] = [];
  let out = "";
  const startKubelet = () => {
    const flags = parseKubeadmFlags(readFileSync(path.join(root, "var/lib/kubelet/kubeadm-flags.env"), "utf8"));
    kubeletArgs = [
      "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
      "--kubeconfig=/etc/kubernetes/kubelet.conf",
      "--config=/var/lib/kubelet/config.yaml",
      ...flags,
      ...KUBELET_DEVIATIONS.map((d) => d.flag),
    ];
    kubelet = cp.spawnLogged(WORKER_HOST, "kubelet", view([path.join(kube, "kubelet"), ...kubeletArgs]), { PATH: `${kube}:/usr/sbin:/usr/bin:/sbin:/bin` });
  };
  const kubeadm = await runCommand(joinView[0], joinView.slice(1), {
    timeoutMs: options.timeoutMs ?? 300_000,
    env: { PATH: process.env.PATH, HOME: "/nonexistent" },
    onStdout: (chunk: string) => {
      out += chunk;
      if (!kubelet && out.includes("[kubelet-start] Starting the kubelet")) startKubelet();
    },
  });
  const kubeadmMs = Date.now() - started;
  if (kubeadm.exitCode !== 0) {
    throw new Error(`kubeadm join failed (exit ${kubeadm.exitCode}) after ${kubeadmMs} ms:\n${kubeadm.stdout.slice(-3000)}\n${kubeadm.stderr.slice(-4000)}\n${kubelet ? cp.logs("kubelet", 30) : "(kubelet not started)"}\n${cp.logs("containerd", 10)}`);
  }
  if (!kubelet) throw new Error(`kubeadm join never said "Starting the kubelet":\n${kubeadm.stdout}`);
  let nodeRegisteredMs = -1;
  for (const deadline = Date.now() + 60_000; nodeRegisteredMs < 0; ) {
    const r = await cp.kubectl(["get", "node", nodeName, "-o", "name"]);
    if (r.exitCode === 0 && r.stdout.trim() === `node/${nodeName}`) nodeRegisteredMs = Date.now() - started;
    else if (Date.now() > deadline) throw new Error(`Node ${nodeName} not registered 60 s after kubeadm join: ${r.stderr}\n${cp.logs("kubelet", 30)}`);
    else await sleep(250);
  }
  const written: Record<string, { host: string; kubelet: string }> = {};
  for (const t of KERNEL_TUNABLES) written[t] = { host: tunables[t], kubelet: readFileSync(path.join(root, "proc-sys", t.replace(/\//g, ".")), "utf8").trim() };
  return { nodeName, root, kubeadmMs, nodeRegisteredMs, kubeadm, kubeletArgs, kernelTunablesWritten: written, kubelet: kubelet as RunningProcess, containerd };
}

/** Stops the worker's kubelet and containerd (SIGTERM, as a shutdown would), bounded. */
export async function stopWorker(cp: ControlPlaneCluster, w: JoinedWorker): Promise<void> {
  for (const p of [w.kubelet, w.containerd]) if (p.child.exitCode === null && p.child.signalCode === null) await cp.stop(p, "SIGTERM", 15_000);
}
