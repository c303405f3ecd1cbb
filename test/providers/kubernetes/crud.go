package main

// Create/Read/Update/Delete against a real API server through client-go's dynamic client, with the
// objects converted by the tables of types.go.
//
// What each step does, after the real provider (kubernetes/resource_kubernetes_*.go):
//   - Create: POST the object; id `<namespace>/<name>` (namespaced) or `<name>` (buildId); then the
//     real waits: deployments and daemon sets with wait_for_rollout (default true) until the
//     rollout is complete (waitForDeploymentReplicasFunc / waitForDaemonSetReplicasFunc), secrets of
//     type kubernetes.io/service-account-token until the token controller filled `token`
//     (wait_for_service_account_token, default true); then Read.
//   - Read: GET; a missing object empties the id (Terraform plans to create it again); every table
//     field is read back from the server (so drift shows in the next plan), labels and annotations
//     without the server's internal keys (isInternalKey).
//   - Update: a merge patch from the object the prior state converts to, to the one the plan converts
//     to (a field the configuration dropped is removed), then the same waits as Create, then Read.
//   - Delete: DELETE, then wait until GET answers NotFound (the real provider's delete retry loops).

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-cty/cty"
	"github.com/hashicorp/terraform-plugin-sdk/v2/diag"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

const pollInterval = 500 * time.Millisecond

type generic struct {
	typ  string
	spec typeSpec
}

func (g generic) client(meta interface{}, namespace string) (dynamic.ResourceInterface, error) {
	c, ok := meta.(*kubeClient)
	if !ok || c == nil {
		return nil, fmt.Errorf("%s: the provider is not configured", g.typ)
	}
	dyn, err := c.dynamic()
	if err != nil {
		return nil, err
	}
	if g.spec.Namespaced {
		return dyn.Resource(g.spec.GVR).Namespace(namespace), nil
	}
	return dyn.Resource(g.spec.GVR), nil
}

// checked: the configuration passes checkConfig (every attribute set has a conversion).
func (g generic) checked(d *schema.ResourceData) error {
	return checkConfig(g.spec.Fields, d.GetRawConfig(), g.typ)
}

// toObject converts a Terraform value (plan or prior state) of this type into its Kubernetes object.
func (g generic) toObject(v cty.Value) (map[string]interface{}, error) {
	obj, err := expandBlock(g.spec.Fields, v, g.typ)
	if err != nil {
		return nil, err
	}
	obj["apiVersion"] = g.spec.apiVersion()
	obj["kind"] = g.spec.Kind
	md, _ := obj["metadata"].(map[string]interface{})
	if md == nil {
		return nil, fmt.Errorf("%s: no metadata", g.typ)
	}
	if g.spec.Namespaced {
		if ns, _ := md["namespace"].(string); ns == "" {
			md["namespace"] = "default" // the real metadata schema's default
		}
	}
	return obj, nil
}

func objectID(namespaced bool, namespace, name string) string {
	if namespaced {
		return namespace + "/" + name
	}
	return name
}

// existing returns the client for the object a resource's id names, and the object's name.
func (g generic) existing(d *schema.ResourceData, meta interface{}) (dynamic.ResourceInterface, string, error) {
	ns, name, err := g.idParts(d.Id())
	if err != nil {
		return nil, "", err
	}
	ri, err := g.client(meta, ns)
	return ri, name, err
}

func (g generic) idParts(id string) (string, string, error) {
	if !g.spec.Namespaced {
		return "", id, nil
	}
	parts := strings.Split(id, "/")
	if len(parts) != 2 {
		return "", "", fmt.Errorf("%s: unexpected id %q, expected namespace/name", g.typ, id)
	}
	return parts[0], parts[1], nil
}

func (g generic) create(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	if err := g.checked(d); err != nil {
		return diag.FromErr(err)
	}
	obj, err := g.toObject(d.GetRawPlan())
	if err != nil {
		return diag.FromErr(err)
	}
	md := obj["metadata"].(map[string]interface{})
	ns, _ := md["namespace"].(string)
	ri, err := g.client(meta, ns)
	if err != nil {
		return diag.FromErr(err)
	}
	out, err := ri.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	if err != nil {
		return diag.Errorf("%s: creating %s %s: %v", g.typ, g.spec.Kind, describe(md), err)
	}
	d.SetId(objectID(g.spec.Namespaced, out.GetNamespace(), out.GetName()))
	if err := g.waitReady(ctx, d, ri, out.GetName(), d.Timeout(schema.TimeoutCreate)); err != nil {
		return diag.FromErr(err)
	}
	return g.read(ctx, d, meta)
}

func describe(md map[string]interface{}) string {
	name, _ := md["name"].(string)
	if name == "" {
		gen, _ := md["generateName"].(string)
		name = gen + "*"
	}
	if ns, _ := md["namespace"].(string); ns != "" {
		return ns + "/" + name
	}
	return name
}

func (g generic) priorTop(d *schema.ResourceData) map[string]interface{} {
	prior := map[string]interface{}{}
	for _, fl := range g.spec.Fields {
		if fl.TF == "id" || fl.TF == "timeouts" {
			continue
		}
		prior[fl.TF] = d.Get(fl.TF)
	}
	return prior
}

func (g generic) read(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	ri, name, err := g.existing(d, meta)
	if err != nil {
		return diag.FromErr(err)
	}
	out, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		d.SetId("")
		return nil
	}
	if err != nil {
		return diag.Errorf("%s: reading %s %s: %v", g.typ, g.spec.Kind, d.Id(), err)
	}
	prior := g.priorTop(d)
	flat, err := flattenBlock(g.spec.Fields, out.Object, prior, g.typ)
	if err != nil {
		return diag.FromErr(err)
	}
	if g.typ == "kubernetes_secret_v1" {
		splitSecretData(flat, prior)
	}
	for _, fl := range g.spec.Fields {
		if fl.Kind == kLocal {
			continue
		}
		if err := d.Set(fl.TF, flat[fl.TF]); err != nil {
			return diag.Errorf("%s: storing %s: %v", g.typ, fl.TF, err)
		}
	}
	return nil
}

// splitSecretData: the real Read of a secret (resourceKubernetesSecretV1Read): the keys the
// configuration has in binary_data are read back base64-encoded into binary_data, every other key
// of the Secret's data is read back as text into data.
func splitSecretData(flat, prior map[string]interface{}) {
	binaryKeys, _ := prior["binary_data"].(map[string]interface{})
	text, _ := flat["data"].(map[string]interface{})
	encoded, _ := flat["binary_data"].(map[string]interface{})
	bin := map[string]interface{}{}
	for k := range binaryKeys {
		if v, ok := encoded[k]; ok {
			bin[k] = v
		}
		delete(text, k)
	}
	if len(binaryKeys) > 0 {
		flat["binary_data"] = bin
	} else {
		delete(flat, "binary_data")
	}
}

func (g generic) update(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	if err := g.checked(d); err != nil {
		return diag.FromErr(err)
	}
	desired, err := g.toObject(d.GetRawPlan())
	if err != nil {
		return diag.FromErr(err)
	}
	prior, err := g.toObject(d.GetRawState())
	if err != nil {
		return diag.FromErr(err)
	}
	ri, name, err := g.existing(d, meta)
	if err != nil {
		return diag.FromErr(err)
	}
	body, err := json.Marshal(mergePatch(prior, desired))
	if err != nil {
		return diag.FromErr(err)
	}
	if _, err := ri.Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		return diag.Errorf("%s: updating %s %s: %v", g.typ, g.spec.Kind, d.Id(), err)
	}
	if err := g.waitReady(ctx, d, ri, name, d.Timeout(schema.TimeoutUpdate)); err != nil {
		return diag.FromErr(err)
	}
	return g.read(ctx, d, meta)
}

func (g generic) delete(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	ri, name, err := g.existing(d, meta)
	if err != nil {
		return diag.FromErr(err)
	}
	if err := ri.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			d.SetId("")
			return nil
		}
		return diag.Errorf("%s: deleting %s %s: %v", g.typ, g.spec.Kind, d.Id(), err)
	}
	err = poll(ctx, d.Timeout(schema.TimeoutDelete), func() (bool, error) {
		_, err := ri.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return diag.Errorf("%s: %s %s still exists: %v", g.typ, g.spec.Kind, d.Id(), err)
	}
	d.SetId("")
	return nil
}

func poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// waitFor: a provider-local boolean whose schema default (in the real provider) is true.
func waitFor(d *schema.ResourceData, key string) bool {
	v := d.GetRawConfig()
	if v.IsNull() || !v.Type().HasAttribute(key) {
		return true
	}
	a := v.GetAttr(key)
	return a.IsNull() || !a.IsKnown() || a.True()
}

func nestedInt(obj map[string]interface{}, keys ...string) int64 {
	v, _, _ := unstructured.NestedFieldNoCopy(obj, keys...)
	i, _ := toInt64(v)
	return i
}

func (g generic) waitReady(ctx context.Context, d *schema.ResourceData, ri dynamic.ResourceInterface, name string, timeout time.Duration) error {
	var check func(map[string]interface{}) (bool, error)
	switch g.typ {
	case "kubernetes_deployment_v1":
		if !waitFor(d, "wait_for_rollout") {
			return nil
		}
		// waitForDeploymentReplicasFunc of the real provider.
		check = func(o map[string]interface{}) (bool, error) {
			if nestedInt(o, "metadata", "generation") > nestedInt(o, "status", "observedGeneration") {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(o, "status", "conditions")
			for _, c := range conds {
				cm, _ := c.(map[string]interface{})
				if cm["type"] == "Progressing" && cm["reason"] == "ProgressDeadlineExceeded" {
					return false, fmt.Errorf("deployment %s exceeded its progress deadline: %v", name, cm["message"])
				}
			}
			want := nestedInt(o, "spec", "replicas")
			updated := nestedInt(o, "status", "updatedReplicas")
			return updated >= want && nestedInt(o, "status", "replicas") <= updated && nestedInt(o, "status", "availableReplicas") >= updated, nil
		}
	case "kubernetes_daemon_set_v1":
		if !waitFor(d, "wait_for_rollout") {
			return nil
		}
		// waitForDaemonSetReplicasFunc of the real provider.
		check = func(o map[string]interface{}) (bool, error) {
			if nestedInt(o, "metadata", "generation") > nestedInt(o, "status", "observedGeneration") {
				return false, nil
			}
			desired := nestedInt(o, "status", "desiredNumberScheduled")
			return nestedInt(o, "status", "updatedNumberScheduled") >= desired && nestedInt(o, "status", "numberAvailable") >= desired, nil
		}
	case "kubernetes_secret_v1":
		if !waitFor(d, "wait_for_service_account_token") {
			return nil
		}
		check = func(o map[string]interface{}) (bool, error) {
			if t, _, _ := unstructured.NestedString(o, "type"); t != "kubernetes.io/service-account-token" {
				return true, nil
			}
			_, found, _ := unstructured.NestedString(o, "data", "token")
			return found, nil
		}
	default:
		return nil
	}
	var last map[string]interface{}
	err := poll(ctx, timeout, func() (bool, error) {
		out, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = out.Object
		return check(out.Object)
	})
	if err != nil {
		status, _, _ := unstructured.NestedMap(last, "status")
		return fmt.Errorf("%s: waiting for %s %s: %v (status: %v)", g.typ, g.spec.Kind, name, err, status)
	}
	return nil
}

// --- kubernetes_config_map_v1_data ----------------------------------------------------------------

// defaultFieldManagerName: the real provider's default field manager.
const defaultFieldManagerName = "Terraform"

type configMapData struct{}

func (configMapData) configMaps(meta interface{}, namespace string) (dynamic.ResourceInterface, error) {
	c, ok := meta.(*kubeClient)
	if !ok || c == nil {
		return nil, fmt.Errorf("kubernetes_config_map_v1_data: the provider is not configured")
	}
	dyn, err := c.dynamic()
	if err != nil {
		return nil, err
	}
	return dyn.Resource(gvr("", "v1", "configmaps")).Namespace(namespace), nil
}

func (c configMapData) target(d *schema.ResourceData) (string, string, error) {
	// Strictness: every set attribute must be in the table.
	if err := checkConfig(configMapDataFields, d.GetRawConfig(), "kubernetes_config_map_v1_data"); err != nil {
		return "", "", err
	}
	obj, err := expandBlock(configMapDataFields, d.GetRawPlan(), "kubernetes_config_map_v1_data")
	if err != nil {
		return "", "", err
	}
	md, _ := obj["metadata"].(map[string]interface{})
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	if ns == "" {
		ns = "default"
	}
	return ns, name, nil
}

func fieldManager(d *schema.ResourceData) string {
	if v, ok := d.GetOk("field_manager"); ok && v.(string) != "" {
		return v.(string)
	}
	return defaultFieldManagerName
}

func (c configMapData) create(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	ns, name, err := c.target(d)
	if err != nil {
		return diag.FromErr(err)
	}
	d.SetId(ns + "/" + name)
	diags := c.apply(ctx, d, meta, false)
	if diags.HasError() {
		d.SetId("")
	}
	return diags
}

func (c configMapData) update(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	if _, _, err := c.target(d); err != nil {
		return diag.FromErr(err)
	}
	return c.apply(ctx, d, meta, false)
}

func (c configMapData) delete(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	return c.apply(ctx, d, meta, true)
}

// apply: resourceKubernetesConfigMapV1DataUpdate of the real provider: the ConfigMap must exist; a
// server-side apply of {metadata: name/namespace, data} with the field manager and force; on
// delete an apply with empty data (our field manager then owns no key, so the keys go).
func (c configMapData) apply(ctx context.Context, d *schema.ResourceData, meta interface{}, deleting bool) diag.Diagnostics {
	parts := strings.SplitN(d.Id(), "/", 2)
	if len(parts) != 2 {
		return diag.Errorf("kubernetes_config_map_v1_data: unexpected id %q", d.Id())
	}
	ns, name := parts[0], parts[1]
	ri, err := c.configMaps(meta, ns)
	if err != nil {
		return diag.FromErr(err)
	}
	if _, err := ri.Get(ctx, name, metav1.GetOptions{}); err != nil {
		if deleting && apierrors.IsNotFound(err) {
			d.SetId("")
			return nil
		}
		return diag.Errorf("The configmap %q does not exist: %v", name, err)
	}
	data := map[string]interface{}{}
	if !deleting {
		for k, v := range d.Get("data").(map[string]interface{}) {
			data[k] = v
		}
	}
	body, err := json.Marshal(map[string]interface{}{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]interface{}{"name": name, "namespace": ns},
		"data":       data,
	})
	if err != nil {
		return diag.FromErr(err)
	}
	force := d.Get("force").(bool)
	_, err = ri.Patch(ctx, name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: fieldManager(d), Force: &force})
	if err != nil {
		if apierrors.IsConflict(err) {
			return diag.Diagnostics{{Severity: diag.Error, Summary: "Field manager conflict",
				Detail: fmt.Sprintf(`Another client is managing a field Terraform tried to update. Set "force" to true to override: %v`, err)}}
		}
		return diag.FromErr(err)
	}
	if deleting {
		d.SetId("")
		return nil
	}
	return c.read(ctx, d, meta)
}

// read: resourceKubernetesConfigMapV1DataRead: the keys of the ConfigMap that the configuration
// names or that the field manager "Terraform" owns (the real provider reads the managed fields of
// its default manager name, not the configured one; reproduced as is).
func (c configMapData) read(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	parts := strings.SplitN(d.Id(), "/", 2)
	if len(parts) != 2 {
		return diag.Errorf("kubernetes_config_map_v1_data: unexpected id %q", d.Id())
	}
	ri, err := c.configMaps(meta, parts[0])
	if err != nil {
		return diag.FromErr(err)
	}
	out, err := ri.Get(ctx, parts[1], metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return diag.Diagnostics{{Severity: diag.Warning, Summary: "ConfigMap deleted",
				Detail: fmt.Sprintf("The underlying configmap %q has been deleted. You should recreate the underlying configmap, or remove it from your configuration.", parts[1])}}
		}
		return diag.FromErr(err)
	}
	managed := map[string]bool{}
	for _, m := range out.GetManagedFields() {
		if m.Manager != defaultFieldManagerName || m.FieldsV1 == nil {
			continue
		}
		var fields map[string]interface{}
		if err := json.Unmarshal(m.FieldsV1.Raw, &fields); err != nil {
			return diag.FromErr(err)
		}
		if dm, ok := fields["f:data"].(map[string]interface{}); ok {
			for k := range dm {
				managed[strings.TrimPrefix(k, "f:")] = true
			}
		}
	}
	configured := d.Get("data").(map[string]interface{})
	data, _, _ := unstructured.NestedStringMap(out.Object, "data")
	kept := map[string]interface{}{}
	for k, v := range data {
		if _, named := configured[k]; named || managed[k] {
			kept[k] = v
		}
	}
	if err := d.Set("data", kept); err != nil {
		return diag.FromErr(err)
	}
	return nil
}
