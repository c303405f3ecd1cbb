package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-sdk/v2/diag"
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

func applyOverlay(typ string, r *schema.Resource) {
	walk(typ, r.Schema, 0)
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

// configure: nothing to connect to at plan time (the real provider also connects lazily).
func configure(context.Context, *schema.ResourceData) (interface{}, diag.Diagnostics) {
	return nil, nil
}
