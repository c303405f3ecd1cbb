import { renderComponentKubeconfig, ControlPlaneComponent } from "../../pki/kubeconfig";
import { BootExtras, BootFile, NODE_PATHS, nodeScript } from "../node-user-data";
import { pauseTagFor } from "../../cluster/kubeadm-config";
import { DEFAULT_IMAGE_REPOSITORY, KubernetesBinaryMirror, checkImageRepository, checkKubernetesBinaryMirror, kubernetesBinaryMirrorEnv } from "./binaries";
import { renderOneshotService, renderSystemdUnit, renderTimer } from "../systemd";
import {
  ControlPlaneComponentsInput,
  KUBE_PATHS,
  renderAdmissionConfig,
  renderApiServerManifest,
  renderAuditPolicy,
  renderAuthenticationConfig,
  renderControllerManagerManifest,
  renderEventRateLimitConfig,
  renderKubeletConfig,
  renderKubeletKubeconfig,
  renderSchedulerManifest,
} from "./components";

/** Where kubelet, kubeadm and kubectl go when installed from a binary mirror. */
export const KUBE_BINARY_DIR = "/usr/local/bin";

/** Where manifest templates (with the slot-IP marker) wait for `ha-kube-configure`. */
export const MANIFEST_TEMPLATE_DIR = "/etc/ha-control-plane/manifests";

/** Input of {@link apiServerBootExtras}. */
export interface ApiServerBootInput extends Omit<ControlPlaneComponentsInput, "advertiseAddress"> {
  /** Secrets Manager secret holding the secrets-encryption key (created empty by Terraform). */
  readonly encryptionKeySecret: string;
  /**
   * Kubernetes apt repository (a mirror for air-gapped installs).
   * @default - pkgs.k8s.io for the version's minor release
   */
  readonly kubernetesAptRepository?: string;
  /**
   * Binary mirror of kubelet, kubeadm and kubectl (checked against pinned SHA-256s on the node);
   * installs from files into /usr/local/bin instead of the apt repository.
   * @default - the apt repository
   */
  readonly binaryMirror?: KubernetesBinaryMirror;
  /**
   * CloudWatch Logs group audit events are shipped to (see `AuditLogs`), into a stream named after
   * the node's slot.
   * @default - audit events stay on the node
   */
  readonly auditLogGroup?: string;
}

/** The audit shipper: script, service, and a timer running it every minute. */
function auditShippingFiles(): BootFile[] {
  return [
    { path: "/usr/local/sbin/ha-ship-audit-logs", permissions: "0755", content: nodeScript("ha-ship-audit-logs.sh") },
    {
      path: "/etc/systemd/system/ha-ship-audit-logs.service",
      permissions: "0644",
      content: renderOneshotService({
        description: "Ship new kube-apiserver audit events to CloudWatch Logs",
        // Its stream is named after the slot; the timer only starts it, so nothing waits on it.
        requires: ["ha-claim-slot.service"],
        after: ["ha-claim-slot.service", "network-online.target"],
        execStart: "/usr/local/sbin/ha-ship-audit-logs",
        timeoutStartSeconds: 300,
        install: false,
      }),
    },
    {
      path: "/etc/systemd/system/ha-ship-audit-logs.timer",
      permissions: "0644",
      content: renderTimer({ description: "Ship kube-apiserver audit events every minute", onBootMinutes: 2, everyMinutes: 1 }),
    },
  ];
}


/**
 * What API server nodes add to the common boot: containerd and a pinned kubelet from the signed
 * package repository, the static pod manifests (slot IP filled in at boot), the configuration files
 * they read (0600), component kubeconfigs, and a standalone kubelet that runs the static pods.
 * Boot order: ha-kube-install, then ha-kube-configure (requires the slot claim and the
 * certificates), then the kubelet (requires both); cloud-init starts all three in one transaction.
 */
export function apiServerBootExtras(input: ApiServerBootInput): BootExtras {
  const components: ControlPlaneComponentsInput = { ...input, advertiseAddress: "@@SLOT_IP@@" };
  checkImageRepository("imageRepository", input.imageRepository);
  if (input.binaryMirror !== undefined) checkKubernetesBinaryMirror("kubernetesBinaryMirror", input.binaryMirror, input.kubernetesVersion);
  const kubeletPath = input.binaryMirror !== undefined ? `${KUBE_BINARY_DIR}/kubelet` : "/usr/bin/kubelet";
  // containerd runs every pod in a pause container: from the mirror too when one is set.
  const sandboxImage = input.imageRepository !== undefined && input.imageRepository !== DEFAULT_IMAGE_REPOSITORY
    ? `${input.imageRepository}/pause:${pauseTagFor("imageRepository", input.kubernetesVersion)}`
    : undefined;
  const secret = (path: string, content: string): BootFile => ({ path, permissions: "0600", content });
  const files: BootFile[] = [
    { path: "/usr/local/sbin/ha-kube-install", permissions: "0755", content: nodeScript("ha-kube-install.sh") },
    { path: "/usr/local/sbin/ha-kube-configure", permissions: "0755", content: nodeScript("ha-kube-configure.sh") },
    // ha-restore's steps on this node (stop-api/start-api; the etcd steps on stacked members).
    { path: "/usr/local/sbin/ha-restore-node", permissions: "0755", content: nodeScript("ha-restore-node.sh") },
    ...(input.binaryMirror !== undefined ? [{ path: "/usr/local/sbin/ha-kube-binaries", permissions: "0755", content: nodeScript("ha-kube-binaries.sh") }] : []),
    secret(`${MANIFEST_TEMPLATE_DIR}/kube-apiserver.yaml`, renderApiServerManifest(components)),
    secret(`${MANIFEST_TEMPLATE_DIR}/kube-controller-manager.yaml`, renderControllerManagerManifest(components)),
    secret(`${MANIFEST_TEMPLATE_DIR}/kube-scheduler.yaml`, renderSchedulerManifest(components)),
    secret(KUBE_PATHS.authenticationConfig, renderAuthenticationConfig()),
    secret(KUBE_PATHS.auditPolicy, renderAuditPolicy()),
    secret(KUBE_PATHS.admissionConfig, renderAdmissionConfig()),
    secret(KUBE_PATHS.eventRateLimitConfig, renderEventRateLimitConfig()),
    secret(`${KUBE_PATHS.kubeconfigTemplates}/controller-manager.conf`, renderComponentKubeconfig({ clusterName: input.clusterName, component: ControlPlaneComponent.CONTROLLER_MANAGER })),
    secret(`${KUBE_PATHS.kubeconfigTemplates}/scheduler.conf`, renderComponentKubeconfig({ clusterName: input.clusterName, component: ControlPlaneComponent.SCHEDULER })),
    secret(`${KUBE_PATHS.kubeconfigTemplates}/kubelet.conf`, renderKubeletKubeconfig(input.clusterName)),
    secret(KUBE_PATHS.kubeletConfig, renderKubeletConfig()),
    {
      // The whole unit, not a drop-in on the packaged one: it exists from the first second of boot
      // (the package comes later, from ha-kube-install), so cloud-init enables it together with
      // its preconditions in one transaction and every later boot starts it from
      // multi-user.target. It requires and follows the install and the configuration, which start
      // nothing themselves: no unit issues a start job for a unit ordered after it.
      path: "/etc/systemd/system/kubelet.service",
      // CIS 4.1.1: the kubelet service file 600 or stricter (systemd reads it as root).
      permissions: "0600",
      content: renderSystemdUnit({
        unit: {
          Description: "kubelet: runs the control plane's static pods (not registered as a Node)",
          Documentation: "https://kubernetes.io/docs/",
          Requires: "ha-kube-install.service ha-kube-configure.service",
          Wants: "network-online.target",
          // containerd comes with ha-kube-install (it fails when containerd does not start), so
          // ordering suffices: a Requires= on a unit not yet installed would fail the first boot.
          After: "network-online.target ha-kube-install.service ha-kube-configure.service ha-time-sync.service containerd.service",
          StartLimitIntervalSec: 0,
        },
        service: {
          ExecStart: `${kubeletPath} --config=${KUBE_PATHS.kubeletConfig} --kubeconfig=${KUBE_PATHS.kubeletKubeconfig} --container-runtime-endpoint=unix:///run/containerd/containerd.sock`,
          Restart: "always",
          RestartSec: 10,
        },
        install: { WantedBy: "multi-user.target" },
      }),
    },
    {
      path: "/etc/systemd/system/ha-kube-install.service",
      permissions: "0644",
      content: renderOneshotService({
        description: "Install containerd and the pinned kubelet",
        wants: ["network-online.target"],
        after: ["network-online.target"],
        remainAfterExit: true,
        execStart: "/usr/local/sbin/ha-kube-install",
        timeoutStartSeconds: 900,
      }),
    },
    {
      // Each certificate refresh (the hourly ha-refresh-secrets) then rewrites the component
      // kubeconfigs: controller-manager, scheduler and kubelet read their client certificates only at
      // start, so a renewed one restarts them (the API server and etcd reload certificate files).
      path: `${NODE_PATHS.refreshUnit}.d/10-kube-configure.conf`,
      permissions: "0644",
      content: renderSystemdUnit({ service: { ExecStartPost: "/usr/local/sbin/ha-kube-configure --refresh-kubeconfigs" } }),
    },
    {
      path: "/etc/systemd/system/ha-kube-configure.service",
      permissions: "0644",
      content: renderOneshotService({
        description: "Write static pod manifests, kubeconfigs and secrets encryption",
        // The slot IP and the certificates are hard preconditions: without them the unit fails
        // ("Dependency failed") and writes nothing, instead of leaving an API server crash-looping.
        requires: ["ha-claim-slot.service", "ha-fetch-secrets.service"],
        wants: ["ha-time-sync.service"],
        after: ["ha-claim-slot.service", "ha-fetch-secrets.service", "ha-time-sync.service", "ha-kube-install.service"],
        remainAfterExit: true,
        execStart: "/usr/local/sbin/ha-kube-configure",
      }),
    },
  ];
  const shipping = input.auditLogGroup !== undefined;
  if (shipping) files.push(...auditShippingFiles());
  return {
    files,
    env: {
      KUBERNETES_VERSION: input.kubernetesVersion.replace(/^v/, ""),
      ENCRYPTION_KEY_SECRET: input.encryptionKeySecret,
      ...(input.kubernetesAptRepository !== undefined ? { K8S_APT_REPO: input.kubernetesAptRepository } : {}),
      ...(input.binaryMirror !== undefined ? { ...kubernetesBinaryMirrorEnv(input.binaryMirror), HA_KUBE_BIN_DIR: KUBE_BINARY_DIR } : {}),
      ...(sandboxImage !== undefined ? { HA_SANDBOX_IMAGE: sandboxImage } : {}),
      ...(shipping ? { AUDIT_LOG_GROUP: input.auditLogGroup! } : {}),
    },
    runcmd: [
      ["mkdir", "-p", KUBE_PATHS.auditLogDir],
      ["chmod", "0700", KUBE_PATHS.auditLogDir],
      ["systemctl", "daemon-reload"],
      // One transaction: install, then configure, then the kubelet, by their ordering.
      ["systemctl", "enable", "--now", "ha-kube-install.service", "ha-kube-configure.service", "kubelet.service"],
      ...(shipping ? [["systemctl", "enable", "--now", "ha-ship-audit-logs.timer"]] : []),
    ],
  };
}
