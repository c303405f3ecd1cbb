package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/hashicorp/terraform-plugin-framework-validators/boolvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type tlsProvider struct{}

var _ provider.Provider = (*tlsProvider)(nil)

func newProvider() provider.Provider { return &tlsProvider{} }

func (p *tlsProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "tls"
	resp.Version = Version
}

// proxySchemes are the proxy URL schemes the real provider accepts.
var proxySchemes = []string{"http", "https", "socks5"}

func (p *tlsProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Blocks: map[string]schema.Block{
			"proxy": schema.ListNestedBlock{
				Validators: []validator.List{listvalidator.SizeAtMost(1)},
				NestedObject: schema.NestedBlockObject{
					Attributes: map[string]schema.Attribute{
						"url": schema.StringAttribute{
							Optional: true,
							Validators: []validator.String{
								urlWithScheme(proxySchemes),
								stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("from_env")),
							},
							MarkdownDescription: "URL used to connect to the Proxy. Accepted schemes are: `http`, `https`, `socks5`. ",
						},
						"username": schema.StringAttribute{
							Optional:            true,
							Validators:          []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("url"))},
							MarkdownDescription: "Username (or Token) used for Basic authentication against the Proxy.",
						},
						"password": schema.StringAttribute{
							Optional:            true,
							Sensitive:           true,
							Validators:          []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("username"))},
							MarkdownDescription: "Password used for Basic authentication against the Proxy.",
						},
						"from_env": schema.BoolAttribute{
							Optional: true,
							Validators: []validator.Bool{boolvalidator.ConflictsWith(
								path.MatchRelative().AtParent().AtName("url"),
								path.MatchRelative().AtParent().AtName("username"),
								path.MatchRelative().AtParent().AtName("password"),
							)},
							MarkdownDescription: "When `true` the provider will discover the proxy configuration from environment variables (default: `true`).",
						},
					},
				},
				MarkdownDescription: "Proxy used by resources and data sources that connect to external endpoints.",
			},
		},
	}
}

type proxyModel struct {
	URL      types.String `tfsdk:"url"`
	Username types.String `tfsdk:"username"`
	Password types.String `tfsdk:"password"`
	FromEnv  types.Bool   `tfsdk:"from_env"`
}

type providerModel struct {
	Proxy []proxyModel `tfsdk:"proxy"`
}

// Configure reads the proxy block only to reject a URL the real provider could not parse: none of the
// resources served here connect anywhere.
func (p *tlsProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var conf providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &conf)...)
	for _, px := range conf.Proxy {
		if px.URL.IsNull() || px.URL.IsUnknown() {
			continue
		}
		if _, err := url.Parse(px.URL.ValueString()); err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Unable to parse proxy URL %q", px.URL.ValueString()), err.Error())
		}
	}
}

func (p *tlsProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newPrivateKeyResource,
		newCertRequestResource,
		newSelfSignedCertResource,
		newLocallySignedCertResource,
	}
}

// DataSources: the library declares none of tls_public_key, tls_certificate; referring to one fails
// init/validate with terraform's "unsupported data source" error, stricter than the real provider.
func (p *tlsProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return nil
}
