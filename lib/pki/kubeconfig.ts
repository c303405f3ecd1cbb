import { toYaml } from "../yaml";

/**
 * Kubeconfig renderers (pure). Values may be cdktf string tokens; they pass through as text.
 */

/** Input of {@link renderKubeconfig} with embedded credentials. */
export interface EmbeddedKubeconfigInput {
  /** Cluster name (also the context name). */
  readonly clusterName: string;
  /** API server URL, e.g. `https://api.example.com:6443`. */
  readonly server: string;
  /** User name in the file. */
  readonly user: string;
  /** Base64 of the CA certificate PEM. */
  readonly caDataBase64: string;
  /** Base64 of the client certificate PEM. */
  readonly clientCertDataBase64: string;
  /** Base64 of the client key PEM. */
  readonly clientKeyDataBase64: string;
}

/** A kubeconfig with embedded credentials (the admin kubeconfig). */
export function renderKubeconfig(input: EmbeddedKubeconfigInput): string {
  return toYaml(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: input.clusterName, cluster: { server: input.server, "certificate-authority-data": input.caDataBase64 } }],
      users: [{ name: input.user, user: { "client-certificate-data": input.clientCertDataBase64, "client-key-data": input.clientKeyDataBase64 } }],
      contexts: [{ name: `${input.user}@${input.clusterName}`, context: { cluster: input.clusterName, user: input.user } }],
      "current-context": `${input.user}@${input.clusterName}`,
    },
    { lineWidth: 0 },
  );
}

/** Control-plane components that get a kubeconfig on the node. */
export enum ControlPlaneComponent {
  /** kube-controller-manager: user `system:kube-controller-manager`, `controller-manager.conf`. */
  CONTROLLER_MANAGER = "controller-manager",
  /** kube-scheduler: user `system:kube-scheduler`, `scheduler.conf`. */
  SCHEDULER = "scheduler",
}

/**
 * Marker a node replaces with the base64 of a file of its PKI directory (`ha-kube-configure`):
 * `@@PKI_BASE64:scheduler.crt@@`. Certificates and keys are fetched at boot from the node's secret,
 * so they cannot be in user data; the kubeconfig template can.
 */
export function pkiFileMarker(fileName: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(fileName)) throw new Error(`not a PKI file name: ${fileName}`);
  return `@@PKI_BASE64:${fileName}@@`;
}

/** Input of {@link renderComponentKubeconfig}. */
export interface ComponentKubeconfigInput {
  /** The cluster's name: the kubeconfig's cluster entry and context (`<user>@<clusterName>`). */
  readonly clusterName: string;
  /** Which component the kubeconfig is for; picks the user and the embedded certificate files. */
  readonly component: ControlPlaneComponent;
  /**
   * API server URL: the local API server, so a component never depends on the load balancer.
   * @default "https://127.0.0.1:6443"
   */
  readonly server?: string;
}

/**
 * The node-side kubeconfig template of the controller-manager or scheduler, in kubeadm's form:
 * CA, client certificate and key embedded (`*-data`), so the component's static pod needs no
 * mount of the PKI directory (the scheduler gets none at all). The `*-data` values are
 * {@link pkiFileMarker}s that `ha-kube-configure` fills in from `/etc/kubernetes/pki` on every boot.
 */
export function renderComponentKubeconfig(input: ComponentKubeconfigInput): string {
  const user = `system:kube-${input.component}`;
  return toYaml(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: input.clusterName, cluster: { server: input.server ?? "https://127.0.0.1:6443", "certificate-authority-data": pkiFileMarker("ca.crt") } }],
      users: [{ name: user, user: { "client-certificate-data": pkiFileMarker(`${input.component}.crt`), "client-key-data": pkiFileMarker(`${input.component}.key`) } }],
      contexts: [{ name: `${user}@${input.clusterName}`, context: { cluster: input.clusterName, user } }],
      "current-context": `${user}@${input.clusterName}`,
    },
    { lineWidth: 0 },
  );
}
