package main

// The conversion tables: for every resource type the library declares, each Terraform attribute
// and block the stand-in applies, with its Kubernetes field name (from k8s.io/api's JSON tags: the
// unit tests decode every converted object into the typed k8s.io/api struct with unknown fields
// disallowed) and shape. Only what the library's stacks set is listed (plus the server-set
// metadata): anything else set in a configuration fails apply (see unknownError).
//
// Names follow the real provider's expand functions (kubernetes/structures_*.go): e.g. `rule` →
// rules, `subject` → subjects, `role_ref` → roleRef, `container` → containers, `volume_mount` →
// volumeMounts, `toleration` → tolerations, `cluster_ip` → clusterIP, `non_resource_urls` →
// nonResourceURLs.

import "k8s.io/apimachinery/pkg/runtime/schema"

type typeSpec struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
	Fields     []field
}

func (t typeSpec) apiVersion() string {
	return t.GVR.GroupVersion().String()
}

// top adds what every SDK resource carries and the provider keeps to itself: `id` and `timeouts`.
func top(fields ...field) []field {
	return append([]field{local("id"), local("timeouts")}, fields...)
}

func metadataFields(namespaced bool) []field {
	fs := []field{
		f("name", "name", kStr),
		f("generate_name", "generateName", kStr),
		f("labels", "labels", kMetaMap),
		f("annotations", "annotations", kMetaMap),
		ro("uid", "uid", kStr),
		ro("resource_version", "resourceVersion", kStr),
		ro("generation", "generation", kInt),
	}
	if namespaced {
		fs = append(fs, f("namespace", "namespace", kStr))
	}
	return fs
}

var labelSelector = []field{
	f("match_labels", "matchLabels", kStrMap),
	f("match_expressions", "matchExpressions", kObjects,
		f("key", "key", kStr),
		f("operator", "operator", kStr),
		f("values", "values", kStrList),
	),
}

var probe = []field{
	f("http_get", "httpGet", kObject,
		f("path", "path", kStr),
		f("port", "port", kIntOrString),
		f("scheme", "scheme", kStr),
		f("host", "host", kStr),
	),
	f("initial_delay_seconds", "initialDelaySeconds", kInt),
	f("timeout_seconds", "timeoutSeconds", kInt),
	f("period_seconds", "periodSeconds", kInt),
	f("success_threshold", "successThreshold", kInt),
	f("failure_threshold", "failureThreshold", kInt),
}

var container = []field{
	f("name", "name", kStr),
	f("image", "image", kStr),
	f("image_pull_policy", "imagePullPolicy", kStr),
	f("command", "command", kStrList),
	f("args", "args", kStrList),
	f("env", "env", kObjects,
		f("name", "name", kStr),
		f("value", "value", kStr),
		f("value_from", "valueFrom", kObject,
			f("field_ref", "fieldRef", kObject,
				f("field_path", "fieldPath", kStr),
				f("api_version", "apiVersion", kStr),
			),
		),
	),
	f("volume_mount", "volumeMounts", kObjects,
		f("name", "name", kStr),
		f("mount_path", "mountPath", kStr),
		f("read_only", "readOnly", kBool),
	),
	f("resources", "resources", kObject,
		f("limits", "limits", kStrMap),
		f("requests", "requests", kStrMap),
	),
	f("port", "ports", kObjects,
		f("container_port", "containerPort", kInt),
		f("name", "name", kStr),
		f("protocol", "protocol", kStr),
	),
	f("liveness_probe", "livenessProbe", kObject, probe...),
	f("readiness_probe", "readinessProbe", kObject, probe...),
	f("security_context", "securityContext", kObject,
		f("privileged", "privileged", kBool),
		f("allow_privilege_escalation", "allowPrivilegeEscalation", kBool),
		f("read_only_root_filesystem", "readOnlyRootFilesystem", kBool),
		f("run_as_user", "runAsUser", kIntString),
		f("run_as_non_root", "runAsNonRoot", kBool),
		f("capabilities", "capabilities", kObject,
			f("add", "add", kStrList),
			f("drop", "drop", kStrList),
		),
	),
}

func listAsObject(x field) field {
	x.ListAsObject = true
	return x
}

var podSpec = []field{
	f("priority_class_name", "priorityClassName", kStr),
	f("host_network", "hostNetwork", kBool),
	f("service_account_name", "serviceAccountName", kStr),
	f("node_selector", "nodeSelector", kStrMap),
	f("dns_policy", "dnsPolicy", kStr),
	f("toleration", "tolerations", kObjects,
		f("key", "key", kStr),
		f("operator", "operator", kStr),
		f("value", "value", kStr),
		f("effect", "effect", kStr),
		f("toleration_seconds", "tolerationSeconds", kIntString),
	),
	f("container", "containers", kObjects, container...),
	f("volume", "volumes", kObjects,
		f("name", "name", kStr),
		f("config_map", "configMap", kObject,
			f("name", "name", kStr),
			f("items", "items", kObjects,
				f("key", "key", kStr),
				f("path", "path", kStr),
			),
		),
		f("host_path", "hostPath", kObject,
			f("path", "path", kStr),
			f("type", "type", kStr),
		),
	),
	f("affinity", "affinity", kObject,
		f("pod_anti_affinity", "podAntiAffinity", kObject,
			f("preferred_during_scheduling_ignored_during_execution", "preferredDuringSchedulingIgnoredDuringExecution", kObjects,
				f("weight", "weight", kInt),
				f("pod_affinity_term", "podAffinityTerm", kObject,
					// A list block in the schema; the real expandPodAffinityTerm reads element 0.
					listAsObject(f("label_selector", "labelSelector", kObject, labelSelector...)),
					f("topology_key", "topologyKey", kStr),
					f("namespaces", "namespaces", kStrList),
				),
			),
		),
	),
}

var podTemplate = []field{
	f("metadata", "metadata", kObject, metadataFields(true)...),
	f("spec", "spec", kObject, podSpec...),
}

var rollingUpdate = []field{
	f("max_unavailable", "maxUnavailable", kIntOrString),
	f("max_surge", "maxSurge", kIntOrString),
}

var rbacRoleRef = f("role_ref", "roleRef", kObject,
	f("api_group", "apiGroup", kStr),
	f("kind", "kind", kStr),
	f("name", "name", kStr),
)

var rbacSubjects = f("subject", "subjects", kObjects,
	f("kind", "kind", kStr),
	f("name", "name", kStr),
	f("namespace", "namespace", kStr),
	f("api_group", "apiGroup", kStr),
)

func rbacRules(cluster bool) field {
	fs := []field{
		f("api_groups", "apiGroups", kStrList),
		f("resources", "resources", kStrList),
		f("resource_names", "resourceNames", kStrList),
		f("verbs", "verbs", kStrList),
	}
	if cluster {
		fs = append(fs, f("non_resource_urls", "nonResourceURLs", kStrList))
	}
	return f("rule", "rules", kObjects, fs...)
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// typeSpecs: every resource type the stand-in applies, except kubernetes_config_map_v1_data
// (server-side apply of one ConfigMap's data: configMapDataFields and its own CRUD in crud.go).
var typeSpecs = map[string]typeSpec{
	"kubernetes_config_map_v1": {gvr("", "v1", "configmaps"), "ConfigMap", true, top(
		f("metadata", "metadata", kObject, metadataFields(true)...),
		f("data", "data", kStrMap),
		f("binary_data", "binaryData", kBase64Map),
		f("immutable", "immutable", kBool),
	)},
	"kubernetes_secret_v1": {gvr("", "v1", "secrets"), "Secret", true, top(
		f("metadata", "metadata", kObject, metadataFields(true)...),
		// Plain text in Terraform, base64 in the object: the real provider sends `data` as
		// StringData/base64-encoded bytes and `binary_data` base64-decoded into the same Data map
		// (resource_kubernetes_secret_v1.go); both land in the Secret's `data`.
		f("data", "data", kSecretData),
		f("binary_data", "data", kBase64Map),
		f("type", "type", kStr),
		f("immutable", "immutable", kBool),
		local("wait_for_service_account_token"),
	)},
	"kubernetes_service_account_v1": {gvr("", "v1", "serviceaccounts"), "ServiceAccount", true, top(
		f("metadata", "metadata", kObject, metadataFields(true)...),
		f("automount_service_account_token", "automountServiceAccountToken", kBool),
		f("image_pull_secret", "imagePullSecrets", kObjects, f("name", "name", kStr)),
		f("secret", "secrets", kObjects, f("name", "name", kStr)),
		// Computed; since Kubernetes 1.24 no token Secret is created for a service account, and
		// the real provider then reads it as "" (resource_kubernetes_service_account_v1.go).
		local("default_secret_name"),
	)},
	"kubernetes_service_v1": {gvr("", "v1", "services"), "Service", true, top(
		f("metadata", "metadata", kObject, metadataFields(true)...),
		f("spec", "spec", kObject,
			f("cluster_ip", "clusterIP", kStr),
			f("type", "type", kStr),
			f("selector", "selector", kStrMap),
			f("port", "ports", kObjects,
				f("name", "name", kStr),
				f("port", "port", kInt),
				f("protocol", "protocol", kStr),
				f("target_port", "targetPort", kIntOrString),
			),
		),
		// Computed list attributes holding one object each (flattenServiceStatus of the real provider).
		field{TF: "status", K8s: "status", Kind: kObject, ReadOnly: true, ListAsObject: true, Block: []field{
			listAsObject(f("load_balancer", "loadBalancer", kObject,
				f("ingress", "ingress", kObjects, f("ip", "ip", kStr), f("hostname", "hostname", kStr)),
			)),
		}},
		local("wait_for_load_balancer"),
	)},
	"kubernetes_deployment_v1": {gvr("apps", "v1", "deployments"), "Deployment", true, top(
		f("metadata", "metadata", kObject, metadataFields(true)...),
		f("spec", "spec", kObject,
			f("replicas", "replicas", kIntString),
			f("selector", "selector", kObject, labelSelector...),
			f("strategy", "strategy", kObject,
				f("type", "type", kStr),
				f("rolling_update", "rollingUpdate", kObject, rollingUpdate...),
			),
			f("template", "template", kObject, podTemplate...),
		),
		local("wait_for_rollout"),
	)},
	"kubernetes_daemon_set_v1": {gvr("apps", "v1", "daemonsets"), "DaemonSet", true, top(
		f("metadata", "metadata", kObject, metadataFields(true)...),
		f("spec", "spec", kObject,
			f("selector", "selector", kObject, labelSelector...),
			f("strategy", "updateStrategy", kObject,
				f("type", "type", kStr),
				f("rolling_update", "rollingUpdate", kObject, rollingUpdate...),
			),
			f("template", "template", kObject, podTemplate...),
		),
		local("wait_for_rollout"),
	)},
	"kubernetes_pod_disruption_budget_v1": {gvr("policy", "v1", "poddisruptionbudgets"), "PodDisruptionBudget", true, top(
		f("metadata", "metadata", kObject, metadataFields(true)...),
		f("spec", "spec", kObject,
			f("max_unavailable", "maxUnavailable", kIntOrString),
			f("min_available", "minAvailable", kIntOrString),
			f("selector", "selector", kObject, labelSelector...),
		),
	)},
	"kubernetes_priority_class_v1": {gvr("scheduling.k8s.io", "v1", "priorityclasses"), "PriorityClass", false, top(
		f("metadata", "metadata", kObject, metadataFields(false)...),
		f("value", "value", kInt),
		f("description", "description", kStr),
		f("preemption_policy", "preemptionPolicy", kStr),
		f("global_default", "globalDefault", kBool),
	)},
	"kubernetes_role_v1": {gvr("rbac.authorization.k8s.io", "v1", "roles"), "Role", true, top(
		f("metadata", "metadata", kObject, metadataFields(true)...),
		rbacRules(false),
	)},
	"kubernetes_cluster_role_v1": {gvr("rbac.authorization.k8s.io", "v1", "clusterroles"), "ClusterRole", false, top(
		f("metadata", "metadata", kObject, metadataFields(false)...),
		rbacRules(true),
	)},
	"kubernetes_role_binding_v1": {gvr("rbac.authorization.k8s.io", "v1", "rolebindings"), "RoleBinding", true, top(
		f("metadata", "metadata", kObject, metadataFields(true)...),
		rbacRoleRef,
		rbacSubjects,
	)},
	"kubernetes_cluster_role_binding_v1": {gvr("rbac.authorization.k8s.io", "v1", "clusterrolebindings"), "ClusterRoleBinding", false, top(
		f("metadata", "metadata", kObject, metadataFields(false)...),
		rbacRoleRef,
		rbacSubjects,
	)},
}

// configMapDataFields: kubernetes_config_map_v1_data, a server-side apply of `data` into an
// existing ConfigMap (resource_kubernetes_config_map_v1_data.go of the real provider).
var configMapDataFields = top(
	f("metadata", "metadata", kObject, f("name", "name", kStr), f("namespace", "namespace", kStr)),
	f("data", "data", kStrMap),
	local("force"),
	local("field_manager"),
)
