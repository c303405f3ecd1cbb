/**
 * Boot tier, issue item "a worker container runs the documented join and its Node appears": the
 * reference cluster-objects stack applied with terraform against the booted API servers through the
 * load balancer (cluster-objects.ts applyClusterObjectsThrough), then a worker container (the same
 * Debian 12 node image, running containers like an API-server node) whose cloud-init user data
 * writes the stack's `discovery_kubeconfig` output to /etc/kubernetes/discovery.yaml and runs the
 * README's `kubeadm join --discovery-file /etc/kubernetes/discovery.yaml` under real systemd.
 *
 * The library declares no worker launch template, so the worker's user data is written here (see
 * {@link workerUserData}): kubelet/kubeadm/kubectl from the platform team's HTTPS mirror checked
 * against their pinned SHA-256, containerd (Debian's, in the image) with the systemd cgroup driver
 * and the mirror registry's pause image, IPv4 forwarding (kubeadm's only network prerequisite), and
 * kubelet.service with kubeadm's 10-kubeadm.conf drop-in as the kubelet and kubeadm packages ship
 * them (kubernetes/release; binary paths /usr/local/bin as Kubernetes' "without a package manager"
 * install rewrites them). No kubelet flag is added: the KubeletConfiguration kubeadm writes from
 * the stack's kubelet-config ConfigMap (cgroupDriver: systemd) is used as is.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import type { CertificateSpec } from "../../lib";
import { issueSuperAdmin, issueWithOpenssl } from "../harness/openssl-pki";
import { nlbModelFromSynth } from "../harness/nlb-haproxy";
import { NspawnNode, waitFor } from "../harness/nspawn-node";
import { AppliedClusterObjects, applyClusterObjectsThrough, synthesizeClusterObjects } from "../controlplane/cluster-objects";
import { SERVICE_IP } from "./environment";
import { AirGappedCluster, ApiNode, KUBERNETES_VERSION, MIRROR_PORT, PAUSE_TAG, REGISTRY, containerKernelFiles } from "./api-nodes";
import { explainFailure, settle } from "./node-report";

const execFileAsync = promisify(execFile);

/** The kernel settings the kubelet sets at start (Kubernetes 1.33 pkg/kubelet/cm setupKernelTunables): the worker's own copies (NodeSpec.ownKernelKeys), the host's kernel is never changed. */
export const KUBELET_KERNEL_TUNABLES = ["vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops", "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes"];

/** Where the worker's user data records the join (exit code and seconds). */
const RESULT_FILE = "/var/lib/boot-tier-worker/join-result";

/** A kubeconfig with an embedded client certificate. */
export function clientKubeconfig(server: string, caPem: string, certPem: string, keyPem: string, user: string): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: cluster\n  cluster:\n    server: ${server}\n    certificate-authority-data: ${b64(caPem)}`,
    "users:",
    `- name: ${user}\n  user:\n    client-certificate-data: ${b64(certPem)}\n    client-key-data: ${b64(keyPem)}`,
    "contexts:",
    `- name: ${user}\n  context:\n    cluster: cluster\n    user: ${user}`,
    `current-context: ${user}`,
    "",
  ].join("\n");
}

/** What {@link applyObjectsThroughLoadBalancer} applied, and the admin kubeconfig (the stack's kubeadm:cluster-admins binding gives it its rights). */
export interface AppliedThroughLoadBalancer {
  readonly applied: AppliedClusterObjects;
  readonly adminKubeconfig: string;
  readonly caPem: string;
}

/**
 * `terraform apply` of the reference cluster-objects stack (synthesized with the same props as the
 * booted control plane) through the load balancer: its provider authenticates with a `system:masters`
 * super-admin certificate (what the access secret holds for a first deploy) issued here from the
 * cluster CA the API nodes hold, as the control-plane tier's harness issues it; the endpoint is the
 * internal NLB's DNS name (in the API server certificate), resolved to haproxy in the VPC.
 */
export async function applyObjectsThroughLoadBalancer(cluster: AirGappedCluster, api: readonly ApiNode[]): Promise<AppliedThroughLoadBalancer> {
  const lbs = (await cluster.aws("elbv2", "describe-load-balancers")).LoadBalancers as Array<{ DNSName: string; Scheme: string; Type: string }>;
  const internal = lbs.find((l) => l.Type === "network" && l.Scheme === "internal");
  if (internal === undefined) throw new Error("no internal network load balancer in the emulator");
  const model = nlbModelFromSynth(JSON.parse(cluster.synthesized));
  const pki = path.join(cluster.dir, "worker-pki");
  mkdirSync(pki, { recursive: true, mode: 0o700 });
  const caPem = (await api[0].node.exec(["cat", "/etc/kubernetes/pki/ca.crt"])).stdout;
  const caKey = (await api[0].node.exec(["cat", "/etc/kubernetes/pki/ca.key"])).stdout;
  if (!caKey.includes("PRIVATE KEY")) throw new Error(`${api[0].node.spec.name}: no /etc/kubernetes/pki/ca.key`);
  const ca = { cert: path.join(pki, "ca.crt"), key: path.join(pki, "ca.key") };
  writeFileSync(ca.cert, caPem);
  writeFileSync(ca.key, caKey, { mode: 0o600 });
  const adminSpec = cluster.certificates!.leaves.find((l) => l.id === "admin") as CertificateSpec;
  const admin = await issueWithOpenssl({ ...adminSpec, dnsNames: [], ipAddresses: [] }, pki, ca);
  const superAdmin = await issueSuperAdmin({ ...adminSpec, dnsNames: [], ipAddresses: [] }, pki, ca);
  const adminCertPem = readFileSync(admin.cert, "utf8");
  const adminKeyPem = readFileSync(admin.key, "utf8");
  const applied = await applyClusterObjectsThrough(
    {
      apiServerName: internal.DNSName,
      port: model.listenerPort,
      loadBalancerIp: SERVICE_IP,
      netns: cluster.vpc!.ns,
      caCertPem: caPem,
      superAdminCertPem: readFileSync(superAdmin.cert, "utf8"),
      superAdminKeyPem: readFileSync(superAdmin.key, "utf8"),
      // The admin certificate (O kubeadm:cluster-admins) has rights only through the stack's
      // binding: every API server (on its slot address) must see it before kubectl is used.
      waitForAdminRights: async () => {
        const certFile = path.join(pki, "admin-client.pem");
        writeFileSync(certFile, adminCertPem + adminKeyPem, { mode: 0o600 });
        for (const a of api) {
          let code = "";
          await waitFor(async () => {
            const r = await execFileAsync("ip", ["netns", "exec", cluster.vpc!.ns, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--cacert", ca.cert, "--cert", certFile, `https://${a.slotIp}:6443/api/v1/namespaces/default`], { encoding: "utf8", timeout: 20_000 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }));
            code = r.stdout.trim();
            return code === "200";
          }, 30_000, `the admin certificate's rights on ${a.node.spec.name} (${code})`);
        }
      },
    },
    { synth: synthesizeClusterObjects(cluster.stackProps) },
  );
  return { applied, adminKubeconfig: clientKubeconfig(applied.endpoint, caPem, adminCertPem, adminKeyPem, "kubernetes-admin"), caPem };
}

/** kubelet.service as the kubelet package ships it (kubernetes/release cmd/krel/templates/latest/kubelet/kubelet.service), /usr/bin → /usr/local/bin. */
export const KUBELET_SERVICE = `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/local/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

/** 10-kubeadm.conf as the kubeadm package ships it (kubernetes/release cmd/krel/templates/latest/kubeadm/10-kubeadm.conf, deb), /usr/bin → /usr/local/bin. */
export const KUBEADM_DROP_IN = `# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. Preferably, the user should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

/**
 * The worker's cloud-init user data (written by the test: the library has no worker template).
 * Its last step is the README's join, exactly; its exit code and duration land in RESULT_FILE.
 */
export function workerUserData(discoveryKubeconfig: string, sums: { kubelet: string; kubeadm: string; kubectl: string }, joinCommand: string): string {
  // The README's command, exactly (the join_command output): nothing else is run as the join.
  if (joinCommand !== "kubeadm join --discovery-file /etc/kubernetes/discovery.yaml") throw new Error(`unexpected join command ${JSON.stringify(joinCommand)}`);
  const base = `https://${SERVICE_IP}:${MIRROR_PORT}/kubernetes/v${KUBERNETES_VERSION}/amd64`;
  const script = [
    "#!/bin/bash",
    "set -euo pipefail",
    `base=${base}`,
    "tmp=$(mktemp -d)",
    "for f in kubelet kubeadm kubectl; do curl -fsSL --proto '=https' --retry 5 -o \"$tmp/$f\" \"$base/$f\"; done",
    "(cd \"$tmp\" && sha256sum -c --strict <<'EOF'",
    `${sums.kubelet}  kubelet`,
    `${sums.kubeadm}  kubeadm`,
    `${sums.kubectl}  kubectl`,
    "EOF",
    ")",
    "install -m 0755 \"$tmp/kubelet\" \"$tmp/kubeadm\" \"$tmp/kubectl\" /usr/local/bin/",
    "# containerd (Debian's): the systemd cgroup driver, as the kubelet's; the pause image from the mirror registry.",
    "mkdir -p /etc/containerd",
    `containerd config default | sed -e 's/SystemdCgroup = false/SystemdCgroup = true/' -e 's#^\\( *sandbox_image = \\).*#\\1"${REGISTRY}/pause:${PAUSE_TAG}"#' >/etc/containerd/config.toml`,
    "systemctl restart containerd",
    "# kubeadm's network prerequisite: IPv4 forwarding.",
    "echo net.ipv4.ip_forward=1 >/etc/sysctl.d/k8s.conf",
    "sysctl -w net.ipv4.ip_forward=1",
    "systemctl daemon-reload",
    "systemctl enable --now kubelet.service",
    "# The README's join (the join_command output).",
    `mkdir -p ${path.dirname(RESULT_FILE)}`,
    "start=$(date +%s%N)",
    "rc=0",
    `${joinCommand} || rc=$?`,
    `echo "rc=$rc ms=$(( ($(date +%s%N) - start) / 1000000 ))" >${RESULT_FILE}`,
    "exit $rc",
    "",
  ].join("\n");
  const block = (text: string) => text.split("\n").map((l) => (l === "" ? "" : `      ${l}`)).join("\n");
  return [
    "#cloud-config",
    "# Boot tier worker (test/boot/worker-join.ts): written by the test, the library has no worker template.",
    "write_files:",
    "  - path: /etc/kubernetes/discovery.yaml",
    "    permissions: '0600'",
    "    encoding: b64",
    `    content: ${Buffer.from(discoveryKubeconfig).toString("base64")}`,
    "  - path: /etc/systemd/system/kubelet.service",
    "    content: |",
    block(KUBELET_SERVICE),
    "  - path: /etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "    content: |",
    block(KUBEADM_DROP_IN),
    "  - path: /usr/local/sbin/boot-tier-worker-join",
    "    permissions: '0755'",
    "    content: |",
    block(script),
    "runcmd:",
    "  - [/usr/local/sbin/boot-tier-worker-join]",
    "",
  ].join("\n");
}

/** What the worker's join did. */
export interface JoinedWorkerNode {
  readonly node: NspawnNode;
  readonly nodeName: string;
  readonly joinSeconds: number;
  /** Boot to cloud-init done and systemd settled. */
  readonly bootSeconds: number;
}

/**
 * Launches the worker instance in the emulator (the API-server template's image, in the first of
 * its group's subnets), boots it with {@link workerUserData} and waits for cloud-init to finish.
 * Asserts: the join exited 0, kubelet.service active, `systemctl --failed` empty.
 */
export async function bootWorker(cluster: AirGappedCluster, apiTemplate: string, applied: AppliedClusterObjects, internalDnsName: string, timeouts: { cloudInitMs: number; settleMs: number }, signal?: AbortSignal): Promise<JoinedWorkerNode> {
  const [version] = (await cluster.aws("ec2", "describe-launch-template-versions", "--launch-template-name", apiTemplate, "--versions", "$Latest")).LaunchTemplateVersions;
  const [asg] = (await cluster.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", apiTemplate)).AutoScalingGroups;
  const subnet = String(asg.VPCZoneIdentifier).split(",")[0];
  const instance = (await cluster.aws("ec2", "run-instances", "--image-id", version.LaunchTemplateData.ImageId, "--instance-type", "t3.medium", "--subnet-id", subnet, "--count", "1")).Instances[0];
  const name = "worker";
  const userData = workerUserData(applied.outputs.discovery_kubeconfig, cluster.kubeSums!, applied.outputs.join_command);
  const kernel = (await execFileAsync("uname", ["-r"], { encoding: "utf8" })).stdout.trim();
  const files = containerKernelFiles(kernel);
  const node = await cluster.boot({
    name,
    instanceId: instance.InstanceId,
    userData,
    hopLimit: 2,
    instanceTags: false,
    runsContainers: true,
    ownKernelKeys: KUBELET_KERNEL_TUNABLES,
    executables: Object.keys(files).filter((f) => /\/s?bin\//.test(f)),
    // The VPC's DNS resolves the internal NLB's name to the load balancer: here /etc/hosts does.
    files: cluster.imageFiles({ ...files, "etc/hosts": `127.0.0.1 localhost\n${instance.PrivateIpAddress} ${name}\n${SERVICE_IP} ${internalDnsName}\n` }),
  });
  // A container that stops (its systemd exited) fails the wait at once, with its console.
  const gone = new AbortController();
  const watch = setInterval(() => {
    if (node.leader() === undefined) gone.abort(new Error(`${name}: the container stopped: ${readFileSync(node.consoleLog, "utf8").slice(-2000)}`));
  }, 1000);
  const report = await settle(node, timeouts, signal === undefined ? gone.signal : AbortSignal.any([signal, gone.signal])).finally(() => clearInterval(watch));
  const result = (await node.exec(["cat", RESULT_FILE])).stdout.trim();
  const m = /^rc=(\d+) ms=(\d+)$/.exec(result);
  if (m === null || m[1] !== "0" || !/status: done/.test(report.cloudInit) || report.failed.trim() !== "") {
    const out = (await node.exec(["tail", "-n", "60", "/var/log/cloud-init-output.log"])).stdout;
    const kubelet = await node.journal("kubelet.service", 40);
    // The decisive lines last: a long failure report is cut in the middle when shown.
    const kubeletErrors = (await node.exec(["journalctl", "--no-pager", "-q", "-o", "cat", "-u", "kubelet.service", "--grep", "^(E[0-9]{4}|F[0-9]{4})|failed to run Kubelet|Error:"])).stdout.trim().split("\n").slice(-5);
    const joinErrors = out.split("\n").filter((l) => /error|timed out|failed|refused/i.test(l)).slice(-8);
    throw new Error(
      `worker join: ${result || "no result"}; ${report.cloudInit}; system ${report.systemState}\n${await explainFailure(node, report.failed)}\n--- cloud-init-output\n${out}\n--- kubelet\n${kubelet}\n` +
        `--- in short: join ${result || "no result"}, cloud-init ${report.cloudInit.replace(/\s+/g, " ")}, failed units: ${report.failed.trim() || "none"}\n` +
        `join output's errors:\n${joinErrors.join("\n") || "(none)"}\nkubelet's last errors:\n${kubeletErrors.join("\n") || "(none)"}`,
    );
  }
  return { node, nodeName: (await node.exec(["hostname"])).stdout.trim(), joinSeconds: Number(m[2]) / 1000, bootSeconds: report.readySeconds };
}

/** The kubelet client certificate on the worker, parsed. */
export async function kubeletClientCertificate(node: NspawnNode): Promise<X509Certificate> {
  const pem = (await node.exec(["cat", "/var/lib/kubelet/pki/kubelet-client-current.pem"])).stdout;
  return new X509Certificate(pem.slice(pem.indexOf("-----BEGIN CERTIFICATE-----")));
}
