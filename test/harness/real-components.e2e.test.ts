/**
 * The real components run in the tiers are the versions the nodes install: etcd as pinned by
 * DEFAULT_ETCD_RELEASE and the Kubernetes binaries at the library's default Kubernetes version.
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { DEFAULT_ETCD_RELEASE } from "../../lib/bootstrap/etcd/release";
import { etcdBinariesCheck, kubernetesBinariesCheck, kubernetesUpgradeBinariesCheck, motoCheck, realComponentPaths } from "./real-components";
import { describeTier } from "./tiers";

describeTier("etcd binaries of the etcd tiers", etcdBinariesCheck(), { tierLabel: "etcd e2e" }, () => {
  it("etcd, etcdctl and etcdutl first on PATH are the pinned release nodes install", () => {
    const v = DEFAULT_ETCD_RELEASE.version;
    expect(execFileSync("etcd", ["--version"], { encoding: "utf8" })).toContain(`etcd Version: ${v}`);
    expect(execFileSync("etcdctl", ["version"], { encoding: "utf8" })).toContain(`etcdctl version: ${v}`);
    expect(execFileSync("etcdutl", ["version"], { encoding: "utf8" })).toContain(`etcdutl version: ${v}`);
    expect(execFileSync("bash", ["-c", "command -v etcd"], { encoding: "utf8" }).trim()).toBe(path.join(realComponentPaths().etcdBin, "etcd"));
  });
});

describeTier("Kubernetes binaries", kubernetesBinariesCheck(), { tierLabel: "control plane" }, () => {
  it.each(["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubeadm", "kubectl"])("%s reports v1.33.5", (bin) => {
    const file = path.join(realComponentPaths().kubeBin, bin);
    const args = bin === "kubeadm" ? ["version", "-o", "short"] : bin === "kubectl" ? ["version", "--client"] : ["--version"];
    expect(execFileSync(file, args, { encoding: "utf8" })).toContain("v1.33.5");
  });
});

describeTier("Kubernetes binaries of the next minor (the control-plane tier's upgrade)", kubernetesUpgradeBinariesCheck(), { tierLabel: "control plane" }, () => {
  it.each(["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubeadm", "kubectl"])("%s reports v1.34.2", (bin) => {
    const file = path.join(realComponentPaths().kubeUpgradeBin, bin);
    const args = bin === "kubeadm" ? ["version", "-o", "short"] : bin === "kubectl" ? ["version", "--client"] : ["--version"];
    expect(execFileSync(file, args, { encoding: "utf8" })).toContain("v1.34.2");
  });
});

describeTier("AWS API emulator", motoCheck(), { tierLabel: "aws emulator" }, () => {
  it("moto_server and the AWS CLI run from their virtualenv", () => {
    const bin = path.join(realComponentPaths().motoVenv, "bin");
    expect(execFileSync(path.join(bin, "aws"), ["--version"], { encoding: "utf8" })).toMatch(/^aws-cli\/1\.42\.25 /);
    expect(execFileSync(path.join(bin, "python"), ["-c", "import moto; print(moto.__version__)"], { encoding: "utf8" }).trim()).toBe("5.1.22");
  });
});
