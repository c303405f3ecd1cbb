/**
 * CIS Kubernetes Benchmark 1.12 (what kube-bench runs for Kubernetes 1.33), driven by kube-bench's
 * own check definitions: the ids, texts, flags/config paths, operators and values below are copied
 * from aquasecurity/kube-bench cfg/cis-1.12/{master,etcd,controlplane,node}.yaml as literal data,
 * and evaluated with kube-bench's semantics (`set`, `bin_op`, `eq`/`noteq`/`has`/`nothave`/`gte`/
 * `bitmask`/`valid_elements`) against what the nodes receive: flags parsed back from the rendered
 * static pod manifests, the kubelet's unit and config file, etcd's config file, and file modes from
 * the user data. kube-bench itself cannot be built here (the Go module proxy refuses it).
 *
 * Automated (scored) checks must pass. Manual checks are evaluated where kube-bench has a test and
 * each one's status is explained in docs/cis.md; the test fails when docs/cis.md does not list an
 * item. Items that cannot apply (no such file or process on our nodes) are asserted absent.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { Testing } from "../../../lib/core";
import { HaClusterStack } from "../../../examples/ha-cluster/main";
import { KUBEADM_PROBES, nodeScript, renderApiServerManifest, renderControllerManagerManifest, renderKubeletConfig, renderSchedulerManifest } from "../../../lib";
import { NodeFile, nodeFilesOf, resources, synthStack } from "../../helpers/synth";

type Flags = Map<string, string>;

/** Flags of a static pod manifest's first container. */
function flagsOf(manifest: string): Flags {
  const pod = parse(manifest);
  const command: string[] = pod.spec.containers[0].command;
  return new Map(
    command.slice(1).map((arg) => {
      const m = /^--([^=]+)=(.*)$/.exec(arg);
      if (!m) throw new Error(`unexpected argument ${arg}`);
      return [m[1], m[2]];
    }),
  );
}

/** The reference cluster's node files: API server and etcd launch templates. */
function referenceNodeFiles(): { api: Record<string, NodeFile>; etcd: Record<string, NodeFile> } {
  const json = synthStack(new HaClusterStack(Testing.app(), "ref"));
  const byPath = (lt: ReturnType<typeof resources>[number]) => Object.fromEntries(nodeFilesOf(json, lt).map((f) => [f.path, f]));
  const lts = resources(json, "aws_launch_template");
  const api = lts.find((l) => l.props.name === "prod-eu1-apiserver")!;
  const etcdLt = lts.find((l) => nodeFilesOf(json, l).some((f) => /client-transport-security/.test(f.content)))!;
  return { api: byPath(api), etcd: byPath(etcdLt) };
}

const nodes = referenceNodeFiles();
const files = Object.fromEntries(Object.entries(nodes.api).map(([k, f]) => [k, f.content]));
const api = flagsOf(files["/etc/ha-control-plane/manifests/kube-apiserver.yaml"]);
const cm = flagsOf(files["/etc/ha-control-plane/manifests/kube-controller-manager.yaml"]);
const sched = flagsOf(files["/etc/ha-control-plane/manifests/kube-scheduler.yaml"]);
const list = (f: Flags, k: string) => (f.get(k) ?? "").split(",").filter((x) => x.length > 0);

/** The kubelet's command-line flags (from its unit's ExecStart) and its config file. */
const kubeletUnit = nodes.api["/etc/systemd/system/kubelet.service"];
const kubeletFlags: Flags = new Map(
  [...(/^ExecStart=(.*)$/m.exec(kubeletUnit.content)![1].matchAll(/--([a-z-]+)=(\S+)/g))].map((m) => [m[1], m[2]]),
);
const kubeletConfig = parse(nodes.api[kubeletFlags.get("config")!].content);
/** etcd runs with --config-file: its YAML keys are the flag names, TLS ones under *-transport-security (etcd docs, etcd.conf.yml.sample). */
const etcdConfigFile = Object.values(nodes.etcd).find((f) => /client-transport-security/.test(f.content))!;
const etcdConfig = parse(etcdConfigFile.content);
const ETCD_CONFIG_PATH: Record<string, string[]> = {
  "--cert-file": ["client-transport-security", "cert-file"],
  "--key-file": ["client-transport-security", "key-file"],
  "--client-cert-auth": ["client-transport-security", "client-cert-auth"],
  "--auto-tls": ["client-transport-security", "auto-tls"],
  "--trusted-ca-file": ["client-transport-security", "trusted-ca-file"],
  "--peer-cert-file": ["peer-transport-security", "cert-file"],
  "--peer-key-file": ["peer-transport-security", "key-file"],
  "--peer-client-cert-auth": ["peer-transport-security", "client-cert-auth"],
  "--peer-auto-tls": ["peer-transport-security", "auto-tls"],
};

/** kube-bench's `$variables` mapped to our files (kube-bench cfg/config.yaml names). */
const FILE_OF: Record<string, NodeFile | undefined> = {
  // ha-kube-configure copies the templates to /etc/kubernetes/manifests with chmod 0600 (kube-configure.e2e.test.ts).
  $apiserverconf: nodes.api["/etc/ha-control-plane/manifests/kube-apiserver.yaml"],
  $controllermanagerconf: nodes.api["/etc/ha-control-plane/manifests/kube-controller-manager.yaml"],
  $schedulerconf: nodes.api["/etc/ha-control-plane/manifests/kube-scheduler.yaml"],
  $schedulerkubeconfig: nodes.api["/etc/ha-control-plane/kubeconfigs/scheduler.conf"],
  $controllermanagerkubeconfig: nodes.api["/etc/ha-control-plane/kubeconfigs/controller-manager.conf"],
  $etcdconf: etcdConfigFile,
  $kubeletsvc: kubeletUnit,
  $kubeletkubeconfig: nodes.api["/etc/ha-control-plane/kubeconfigs/kubelet.conf"],
  $kubeletconf: nodes.api[kubeletFlags.get("config")!],
};

type Op = "eq" | "noteq" | "has" | "nothave" | "gte" | "bitmask" | "valid_elements";
/** One kube-bench test item, as in the YAML (`flag`, `path`, `set`, `compare`). */
interface Item {
  readonly flag: string;
  readonly path?: string;
  readonly set?: boolean;
  readonly compare?: { readonly op: Op; readonly value: string };
}
/** One kube-bench check: id, text (verbatim), the audited thing, `bin_op`, its items. */
interface Check {
  readonly id: string;
  readonly text: string;
  readonly audit: "apiserver" | "controllermanager" | "scheduler" | "etcd" | "kubelet" | "encryption-provider" | `permissions:${string}` | `owner:${string}` | "manual";
  readonly binOp?: "and" | "or";
  readonly items: readonly Item[];
}
const c = (op: Op, value: string) => ({ op, value });
const ALL_CIPHERS =
  "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";
const KUBELET_CIPHERS = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
const perm600 = (id: string, text: string, file: string): Check => ({ id, text, audit: `permissions:${file}`, items: [{ flag: "permissions", compare: c("bitmask", "600") }] });
const owner = (id: string, text: string, file: string): Check => ({ id, text, audit: `owner:${file}`, items: [{ flag: "root:root" }] });

/** kube-bench cfg/cis-1.12, checks marked (Automated). */
const AUTOMATED: readonly Check[] = [
  perm600("1.1.1", "Ensure that the API server pod specification file permissions are set to 600 or more restrictive (Automated)", "$apiserverconf"),
  owner("1.1.2", "Ensure that the API server pod specification file ownership is set to root:root (Automated)", "$apiserverconf"),
  perm600("1.1.3", "Ensure that the controller manager pod specification file permissions are set to 600 or more restrictive (Automated)", "$controllermanagerconf"),
  owner("1.1.4", "Ensure that the controller manager pod specification file ownership is set to root:root (Automated)", "$controllermanagerconf"),
  perm600("1.1.5", "Ensure that the scheduler pod specification file permissions are set to 600 or more restrictive (Automated)", "$schedulerconf"),
  owner("1.1.6", "Ensure that the scheduler pod specification file ownership is set to root:root (Automated)", "$schedulerconf"),
  perm600("1.1.7", "Ensure that the etcd pod specification file permissions are set to 600 or more restrictive (Automated)", "$etcdconf"),
  owner("1.1.8", "Ensure that the etcd pod specification file ownership is set to root:root (Automated)", "$etcdconf"),
  { id: "1.1.11", text: "Ensure that the etcd data directory permissions are set to 700 or more restrictive (Automated)", audit: "permissions:$etcddatadir", items: [{ flag: "permissions", compare: c("bitmask", "700") }] },
  { id: "1.1.12", text: "Ensure that the etcd data directory ownership is set to etcd:etcd (Automated)", audit: "owner:$etcddatadir", items: [{ flag: "etcd:etcd" }] },
  perm600("1.1.15", "Ensure that the scheduler.conf file permissions are set to 600 or more restrictive (Automated)", "$schedulerkubeconfig"),
  owner("1.1.16", "Ensure that the scheduler.conf file ownership is set to root:root (Automated)", "$schedulerkubeconfig"),
  perm600("1.1.17", "Ensure that the controller-manager.conf file permissions are set to 600 or more restrictive (Automated)", "$controllermanagerkubeconfig"),
  owner("1.1.18", "Ensure that the controller-manager.conf file ownership is set to root:root (Automated)", "$controllermanagerkubeconfig"),
  { id: "1.2.2", text: "Ensure that the --token-auth-file parameter is not set (Automated)", audit: "apiserver", items: [{ flag: "--token-auth-file", set: false }] },
  { id: "1.2.4", text: "Ensure that the --kubelet-client-certificate and --kubelet-client-key arguments are set as appropriate (Automated)", audit: "apiserver", binOp: "and", items: [{ flag: "--kubelet-client-certificate" }, { flag: "--kubelet-client-key" }] },
  { id: "1.2.5", text: "Ensure that the --kubelet-certificate-authority argument is set as appropriate (Automated)", audit: "apiserver", items: [{ flag: "--kubelet-certificate-authority" }] },
  { id: "1.2.6", text: "Ensure that the --authorization-mode argument is not set to AlwaysAllow (Automated)", audit: "apiserver", items: [{ flag: "--authorization-mode", compare: c("nothave", "AlwaysAllow") }] },
  { id: "1.2.7", text: "Ensure that the --authorization-mode argument includes Node (Automated)", audit: "apiserver", items: [{ flag: "--authorization-mode", compare: c("has", "Node") }] },
  { id: "1.2.8", text: "Ensure that the --authorization-mode argument includes RBAC (Automated)", audit: "apiserver", items: [{ flag: "--authorization-mode", compare: c("has", "RBAC") }] },
  { id: "1.2.10", text: "Ensure that the admission control plugin AlwaysAdmit is not set (Automated)", audit: "apiserver", binOp: "or", items: [{ flag: "--enable-admission-plugins", compare: c("nothave", "AlwaysAdmit") }, { flag: "--enable-admission-plugins", set: false }] },
  { id: "1.2.12", text: "Ensure that the admission control plugin ServiceAccount is set (Automated)", audit: "apiserver", binOp: "or", items: [{ flag: "--disable-admission-plugins", compare: c("nothave", "ServiceAccount") }, { flag: "--disable-admission-plugins", set: false }] },
  { id: "1.2.13", text: "Ensure that the admission control plugin NamespaceLifecycle is set (Automated)", audit: "apiserver", binOp: "or", items: [{ flag: "--disable-admission-plugins", compare: c("nothave", "NamespaceLifecycle") }, { flag: "--disable-admission-plugins", set: false }] },
  { id: "1.2.14", text: "Ensure that the admission control plugin NodeRestriction is set (Automated)", audit: "apiserver", items: [{ flag: "--enable-admission-plugins", compare: c("has", "NodeRestriction") }] },
  { id: "1.2.15", text: "Ensure that the --profiling argument is set to false (Automated)", audit: "apiserver", items: [{ flag: "--profiling", compare: c("eq", "false") }] },
  { id: "1.2.16", text: "Ensure that the --audit-log-path argument is set (Automated)", audit: "apiserver", items: [{ flag: "--audit-log-path" }] },
  { id: "1.2.17", text: "Ensure that the --audit-log-maxage argument is set to 30 or as appropriate (Automated)", audit: "apiserver", items: [{ flag: "--audit-log-maxage", compare: c("gte", "30") }] },
  { id: "1.2.18", text: "Ensure that the --audit-log-maxbackup argument is set to 10 or as appropriate (Automated)", audit: "apiserver", items: [{ flag: "--audit-log-maxbackup", compare: c("gte", "10") }] },
  { id: "1.2.19", text: "Ensure that the --audit-log-maxsize argument is set to 100 or as appropriate (Automated)", audit: "apiserver", items: [{ flag: "--audit-log-maxsize", compare: c("gte", "100") }] },
  { id: "1.2.21", text: "Ensure that the --service-account-lookup argument is set to true (Automated)", audit: "apiserver", binOp: "or", items: [{ flag: "--service-account-lookup", set: false }, { flag: "--service-account-lookup", compare: c("eq", "true") }] },
  { id: "1.2.22", text: "Ensure that the --service-account-key-file argument is set as appropriate (Automated)", audit: "apiserver", items: [{ flag: "--service-account-key-file" }] },
  { id: "1.2.23", text: "Ensure that the --etcd-certfile and --etcd-keyfile arguments are set as appropriate (Automated)", audit: "apiserver", binOp: "and", items: [{ flag: "--etcd-certfile" }, { flag: "--etcd-keyfile" }] },
  { id: "1.2.24", text: "Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate (Automated)", audit: "apiserver", binOp: "and", items: [{ flag: "--tls-cert-file" }, { flag: "--tls-private-key-file" }] },
  { id: "1.2.25", text: "Ensure that the --client-ca-file argument is set as appropriate (Automated)", audit: "apiserver", items: [{ flag: "--client-ca-file" }] },
  { id: "1.2.26", text: "Ensure that the --etcd-cafile argument is set as appropriate (Automated)", audit: "apiserver", items: [{ flag: "--etcd-cafile" }] },
  { id: "1.2.30", text: "Ensure that the --service-account-extend-token-expiration parameter is set to false (Automated)", audit: "apiserver", items: [{ flag: "--service-account-extend-token-expiration", compare: c("eq", "false") }] },
  { id: "1.3.2", text: "Ensure that the --profiling argument is set to false (Automated)", audit: "controllermanager", items: [{ flag: "--profiling", compare: c("eq", "false") }] },
  { id: "1.3.3", text: "Ensure that the --use-service-account-credentials argument is set to true (Automated)", audit: "controllermanager", items: [{ flag: "--use-service-account-credentials", compare: c("noteq", "false") }] },
  { id: "1.3.4", text: "Ensure that the --service-account-private-key-file argument is set as appropriate (Automated)", audit: "controllermanager", items: [{ flag: "--service-account-private-key-file" }] },
  { id: "1.3.5", text: "Ensure that the --root-ca-file argument is set as appropriate (Automated)", audit: "controllermanager", items: [{ flag: "--root-ca-file" }] },
  { id: "1.3.6", text: "Ensure that the RotateKubeletServerCertificate argument is set to true (Automated)", audit: "controllermanager", binOp: "or", items: [{ flag: "--feature-gates", set: true, compare: c("nothave", "RotateKubeletServerCertificate=false") }, { flag: "--feature-gates", set: false }] },
  { id: "1.3.7", text: "Ensure that the --bind-address argument is set to 127.0.0.1 (Automated)", audit: "controllermanager", binOp: "or", items: [{ flag: "--bind-address", compare: c("eq", "127.0.0.1") }, { flag: "--bind-address", set: false }] },
  { id: "1.4.1", text: "Ensure that the --profiling argument is set to false (Automated)", audit: "scheduler", items: [{ flag: "--profiling", compare: c("eq", "false") }] },
  { id: "1.4.2", text: "Ensure that the --bind-address argument is set to 127.0.0.1 (Automated)", audit: "scheduler", binOp: "or", items: [{ flag: "--bind-address", compare: c("eq", "127.0.0.1") }, { flag: "--bind-address", set: false }] },
  { id: "2.1", text: "Ensure that the --cert-file and --key-file arguments are set as appropriate (Automated)", audit: "etcd", binOp: "and", items: [{ flag: "--cert-file" }, { flag: "--key-file" }] },
  { id: "2.2", text: "Ensure that the --client-cert-auth argument is set to true (Automated)", audit: "etcd", items: [{ flag: "--client-cert-auth", compare: c("eq", "true") }] },
  { id: "2.3", text: "Ensure that the --auto-tls argument is not set to true (Automated)", audit: "etcd", binOp: "or", items: [{ flag: "--auto-tls", set: false }, { flag: "--auto-tls", compare: c("eq", "false") }] },
  { id: "2.4", text: "Ensure that the --peer-cert-file and --peer-key-file arguments are set as appropriate (Automated)", audit: "etcd", binOp: "and", items: [{ flag: "--peer-cert-file" }, { flag: "--peer-key-file" }] },
  { id: "2.5", text: "Ensure that the --peer-client-cert-auth argument is set to true (Automated)", audit: "etcd", items: [{ flag: "--peer-client-cert-auth", compare: c("eq", "true") }] },
  { id: "2.6", text: "Ensure that the --peer-auto-tls argument is not set to true (Automated)", audit: "etcd", binOp: "or", items: [{ flag: "--peer-auto-tls", set: false }, { flag: "--peer-auto-tls", compare: c("eq", "false") }] },
  perm600("4.1.1", "Ensure that the kubelet service file permissions are set to 600 or more restrictive (Automated)", "$kubeletsvc"),
  owner("4.1.2", "Ensure that the kubelet service file ownership is set to root:root (Automated)", "$kubeletsvc"),
  perm600("4.1.5", "Ensure that the --kubeconfig kubelet.conf file permissions are set to 600 or more restrictive (Automated)", "$kubeletkubeconfig"),
  owner("4.1.6", "Ensure that the --kubeconfig kubelet.conf file ownership is set to root:root (Automated)", "$kubeletkubeconfig"),
  perm600("4.1.9", "If the kubelet config.yaml configuration file is being used validate permissions set to 600 or more restrictive (Automated)", "$kubeletconf"),
  owner("4.1.10", "If the kubelet config.yaml configuration file is being used validate file ownership is set to root:root (Automated)", "$kubeletconf"),
  { id: "4.2.1", text: "Ensure that the --anonymous-auth argument is set to false (Automated)", audit: "kubelet", items: [{ flag: "--anonymous-auth", path: "{.authentication.anonymous.enabled}", compare: c("eq", "false") }] },
  { id: "4.2.2", text: "Ensure that the --authorization-mode argument is not set to AlwaysAllow (Automated)", audit: "kubelet", items: [{ flag: "--authorization-mode", path: "{.authorization.mode}", compare: c("nothave", "AlwaysAllow") }] },
  { id: "4.2.3", text: "Ensure that the --client-ca-file argument is set as appropriate (Automated)", audit: "kubelet", items: [{ flag: "--client-ca-file", path: "{.authentication.x509.clientCAFile}" }] },
  { id: "4.2.6", text: "Ensure that the --make-iptables-util-chains argument is set to true (Automated)", audit: "kubelet", binOp: "or", items: [{ flag: "--make-iptables-util-chains", path: "{.makeIPTablesUtilChains}", compare: c("eq", "true") }, { flag: "--make-iptables-util-chains", path: "{.makeIPTablesUtilChains}", set: false }] },
  { id: "4.2.10", text: "Ensure that the --rotate-certificates argument is not set to false (Automated)", audit: "kubelet", binOp: "or", items: [{ flag: "--rotate-certificates", path: "{.rotateCertificates}", compare: c("eq", "true") }, { flag: "--rotate-certificates", path: "{.rotateCertificates}", set: false }] },
];

/** kube-bench cfg/cis-1.12, checks marked (Manual) that carry a test; docs/cis.md explains each status. */
const MANUAL: readonly Check[] = [
  { id: "1.2.1", text: "Ensure that the --anonymous-auth argument is set to false (Manual)", audit: "apiserver", items: [{ flag: "--anonymous-auth", compare: c("eq", "false") }] },
  { id: "1.2.3", text: "Ensure that the --DenyServiceExternalIPs is set (Manual)", audit: "apiserver", binOp: "or", items: [{ flag: "--enable-admission-plugins", compare: c("has", "DenyServiceExternalIPs") }] },
  { id: "1.2.9", text: "Ensure that the admission control plugin EventRateLimit is set (Manual)", audit: "apiserver", items: [{ flag: "--enable-admission-plugins", compare: c("has", "EventRateLimit") }] },
  { id: "1.2.11", text: "Ensure that the admission control plugin AlwaysPullImages is set (Manual)", audit: "apiserver", items: [{ flag: "--enable-admission-plugins", compare: c("has", "AlwaysPullImages") }] },
  { id: "1.2.27", text: "Ensure that the --encryption-provider-config argument is set as appropriate (Manual)", audit: "apiserver", items: [{ flag: "--encryption-provider-config" }] },
  { id: "1.2.28", text: "Ensure that encryption providers are appropriately configured (Manual)", audit: "encryption-provider", items: [{ flag: "provider", compare: c("valid_elements", "aescbc,kms,secretbox") }] },
  { id: "1.2.29", text: "Ensure that the API Server only makes use of Strong Cryptographic Ciphers (Manual)", audit: "apiserver", items: [{ flag: "--tls-cipher-suites", compare: c("valid_elements", ALL_CIPHERS) }] },
  { id: "1.3.1", text: "Ensure that the --terminated-pod-gc-threshold argument is set as appropriate (Manual)", audit: "controllermanager", items: [{ flag: "--terminated-pod-gc-threshold" }] },
  { id: "2.7", text: "Ensure that a unique Certificate Authority is used for etcd (Manual)", audit: "etcd", items: [{ flag: "--trusted-ca-file" }] },
  { id: "3.2.1", text: "Ensure that a minimal audit policy is created (Manual)", audit: "apiserver", items: [{ flag: "--audit-policy-file", set: true }] },
  { id: "4.2.4", text: "Verify that if defined, the --read-only-port argument is set to 0 (Manual)", audit: "kubelet", binOp: "or", items: [{ flag: "--read-only-port", path: "{.readOnlyPort}", compare: c("eq", "0") }, { flag: "--read-only-port", path: "{.readOnlyPort}", set: false }] },
  { id: "4.2.5", text: "Ensure that the --streaming-connection-idle-timeout argument is not set to 0 (Manual)", audit: "kubelet", binOp: "or", items: [{ flag: "--streaming-connection-idle-timeout", path: "{.streamingConnectionIdleTimeout}", compare: c("noteq", "0") }, { flag: "--streaming-connection-idle-timeout", path: "{.streamingConnectionIdleTimeout}", set: false }] },
  { id: "4.2.7", text: "Ensure that the --hostname-override argument is not set (Manual)", audit: "kubelet", items: [{ flag: "--hostname-override", set: false }] },
  { id: "4.2.8", text: "Ensure that the eventRecordQPS argument is set to a level which ensures appropriate event capture (Manual)", audit: "kubelet", binOp: "or", items: [{ flag: "--event-qps", path: "{.eventRecordQPS}", compare: c("gte", "0") }, { flag: "--event-qps", path: "{.eventRecordQPS}", set: false }] },
  { id: "4.2.9", text: "Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate (Manual)", audit: "kubelet", items: [{ flag: "--tls-cert-file", path: "{.tlsCertFile}" }, { flag: "--tls-private-key-file", path: "{.tlsPrivateKeyFile}" }] },
  { id: "4.2.11", text: "Verify that the RotateKubeletServerCertificate argument is set to true (Manual)", audit: "kubelet", binOp: "or", items: [{ flag: "RotateKubeletServerCertificate", path: "{.featureGates.RotateKubeletServerCertificate}", compare: c("nothave", "false") }, { flag: "RotateKubeletServerCertificate", path: "{.featureGates.RotateKubeletServerCertificate}", set: false }] },
  { id: "4.2.12", text: "Ensure that the Kubelet only makes use of Strong Cryptographic Ciphers (Manual)", audit: "kubelet", items: [{ flag: "--tls-cipher-suites", path: "{.tlsCipherSuites}", compare: c("valid_elements", KUBELET_CIPHERS) }] },
  { id: "4.2.13", text: "Ensure that a limit is set on pod PIDs (Manual)", audit: "kubelet", items: [{ flag: "--pod-max-pids", path: "{.podPidsLimit}" }] },
  { id: "4.2.14", text: "Ensure that the --seccomp-default parameter is set to true (Manual)", audit: "kubelet", items: [{ flag: "--seccomp-default", path: "{.seccompDefault}" }] },
];

/** Automated checks that have no object on our nodes; the test asserts the object is absent. */
const NOT_APPLICABLE: ReadonlyArray<{ id: string; text: string; absent: () => boolean }> = [
  { id: "1.1.13", text: "Ensure that the default administrative credential file permissions are set to 600 (Automated)", absent: () => !Object.keys(nodes.api).some((p) => /\/(super-)?admin\.conf$/.test(p)) },
  { id: "1.1.14", text: "Ensure that the default administrative credential file ownership is set to root:root (Automated)", absent: () => !Object.keys(nodes.api).some((p) => /\/(super-)?admin\.conf$/.test(p)) },
  { id: "4.3.1", text: "Ensure that the kube-proxy metrics service is bound to localhost (Automated)", absent: () => !Object.values(nodes.api).some((f) => /kube-proxy/.test(f.path)) },
];

/** A value kube-bench would find for an item: the flag on the command line, else the config path. */
function valueOf(check: Check, item: Item): string | undefined {
  const name = item.flag.replace(/^--/, "");
  switch (check.audit) {
    case "apiserver":
      return api.get(name);
    case "controllermanager":
      return cm.get(name);
    case "scheduler":
      return sched.get(name);
    case "etcd": {
      const keys = ETCD_CONFIG_PATH[item.flag];
      if (keys === undefined) throw new Error(`no etcd config mapping for ${item.flag}`);
      const v = keys.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], etcdConfig);
      return v === undefined ? undefined : String(v);
    }
    case "kubelet": {
      if (kubeletFlags.has(name)) return kubeletFlags.get(name);
      if (item.path === undefined) return undefined;
      const keys = /^\{\.(.*)\}$/.exec(item.path)![1].split(".");
      const v = keys.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], kubeletConfig);
      return v === undefined ? undefined : Array.isArray(v) ? v.join(",") : String(v);
    }
    case "encryption-provider": {
      // kube-bench: the line after `providers:` in the EncryptionConfiguration ha-kube-configure writes.
      const lines = nodeScript("ha-kube-configure.sh").split("\n");
      const at = lines.findIndex((l) => /providers:/.test(l));
      return at < 0 ? undefined : (/[A-Za-z]+/.exec(lines[at + 1]) ?? [])[0];
    }
    default: {
      const [kind, variable] = check.audit.split(":");
      if (variable === "$etcddatadir") return etcdDataDir(kind);
      const file = FILE_OF[variable];
      if (file === undefined) throw new Error(`no file for ${variable}`);
      // cloud-init write_files and the bundle's tar extraction (as root) leave files root:root; no file sets an owner.
      if (kind === "owner") return "owner" in file ? String((file as { owner?: string }).owner) : "root:root";
      return file.permissions.replace(/^0/, "");
    }
  }
}

/**
 * Mode or owner of etcd's data directory (its config's data-dir) as the etcd unit leaves it before
 * etcd starts: the last `chmod`/`chown` of its ExecStartPre steps that covers the directory; etcd
 * then runs as the unit's User= and creates nothing above it.
 */
function etcdDataDir(kind: string): string | undefined {
  const unit = Object.values(nodes.etcd).find((f) => f.path.endsWith("/etcd.service"))!.content;
  const dataDir = String(etcdConfig["data-dir"]);
  const steps = [...unit.matchAll(/^ExecStartPre=\+?(\S+) (.*)$/gm)].map((m) => ({ cmd: m[1], args: m[2].split(" ") }));
  const covers = (args: string[]) => args.some((a) => a === dataDir || (a.startsWith("/") && dataDir.startsWith(`${a}/`) && args.includes("-R")));
  const last = (name: string) => steps.filter((st) => st.cmd.endsWith(`/${name}`) && covers(st.args)).pop();
  if (kind === "owner") return last("chown")?.args.find((a) => a.includes(":"));
  return last("chmod")?.args.find((a) => /^0?[0-7]{3}$/.test(a))?.replace(/^0/, "");
}

/** kube-bench's evaluation of one item. */
function holds(check: Check, item: Item): boolean {
  if (item.flag === "root:root" || item.flag === "etcd:etcd") return valueOf(check, item) === item.flag;
  const value = valueOf(check, item);
  if (item.set === false) return value === undefined;
  if (value === undefined) return false;
  if (item.compare === undefined) return true;
  const want = item.compare.value;
  switch (item.compare.op) {
    case "eq":
      return value === want;
    case "noteq":
      return value !== want;
    case "has":
      return value.includes(want);
    case "nothave":
      return !value.includes(want);
    case "gte":
      return Number(value) >= Number(want);
    case "bitmask": {
      const requested = parseInt(value, 8);
      const max = parseInt(want, 8);
      return (max & requested) === requested;
    }
    case "valid_elements":
      return value.split(",").every((e) => want.split(",").includes(e));
  }
}

const passes = (check: Check) => (check.binOp === "or" ? check.items.some((i) => holds(check, i)) : check.items.every((i) => holds(check, i)));
const docs = readFileSync(path.join(__dirname, "../../../docs/cis.md"), "utf8");

describe("CIS Kubernetes Benchmark 1.12 (kube-bench's check definitions)", () => {
  let passed = 0;
  afterAll(() =>
    console.log(
      `CIS 1.12: ${passed} of ${AUTOMATED.length} applicable automated checks pass (${NOT_APPLICABLE.length} not applicable); manual: ${MANUAL.map((m) => `${m.id} ${passes(m) ? "pass" : "fail"}`).join(", ")}`,
    ),
  );

  it.each(AUTOMATED.map((a) => [a.id, a.text, a] as const))("%s %s", (_id, _text, check) => {
    expect(passes(check)).toBe(true);
    passed++;
  });

  it.each(NOT_APPLICABLE.map((n) => [n.id, n.text, n] as const))("%s is not applicable: %s (no such object on the nodes)", (_id, _text, n) => {
    expect(n.absent()).toBe(true);
  });

  it("runs etcd as its own user, with no capability but reading its root-owned certificates", () => {
    const unit = Object.values(nodes.etcd).find((f) => f.path.endsWith("/etcd.service"))!.content;
    expect(unit).toMatch(/^User=etcd$/m);
    expect(unit).toMatch(/^Group=etcd$/m);
    expect(unit).toMatch(/^CapabilityBoundingSet=CAP_DAC_READ_SEARCH$/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    // Only the preparation steps run as root.
    expect(unit).toMatch(/^ExecStart=\/(?!\+)/m);
  });

  it("explains every manual check and every open or not-applicable one in docs/cis.md, with its current status", () => {
    for (const m of MANUAL) {
      const line = docs.split("\n").find((l) => l.startsWith(`| ${m.id} |`));
      expect([m.id, line]).toEqual([m.id, expect.stringContaining(passes(m) ? "| pass |" : "| fail |")]);
    }
    for (const id of NOT_APPLICABLE.map((n) => n.id)) expect(docs).toMatch(new RegExp(`^\\| ${id.replace(/\./g, "\\.")} \\|`, "m"));
  });

  it("keeps every manifest, kubeconfig, key file and kubelet unit 0600 on the node", () => {
    for (const f of Object.values(nodes.api)) {
      if (/\/etc\/kubernetes\/|manifests\/|kubeconfigs\/|kubelet\/config|kubelet\.service/.test(f.path)) expect([f.path, f.permissions]).toEqual([f.path, "0600"]);
    }
  });
});

describe("kube-apiserver behind the load balancer", () => {
  const json = synthStack(new HaClusterStack(Testing.app(), "ref"));
  const hc = resources(json, "aws_lb_target_group")[0].props.health_check;
  const detection = hc.interval * hc.unhealthy_threshold;
  const pod = parse(files["/etc/ha-control-plane/manifests/kube-apiserver.yaml"]);

  it("keeps serving after SIGTERM longer than the load balancer needs to notice (shutdown delay > detection time)", () => {
    const delay = Number(/^(\d+)s$/.exec(api.get("shutdown-delay-duration")!)![1]);
    expect(delay).toBeGreaterThan(detection);
    expect(delay).toBeGreaterThanOrEqual(detection + hc.interval);
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(delay);
  });

  it("lists every etcd member over TLS, advertises the slot IP and reconciles endpoints by lease", () => {
    expect(list(api, "etcd-servers")).toEqual(["https://10.0.0.20:2379", "https://10.0.16.20:2379", "https://10.0.32.20:2379"]);
    expect(api.get("advertise-address")).toBe("@@SLOT_IP@@");
    expect(api.get("endpoint-reconciler-type")).toBe("lease");
    expect(api.get("service-cluster-ip-range")).toBe("10.96.0.0/12");
  });

  it("probes /livez, /readyz and startup with at least kubeadm's timings", () => {
    const c = pod.spec.containers[0];
    expect(c.livenessProbe.httpGet).toMatchObject({ path: "/livez", scheme: "HTTPS", port: 6443 });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: "/readyz", scheme: "HTTPS" });
    expect(c.startupProbe.httpGet).toMatchObject({ path: "/livez" });
    for (const [probe, floor] of [[c.livenessProbe, KUBEADM_PROBES.liveness], [c.readinessProbe, KUBEADM_PROBES.readiness], [c.startupProbe, KUBEADM_PROBES.startup]] as const) {
      expect(probe.timeoutSeconds).toBeGreaterThanOrEqual(floor.timeoutSeconds);
      expect(probe.periodSeconds * probe.failureThreshold).toBeGreaterThanOrEqual(floor.periodSeconds * floor.failureThreshold);
    }
  });

  it("runs controller-manager and scheduler with leader election against the local API server", () => {
    expect(cm.get("leader-elect")).toBe("true");
    expect(sched.get("leader-elect")).toBe("true");
    // Templates: ha-kube-configure embeds the certificates (test/bootstrap/kubernetes/static-pod-files*).
    const kubeconfig = parse(files["/etc/ha-control-plane/kubeconfigs/controller-manager.conf"]);
    expect(kubeconfig.clusters[0].cluster.server).toBe("https://127.0.0.1:6443");
    expect(parse(files["/etc/ha-control-plane/kubeconfigs/scheduler.conf"]).users[0].user["client-certificate-data"]).toBe("@@PKI_BASE64:scheduler.crt@@");
  });

  it("renders the same flags for a real slot IP as the node writes after substitution", () => {
    const input = { clusterName: "c", kubernetesVersion: "1.33.5", advertiseAddress: "10.0.0.10", etcdServers: ["https://10.0.0.20:2379"], serviceCidr: "10.96.0.0/12", podCidr: "10.244.0.0/16", clusterDomain: "cluster.local", shutdownDelaySeconds: 20 };
    expect(flagsOf(renderApiServerManifest(input)).get("advertise-address")).toBe("10.0.0.10");
    expect(flagsOf(renderControllerManagerManifest(input)).get("cluster-cidr")).toBe("10.244.0.0/16");
    expect(flagsOf(renderSchedulerManifest(input)).get("bind-address")).toBe("127.0.0.1");
    expect(parse(renderKubeletConfig())).toMatchObject({ readOnlyPort: 0, authentication: { anonymous: { enabled: false } }, address: "127.0.0.1" });
    expect(parse(renderApiServerManifest(input)).spec.containers[0].image).toBe("registry.k8s.io/kube-apiserver:v1.33.5");
  });
});
