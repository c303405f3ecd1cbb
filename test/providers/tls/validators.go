package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// urlWithScheme: the proxy URL must parse and use one of schemes.
type urlWithSchemeValidator struct{ schemes []string }

func urlWithScheme(schemes []string) validator.String { return urlWithSchemeValidator{schemes} }

func (v urlWithSchemeValidator) Description(context.Context) string {
	return fmt.Sprintf("Ensures that the attribute is a URL and its scheme is one of: %q", v.schemes)
}
func (v urlWithSchemeValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (v urlWithSchemeValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	u, err := url.Parse(req.ConfigValue.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid URL", fmt.Sprintf("Failed to parse URL %q: %v", req.ConfigValue.ValueString(), err))
		return
	}
	for _, s := range v.schemes {
		if u.Scheme == s {
			return
		}
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid URL scheme",
		fmt.Sprintf("URL %q has scheme %q; accepted schemes are: %s", req.ConfigValue.ValueString(), u.Scheme, strings.Join(v.schemes, ", ")))
}
