package main

// The provider block, honoured as the real provider's initializeConfiguration (provider.go of
// hashicorp/terraform-provider-kubernetes) does: client-go's clientcmd loading rules with the
// kubeconfig file(s) of config_path/config_paths (and the context selectors), overridden by the
// inline attributes: host (rest.DefaultServerURL, TLS when a CA, a client certificate or insecure
// is given), cluster_ca_certificate, client_certificate/client_key, token, username/password,
// insecure, tls_server_name, proxy_url; each falls back to its KUBE_* environment variable like
// there. The client is built on first use (the real provider also connects lazily), so planning
// with values unknown until apply works.
//
// Not reproduced (fail when set, instead of being ignored): exec credential plugins,
// `experiments`, ignore_annotations/ignore_labels.

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-sdk/v2/diag"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	apimachineryschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

type providerSettings struct {
	str  map[string]string
	list map[string][]string
	bool map[string]bool
}

type kubeClient struct {
	settings providerSettings
	once     sync.Once
	dyn      dynamic.Interface
	err      error
}

var envOf = map[string]string{
	"host":                     "KUBE_HOST",
	"cluster_ca_certificate":   "KUBE_CLUSTER_CA_CERT_DATA",
	"client_certificate":       "KUBE_CLIENT_CERT_DATA",
	"client_key":               "KUBE_CLIENT_KEY_DATA",
	"token":                    "KUBE_TOKEN",
	"username":                 "KUBE_USER",
	"password":                 "KUBE_PASSWORD",
	"tls_server_name":          "KUBE_TLS_SERVER_NAME",
	"config_path":              "KUBE_CONFIG_PATH",
	"config_context":           "KUBE_CTX",
	"config_context_auth_info": "KUBE_CTX_AUTH_INFO",
	"config_context_cluster":   "KUBE_CTX_CLUSTER",
	"proxy_url":                "KUBE_PROXY_URL",
}

func configure(_ context.Context, d *schema.ResourceData) (interface{}, diag.Diagnostics) {
	for _, k := range []string{"exec", "experiments", "ignore_annotations", "ignore_labels"} {
		if v, ok := d.GetOk(k); ok && v != nil {
			return nil, diag.Errorf("provider kubernetes: %q is set, but the hashicorp/kubernetes %s stand-in does not implement it", k, Version)
		}
	}
	s := providerSettings{str: map[string]string{}, list: map[string][]string{}, bool: map[string]bool{}}
	for k, env := range envOf {
		if v, ok := d.GetOk(k); ok {
			s.str[k] = v.(string)
		} else if e := os.Getenv(env); e != "" {
			s.str[k] = e
		}
	}
	if v, ok := d.GetOk("config_paths"); ok {
		for _, p := range v.([]interface{}) {
			s.list["config_paths"] = append(s.list["config_paths"], p.(string))
		}
	} else if e := os.Getenv("KUBE_CONFIG_PATHS"); e != "" {
		s.list["config_paths"] = filepath.SplitList(e)
	}
	if v, ok := d.GetOk("insecure"); ok {
		s.bool["insecure"] = v.(bool)
	} else if os.Getenv("KUBE_INSECURE") == "true" {
		s.bool["insecure"] = true
	}
	return &kubeClient{settings: s}, nil
}

func expandHome(p string) (string, error) {
	if strings.HasPrefix(p, "~") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, p[1:]), nil
	}
	return p, nil
}

// restConfig: the real provider's initializeConfiguration, step by step.
func (s providerSettings) restConfig() (*rest.Config, error) {
	overrides := &clientcmd.ConfigOverrides{}
	loader := &clientcmd.ClientConfigLoadingRules{}
	var paths []string
	if p := s.str["config_path"]; p != "" {
		paths = []string{p}
	} else {
		paths = s.list["config_paths"]
	}
	if len(paths) > 0 {
		var expanded []string
		for _, p := range paths {
			e, err := expandHome(p)
			if err != nil {
				return nil, err
			}
			expanded = append(expanded, e)
		}
		if len(expanded) == 1 {
			loader.ExplicitPath = expanded[0]
		} else {
			loader.Precedence = expanded
		}
		overrides.CurrentContext = s.str["config_context"]
		overrides.Context.AuthInfo = s.str["config_context_auth_info"]
		overrides.Context.Cluster = s.str["config_context_cluster"]
	}
	overrides.ClusterInfo.InsecureSkipTLSVerify = s.bool["insecure"]
	overrides.ClusterInfo.TLSServerName = s.str["tls_server_name"]
	if v := s.str["cluster_ca_certificate"]; v != "" {
		overrides.ClusterInfo.CertificateAuthorityData = []byte(v)
	}
	if v := s.str["client_certificate"]; v != "" {
		overrides.AuthInfo.ClientCertificateData = []byte(v)
	}
	if v := s.str["host"]; v != "" {
		// As the real provider: a host without scheme gets https when TLS material is given.
		defaultTLS := len(overrides.ClusterInfo.CertificateAuthorityData) != 0 || len(overrides.AuthInfo.ClientCertificateData) != 0 || overrides.ClusterInfo.InsecureSkipTLSVerify
		host, _, err := rest.DefaultServerURL(v, "", apimachineryschema.GroupVersion{}, defaultTLS)
		if err != nil {
			return nil, fmt.Errorf("provider kubernetes: host %q: %v", v, err)
		}
		overrides.ClusterInfo.Server = host.String()
	}
	overrides.AuthInfo.Username = s.str["username"]
	overrides.AuthInfo.Password = s.str["password"]
	if v := s.str["client_key"]; v != "" {
		overrides.AuthInfo.ClientKeyData = []byte(v)
	}
	overrides.AuthInfo.Token = s.str["token"]
	if v := s.str["proxy_url"]; v != "" {
		if _, err := url.Parse(v); err != nil {
			return nil, fmt.Errorf("provider kubernetes: proxy_url %q: %v", v, err)
		}
		overrides.ClusterDefaults.ProxyURL = v
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loader, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("provider kubernetes: invalid configuration: %v", err)
	}
	// The real provider's rate limits and user agent shape.
	cfg.QPS = 100
	cfg.Burst = 100
	cfg.UserAgent = fmt.Sprintf("HashiCorp/1.0 Terraform terraform-provider-kubernetes/%s (stand-in)", Version)
	return cfg, nil
}

func (c *kubeClient) dynamic() (dynamic.Interface, error) {
	c.once.Do(func() {
		cfg, err := c.settings.restConfig()
		if err != nil {
			c.err = err
			return
		}
		c.dyn, c.err = dynamic.NewForConfig(cfg)
	})
	return c.dyn, c.err
}
