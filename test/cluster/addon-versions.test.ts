/**
 * Issue 18 finding 1: the cluster add-ons follow the control plane's Kubernetes version. kube-proxy
 * is released with Kubernetes (registry.k8s.io/kube-proxy:v<version>) and must match the
 * kubelet's minor; CoreDNS is the release kubeadm pins per minor (kubeadm's CoreDNSVersion
 * constant: v1.11.3 in 1.32, v1.12.0 in 1.33, v1.12.1 in 1.34, written out here). Built through
 * ControlPlaneAccess.fromControlPlane as a user would, so an upgrade of HaControlPlane's
 * kubernetesVersion carries the add-ons along.
 */
import { HaControlPlane } from "../../lib/control-plane";
import { ClusterAccessSecret, ClusterObjectsStack, ControlPlaneAccess } from "../../lib/cluster";
import { Testing } from "../../lib/core";
import { testStack } from "../helpers/synth";
import { REFERENCE_PROPS } from "../validation/config-error";

const KUBEADM_COREDNS: Record<string, string> = { "1.32": "v1.11.3", "1.33": "v1.12.0", "1.34": "v1.12.1" };

function addonImages(kubernetesVersion: string): string[] {
  const { app, stack } = testStack("cp");
  const cp = new HaControlPlane(stack, "ControlPlane", { ...REFERENCE_PROPS, kubernetesVersion });
  const accessSecret = new ClusterAccessSecret(stack, "ClusterObjectsAccess", { controlPlane: cp, region: "eu-west-1", readerRoleArn: "arn:aws:iam::111122223333:role/objects" });
  const objects = new ClusterObjectsStack(app, "objects", { access: ControlPlaneAccess.fromControlPlane(cp), accessSecret });
  const text = Testing.synth(objects);
  return [...new Set(text.match(/registry\.k8s\.io\/[a-z0-9/_-]+:v[0-9.]+/g) ?? [])].sort();
}

describe("add-on versions follow the control plane", () => {
  for (const version of ["1.32.9", "1.33.5", "1.34.2"]) {
    it(`runs kube-proxy v${version} and kubeadm's CoreDNS for ${version}`, () => {
      const minor = version.split(".").slice(0, 2).join(".");
      expect(addonImages(version)).toEqual([`registry.k8s.io/coredns/coredns:${KUBEADM_COREDNS[minor]}`, `registry.k8s.io/kube-proxy:v${version}`]);
    });
  }
});
