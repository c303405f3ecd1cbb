import { ConfigError } from "../../errors";

/**
 * The etcd release nodes install: a pinned version, where its archive is downloaded from (a mirror
 * first, for air-gapped installs) and the SHA-256 every archive is checked against before it is
 * unpacked (`lib/bootstrap/scripts/etcd-install.sh`).
 */

/** Upstream archive URL; `{version}` (without `v`) and `{arch}` (`amd64`, `arm64`) are filled in at boot. */
export const ETCD_UPSTREAM_URL_TEMPLATE = "https://github.com/etcd-io/etcd/releases/download/v{version}/etcd-v{version}-linux-{arch}.tar.gz";

/** A pinned etcd release. */
export interface EtcdRelease {
  /** `3.5.21` (3.4.x and 3.5.x: the configuration is rendered for those). */
  readonly version: string;
  /**
   * SHA-256 of `etcd-v<version>-linux-<arch>.tar.gz`, per architecture (64 lower-case hex digits;
   * ConfigError otherwise). Nodes refuse an archive whose checksum differs.
   */
  readonly sha256: {
    /** Checksum of the `amd64` archive (x86_64 instance types). */
    readonly amd64: string;
    /**
     * Checksum of the `arm64` archive (Graviton instance types).
     * @default - none: an arm64 node refuses to install etcd ("no SHA-256 pinned")
     */
    readonly arm64?: string;
  };
  /**
   * Upstream archive URL template: an `https://` URL (or `file://`, an archive the node image
   * already holds) with `{version}` and `{arch}` placeholders, without spaces, quotes or `$`
   * (ConfigError otherwise). Plain `http://` is refused, as for `kubernetesBinaryMirror`: the
   * SHA-256 pin makes a swapped archive fail, but not an eavesdropped or withheld one.
   * @default ETCD_UPSTREAM_URL_TEMPLATE
   */
  readonly downloadUrlTemplate?: string;
  /**
   * Mirror URL template (same placeholders and rules), tried before the upstream one.
   * @default - none: nodes download from `downloadUrlTemplate` only
   */
  readonly mirrorUrlTemplate?: string;
  /** Never fall back to the upstream URL (air-gapped). Needs `mirrorUrlTemplate`. @default false */
  readonly mirrorOnly?: boolean;
}

/**
 * etcd 3.5.21, kubeadm's default etcd for Kubernetes 1.33. Checksums of the upstream release
 * archives (as published in the release's SHA256SUMS).
 */
export const DEFAULT_ETCD_RELEASE: EtcdRelease = {
  version: "3.5.21",
  sha256: {
    amd64: "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c",
    arm64: "95bf6918623a097c0385b96f139d90248614485e781ec9bee4768dbb6c79c53f",
  },
};

const VERSION = /^3\.[45]\.\d{1,3}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const URL_TEMPLATE = /^(https|file):\/\/[^\s"'\\`$]+$/;

function checkTemplate(prop: string, template: string): void {
  if (!URL_TEMPLATE.test(template)) {
    throw new ConfigError(prop, template, "must be an https (or file) URL without spaces, quotes or `$`: plain http is refused", `use e.g. ${ETCD_UPSTREAM_URL_TEMPLATE}`);
  }
}

/** Validates a release; returns the URL templates in the order nodes try them. */
export function etcdReleaseUrls(release: EtcdRelease): string[] {
  if (typeof release.version !== "string" || !VERSION.test(release.version)) {
    throw new ConfigError(
      "etcd.release.version",
      release.version,
      "must be an etcd 3.4.x or 3.5.x version without the leading v (the configuration is rendered for those)",
      `use "${DEFAULT_ETCD_RELEASE.version}"`,
    );
  }
  for (const arch of ["amd64", "arm64"] as const) {
    const sum = release.sha256?.[arch];
    if (arch === "amd64" || sum !== undefined) {
      if (typeof sum !== "string" || !SHA256.test(sum)) {
        throw new ConfigError(`etcd.release.sha256.${arch}`, sum, "must be the 64-character lower-case hex SHA-256 of the release archive", `copy it from the release's SHA256SUMS (etcd-v${release.version}-linux-${arch}.tar.gz)`);
      }
    }
  }
  const upstream = release.downloadUrlTemplate ?? ETCD_UPSTREAM_URL_TEMPLATE;
  checkTemplate("etcd.release.downloadUrlTemplate", upstream);
  if (release.mirrorUrlTemplate !== undefined) checkTemplate("etcd.release.mirrorUrlTemplate", release.mirrorUrlTemplate);
  if (release.mirrorOnly && release.mirrorUrlTemplate === undefined) {
    throw new ConfigError("etcd.release.mirrorOnly", true, "needs mirrorUrlTemplate", "set mirrorUrlTemplate to your mirror's archive URL");
  }
  const urls = release.mirrorUrlTemplate !== undefined ? [release.mirrorUrlTemplate] : [];
  if (!release.mirrorOnly) urls.push(upstream);
  return urls;
}

/** The `node.env` variables `etcd-install.sh` reads. */
export function etcdReleaseEnv(release: EtcdRelease = DEFAULT_ETCD_RELEASE): Record<string, string> {
  const urls = etcdReleaseUrls(release);
  return {
    HA_ETCD_VERSION: release.version,
    HA_ETCD_URLS: urls.join(" "),
    HA_ETCD_SHA256_AMD64: release.sha256.amd64,
    ...(release.sha256.arm64 !== undefined ? { HA_ETCD_SHA256_ARM64: release.sha256.arm64 } : {}),
  };
}
