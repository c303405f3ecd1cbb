package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/validation"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
)

// What the bindings cannot carry, from the real provider's schema (its metadata, RBAC, container and
// secret schemas). The validators call the same k8s.io/apimachinery functions the real provider
// calls, so an invalid name fails here exactly when it fails there.

// rbacTypes name their objects by path segment (kubernetes allows ':' in RBAC names), not DNS subdomain.
var rbacTypes = map[string]bool{
	"kubernetes_role_v1":                 true,
	"kubernetes_role_binding_v1":         true,
	"kubernetes_cluster_role_v1":         true,
	"kubernetes_cluster_role_binding_v1": true,
}

func errorsOf(key string, msgs []string) (es []error) {
	for _, m := range msgs {
		es = append(es, fmt.Errorf("%s %s", key, m))
	}
	return
}

func validateName(v interface{}, key string) ([]string, []error) {
	return nil, errorsOf(key, apivalidation.NameIsDNSSubdomain(v.(string), false))
}

func validateGenerateName(v interface{}, key string) ([]string, []error) {
	return nil, errorsOf(key, apivalidation.NameIsDNSLabel(v.(string), true))
}

func validateRBACName(v interface{}, key string) ([]string, []error) {
	return nil, errorsOf(key, pathvalidation.IsValidPathSegmentName(v.(string)))
}

func validateLabels(v interface{}, key string) (ws []string, es []error) {
	for k, val := range v.(map[string]interface{}) {
		for _, msg := range utilvalidation.IsQualifiedName(k) {
			es = append(es, fmt.Errorf("%s (%q) %s", key, k, msg))
		}
		s, ok := val.(string)
		if !ok {
			es = append(es, fmt.Errorf("%s.%s (%#v): Expected value to be string", key, k, val))
			continue
		}
		for _, msg := range utilvalidation.IsValidLabelValue(s) {
			es = append(es, fmt.Errorf("%s (%q) %s", key, s, msg))
		}
	}
	return
}

func validateAnnotations(v interface{}, key string) (ws []string, es []error) {
	for k := range v.(map[string]interface{}) {
		for _, msg := range utilvalidation.IsQualifiedName(strings.ToLower(k)) {
			es = append(es, fmt.Errorf("%s (%q) %s", key, k, msg))
		}
	}
	return
}

func validateResourceList(v interface{}, key string) (ws []string, es []error) {
	for k, val := range v.(map[string]interface{}) {
		s, ok := val.(string)
		if !ok {
			es = append(es, fmt.Errorf("%s.%s (%#v): Value can be either string or int", key, k, val))
			continue
		}
		if _, err := resource.ParseQuantity(s); err != nil {
			es = append(es, fmt.Errorf("%s.%s (%q): %s", key, k, s, err))
		}
	}
	return
}

func validatePortNum(v interface{}, key string) ([]string, []error) {
	return nil, errorsOf(key, utilvalidation.IsValidPortNum(v.(int)))
}

func validatePortName(v interface{}, key string) ([]string, []error) {
	return nil, errorsOf(key, utilvalidation.IsValidPortName(v.(string)))
}

// validatePortNumOrName: a probe's or service's target port is a number or an IANA_SVC_NAME.
func validatePortNumOrName(v interface{}, key string) ([]string, []error) {
	s := v.(string)
	if n, err := strconv.Atoi(s); err == nil {
		return validatePortNum(n, key)
	}
	return validatePortName(s, key)
}

func nested(s *schema.Schema) map[string]*schema.Schema {
	if s == nil {
		return nil
	}
	if r, ok := s.Elem.(*schema.Resource); ok {
		return r.Schema
	}
	return nil
}

// metadata: the real metadata schema (schema_metadata.go of the provider): name optional+computed,
// ForceNew and validated; generate_name conflicting with it; namespace defaulting to "default"
// outside pod templates; labels and annotations validated.
func metadata(typ string, fields map[string]*schema.Schema, topLevel bool) {
	nameCheck, genCheck := validateName, validateGenerateName
	if rbacTypes[typ] && topLevel {
		nameCheck, genCheck = validateRBACName, validateRBACName
	}
	if f := fields["name"]; f != nil {
		f.ValidateFunc = nameCheck
		if f.Optional {
			f.Computed = true
		}
		f.ForceNew = topLevel
	}
	if f := fields["generate_name"]; f != nil {
		f.ValidateFunc = genCheck
		f.ForceNew = topLevel
		if topLevel {
			f.ConflictsWith = []string{"metadata.0.name"}
			fields["name"].ConflictsWith = []string{"metadata.0.generate_name"}
		}
	}
	if f := fields["namespace"]; f != nil && topLevel {
		f.ForceNew = true
		if f.Optional {
			f.Default = "default"
		}
	}
	if f := fields["labels"]; f != nil {
		f.ValidateFunc = validateLabels
	}
	if f := fields["annotations"]; f != nil {
		f.ValidateFunc = validateAnnotations
	}
}

// walk applies the nested rules to every block below fields.
func walk(typ string, fields map[string]*schema.Schema, depth int) {
	for name, s := range fields {
		inner := nested(s)
		switch {
		case name == "metadata" && inner != nil:
			metadata(typ, inner, depth == 0)
		case name == "resources" && inner != nil:
			for _, k := range []string{"limits", "requests"} {
				if f := inner[k]; f != nil && f.Type == schema.TypeMap {
					f.ValidateFunc = validateResourceList
				}
			}
		case name == "port" && inner != nil:
			if f := inner["container_port"]; f != nil {
				f.ValidateFunc = validatePortNum
			}
			if f := inner["name"]; f != nil && inner["container_port"] != nil {
				f.ValidateFunc = validatePortName
			}
		case name == "http_get" && inner != nil:
			if f := inner["port"]; f != nil && f.Type == schema.TypeString {
				f.ValidateFunc = validatePortNumOrName
			}
		case name == "role_ref" && inner != nil:
			inner["api_group"].ValidateFunc = validation.StringInSlice([]string{"rbac.authorization.k8s.io"}, false)
			inner["kind"].ValidateFunc = validation.StringInSlice([]string{"Role", "ClusterRole"}, false)
		case name == "subject" && inner != nil:
			if f := inner["api_group"]; f != nil && f.Optional {
				f.Computed = true
			}
			if f := inner["namespace"]; f != nil && f.Optional {
				f.Default = "default"
			}
		}
		if inner != nil {
			walk(typ, inner, depth+1)
		}
	}
}

// def sets a Default on an optional attribute that exists.
func def(fields map[string]*schema.Schema, name string, v interface{}) {
	if f := fields[name]; f != nil && f.Optional && !f.Computed {
		f.Default = v
	}
}

// computedBlock marks an optional block optional+computed (the server fills it).
func computedBlock(fields map[string]*schema.Schema, name string) {
	if f := fields[name]; f != nil && f.Optional {
		f.Computed = true
	}
}

// defaults: the real provider's Default and optional+computed flags for the attributes the
// conversion tables (types.go) apply, so that what the server defaults reads back without a diff,
// as with the real provider. Each from the real schema:
//   - schema_container.go: probes failure_threshold 3, period_seconds 10, success_threshold 1,
//     timeout_seconds 1; http_get.scheme "HTTP"; container port protocol "TCP"; field_ref.api_version
//     "v1"; volume_mount.read_only false; security_context allow_privilege_escalation true,
//     privileged false, read_only_root_filesystem false; resources optional+computed;
//     image_pull_policy optional+computed;
//   - schema_pod_spec.go: dns_policy "ClusterFirst" (workload templates);
//   - resource_kubernetes_deployment_v1.go: strategy and strategy.rolling_update optional+computed,
//     strategy.type "RollingUpdate", rolling_update max_surge/max_unavailable "25%";
//     wait_for_rollout true (also the daemon set's, whose strategy and rolling_update are
//     optional+computed and type "RollingUpdate");
//   - resource_kubernetes_service_v1.go: spec.type "ClusterIP", port protocol "TCP", port
//     target_port optional+computed;
//   - resource_kubernetes_secret_v1.go: data optional+computed, type "Opaque",
//     wait_for_service_account_token true;
//   - resource_kubernetes_service_account_v1.go: automount_service_account_token true;
//   - resource_kubernetes_config_map_v1_data.go: field_manager "Terraform".
//
// Defaults of attributes the tables do not apply are not added: a default would put a value
// there that apply refuses as unknown.
func defaults(typ string, r *schema.Resource) {
	top := r.Schema
	switch typ {
	case "kubernetes_deployment_v1", "kubernetes_daemon_set_v1":
		def(top, "wait_for_rollout", true)
		spec := nested(top["spec"])
		computedBlock(spec, "strategy")
		strategy := nested(spec["strategy"])
		def(strategy, "type", "RollingUpdate")
		computedBlock(strategy, "rolling_update")
		if typ == "kubernetes_deployment_v1" {
			ru := nested(strategy["rolling_update"])
			def(ru, "max_surge", "25%")
			def(ru, "max_unavailable", "25%")
		}
		podSpec := nested(nested(spec["template"])["spec"])
		def(podSpec, "dns_policy", "ClusterFirst")
		c := nested(podSpec["container"])
		computedBlock(c, "resources")
		if res := nested(c["resources"]); res != nil {
			computedBlock(res, "limits")
			computedBlock(res, "requests")
		}
		computedBlock(c, "image_pull_policy")
		for _, probe := range []string{"liveness_probe", "readiness_probe", "startup_probe"} {
			p := nested(c[probe])
			def(p, "failure_threshold", 3)
			def(p, "period_seconds", 10)
			def(p, "success_threshold", 1)
			def(p, "timeout_seconds", 1)
			def(nested(p["http_get"]), "scheme", "HTTP")
		}
		def(nested(c["port"]), "protocol", "TCP")
		def(nested(nested(nested(c["env"])["value_from"])["field_ref"]), "api_version", "v1")
		def(nested(c["volume_mount"]), "read_only", false)
		sc := nested(c["security_context"])
		def(sc, "allow_privilege_escalation", true)
		def(sc, "privileged", false)
		def(sc, "read_only_root_filesystem", false)
	case "kubernetes_service_v1":
		spec := nested(top["spec"])
		def(spec, "type", "ClusterIP")
		port := nested(spec["port"])
		def(port, "protocol", "TCP")
		computedBlock(port, "target_port")
	case "kubernetes_secret_v1":
		computedBlock(top, "data") // optional+computed: a token controller fills a service-account token secret
		def(top, "type", "Opaque")
		def(top, "wait_for_service_account_token", true)
	case "kubernetes_service_account_v1":
		def(top, "automount_service_account_token", true)
	case "kubernetes_config_map_v1_data":
		def(top, "field_manager", "Terraform")
	}
}

func applyOverlay(typ string, r *schema.Resource) {
	walk(typ, r.Schema, 0)
	defaults(typ, r)
	if typ == "kubernetes_secret_v1" {
		for _, k := range []string{"data", "binary_data", "data_wo"} {
			if f := r.Schema[k]; f != nil {
				f.Sensitive = true
			}
		}
	}
}

func applyProviderOverlay(p *schema.Provider) {
	for _, k := range []string{"client_key", "password", "token"} {
		if f := p.Schema[k]; f != nil {
			f.Sensitive = true
		}
	}
}
