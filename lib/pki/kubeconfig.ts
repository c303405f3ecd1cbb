import { stringify } from "yaml";

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
  return stringify(
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
  CONTROLLER_MANAGER = "controller-manager",
  SCHEDULER = "scheduler",
}

/** Input of {@link renderComponentKubeconfig}. */
export interface ComponentKubeconfigInput {
  /** Cluster name. */
  readonly clusterName: string;
  /** Component. */
  readonly component: ControlPlaneComponent;
  /**
   * API server URL: the local API server, so a component never depends on the load balancer.
   * @default "https://127.0.0.1:6443"
   */
  readonly server?: string;
  /**
   * Directory of the certificates written by ha-fetch-secrets.
   * @default "/etc/kubernetes/pki"
   */
  readonly pkiDir?: string;
}

/** A node-side kubeconfig for the controller-manager or scheduler, pointing at certificate files. */
export function renderComponentKubeconfig(input: ComponentKubeconfigInput): string {
  const dir = input.pkiDir ?? "/etc/kubernetes/pki";
  const user = `system:kube-${input.component}`;
  return stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: input.clusterName, cluster: { server: input.server ?? "https://127.0.0.1:6443", "certificate-authority": `${dir}/ca.crt` } }],
      users: [{ name: user, user: { "client-certificate": `${dir}/${input.component}.crt`, "client-key": `${dir}/${input.component}.key` } }],
      contexts: [{ name: `${user}@${input.clusterName}`, context: { cluster: input.clusterName, user } }],
      "current-context": `${user}@${input.clusterName}`,
    },
    { lineWidth: 0 },
  );
}
