package main

// Conversion tests. The oracle is k8s.io/api: every object the tables produce is decoded into the
// typed struct of its kind with sigs.k8s.io/json's strict decoder (case-sensitive like the API
// server, unknown and duplicate fields refused), so a field name the tables get wrong fails here.
// The input is every kubernetes resource of the library's cluster-objects stacks
// (testdata/stacks.json, kept fresh by test/providers/kubernetes-standin-fixture.test.ts), with the
// schema defaults applied as terraform's plan applies them.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/go-cty/cty"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	sigsjson "sigs.k8s.io/json"
)

var typed = map[string]func() interface{}{
	"kubernetes_config_map_v1":            func() interface{} { return &corev1.ConfigMap{} },
	"kubernetes_secret_v1":                func() interface{} { return &corev1.Secret{} },
	"kubernetes_service_account_v1":       func() interface{} { return &corev1.ServiceAccount{} },
	"kubernetes_service_v1":               func() interface{} { return &corev1.Service{} },
	"kubernetes_deployment_v1":            func() interface{} { return &appsv1.Deployment{} },
	"kubernetes_daemon_set_v1":            func() interface{} { return &appsv1.DaemonSet{} },
	"kubernetes_pod_disruption_budget_v1": func() interface{} { return &policyv1.PodDisruptionBudget{} },
	"kubernetes_priority_class_v1":        func() interface{} { return &schedulingv1.PriorityClass{} },
	"kubernetes_role_v1":                  func() interface{} { return &rbacv1.Role{} },
	"kubernetes_cluster_role_v1":          func() interface{} { return &rbacv1.ClusterRole{} },
	"kubernetes_role_binding_v1":          func() interface{} { return &rbacv1.RoleBinding{} },
	"kubernetes_cluster_role_binding_v1":  func() interface{} { return &rbacv1.ClusterRoleBinding{} },
	// kubernetes_config_map_v1_data applies {apiVersion, kind, metadata, data}: a ConfigMap.
	"kubernetes_config_map_v1_data": func() interface{} { return &corev1.ConfigMap{} },
}

type fixtureResource struct {
	stack, typ, name string
	config           map[string]interface{}
}

func loadFixture(t *testing.T) []fixtureResource {
	t.Helper()
	raw, err := os.ReadFile("testdata/stacks.json")
	if err != nil {
		t.Fatal(err)
	}
	var stacks map[string]map[string]map[string]map[string]interface{}
	if err := json.Unmarshal(raw, &stacks); err != nil {
		t.Fatal(err)
	}
	var out []fixtureResource
	for stack, types := range stacks {
		for typ, instances := range types {
			for name, cfg := range instances {
				out = append(out, fixtureResource{stack, typ, name, cfg})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].stack+out[i].typ+out[i].name < out[j].stack+out[j].typ+out[j].name })
	return out
}

// ctyOf builds the value terraform would plan for a configuration: the resource's implied type,
// configured values, schema defaults for absent attributes, empty collections for absent blocks,
// unknown for computed-only attributes (a create plan).
func ctyOf(t cty.Type, sch map[string]*schema.Schema, cfg map[string]interface{}, plan bool) (cty.Value, error) {
	attrs := map[string]cty.Value{}
	for name, at := range t.AttributeTypes() {
		raw, present := cfg[name]
		v, err := valueOf(at, sch[name], raw, present && raw != nil, plan)
		if err != nil {
			return cty.NilVal, fmt.Errorf("%s: %w", name, err)
		}
		attrs[name] = v
	}
	return cty.ObjectVal(attrs), nil
}

func isBlock(s *schema.Schema) bool {
	if s == nil {
		return false
	}
	_, ok := s.Elem.(*schema.Resource)
	return ok && (s.Type == schema.TypeList || s.Type == schema.TypeSet) && !(s.Computed && !s.Optional)
}

func valueOf(t cty.Type, s *schema.Schema, raw interface{}, present, plan bool) (cty.Value, error) {
	if !present && stateZeros && s != nil && !isBlock(s) && s.Default == nil && !(s.Computed && !s.Optional) {
		// The SDK's state of an unset nested attribute: its zero value, not null.
		switch {
		case t == cty.String:
			return cty.StringVal(""), nil
		case t == cty.Number:
			return cty.NumberIntVal(0), nil
		case t == cty.Bool:
			return cty.False, nil
		}
	}
	if !present {
		switch {
		case !plan && !isBlock(s): // a configuration: what is not written is null
			return cty.NullVal(t), nil
		case s == nil: // id, timeouts
			if t.IsObjectType() {
				return cty.NullVal(t), nil
			}
			return cty.UnknownVal(t), nil
		case s.Default != nil:
			return valueOf(t, s, s.Default, true, plan)
		case s.Computed && !s.Optional:
			return cty.UnknownVal(t), nil
		case isBlock(s) && t.IsListType():
			return cty.ListValEmpty(t.ElementType()), nil
		case isBlock(s) && t.IsSetType():
			return cty.SetValEmpty(t.ElementType()), nil
		}
		return cty.NullVal(t), nil
	}
	switch {
	case t == cty.String:
		switch x := raw.(type) {
		case string:
			return cty.StringVal(x), nil
		case float64:
			return cty.StringVal(fmt.Sprint(x)), nil
		}
	case t == cty.Number:
		switch x := raw.(type) {
		case float64:
			return cty.NumberFloatVal(x), nil
		case int:
			return cty.NumberIntVal(int64(x)), nil
		}
	case t == cty.Bool:
		if b, ok := raw.(bool); ok {
			return cty.BoolVal(b), nil
		}
	case t.IsMapType():
		m, ok := raw.(map[string]interface{})
		if !ok {
			break
		}
		if len(m) == 0 {
			return cty.MapValEmpty(t.ElementType()), nil
		}
		vals := map[string]cty.Value{}
		for k, x := range m {
			vals[k] = cty.StringVal(fmt.Sprint(x))
		}
		return cty.MapVal(vals), nil
	case t.IsListType() || t.IsSetType():
		items, ok := raw.([]interface{})
		if !ok {
			items = []interface{}{raw} // cdktf writes a MaxItems-1 block as one object
		}
		et := t.ElementType()
		var vals []cty.Value
		for i, item := range items {
			var v cty.Value
			var err error
			if et.IsObjectType() {
				m, ok := item.(map[string]interface{})
				if !ok {
					return cty.NilVal, fmt.Errorf("element %d: %T is not an object", i, item)
				}
				v, err = ctyOf(et, nested(s), m, plan)
			} else {
				v, err = valueOf(et, nil, item, true, plan)
			}
			if err != nil {
				return cty.NilVal, fmt.Errorf("%d.%w", i, err)
			}
			vals = append(vals, v)
		}
		if len(vals) == 0 {
			if t.IsListType() {
				return cty.ListValEmpty(et), nil
			}
			return cty.SetValEmpty(et), nil
		}
		if t.IsListType() {
			return cty.ListVal(vals), nil
		}
		return cty.SetVal(vals), nil
	}
	return cty.NilVal, fmt.Errorf("%#v does not fit %s", raw, t.FriendlyName())
}

// stateZeros: build values as the SDK stores state (zero values for unset nested primitives).
var stateZeros bool

// planOf: the planned value of a configuration (defaults applied, computed-only unknown).
func planOf(t *testing.T, p *schema.Provider, typ string, cfg map[string]interface{}) cty.Value {
	t.Helper()
	r := p.ResourcesMap[typ]
	v, err := ctyOf(r.CoreConfigSchema().ImpliedType(), r.Schema, cfg, true)
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return v
}

// configOf: the raw configuration value (null where nothing is written).
func configOf(t *testing.T, p *schema.Provider, typ string, cfg map[string]interface{}) cty.Value {
	t.Helper()
	r := p.ResourcesMap[typ]
	v, err := ctyOf(r.CoreConfigSchema().ImpliedType(), r.Schema, cfg, false)
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return v
}

// apply: what Create does before calling the API: the configuration check, then the conversion.
func apply(t *testing.T, p *schema.Provider, typ string, cfg map[string]interface{}) (map[string]interface{}, error) {
	t.Helper()
	fields := configMapDataFields
	if typ != "kubernetes_config_map_v1_data" {
		fields = typeSpecs[typ].Fields
	}
	if err := checkConfig(fields, configOf(t, p, typ, cfg), typ); err != nil {
		return nil, err
	}
	return toObject(typ, planOf(t, p, typ, cfg))
}

func toObject(typ string, v cty.Value) (map[string]interface{}, error) {
	if typ == "kubernetes_config_map_v1_data" {
		obj, err := expandBlock(configMapDataFields, v, typ)
		if err != nil {
			return nil, err
		}
		obj["apiVersion"], obj["kind"] = "v1", "ConfigMap"
		return obj, nil
	}
	return generic{typ: typ, spec: typeSpecs[typ]}.toObject(v)
}

// strictDecode: the oracle. Unknown, misspelled (case-sensitive) and duplicate fields fail.
func strictDecode(typ string, obj map[string]interface{}) (interface{}, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	target := typed[typ]()
	strict, err := sigsjson.UnmarshalStrict(data, target)
	if err != nil {
		return nil, err
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%v", strict)
	}
	return target, nil
}

func TestEveryFixtureResourceConvertsToItsKubernetesType(t *testing.T) {
	p := newProvider()
	seen := map[string]int{}
	for _, r := range loadFixture(t) {
		seen[r.typ]++
		obj, err := apply(t, p, r.typ, r.config)
		if err != nil {
			t.Errorf("%s %s.%s: %v", r.stack, r.typ, r.name, err)
			continue
		}
		if _, err := strictDecode(r.typ, obj); err != nil {
			t.Errorf("%s %s.%s: the object is not a valid %T: %v\n%v", r.stack, r.typ, r.name, typed[r.typ](), err, obj)
		}
	}
	for typ := range p.ResourcesMap {
		if seen[typ] == 0 {
			t.Errorf("%s: no resource of this type in testdata/stacks.json", typ)
		}
	}
	t.Logf("converted %v", seen)
}

// normalize turns a cdktf configuration into terraform's shape (every block a list).
func normalize(sch map[string]*schema.Schema, cfg map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range cfg {
		s := sch[k]
		if s != nil && isBlock(s) {
			items, ok := v.([]interface{})
			if !ok {
				items = []interface{}{v}
			}
			var l []interface{}
			for _, it := range items {
				l = append(l, normalize(nested(s), it.(map[string]interface{})))
			}
			out[k] = l
			continue
		}
		out[k] = v
	}
	return out
}

// subset: every configured value is in got (numbers compared after a JSON round trip).
func subset(t *testing.T, path string, want, got interface{}) {
	t.Helper()
	roundTrip := func(x interface{}) interface{} {
		b, _ := json.Marshal(x)
		var y interface{}
		_ = json.Unmarshal(b, &y)
		return y
	}
	want, got = roundTrip(want), roundTrip(got)
	switch w := want.(type) {
	case map[string]interface{}:
		g, ok := got.(map[string]interface{})
		if !ok {
			t.Errorf("%s: want %v, read back %v", path, want, got)
			return
		}
		for k, v := range w {
			if v == nil {
				continue
			}
			subset(t, path+"."+k, v, g[k])
		}
	case []interface{}:
		g, ok := got.([]interface{})
		if !ok || len(g) != len(w) {
			t.Errorf("%s: want %v, read back %v", path, want, got)
			return
		}
		for i := range w {
			subset(t, fmt.Sprintf("%s.%d", path, i), w[i], g[i])
		}
	default:
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: want %#v, read back %#v", path, want, got)
		}
	}
}

// Read's flatten of what apply sends gives back every configured value: a second plan shows no
// change (the server's own defaults are covered by the control-plane tier's replan).
func TestReadBackGivesTheConfiguration(t *testing.T) {
	p := newProvider()
	for _, r := range loadFixture(t) {
		if r.typ == "kubernetes_config_map_v1_data" {
			continue // its Read keeps the configured keys of the ConfigMap's data (crud.go)
		}
		spec := typeSpecs[r.typ]
		cfg := normalize(p.ResourcesMap[r.typ].Schema, r.config)
		obj, err := toObject(r.typ, planOf(t, p, r.typ, r.config))
		if err != nil {
			t.Fatal(err)
		}
		flat, err := flattenBlock(spec.Fields, obj, cfg, r.typ)
		if err != nil {
			t.Fatalf("%s.%s: %v", r.typ, r.name, err)
		}
		if r.typ == "kubernetes_secret_v1" {
			splitSecretData(flat, cfg)
		}
		for k := range cfg {
			if f, ok := lookup(spec.Fields, k); ok && f.Kind == kLocal {
				delete(cfg, k)
			}
		}
		subset(t, r.typ+"."+r.name, cfg, flat)
	}
}

func fixtureConfig(t *testing.T, typ, name string) map[string]interface{} {
	t.Helper()
	for _, r := range loadFixture(t) {
		if r.stack == "reference" && r.typ == typ && strings.Contains(r.name, name) {
			// A deep copy: tests change it.
			b, _ := json.Marshal(r.config)
			var c map[string]interface{}
			_ = json.Unmarshal(b, &c)
			return c
		}
	}
	t.Fatalf("no %s %s in the fixture", typ, name)
	return nil
}

// Strictness: anything set that the tables do not convert fails with its path.
func TestUnknownAttributesAndBlocksFailApply(t *testing.T) {
	p := newProvider()
	service := fixtureConfig(t, "kubernetes_service_v1", "CoreDns_Service")
	service["spec"].(map[string]interface{})["session_affinity"] = "ClientIP"
	deployment := fixtureConfig(t, "kubernetes_deployment_v1", "CoreDns_Deployment")
	podSpec := deployment["spec"].(map[string]interface{})["template"].(map[string]interface{})["spec"].(map[string]interface{})
	podSpec["init_container"] = []interface{}{map[string]interface{}{"name": "init", "image": "busybox"}}
	approver := fixtureConfig(t, "kubernetes_deployment_v1", "KubeletServingApprover_Deployment")
	approver["spec"].(map[string]interface{})["paused"] = false // explicit false is set too
	secret := fixtureConfig(t, "kubernetes_secret_v1", "BootstrapToken")
	secret["data_wo_revision"] = 1.0
	for _, c := range []struct {
		typ  string
		cfg  map[string]interface{}
		path string
	}{
		{"kubernetes_service_v1", service, "kubernetes_service_v1.spec.0.session_affinity"},
		{"kubernetes_deployment_v1", deployment, "kubernetes_deployment_v1.spec.0.template.0.spec.0.init_container"},
		{"kubernetes_deployment_v1", approver, "kubernetes_deployment_v1.spec.0.paused"},
		{"kubernetes_secret_v1", secret, "kubernetes_secret_v1.data_wo_revision"},
	} {
		_, err := apply(t, p, c.typ, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.path+" is set, but the hashicorp/kubernetes 2.38.0 stand-in") {
			t.Errorf("%s: want an error naming %s, got %v", c.typ, c.path, err)
		}
	}
}

// The oracle itself can fail: a table with a misspelled Kubernetes name (clusterIp for clusterIP,
// which encoding/json's case-insensitive matching would accept) is refused.
func TestTheOracleCatchesAWrongFieldName(t *testing.T) {
	p := newProvider()
	typ := "kubernetes_service_v1"
	spec := typeSpecs[typ]
	wrong := typeSpec{GVR: spec.GVR, Kind: spec.Kind, Namespaced: true, Fields: append([]field(nil), spec.Fields...)}
	for i, fl := range wrong.Fields {
		if fl.TF == "spec" {
			inner := append([]field(nil), fl.Block...)
			for j := range inner {
				if inner[j].TF == "cluster_ip" {
					inner[j].K8s = "clusterIp"
				}
			}
			wrong.Fields[i].Block = inner
		}
	}
	cfg := fixtureConfig(t, typ, "CoreDns_Service")
	obj, err := generic{typ: typ, spec: wrong}.toObject(planOf(t, p, typ, cfg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strictDecode(typ, obj); err == nil || !strings.Contains(err.Error(), "clusterIp") {
		t.Fatalf("the strict decode accepted spec.clusterIp: %v", err)
	}
	// And the right table passes with the configured address in the typed field.
	obj, _ = toObject(typ, planOf(t, p, typ, cfg))
	svc, err := strictDecode(typ, obj)
	if err != nil || svc.(*corev1.Service).Spec.ClusterIP != "10.96.0.10" {
		t.Fatalf("clusterIP: %v %v", err, svc)
	}
}

// A secret's data is plain text in terraform and base64 on the wire (the typed struct decodes it
// back to the same bytes); binary_data is base64 already and lands in the same data map.
func TestSecretDataEncoding(t *testing.T) {
	p := newProvider()
	cfg := map[string]interface{}{
		"metadata":    map[string]interface{}{"name": "s", "namespace": "kube-system"},
		"data":        map[string]interface{}{"token-id": "abcdef", "description": "naïve ✓"},
		"binary_data": map[string]interface{}{"blob": base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255})},
		"type":        "bootstrap.kubernetes.io/token",
	}
	obj, err := apply(t, p, "kubernetes_secret_v1", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := strictDecode("kubernetes_secret_v1", obj)
	if err != nil {
		t.Fatal(err)
	}
	sec := s.(*corev1.Secret)
	if string(sec.Data["token-id"]) != "abcdef" || string(sec.Data["description"]) != "naïve ✓" || !reflect.DeepEqual(sec.Data["blob"], []byte{0, 1, 2, 255}) || sec.Type != "bootstrap.kubernetes.io/token" {
		t.Fatalf("secret: %+v", sec)
	}
	flat, err := flattenBlock(typeSpecs["kubernetes_secret_v1"].Fields, obj, normalize(p.ResourcesMap["kubernetes_secret_v1"].Schema, cfg), "")
	if err != nil {
		t.Fatal(err)
	}
	splitSecretData(flat, cfg)
	if !reflect.DeepEqual(flat["data"], map[string]interface{}{"token-id": "abcdef", "description": "naïve ✓"}) || !reflect.DeepEqual(flat["binary_data"], cfg["binary_data"]) {
		t.Fatalf("read back: %v", flat)
	}
	// The same key in both maps is refused, not overwritten.
	cfg["binary_data"] = map[string]interface{}{"token-id": "YQ=="}
	if _, err := apply(t, p, "kubernetes_secret_v1", cfg); err == nil {
		t.Fatal("a key in data and binary_data was accepted")
	}
}

// Every table entry names an attribute of the served schema with the matching shape: a block with
// MaxItems 1 is an object, another block an array (unless the real provider reads element 0).
func TestTablesMatchTheSchema(t *testing.T) {
	p := newProvider()
	var check func(path string, fields []field, sch map[string]*schema.Schema)
	check = func(path string, fields []field, sch map[string]*schema.Schema) {
		for _, fl := range fields {
			if fl.TF == "id" || fl.TF == "timeouts" {
				continue
			}
			s := sch[fl.TF]
			p := path + "." + fl.TF
			if s == nil {
				t.Errorf("%s: not in the schema", p)
				continue
			}
			want := map[kind]func() bool{
				kStr:         func() bool { return s.Type == schema.TypeString },
				kInt:         func() bool { return s.Type == schema.TypeInt },
				kBool:        func() bool { return s.Type == schema.TypeBool },
				kIntString:   func() bool { return s.Type == schema.TypeString },
				kIntOrString: func() bool { return s.Type == schema.TypeString },
				kStrMap:      func() bool { return s.Type == schema.TypeMap },
				kMetaMap:     func() bool { return s.Type == schema.TypeMap },
				kSecretData:  func() bool { return s.Type == schema.TypeMap },
				kBase64Map:   func() bool { return s.Type == schema.TypeMap },
				kStrList: func() bool {
					e, ok := s.Elem.(*schema.Schema)
					return (s.Type == schema.TypeList || s.Type == schema.TypeSet) && ok && e.Type == schema.TypeString
				},
				kObject: func() bool {
					_, ok := s.Elem.(*schema.Resource)
					return ok && (s.MaxItems == 1 || fl.ListAsObject)
				},
				kObjects: func() bool {
					_, ok := s.Elem.(*schema.Resource)
					return ok && s.MaxItems != 1
				},
				kLocal: func() bool { return true },
			}[fl.Kind]
			if !want() {
				t.Errorf("%s: kind %d does not match the schema (%v, MaxItems %d)", p, fl.Kind, s.Type, s.MaxItems)
			}
			if fl.Block != nil {
				check(p, fl.Block, nested(s))
			}
		}
	}
	for typ, spec := range typeSpecs {
		check(typ, spec.Fields, p.ResourcesMap[typ].Schema)
	}
	check("kubernetes_config_map_v1_data", configMapDataFields, p.ResourcesMap["kubernetes_config_map_v1_data"].Schema)
	for typ := range p.ResourcesMap {
		if _, ok := typeSpecs[typ]; !ok && typ != "kubernetes_config_map_v1_data" {
			t.Errorf("%s: served without a conversion table", typ)
		}
	}
}

func TestMergePatchRemovesWhatTheConfigurationDropped(t *testing.T) {
	prior := map[string]interface{}{"metadata": map[string]interface{}{"name": "x", "labels": map[string]interface{}{"a": "1", "b": "2"}}, "data": map[string]interface{}{"k": "v"}}
	desired := map[string]interface{}{"metadata": map[string]interface{}{"name": "x", "labels": map[string]interface{}{"a": "1"}}}
	got := mergePatch(prior, desired)
	want := map[string]interface{}{"metadata": map[string]interface{}{"name": "x", "labels": map[string]interface{}{"a": "1", "b": nil}}, "data": nil}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merge patch %v, want %v", got, want)
	}
}

// The real provider's isInternalKey: *.kubernetes.io keys are the server's unless configured,
// except app.kubernetes.io and service.beta.kubernetes.io.
func TestInternalMetadataKeys(t *testing.T) {
	for key, internal := range map[string]bool{
		"deployment.kubernetes.io/revision":        true,
		"kubernetes.io/cluster-service":            true,
		"app.kubernetes.io/managed-by":             false,
		"service.beta.kubernetes.io/aws-load-type": false,
		"deprecated.daemonset.template.generation": true,
		"prometheus.io/scrape":                     false,
		"k8s-app":                                  false,
	} {
		if isInternalKey(key) != internal {
			t.Errorf("%s: internal %v", key, !internal)
		}
	}
	fl := f("labels", "labels", kMetaMap)
	got, _ := flattenValue(fl, map[string]interface{}{"kubernetes.io/cluster-service": "true", "deployment.kubernetes.io/revision": "1", "k8s-app": "x"}, map[string]interface{}{"kubernetes.io/cluster-service": "true"}, "labels")
	if !reflect.DeepEqual(got, map[string]interface{}{"kubernetes.io/cluster-service": "true", "k8s-app": "x"}) {
		t.Fatalf("labels read back %v", got)
	}
}

// An update converts the prior state, where the SDK stores false/0/"" for every unset nested
// attribute, also those outside the tables: they are not sent, and what is sent still decodes.
func TestPriorStateWithZeroValuesConverts(t *testing.T) {
	p := newProvider()
	stateZeros = true
	defer func() { stateZeros = false }()
	for _, r := range loadFixture(t) {
		obj, err := toObject(r.typ, planOf(t, p, r.typ, r.config))
		if err != nil {
			t.Errorf("%s.%s: %v", r.typ, r.name, err)
			continue
		}
		if _, err := strictDecode(r.typ, obj); err != nil {
			t.Errorf("%s.%s: %v", r.typ, r.name, err)
		}
	}
}
