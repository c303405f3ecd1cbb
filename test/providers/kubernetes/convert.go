package main

// The conversion between Terraform values and Kubernetes objects, driven by explicit tables
// (types.go): every attribute and block the stand-in converts is listed there with its Kubernetes
// field name and shape. Anything set in a configuration that the table does not list makes apply
// fail with the attribute's path: nothing is dropped silently.
//
// Shapes follow the real provider's expand*/flatten* functions (kubernetes/structures*.go of
// hashicorp/terraform-provider-kubernetes): a block with MaxItems 1 is a Kubernetes object, other
// blocks are arrays; maps are string maps; `replicas`, `run_as_user` and `toleration_seconds` are
// strings holding integers (the real schema declares them TypeString); ports of probes and services,
// `max_unavailable`/`max_surge` are IntOrString (intstr.Parse: an integer if the text parses as one).

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/go-cty/cty"
)

type kind int

const (
	kStr         kind = iota // string → string
	kInt                     // number → integer
	kBool                    // bool → bool
	kIntString               // string holding an integer → integer (replicas, run_as_user, toleration_seconds)
	kIntOrString             // string → IntOrString: integer when it parses as one, else the string
	kStrMap                  // map(string) → object of strings
	kMetaMap                 // labels/annotations: kStrMap, read back without server-internal keys
	kStrList                 // list or set of strings → array of strings
	kObject                  // block → object (MaxItems 1, or a list the real provider reads element 0 of)
	kObjects                 // block → array of objects
	kSecretData              // map of plain text → base64 values (secret `data`)
	kBase64Map               // map of base64 text → sent as is (`binary_data`)
	kLocal                   // the provider's own setting (wait_for_rollout, timeouts, id): never sent
)

// field maps one Terraform attribute or block to its Kubernetes field.
type field struct {
	TF    string
	K8s   string
	Kind  kind
	Block []field
	// ReadOnly: set by the server (metadata uid, resource_version, generation): never sent, read back.
	ReadOnly bool
	// ListAsObject: a list block without MaxItems that the real provider reads only element 0 of
	// (pod_affinity_term.label_selector); more than one element fails here.
	ListAsObject bool
}

func f(tf, k8s string, k kind, block ...field) field {
	return field{TF: tf, K8s: k8s, Kind: k, Block: block}
}

func ro(tf, k8s string, k kind) field { return field{TF: tf, K8s: k8s, Kind: k, ReadOnly: true} }

func local(tf string) field { return field{TF: tf, Kind: kLocal} }

func lookup(fields []field, tf string) (field, bool) {
	for _, x := range fields {
		if x.TF == tf {
			return x, true
		}
	}
	return field{}, false
}

// unknownError: an attribute the conversion does not know is set.
type unknownError struct{ path string }

func (e unknownError) Error() string {
	return fmt.Sprintf("%s is set, but the hashicorp/kubernetes %s stand-in (test/providers/kubernetes) has no Kubernetes field for it: "+
		"add it to the conversion table in types.go (with its Kubernetes name from k8s.io/api) instead of dropping it", e.path, Version)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// isEmpty: null, unknown (computed, filled by the server) or an empty collection: nothing to send.
func isEmpty(v cty.Value) bool {
	if v.IsNull() || !v.IsKnown() {
		return true
	}
	t := v.Type()
	if t.IsListType() || t.IsSetType() || t.IsMapType() || t.IsTupleType() {
		return v.LengthInt() == 0
	}
	return false
}

func asInt(v cty.Value, path string) (int64, error) {
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact {
		return 0, fmt.Errorf("%s: %s is not a whole number", path, bf.String())
	}
	return i, nil
}

// checkConfig: strictness. Every attribute and block set in the configuration (the raw config:
// null is exactly "not written", unlike the SDK's state, which stores false/0/"" for unset nested
// attributes) must be in the table, else apply fails with its path.
func checkConfig(fields []field, v cty.Value, path string) error {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	for name := range v.Type().AttributeTypes() {
		val := v.GetAttr(name)
		if isEmpty(val) {
			continue
		}
		p := join(path, name)
		fl, known := lookup(fields, name)
		if !known {
			return unknownError{p}
		}
		if fl.Kind != kObject && fl.Kind != kObjects {
			continue
		}
		for i, e := range val.AsValueSlice() {
			if err := checkConfig(fl.Block, e, fmt.Sprintf("%s.%d", p, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// expandBlock turns one Terraform object (a resource or a block element, from the plan or the prior
// state) into a Kubernetes object. Attributes outside the table are skipped here: checkConfig has
// refused any the configuration sets, so what remains are the SDK's zero values for unset ones.
func expandBlock(fields []field, v cty.Value, path string) (map[string]interface{}, error) {
	out := map[string]interface{}{}
	if v.IsNull() || !v.IsKnown() {
		return out, nil
	}
	names := make([]string, 0)
	for name := range v.Type().AttributeTypes() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		val := v.GetAttr(name)
		p := join(path, name)
		fl, known := lookup(fields, name)
		if !known || fl.Kind == kLocal || fl.ReadOnly || isEmpty(val) {
			continue
		}
		if val.Type() == cty.String && val.AsString() == "" {
			continue // unset in the SDK's state; Kubernetes omits empty strings too
		}
		x, err := expandValue(fl, val, p)
		if err != nil {
			return nil, err
		}
		if prev, taken := out[fl.K8s]; taken {
			// Two attributes into one field (a secret's data and binary_data): merged, a key in
			// both fails like the API's duplicate would.
			pm, ok1 := prev.(map[string]interface{})
			xm, ok2 := x.(map[string]interface{})
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s: two attributes map to the Kubernetes field %q", p, fl.K8s)
			}
			for k, v := range xm {
				if _, dup := pm[k]; dup {
					return nil, fmt.Errorf("%s[%q]: the key is also set by another attribute mapping to %q", p, k, fl.K8s)
				}
				pm[k] = v
			}
			continue
		}
		out[fl.K8s] = x
	}
	return out, nil
}

func expandValue(fl field, val cty.Value, p string) (interface{}, error) {
	switch fl.Kind {
	case kStr:
		return val.AsString(), nil
	case kInt:
		return asInt(val, p)
	case kBool:
		return val.True(), nil
	case kIntString:
		i, err := strconv.ParseInt(val.AsString(), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an integer", p, val.AsString())
		}
		return i, nil
	case kIntOrString:
		// intstr.Parse: an integer when the text is one, else the text (a port name, a percentage).
		s := val.AsString()
		if i, err := strconv.Atoi(s); err == nil {
			return int64(i), nil
		}
		return s, nil
	case kStrMap, kMetaMap:
		m := map[string]interface{}{}
		for k, e := range val.AsValueMap() {
			m[k] = e.AsString()
		}
		return m, nil
	case kSecretData:
		m := map[string]interface{}{}
		for k, e := range val.AsValueMap() {
			m[k] = base64.StdEncoding.EncodeToString([]byte(e.AsString()))
		}
		return m, nil
	case kBase64Map:
		m := map[string]interface{}{}
		for k, e := range val.AsValueMap() {
			if _, err := base64.StdEncoding.DecodeString(e.AsString()); err != nil {
				return nil, fmt.Errorf("%s[%q]: not base64: %v", p, k, err)
			}
			m[k] = e.AsString()
		}
		return m, nil
	case kStrList:
		var l []interface{}
		for i, e := range val.AsValueSlice() {
			if e.IsNull() {
				// The SDK stores "" in a string list as null (its legacy type system); "" is what
				// the configuration said (e.g. the core API group in a rule).
				l = append(l, "")
				continue
			}
			if !e.IsKnown() {
				return nil, fmt.Errorf("%s.%d: unknown at apply", p, i)
			}
			l = append(l, e.AsString())
		}
		return l, nil
	case kObject:
		elems := val.AsValueSlice()
		if len(elems) > 1 {
			return nil, fmt.Errorf("%s: %d blocks where Kubernetes has one object", p, len(elems))
		}
		return expandBlock(fl.Block, elems[0], p+".0")
	case kObjects:
		var l []interface{}
		for i, e := range val.AsValueSlice() {
			m, err := expandBlock(fl.Block, e, fmt.Sprintf("%s.%d", p, i))
			if err != nil {
				return nil, err
			}
			l = append(l, m)
		}
		return l, nil
	}
	return nil, fmt.Errorf("%s: conversion kind %d not handled", p, fl.Kind)
}

// --- flatten: Kubernetes object → Terraform value (what Read stores) ---------------------------------

func toInt64(x interface{}) (int64, bool) {
	switch n := x.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), float64(int64(n)) == n
	}
	return 0, false
}

// isInternalKey: the real provider's isInternalKey (kubernetes/structures.go): *.kubernetes.io keys
// except app.kubernetes.io and service.beta.kubernetes.io, and the daemon set generation annotation,
// are the server's and are not stored unless the configuration names them.
func isInternalKey(key string) bool {
	u, err := url.Parse("//" + key)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "app.kubernetes.io" || host == "service.beta.kubernetes.io" {
		return false
	}
	if strings.HasSuffix(host, "kubernetes.io") {
		return true
	}
	return strings.Contains(key, "deprecated.daemonset.template.generation")
}

// flattenBlock reads obj back into Terraform shape for the listed fields; prior is the Terraform
// value before (state or plan), which keeps provider-local settings and tells which internal
// metadata keys were configured.
func flattenBlock(fields []field, obj map[string]interface{}, prior map[string]interface{}, path string) (map[string]interface{}, error) {
	out := map[string]interface{}{}
	for _, fl := range fields {
		p := join(path, fl.TF)
		if fl.Kind == kLocal {
			if v, ok := prior[fl.TF]; ok {
				out[fl.TF] = v
			}
			continue
		}
		raw, present := obj[fl.K8s]
		if !present || raw == nil {
			continue
		}
		v, err := flattenValue(fl, raw, prior[fl.TF], p)
		if err != nil {
			return nil, err
		}
		if v != nil {
			out[fl.TF] = v
		}
	}
	return out, nil
}

func firstMap(prior interface{}, i int) map[string]interface{} {
	if l, ok := prior.([]interface{}); ok && i < len(l) {
		if m, ok := l[i].(map[string]interface{}); ok {
			return m
		}
	}
	return map[string]interface{}{}
}

func flattenValue(fl field, raw interface{}, prior interface{}, p string) (interface{}, error) {
	bad := func() error {
		return fmt.Errorf("%s: the server sent %T %v where the conversion expects kind %d", p, raw, raw, fl.Kind)
	}
	switch fl.Kind {
	case kStr:
		s, ok := raw.(string)
		if !ok {
			return nil, bad()
		}
		return s, nil
	case kInt:
		i, ok := toInt64(raw)
		if !ok {
			return nil, bad()
		}
		return int(i), nil
	case kBool:
		b, ok := raw.(bool)
		if !ok {
			return nil, bad()
		}
		return b, nil
	case kIntString:
		i, ok := toInt64(raw)
		if !ok {
			return nil, bad()
		}
		return strconv.FormatInt(i, 10), nil
	case kIntOrString:
		if s, ok := raw.(string); ok {
			return s, nil
		}
		i, ok := toInt64(raw)
		if !ok {
			return nil, bad()
		}
		return strconv.FormatInt(i, 10), nil
	case kStrMap, kMetaMap:
		m, ok := raw.(map[string]interface{})
		if !ok {
			return nil, bad()
		}
		configured, _ := prior.(map[string]interface{})
		out := map[string]interface{}{}
		for k, v := range m {
			if fl.Kind == kMetaMap && isInternalKey(k) {
				if _, named := configured[k]; !named {
					continue
				}
			}
			out[k] = v
		}
		return out, nil
	case kSecretData:
		m, ok := raw.(map[string]interface{})
		if !ok {
			return nil, bad()
		}
		out := map[string]interface{}{}
		for k, v := range m {
			s, _ := v.(string)
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("%s[%q]: %v", p, k, err)
			}
			out[k] = string(b)
		}
		return out, nil
	case kBase64Map:
		m, ok := raw.(map[string]interface{})
		if !ok {
			return nil, bad()
		}
		return m, nil
	case kStrList:
		l, ok := raw.([]interface{})
		if !ok {
			return nil, bad()
		}
		out := make([]interface{}, 0, len(l))
		for _, e := range l {
			out = append(out, e)
		}
		return out, nil
	case kObject:
		m, ok := raw.(map[string]interface{})
		if !ok {
			return nil, bad()
		}
		inner, err := flattenBlock(fl.Block, m, firstMap(prior, 0), p+".0")
		if err != nil {
			return nil, err
		}
		return []interface{}{inner}, nil
	case kObjects:
		l, ok := raw.([]interface{})
		if !ok {
			return nil, bad()
		}
		out := make([]interface{}, 0, len(l))
		for i, e := range l {
			m, ok := e.(map[string]interface{})
			if !ok {
				return nil, bad()
			}
			inner, err := flattenBlock(fl.Block, m, firstMap(prior, i), fmt.Sprintf("%s.%d", p, i))
			if err != nil {
				return nil, err
			}
			out = append(out, inner)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: conversion kind %d not handled", p, fl.Kind)
}

// mergePatch: an RFC 7386 merge patch from the prior object to the desired one (a field the
// configuration dropped becomes null; arrays are replaced whole, as the real provider's
// "replace" operations do).
func mergePatch(prior, desired map[string]interface{}) map[string]interface{} {
	patch := map[string]interface{}{}
	for k, dv := range desired {
		pv, had := prior[k]
		dm, dIsMap := dv.(map[string]interface{})
		pm, pIsMap := pv.(map[string]interface{})
		if had && dIsMap && pIsMap {
			patch[k] = mergePatch(pm, dm)
			continue
		}
		patch[k] = dv
	}
	for k := range prior {
		if _, still := desired[k]; !still {
			patch[k] = nil
		}
	}
	return patch
}
