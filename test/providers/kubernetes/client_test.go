package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
)

// The provider block as the library's stacks set it (host, cluster_ca_certificate,
// client_certificate, client_key), and the other ways the real provider reads: a kubeconfig file
// with a context, a token, tls_server_name, insecure; inline attributes override the file.
func TestProviderBlockBecomesTheClientConfiguration(t *testing.T) {
	for _, env := range envOf {
		t.Setenv(env, "") // the fallbacks stay out of these cases
	}
	t.Setenv("KUBE_CONFIG_PATHS", "")
	t.Setenv("KUBE_INSECURE", "")
	p := newProvider()
	settings := func(raw map[string]interface{}) providerSettings {
		t.Helper()
		d := schema.TestResourceDataRaw(t, p.Schema, raw)
		meta, diags := configure(context.Background(), d)
		if diags.HasError() {
			t.Fatalf("configure: %v", diags)
		}
		return meta.(*kubeClient).settings
	}

	// What ClusterObjectsStack configures.
	cfg, err := settings(map[string]interface{}{
		"host":                   "https://api.example.internal:6443",
		"cluster_ca_certificate": "CA PEM",
		"client_certificate":     "CERT PEM",
		"client_key":             "KEY PEM",
	}).restConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://api.example.internal:6443" || string(cfg.CAData) != "CA PEM" || string(cfg.CertData) != "CERT PEM" || string(cfg.KeyData) != "KEY PEM" || cfg.Insecure || cfg.BearerToken != "" {
		t.Fatalf("rest config %+v", cfg)
	}

	// A host without a scheme gets https when TLS material is given (rest.DefaultServerURL).
	cfg, err = settings(map[string]interface{}{"host": "10.0.0.1:6443", "cluster_ca_certificate": "CA", "token": "abc", "tls_server_name": "kubernetes"}).restConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://10.0.0.1:6443" || cfg.BearerToken != "abc" || cfg.ServerName != "kubernetes" {
		t.Fatalf("rest config %+v", cfg)
	}

	// A kubeconfig file and a context; the inline host overrides the file's server.
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "config")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a.example:6443", insecure-skip-tls-verify: true}
- name: b
  cluster: {server: "https://b.example:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: from-file}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = settings(map[string]interface{}{"config_path": kubeconfig, "config_context": "ctx-b"}).restConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://b.example:6443" || cfg.BearerToken != "from-file" || !cfg.Insecure {
		t.Fatalf("rest config from the file %+v", cfg)
	}
	cfg, err = settings(map[string]interface{}{"config_path": kubeconfig, "host": "https://c.example:6443"}).restConfig()
	if err != nil || cfg.Host != "https://c.example:6443" {
		t.Fatalf("inline host over the file: %v %+v", err, cfg)
	}

	// Nothing configured: an error at first use, not a silent localhost.
	if _, err := settings(map[string]interface{}{}).restConfig(); err == nil {
		t.Fatal("an empty provider block gave a client configuration")
	}
}

func TestProviderRefusesWhatItDoesNotImplement(t *testing.T) {
	p := newProvider()
	d := schema.TestResourceDataRaw(t, p.Schema, map[string]interface{}{
		"host": "https://x:6443",
		"exec": []interface{}{map[string]interface{}{"api_version": "client.authentication.k8s.io/v1", "command": "aws"}},
	})
	if _, diags := configure(context.Background(), d); !diags.HasError() || !strings.Contains(diags[0].Summary, `"exec" is set`) {
		t.Fatalf("exec accepted: %v", diags)
	}
}
