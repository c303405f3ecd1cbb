/**
 * Air-gapped asset mirrors on the Kubernetes side: the binary mirror (kubelet, kubeadm, kubectl
 * with a pinned SHA-256 each) and the image registry mirror, from the props to what the API server
 * nodes and the cluster objects receive. The script itself runs for real in
 * kubernetes-mirror.e2e.test.ts.
 */
import { parse } from "yaml";
import { App } from "cdktf";
import { ConfigError, DEFAULT_ETCD_RELEASE, HaControlPlane, HaControlPlaneProps, KubernetesBinaryMirror } from "../../lib";
import { ClusterObjects, ControlPlaneAccess } from "../../lib/cluster";
import { PlatformBlueprint } from "../../lib/blueprint";
import { SynthJson, follow, nodeFilesOf, resources, synth } from "../helpers/synth";

const base = { availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0" };
const hex = (c: string) => c.repeat(64);
const MIRROR: KubernetesBinaryMirror = {
  version: "1.33.5",
  mirrorUrlTemplate: "https://mirror.example.com/kubernetes/v{version}/bin/linux/{arch}/{file}",
  sha256: { amd64: { kubelet: hex("a"), kubeadm: hex("b"), kubectl: hex("c") } },
};

const apiTemplate = (json: SynthJson) => follow(json, resources(json, "aws_autoscaling_group").find((g) => g.props.name.endsWith("-apiserver"))!.props.launch_template.id);
function apiNode(json: SynthJson) {
  const files = nodeFilesOf(json, apiTemplate(json));
  const file = (p: string) => files.find((f) => f.path === p)?.content;
  const env = Object.fromEntries((file("/etc/ha-control-plane/node.env") ?? "").split("\n").filter((l) => l.includes("=")).map((l) => {
    const i = l.indexOf("=");
    return [l.slice(0, i), l.slice(i + 1).replace(/^'(.*)'$/, "$1")];
  }));
  return { files, file, env };
}

describe("Kubernetes binary mirror", () => {
  it("installs from the apt repository by default: no mirror variables, kubelet at /usr/bin", () => {
    const node = apiNode(synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base })));
    expect(Object.keys(node.env).filter((k) => k.startsWith("HA_KUBE_") || k === "HA_SANDBOX_IMAGE")).toEqual([]);
    expect(node.file("/usr/local/sbin/ha-kube-binaries")).toBeUndefined();
    expect(node.file("/etc/systemd/system/kubelet.service")).toMatch(/^ExecStart=\/usr\/bin\/kubelet /m);
  });

  it("with a mirror, the node gets the template, one pinned SHA-256 per file and architecture, the binaries script, and a kubelet from /usr/local/bin", () => {
    const mirror = { ...MIRROR, sha256: { ...MIRROR.sha256, arm64: { kubelet: hex("d"), kubeadm: hex("e"), kubectl: hex("f") } } };
    const node = apiNode(synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base, kubernetesBinaryMirror: mirror })));
    expect(node.env).toMatchObject({
      HA_KUBE_BINARY_URL_TEMPLATE: MIRROR.mirrorUrlTemplate,
      HA_KUBE_BIN_DIR: "/usr/local/bin",
      HA_KUBE_SHA256_AMD64_KUBELET: hex("a"),
      HA_KUBE_SHA256_AMD64_KUBEADM: hex("b"),
      HA_KUBE_SHA256_AMD64_KUBECTL: hex("c"),
      HA_KUBE_SHA256_ARM64_KUBELET: hex("d"),
      HA_KUBE_SHA256_ARM64_KUBEADM: hex("e"),
      HA_KUBE_SHA256_ARM64_KUBECTL: hex("f"),
    });
    expect(node.file("/usr/local/sbin/ha-kube-binaries")).toContain("checksum mismatch");
    expect(node.file("/etc/systemd/system/kubelet.service")).toMatch(/^ExecStart=\/usr\/local\/bin\/kubelet /m);
  });

  it("an s3:// mirror is readable by the API server role on its key prefix only (s3:GetObject)", () => {
    const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base, kubernetesBinaryMirror: { ...MIRROR, mirrorUrlTemplate: "s3://acme-mirror/kubernetes/v{version}/{arch}/{file}" } }));
    const statements = resources(json, "aws_iam_role_policy").flatMap((p) => JSON.parse(p.props.policy).Statement as Array<{ Sid: string; Action: string | string[]; Resource: string | string[] }>);
    const read = statements.filter((s) => s.Sid === "ReadKubernetesBinaryMirror");
    expect(read).toHaveLength(1);
    expect(read[0].Action).toEqual(["s3:GetObject"]);
    expect([read[0].Resource].flat()).toEqual([expect.stringMatching(/^arn:\$\{data\.aws_partition\.[A-Za-z0-9_]+\.partition\}:s3:::acme-mirror\/kubernetes\/v\*$/)]);
    // Without an S3 mirror no role may read one.
    const plain = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base, kubernetesBinaryMirror: MIRROR }));
    expect(resources(plain, "aws_iam_role_policy").some((p) => p.props.policy.includes("ReadKubernetesBinaryMirror"))).toBe(false);
  });

  const refused: Array<[string, (m: KubernetesBinaryMirror) => KubernetesBinaryMirror, string]> = [
    ["plain http", (m) => ({ ...m, mirrorUrlTemplate: "http://mirror.example.com/{file}" }), "kubernetesBinaryMirror.mirrorUrlTemplate"],
    ["a file URL", (m) => ({ ...m, mirrorUrlTemplate: "file:///srv/{file}" }), "kubernetesBinaryMirror.mirrorUrlTemplate"],
    ["no {file}", (m) => ({ ...m, mirrorUrlTemplate: "https://mirror.example.com/kubelet" }), "kubernetesBinaryMirror.mirrorUrlTemplate"],
    ["an unknown placeholder", (m) => ({ ...m, mirrorUrlTemplate: "https://mirror.example.com/{os}/{file}" }), "kubernetesBinaryMirror.mirrorUrlTemplate"],
    ["a shell character", (m) => ({ ...m, mirrorUrlTemplate: "https://mirror.example.com/$(id)/{file}" }), "kubernetesBinaryMirror.mirrorUrlTemplate"],
    ["an upper-case checksum", (m) => ({ ...m, sha256: { amd64: { ...m.sha256.amd64, kubelet: hex("A") } } }), "kubernetesBinaryMirror.sha256.amd64.kubelet"],
    ["a short checksum", (m) => ({ ...m, sha256: { amd64: { ...m.sha256.amd64, kubectl: "abc123" } } }), "kubernetesBinaryMirror.sha256.amd64.kubectl"],
    ["a missing file checksum", (m) => ({ ...m, sha256: { amd64: { kubelet: hex("a"), kubectl: hex("c") } as never } }), "kubernetesBinaryMirror.sha256.amd64.kubeadm"],
    ["a missing arm64 file checksum", (m) => ({ ...m, sha256: { ...m.sha256, arm64: { kubelet: hex("a"), kubeadm: hex("b") } as never } }), "kubernetesBinaryMirror.sha256.arm64.kubectl"],
    ["checksums of another release", (m) => ({ ...m, version: "1.33.4" }), "kubernetesBinaryMirror.version"],
  ];
  it.each(refused)("refuses %s with a ConfigError naming the prop", (_, change, prop) => {
    let error: unknown;
    try {
      synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base, kubernetesBinaryMirror: change(MIRROR) }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(prop);
  });
});

describe("no internet egress", () => {
  const ETCD_MIRROR = { ...DEFAULT_ETCD_RELEASE, mirrorUrlTemplate: "https://mirror.internal.example.com/etcd/etcd-v{version}-linux-{arch}.tar.gz", mirrorOnly: true };
  const warnings = (props: Partial<HaControlPlaneProps>) => {
    let cp: HaControlPlane | undefined;
    synth((s) => (cp = new HaControlPlane(s, "Cp", { clusterName: "c", ...base, vpcEndpoints: true, internetEgress: [], etcdRelease: ETCD_MIRROR, ...props })));
    return (cp as HaControlPlane).node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data)).join("\n");
  };
  it("warns while API server nodes would still fetch kubelet and the images from the public sources", () => {
    expect(warnings({})).toMatch(/internetEgress is \[\]: API server nodes still fetch kubelet from pkgs\.k8s\.io \(set kubernetesBinaryMirror\) and control-plane images from registry\.k8s\.io \(set imageRepository\)/);
    expect(warnings({ kubernetesBinaryMirror: MIRROR })).toMatch(/still fetch control-plane images from registry\.k8s\.io/);
    expect(warnings({ kubernetesBinaryMirror: MIRROR, imageRepository: "registry.internal.example.com/k8s" })).not.toMatch(/internetEgress/);
  });
});

describe("image registry mirror (imageRepository)", () => {
  const MIRROR_REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/k8s";

  it("one prop: static pods, containerd's pause image and, through the access values, kube-proxy and CoreDNS", () => {
    let access: ReturnType<typeof ControlPlaneAccess.fromControlPlane> | undefined;
    const json = synth((s) => {
      const cp = new HaControlPlane(s, "Cp", { clusterName: "c", ...base, imageRepository: MIRROR_REGISTRY });
      access = ControlPlaneAccess.fromControlPlane(cp);
    });
    const node = apiNode(json);
    const images = node.files
      .filter((f) => f.path.startsWith("/etc/ha-control-plane/manifests/"))
      .flatMap((f) => (parse(f.content).spec.containers as Array<{ image: string }>).map((c) => c.image))
      .sort();
    expect(images).toEqual([`${MIRROR_REGISTRY}/kube-apiserver:v1.33.5`, `${MIRROR_REGISTRY}/kube-controller-manager:v1.33.5`, `${MIRROR_REGISTRY}/kube-scheduler:v1.33.5`]);
    // kubeadm's pause for 1.33 (`kubeadm config images list`), from the mirror.
    expect(node.env.HA_SANDBOX_IMAGE).toBe(`${MIRROR_REGISTRY}/pause:3.10`);
    expect(access?.imageRepository).toBe(MIRROR_REGISTRY);

    const objects = new ClusterObjectsHarness({ ...(access as object), apiUrl: "https://api.example.com:6443", internalApiUrl: "https://api.example.com:6443", source: undefined } as never);
    // The serving-certificate approver is not a Kubernetes image: its own prop (approverImage) names its mirror copy.
    expect(objects.images().filter((i) => !i.includes("kubelet-csr-approver"))).toEqual([`${MIRROR_REGISTRY}/coredns:v1.12.0`, `${MIRROR_REGISTRY}/kube-proxy:v1.33.5`]);
  });

  it("defaults to registry.k8s.io and leaves containerd's own pause image alone", () => {
    const node = apiNode(synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base })));
    expect(node.env.HA_SANDBOX_IMAGE).toBeUndefined();
    expect(node.file("/etc/ha-control-plane/manifests/kube-apiserver.yaml")).toContain("image: registry.k8s.io/kube-apiserver:v1.33.5");
  });

  it.each(["https://registry.example.com", "registry.example.com/", "Registry.Example.com", "registry example.com"])("refuses imageRepository %p", (value) => {
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base, imageRepository: value }))).toThrow(/imageRepository/);
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base, imageRepository: value }))).toThrow(ConfigError);
  });

  it("the blueprint's organisation defaults carry both mirrors to every cluster", () => {
    const app = new App();
    const blueprint = new PlatformBlueprint({ name: "org", defaults: { region: "eu-west-1", amiIds: { "eu-west-1": base.amiId }, imageRepository: MIRROR_REGISTRY, kubernetesBinaryMirror: MIRROR, clusterObjectsReaderRoleArn: "arn:aws:iam::111122223333:role/objects" } });
    const resolved = blueprint.resolve({ clusterName: "c1", preset: "production" });
    expect(resolved.controlPlaneProps).toMatchObject({ imageRepository: MIRROR_REGISTRY, kubernetesBinaryMirror: MIRROR });
    const cluster = blueprint.createCluster(app, { clusterName: "c1", preset: "production" });
    expect(cluster.controlPlaneStack.access.imageRepository).toBe(MIRROR_REGISTRY);
  });
});

/** The kube-proxy and CoreDNS images of cluster objects built from `access`. */
class ClusterObjectsHarness {
  private readonly json: SynthJson;
  constructor(access: ReturnType<typeof ControlPlaneAccess.fromAttributes>) {
    this.json = synth((s) => new ClusterObjects(s, "Objects", { access }));
  }
  images(): string[] {
    const text = JSON.stringify(this.json);
    return [...new Set([...text.matchAll(/"image":"([^"]+)"/g)].map((m) => m[1]))].sort();
  }
}
