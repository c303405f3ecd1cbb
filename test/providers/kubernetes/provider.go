package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
)

//go:embed schema.json
var schemaJSON []byte

// Generated schema (see gen-schema.js): a type is "string" | "number" | "bool" | "dynamic" or a
// JSON array [kind, element] with kind list | set | map | object.
type genAttribute struct {
	Type     json.RawMessage `json:"type"`
	Required bool            `json:"required"`
	Optional bool            `json:"optional"`
	Computed bool            `json:"computed"`
}

type genNested struct {
	Nesting  string   `json:"nesting"`
	Required bool     `json:"required"`
	MinItems int      `json:"minItems"`
	MaxItems int      `json:"maxItems"`
	Block    genBlock `json:"block"`
}

type genBlock struct {
	Attributes map[string]genAttribute `json:"attributes"`
	Blocks     map[string]genNested    `json:"blocks"`
}

type genSchema struct {
	ProviderVersion string              `json:"providerVersion"`
	Provider        genBlock            `json:"provider"`
	Resources       map[string]genBlock `json:"resources"`
}

func loadSchema() genSchema {
	var s genSchema
	if err := json.Unmarshal(schemaJSON, &s); err != nil {
		panic(fmt.Sprintf("schema.json: %v", err))
	}
	if s.ProviderVersion != Version {
		panic(fmt.Sprintf("schema.json is for %s, the stand-in serves %s", s.ProviderVersion, Version))
	}
	return s
}

// valueType turns a generated type into an SDK schema (flags set by the caller).
func valueType(raw json.RawMessage) *schema.Schema {
	var scalar string
	if err := json.Unmarshal(raw, &scalar); err == nil {
		switch scalar {
		case "string":
			return &schema.Schema{Type: schema.TypeString}
		case "number":
			// The real provider declares its numbers TypeInt; a fraction fails like there.
			return &schema.Schema{Type: schema.TypeInt}
		case "bool":
			return &schema.Schema{Type: schema.TypeBool}
		}
		panic("unsupported scalar type " + scalar)
	}
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		panic("bad type " + string(raw))
	}
	var kind string
	_ = json.Unmarshal(pair[0], &kind)
	switch kind {
	case "list", "set", "map":
		t := map[string]schema.ValueType{"list": schema.TypeList, "set": schema.TypeSet, "map": schema.TypeMap}[kind]
		var inner json.RawMessage = pair[1]
		var innerPair []json.RawMessage
		if json.Unmarshal(inner, &innerPair) == nil && len(innerPair) == 2 && string(innerPair[0]) == `"object"` {
			var fields map[string]json.RawMessage
			_ = json.Unmarshal(innerPair[1], &fields)
			res := &schema.Resource{Schema: map[string]*schema.Schema{}}
			for name, ft := range fields {
				fs := valueType(ft)
				fs.Computed = true
				res.Schema[name] = fs
			}
			return &schema.Schema{Type: t, Elem: res}
		}
		return &schema.Schema{Type: t, Elem: valueType(inner)}
	}
	panic("unsupported type " + string(raw))
}

func buildBlock(b genBlock) map[string]*schema.Schema {
	out := map[string]*schema.Schema{}
	for name, a := range b.Attributes {
		s := valueType(a.Type)
		s.Required, s.Optional, s.Computed = a.Required, a.Optional, a.Computed
		out[name] = s
	}
	for name, n := range b.Blocks {
		if n.Nesting == "single" {
			continue // only `timeouts`: the SDK declares it from Resource.Timeouts
		}
		t := schema.TypeList
		if n.Nesting == "set" {
			t = schema.TypeSet
		}
		out[name] = &schema.Schema{
			Type:     t,
			Required: n.Required,
			Optional: !n.Required,
			MinItems: n.MinItems,
			MaxItems: n.MaxItems,
			Elem:     &schema.Resource{Schema: buildBlock(n.Block)},
		}
	}
	return out
}

// timeouts turns the bindings' `timeouts` block into the SDK's ResourceTimeout (20 minutes, the
// SDK's own default; the real provider's shorter defaults, e.g. 1 minute for a secret's token wait,
// are not reproduced).
func timeouts(b genBlock) *schema.ResourceTimeout {
	n, ok := b.Blocks["timeouts"]
	if !ok {
		return nil
	}
	d := 20 * time.Minute
	rt := &schema.ResourceTimeout{}
	for name := range n.Block.Attributes {
		switch name {
		case "create":
			rt.Create = &d
		case "update":
			rt.Update = &d
		case "delete":
			rt.Delete = &d
		case "read":
			rt.Read = &d
		default:
			panic("unknown timeout " + name)
		}
	}
	return rt
}

// crud: the type's Create/Read/Update/Delete (crud.go), or an error for a type without a table.
func crud(typ string, r *schema.Resource) {
	if typ == "kubernetes_config_map_v1_data" {
		c := configMapData{}
		r.CreateContext, r.ReadContext, r.UpdateContext, r.DeleteContext = c.create, c.read, c.update, c.delete
		return
	}
	spec, ok := typeSpecs[typ]
	if !ok {
		panic(fmt.Sprintf("%s: no conversion table in types.go", typ))
	}
	g := generic{typ: typ, spec: spec}
	r.CreateContext, r.ReadContext, r.UpdateContext, r.DeleteContext = g.create, g.read, g.update, g.delete
}

func newProvider() *schema.Provider {
	s := loadSchema()
	resources := map[string]*schema.Resource{}
	names := make([]string, 0, len(s.Resources))
	for name := range s.Resources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b := s.Resources[name]
		r := &schema.Resource{
			Schema:   buildBlock(b),
			Timeouts: timeouts(b),
		}
		crud(name, r)
		applyOverlay(name, r)
		resources[name] = r
	}
	p := &schema.Provider{
		Schema:               buildBlock(s.Provider),
		ResourcesMap:         resources,
		DataSourcesMap:       map[string]*schema.Resource{},
		ConfigureContextFunc: configure,
	}
	applyProviderOverlay(p)
	// The SDK's own consistency checks (what the real provider's tests run): a schema the generator
	// or the overlay got wrong stops the plugin at start instead of serving it.
	if err := p.InternalValidate(); err != nil {
		panic(fmt.Sprintf("kubernetes stand-in schema: %v", err))
	}
	return p
}
