import { Construct } from "constructs";
import { ClusterRoleBindingV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-binding-v1";
import { ClusterRoleV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-v1";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ConfigError } from "../errors";
import { parseIpv4Cidr } from "../network/cidr";
import { isUnresolved } from "../validate";
import { KUBE_SYSTEM } from "./node-config";
import { MANAGED_BY_LABELS, RBAC_API_GROUP } from "./rbac";

/** The signer of kubelet serving certificates; the controller-manager signs but never approves them. */
export const KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving";
/** Name of the approver's ServiceAccount, ClusterRole, binding and Deployment. */
export const KUBELET_SERVING_APPROVER_NAME = "kubelet-csr-approver";
/** The pinned approver image (postfinance/kubelet-csr-approver). */
export const DEFAULT_KUBELET_SERVING_APPROVER_IMAGE = "ghcr.io/postfinance/kubelet-csr-approver:v1.2.15";
/**
 * EC2 private DNS host names, IP-based (`ip-10-0-1-5`, optionally `.eu-west-1.compute.internal` or
 * `.ec2.internal`) or resource-based (`i-0123456789abcdef0…`): the only names a kubelet serving
 * certificate is approved for by default.
 */
export const DEFAULT_AWS_NODE_NAME_REGEX = "^(ip-[0-9]{1,3}(-[0-9]{1,3}){3}|i-[0-9a-f]{8,17})(\\.[a-z0-9-]+\\.compute\\.internal|\\.ec2\\.internal)?$";

/** Props of {@link KubeletServingApprover}. */
export interface KubeletServingApproverProps {
  /**
   * Regex every DNS name of a kubelet serving CSR must match (the approver's `-provider-regex`).
   * @default DEFAULT_AWS_NODE_NAME_REGEX
   */
  readonly nodeNameRegex?: string;
  /** IPv4 blocks every IP address of a kubelet serving CSR must lie in (`-provider-ip-prefixes`). */
  readonly nodeIpPrefixes: readonly string[];
  /**
   * Container image of postfinance/kubelet-csr-approver; pin a digest or a mirrored copy in
   * air-gapped clusters.
   * @default DEFAULT_KUBELET_SERVING_APPROVER_IMAGE
   */
  readonly image?: string;
}

/**
 * postfinance/kubelet-csr-approver: approves `kubernetes.io/kubelet-serving` CSRs only when the
 * requester is the node itself (`system:node:<name>`, CN equal), the DNS name starts with the node
 * name and matches {@link DEFAULT_AWS_NODE_NAME_REGEX}, the name resolves to exactly the requested
 * IPs, and the IPs lie in the node blocks (the VPC). Its ServiceAccount may read CSRs and approve
 * for the kubelet-serving signer only (no other signer, no signing, no secrets).
 */
export class KubeletServingApprover extends Construct {
  /** The approver's Deployment in kube-system. */
  public readonly deployment: DeploymentV1;

  constructor(scope: Construct, id: string, props: KubeletServingApproverProps) {
    super(scope, id);
    const regex = props.nodeNameRegex ?? DEFAULT_AWS_NODE_NAME_REGEX;
    const prop = "kubeletServingCertificates";
    if (!isUnresolved(regex)) {
      let compiled: RegExp | undefined;
      try {
        compiled = new RegExp(regex);
      } catch {
        compiled = undefined;
      }
      if (compiled === undefined || !regex.startsWith("^") || !regex.endsWith("$")) {
        throw new ConfigError(`${prop}.nodeNameRegex`, regex, "must be a valid regular expression anchored with ^ and $ (an unanchored one approves names that merely contain a node name)", `use ${JSON.stringify(DEFAULT_AWS_NODE_NAME_REGEX)}`);
      }
    }
    if (props.nodeIpPrefixes.length === 0) {
      throw new ConfigError(`${prop}.nodeIpPrefixes`, props.nodeIpPrefixes, "is empty: the approver would accept any IP address in a serving certificate", "list the VPC block, e.g. [\"10.0.0.0/16\"]");
    }
    props.nodeIpPrefixes.forEach((p, i) => {
      if (isUnresolved(p)) return;
      const block = parseIpv4Cidr(`${prop}.nodeIpPrefixes[${i}]`, p);
      if (block.prefix < 8) {
        throw new ConfigError(`${prop}.nodeIpPrefixes[${i}]`, p, "is wider than /8: it would let a node name addresses outside your network", "list the VPC block, e.g. \"10.0.0.0/16\"");
      }
    });
    const name = KUBELET_SERVING_APPROVER_NAME;
    const labels = { ...MANAGED_BY_LABELS };
    const selector = { app: name };
    const sa = new ServiceAccountV1(this, "ServiceAccount", { metadata: { name, namespace: KUBE_SYSTEM, labels } });
    const role = new ClusterRoleV1(this, "ClusterRole", {
      metadata: { name, labels },
      rule: [
        { apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval"], verbs: ["update"] },
        { apiGroups: ["certificates.k8s.io"], resources: ["signers"], resourceNames: [KUBELET_SERVING_SIGNER], verbs: ["approve"] },
      ],
    });
    new ClusterRoleBindingV1(this, "ClusterRoleBinding", {
      metadata: { name, labels },
      roleRef: { apiGroup: RBAC_API_GROUP, kind: "ClusterRole", name: role.metadata.name },
      subject: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: KUBE_SYSTEM }],
    });
    this.deployment = new DeploymentV1(this, "Deployment", {
      metadata: { name, namespace: KUBE_SYSTEM, labels: { ...labels, ...selector } },
      // Runs on workers: a first apply, before any node joined, must not wait for it.
      waitForRollout: false,
      spec: {
        replicas: "1",
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector },
          spec: {
            serviceAccountName: sa.metadata.name,
            priorityClassName: "system-cluster-critical",
            nodeSelector: { "kubernetes.io/os": "linux" },
            toleration: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
            container: [
              {
                name,
                image: props.image ?? DEFAULT_KUBELET_SERVING_APPROVER_IMAGE,
                imagePullPolicy: "IfNotPresent",
                args: [
                  `-provider-regex=${regex}`,
                  `-provider-ip-prefixes=${props.nodeIpPrefixes.join(",")}`,
                  "-metrics-bind-address=:8080",
                  "-health-probe-bind-address=:8081",
                ],
                port: [{ containerPort: 8080, name: "metrics", protocol: "TCP" }],
                livenessProbe: { httpGet: { path: "/healthz", port: "8081" } },
                resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
                securityContext: {
                  runAsUser: "65532",
                  runAsNonRoot: true,
                  privileged: false,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                },
              },
            ],
          },
        },
      },
    });
  }
}
