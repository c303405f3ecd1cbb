/**
 * Issue 10, defect 3 in the unit tier: the kubeconfig templates the API server user data carries
 * name no credential file (kubeadm's embedded form), and the mount checker used by the node e2e
 * test flags a kubeconfig that points at unmounted certificate files.
 */
import { parse } from "yaml";
import { Testing } from "../../../lib/core";
import { HaClusterStack } from "../../../examples/ha-cluster/main";
import { nodeFilesOf, resources, synthStack } from "../../helpers/synth";
import { containerReads, kubeconfigFileReferences, unmountedReads } from "./static-pod-files";

const json = synthStack(new HaClusterStack(Testing.app(), "ref"));
const lt = resources(json, "aws_launch_template").find((l) => l.props.name === "prod-eu1-apiserver")!;
const writeFiles = nodeFilesOf(json, lt);

describe("component kubeconfigs in API server user data", () => {
  const kubeconfigs = writeFiles.filter((f) => /^kind: Config$/m.test(f.content));

  it("carries the controller-manager, scheduler and kubelet kubeconfigs, 0600", () => {
    // kubelet.conf: its webhook authorizer's client (CIS 4.2.2; a kubelet without one cannot use Webhook).
    expect(kubeconfigs.map((f) => f.path.split("/").pop()).sort()).toEqual(["controller-manager.conf", "kubelet.conf", "scheduler.conf"]);
    for (const f of kubeconfigs) expect(f.permissions).toBe("0600");
  });

  it("names no credential file: CA, client certificate and key are embedded (*-data)", () => {
    for (const f of kubeconfigs) {
      expect(kubeconfigFileReferences(f.content, f.path)).toEqual([]);
      const doc = parse(f.content);
      expect(Object.keys(doc.users[0].user).sort()).toEqual(["client-certificate-data", "client-key-data"]);
      expect(Object.keys(doc.clusters[0].cluster).sort()).toEqual(["certificate-authority-data", "server"]);
    }
  });
});

describe("the mount checker", () => {
  const pod = (volumes: Array<[string, string]>, command: string[]) =>
    JSON.stringify({
      metadata: { name: "kube-scheduler" },
      spec: {
        containers: [{ name: "c", command: ["kube-scheduler", ...command], volumeMounts: volumes.map(([n, p]) => ({ name: n, mountPath: p })) }],
        volumes: volumes.map(([n, p]) => ({ name: n, hostPath: { path: p } })),
      },
    });
  // The kubeconfig form kube-scheduler had before the fix: certificate files by path.
  const fileKubeconfig = [
    "apiVersion: v1",
    "kind: Config",
    "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443', certificate-authority: /etc/kubernetes/pki/ca.crt}}]",
    "users: [{name: u, user: {client-certificate: /etc/kubernetes/pki/scheduler.crt, client-key: pki/scheduler.key}}]",
  ].join("\n");

  it("flags certificate files a kubeconfig references outside the container's mounts (relative paths resolved against the kubeconfig)", () => {
    const reads = containerReads(pod([["kubeconfig", "/etc/kubernetes/scheduler.conf"]], ["--kubeconfig=/etc/kubernetes/scheduler.conf"]), (p) => (p === "/etc/kubernetes/scheduler.conf" ? fileKubeconfig : undefined));
    expect(unmountedReads(reads)).toEqual([
      "kube-scheduler: /etc/kubernetes/pki/ca.crt (/etc/kubernetes/scheduler.conf clusters[0].certificate-authority) is not inside a mounted hostPath",
      "kube-scheduler: /etc/kubernetes/pki/scheduler.crt (/etc/kubernetes/scheduler.conf users[0].client-certificate) is not inside a mounted hostPath",
      "kube-scheduler: /etc/kubernetes/pki/scheduler.key (/etc/kubernetes/scheduler.conf users[0].client-key) is not inside a mounted hostPath",
    ]);
  });

  it("accepts the same kubeconfig when the PKI directory is mounted, and flags an unmounted flag path or a missing kubeconfig", () => {
    const files = (p: string) => (p === "/etc/kubernetes/scheduler.conf" ? fileKubeconfig : undefined);
    const mounted = pod([["kubeconfig", "/etc/kubernetes/scheduler.conf"], ["pki", "/etc/kubernetes/pki"]], ["--kubeconfig=/etc/kubernetes/scheduler.conf"]);
    expect(unmountedReads(containerReads(mounted, files))).toEqual([]);
    const flag = pod([["pki", "/etc/kubernetes/pki"]], ["--config=/etc/kubernetes/scheduler-config.yaml", "--bind-address=127.0.0.1"]);
    expect(unmountedReads(containerReads(flag, files))).toEqual(["kube-scheduler: /etc/kubernetes/scheduler-config.yaml (--config) is not inside a mounted hostPath"]);
    const missing = pod([["kubeconfig", "/etc/kubernetes/scheduler.conf"]], ["--kubeconfig=/etc/kubernetes/scheduler.conf"]);
    expect(unmountedReads(containerReads(missing, () => undefined))).toEqual(["kube-scheduler: /etc/kubernetes/scheduler.conf (--kubeconfig (no such file on the node)) is not inside a mounted hostPath"]);
  });
});
