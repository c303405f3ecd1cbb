import { ConfigError } from "../../errors";
import { isUnresolved } from "../../validate";

/**
 * Where API server nodes get kubelet, kubeadm and kubectl: by default the signed Kubernetes apt
 * repository; with a {@link KubernetesBinaryMirror}, the release binaries from a mirror the
 * platform team fills (HTTPS or an S3 bucket the node role may read), each file checked on the node
 * against its pinned SHA-256 before anything is installed (`lib/bootstrap/scripts/ha-kube-binaries.sh`).
 * Named like the etcd release's mirror (`EtcdRelease.mirrorUrlTemplate`, `sha256.amd64`).
 */

/**
 * Upstream location of a release binary; a mirror that copies this layout only swaps the host.
 * `{version}` (without `v`), `{arch}` (`amd64`, `arm64`) and `{file}` are filled in on the node.
 */
export const KUBERNETES_UPSTREAM_BINARY_URL_TEMPLATE = "https://dl.k8s.io/release/v{version}/bin/linux/{arch}/{file}";

/** Files a binary mirror serves, in the order nodes fetch them. */
export const KUBERNETES_MIRROR_FILES = ["kubelet", "kubeadm", "kubectl"] as const;

/** SHA-256 of each release binary of one architecture (`dl.k8s.io/release/v<version>/bin/linux/<arch>/<file>.sha256`). */
export interface KubernetesBinarySha256 {
  /** SHA-256 of `kubelet`. */
  readonly kubelet: string;
  /** SHA-256 of `kubeadm`. */
  readonly kubeadm: string;
  /** SHA-256 of `kubectl`. */
  readonly kubectl: string;
}

/** A mirror of the Kubernetes release binaries, with the checksum of every file pinned. */
export interface KubernetesBinaryMirror {
  /**
   * Kubernetes version the checksums are for (without `v`); must equal the control plane's
   * `kubernetesVersion`, so an upgrade cannot go out with the old release's checksums.
   */
  readonly version: string;
  /**
   * URL template of one file: `https://…` or `s3://<bucket>/<key>` (read with the node role,
   * which is granted `s3:GetObject` on the key prefix before the first `{`). Placeholders
   * `{version}`, `{arch}` and `{file}` (required); e.g.
   * `https://mirror.example.com/kubernetes/v{version}/bin/linux/{arch}/{file}` or
   * `s3://acme-mirror/kubernetes/v{version}/{arch}/{file}`.
   */
  readonly mirrorUrlTemplate: string;
  /** SHA-256 of every file, per architecture (`arm64` only if arm64 nodes are used). */
  readonly sha256: {
    /** Checksums of the `amd64` files (x86_64 instance types); required (ConfigError without them). */
    readonly amd64: KubernetesBinarySha256;
    /**
     * Checksums of the `arm64` files (Graviton instance types).
     * @default - none: an arm64 node refuses to install ("no SHA-256 pinned")
     */
    readonly arm64?: KubernetesBinarySha256;
  };
}

const SHA256 = /^[0-9a-f]{64}$/;
const HTTPS_TEMPLATE = /^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/[^\s"'\\`$]*$/;
const S3_TEMPLATE = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/([^\s"'\\`$]*)$/;
const PLACEHOLDER = /\{([a-z]+)\}/g;

/** The S3 bucket and key prefix (up to the first placeholder) of an `s3://` template. */
export function s3MirrorLocation(template: string):
  | {
      /** The bucket name from `s3://<bucket>/…`. */
      readonly bucket: string;
      /** The key up to the first `{` placeholder: the prefix the node role may read. */
      readonly keyPrefix: string;
    }
  | undefined {
  const m = S3_TEMPLATE.exec(template);
  if (!m) return undefined;
  const key = m[2];
  const brace = key.indexOf("{");
  return { bucket: m[1], keyPrefix: brace < 0 ? key : key.slice(0, brace) };
}

/**
 * Validates a binary mirror against the Kubernetes version the nodes run; throws a ConfigError
 * naming `prop` and the fault.
 */
export function checkKubernetesBinaryMirror(prop: string, mirror: KubernetesBinaryMirror, kubernetesVersion: string): void {
  const version = kubernetesVersion.replace(/^v/, "");
  if (!isUnresolved(mirror.version) && (typeof mirror.version !== "string" || mirror.version.replace(/^v/, "") !== version)) {
    throw new ConfigError(
      `${prop}.version`,
      mirror.version,
      `must equal kubernetesVersion (${version}): the pinned checksums are those of one release`,
      `mirror the ${version} binaries and pin their checksums (dl.k8s.io/release/v${version}/bin/linux/<arch>/<file>.sha256)`,
    );
  }
  const template = mirror.mirrorUrlTemplate;
  if (!isUnresolved(template)) {
    if (typeof template !== "string" || !(HTTPS_TEMPLATE.test(template) || S3_TEMPLATE.test(template))) {
      throw new ConfigError(
        `${prop}.mirrorUrlTemplate`,
        template,
        "must be an https:// URL or an s3://<bucket>/<key> location, without spaces, quotes or `$` (plain http and file URLs are refused: use TLS or the node role)",
        'use e.g. "https://mirror.example.com/kubernetes/v{version}/bin/linux/{arch}/{file}"',
      );
    }
    const unknown = [...template.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((p) => !["version", "arch", "file"].includes(p));
    if (unknown.length > 0) {
      throw new ConfigError(`${prop}.mirrorUrlTemplate`, template, `has unknown placeholder {${unknown[0]}} (known: {version}, {arch}, {file})`, "use only {version}, {arch} and {file}");
    }
    if (!template.includes("{file}")) {
      throw new ConfigError(`${prop}.mirrorUrlTemplate`, template, "lacks the {file} placeholder: kubelet, kubeadm and kubectl would all be fetched from one URL", "end the template with /{file}");
    }
  }
  if (mirror.sha256 === undefined || typeof mirror.sha256 !== "object" || mirror.sha256.amd64 === undefined) {
    throw new ConfigError(`${prop}.sha256.amd64`, undefined, "is required: every file's SHA-256 is checked on the node", "pin the amd64 checksums of kubelet, kubeadm and kubectl");
  }
  for (const arch of ["amd64", "arm64"] as const) {
    const sums = mirror.sha256[arch];
    if (sums === undefined) continue;
    for (const file of KUBERNETES_MIRROR_FILES) {
      const sum = (sums as unknown as Record<string, unknown>)[file];
      if (isUnresolved(sum)) continue;
      if (typeof sum !== "string" || !SHA256.test(sum)) {
        throw new ConfigError(
          `${prop}.sha256.${arch}.${file}`,
          sum,
          sum === undefined ? "is missing: the node refuses a file without a pinned checksum" : "must be the 64-character lower-case hex SHA-256 of the file",
          `copy it from dl.k8s.io/release/v${version}/bin/linux/${arch}/${file}.sha256 (or sha256sum the file you mirrored)`,
        );
      }
    }
  }
}

/** The `node.env` variables `ha-kube-binaries` reads (the mirror must have been checked). */
export function kubernetesBinaryMirrorEnv(mirror: KubernetesBinaryMirror): Record<string, string> {
  const env: Record<string, string> = { HA_KUBE_BINARY_URL_TEMPLATE: mirror.mirrorUrlTemplate };
  for (const arch of ["amd64", "arm64"] as const) {
    const sums = mirror.sha256[arch];
    if (sums === undefined) continue;
    for (const file of KUBERNETES_MIRROR_FILES) env[`HA_KUBE_SHA256_${arch.toUpperCase()}_${file.toUpperCase()}`] = sums[file];
  }
  return env;
}

/** Validates an image repository (kubeadm's `imageRepository`): `host[:port][/path]`, no scheme, no trailing slash. */
export function checkImageRepository(prop: string, value: string | undefined): void {
  if (value === undefined || isUnresolved(value)) return;
  if (typeof value !== "string" || !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9._-]+)*$/.test(value)) {
    throw new ConfigError(prop, value, "is not an image registry (host[:port][/path], no scheme, no trailing slash)", 'use "registry.k8s.io" or your mirror, e.g. "123456789012.dkr.ecr.eu-west-1.amazonaws.com/k8s"');
  }
}

/** Kubernetes' public image registry, the default `imageRepository`. */
export const DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io";
