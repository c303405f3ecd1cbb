/**
 * The real kubeadm 1.33.5 (built by scripts/setup-test-env.sh into HA_CP_KUBE_BIN) parses and
 * validates the ClusterConfiguration, KubeletConfiguration and KubeProxyConfiguration the
 * cluster-objects stack puts into `kubeadm-config`, `kubelet-config` and `kube-proxy`.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { FoundResource, SynthJson, resources } from "../helpers/synth";
import { describeTier, toolAvailable } from "../harness/tiers";
import { literalAccess, synthObjects } from "./fixtures";

jest.setTimeout(60000);

const KUBEADM = join(process.env.HA_CP_KUBE_BIN ?? "/var/cache/cdktf-ha-control-plane/kubernetes-1.33.5/bin", "kubeadm");

function configMap(json: SynthJson, name: string): FoundResource {
  const found = resources(json, "kubernetes_config_map_v1").filter((r) => r.props.metadata.name === name && r.props.metadata.namespace === "kube-system");
  if (found.length !== 1) throw new Error(`expected one ConfigMap kube-system/${name}, found ${found.length}`);
  return found[0];
}

async function validate(dir: string, name: string, documents: string[]): Promise<{ code: number; output: string }> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, documents.join("---\n"));
  try {
    const { stdout, stderr } = await promisify(execFile)(KUBEADM, ["config", "validate", "--config", file], { timeout: 30000 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describeTier("kubeadm parses the configuration joining nodes read", toolAvailable(KUBEADM, ["version", "-o", "short"]), { tierLabel: "kubeadm" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeadm-validate-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ["defaults", {}],
    ["custom CIDRs and domain, no kube-proxy", { access: literalAccess({ serviceCidr: "172.20.0.0/16", podCidr: "100.64.0.0/16", clusterDomain: "corp.internal" }), addons: { kubeProxy: false } }],
  ])("accepts ClusterConfiguration, KubeletConfiguration and KubeProxyConfiguration (%s)", async (label, props) => {
    const { json } = synthObjects(props);
    const docs = [configMap(json, "kubeadm-config").props.data.ClusterConfiguration as string, configMap(json, "kubelet-config").props.data.kubelet as string];
    const proxy = resources(json, "kubernetes_config_map_v1").find((r) => r.props.metadata.name === "kube-proxy");
    if (proxy) docs.push(proxy.props.data["config.conf"] as string);
    const { code, output } = await validate(dir, label.replace(/\W/g, "_"), docs);
    expect(output).not.toMatch(/error|unknown field|strict decoding/i);
    expect(code).toBe(0);
  });

  it("refuses a broken document (the tier can fail)", async () => {
    const { code } = await validate(dir, "broken", ["apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n  serviceSubnet: not-a-cidr\n"]);
    expect(code).not.toBe(0);
  });
});
