package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type certRequestResource struct{}

func newCertRequestResource() resource.Resource { return &certRequestResource{} }

type certRequestModel struct {
	PrivateKeyPEM  types.String `tfsdk:"private_key_pem"`
	DNSNames       types.List   `tfsdk:"dns_names"`
	IPAddresses    types.List   `tfsdk:"ip_addresses"`
	URIs           types.List   `tfsdk:"uris"`
	KeyAlgorithm   types.String `tfsdk:"key_algorithm"`
	CertRequestPEM types.String `tfsdk:"cert_request_pem"`
	ID             types.String `tfsdk:"id"`
	Subject        types.List   `tfsdk:"subject"`
}

func (r *certRequestResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cert_request"
}

func (r *certRequestResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	attrs := map[string]schema.Attribute{
		"private_key_pem": schema.StringAttribute{
			Required:      true,
			Sensitive:     true,
			PlanModifiers: []planmodifier.String{requiresReplaceIfStateIsPEM()},
			Description:   "Private key in PEM (RFC 1421) format, that the certificate will belong to.",
		},
		"key_algorithm": schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			Description: "Name of the algorithm used when generating the private key provided in `private_key_pem`. ",
		},
		"cert_request_pem": schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			Description: pemCertDescription("The certificate request data"),
		},
		"id": schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			Description: "Unique identifier for this resource: hexadecimal representation of the SHA1 checksum of the resource.",
		},
	}
	sanAttributes(attrs)
	resp.Schema = schema.Schema{
		Attributes:  attrs,
		Blocks:      map[string]schema.Block{"subject": subjectBlock()},
		Description: "Creates a Certificate Signing Request (CSR) in PEM (RFC 1421) format (stand-in for hashicorp/tls 4.1.0).",
	}
}

func (r *certRequestResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m certRequestModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	key, algorithm, err := parsePrivateKeyPEM(m.PrivateKeyPEM.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Failed to parse private key PEM", err.Error())
		return
	}
	m.KeyAlgorithm = types.StringValue(algorithm)
	var tmpl x509.CertificateRequest
	subject, diags := subjectName(ctx, m.Subject)
	resp.Diagnostics.Append(diags...)
	tmpl.Subject = subject
	tmpl.DNSNames, tmpl.IPAddresses, tmpl.URIs, diags = sans(ctx, m.DNSNames, m.IPAddresses, m.URIs)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
	if err != nil {
		resp.Diagnostics.AddError("Error creating certificate request", err.Error())
		return
	}
	m.CertRequestPEM = types.StringValue(string(pem.EncodeToMemory(&pem.Block{Type: pemCertRequest, Bytes: der})))
	m.ID = types.StringValue(hashForState(string(der)))
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *certRequestResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (r *certRequestResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m certRequestModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *certRequestResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}
