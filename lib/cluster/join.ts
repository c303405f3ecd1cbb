import { X509Certificate, createHash } from "node:crypto";
import { toYaml } from "../yaml";
import { ConfigError } from "../errors";

/**
 * Pure renderers of what a joining node needs: the discovery kubeconfig (the content of the
 * `cluster-info` ConfigMap, kubeadm's format), the kubelet's bootstrap kubeconfig, the join command,
 * and the CA certificate hash. Values may be cdktf string tokens; they pass through as text.
 */

/** Input of {@link renderDiscoveryKubeconfig}. */
export interface DiscoveryKubeconfigInput {
  /** API URL nodes join through (the internal load balancer). */
  readonly server: string;
  /** Base64 of the Kubernetes CA certificate PEM. */
  readonly caDataBase64: string;
}

/**
 * The discovery kubeconfig exactly as kubeadm writes it into `cluster-info`: one cluster named `""`,
 * no users or contexts. Also what `kubeadm join --discovery-file` reads.
 */
export function renderDiscoveryKubeconfig(input: DiscoveryKubeconfigInput): string {
  return toYaml(
    {
      apiVersion: "v1",
      clusters: [{ cluster: { "certificate-authority-data": input.caDataBase64, server: input.server }, name: "" }],
      contexts: null,
      "current-context": "",
      kind: "Config",
      preferences: {},
      users: null,
    },
    { lineWidth: 0 },
  );
}

/** Input of {@link renderBootstrapKubeconfig}. */
export interface BootstrapKubeconfigInput extends DiscoveryKubeconfigInput {
  /** Cluster name (also the context name). */
  readonly clusterName: string;
  /** The bootstrap token `<id>.<secret>`. */
  readonly token: string;
}

/** The kubelet's `--bootstrap-kubeconfig` (TLS bootstrapping with a bootstrap token). */
export function renderBootstrapKubeconfig(input: BootstrapKubeconfigInput): string {
  const user = "tls-bootstrap-token-user";
  return toYaml(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: input.clusterName, cluster: { server: input.server, "certificate-authority-data": input.caDataBase64 } }],
      users: [{ name: user, user: { token: input.token } }],
      contexts: [{ name: `${user}@${input.clusterName}`, context: { cluster: input.clusterName, user } }],
      "current-context": `${user}@${input.clusterName}`,
    },
    { lineWidth: 0 },
  );
}

/** Where {@link joinCommand} expects the discovery kubeconfig on the node. */
export const DISCOVERY_FILE_PATH = "/etc/kubernetes/discovery.yaml";

/**
 * `kubeadm join` with a discovery kubeconfig that carries the bootstrap token (write the
 * `discovery_kubeconfig` output, i.e. {@link renderBootstrapKubeconfig}, to `discoveryFile` first).
 *
 * Why not token discovery or a discovery file without credentials: both make kubeadm read
 * `kube-public/cluster-info` anonymously, and kubeadm tolerates only a 403 answer there. This
 * library's API servers admit anonymous requests on the health paths only and answer 401, so such a
 * join never gets past discovery. With the token in the file, kubeadm reads cluster-info as the
 * token's group (403 without a grant: tolerated, "TLS cert is valid so proceeding"), trusts the CA
 * in the file, and uses the same credentials for the TLS bootstrap.
 */
export function joinCommand(discoveryFile: string = DISCOVERY_FILE_PATH): string {
  return `kubeadm join --discovery-file ${discoveryFile}`;
}

/**
 * kubeadm's CA pin, `sha256:<hex>` of the DER SubjectPublicKeyInfo of the CA certificate.
 *
 * Terraform cannot compute it: its hash functions hash UTF-8 text and `base64decode` refuses
 * binary, so the DER bytes of the key can never be hashed inside a plan. Compute it from the
 * `kubernetes_ca_certificate` output with this function, or with
 * `openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | sha256sum`.
 */
export function caCertHash(caCertPem: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(caCertPem);
  } catch (err) {
    throw new ConfigError("caCertPem", caCertPem, `is not a PEM certificate (${(err as Error).message})`, "pass the kubernetes_ca_certificate output");
  }
  const spki = cert.publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}
