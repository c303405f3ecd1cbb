package main

import (
	"context"
	"crypto/x509"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type selfSignedCertResource struct{}

var _ resource.ResourceWithModifyPlan = (*selfSignedCertResource)(nil)

func newSelfSignedCertResource() resource.Resource { return &selfSignedCertResource{} }

type selfSignedCertModel struct {
	PrivateKeyPEM       types.String `tfsdk:"private_key_pem"`
	DNSNames            types.List   `tfsdk:"dns_names"`
	IPAddresses         types.List   `tfsdk:"ip_addresses"`
	URIs                types.List   `tfsdk:"uris"`
	ValidityPeriodHours types.Int64  `tfsdk:"validity_period_hours"`
	AllowedUses         types.List   `tfsdk:"allowed_uses"`
	EarlyRenewalHours   types.Int64  `tfsdk:"early_renewal_hours"`
	IsCACertificate     types.Bool   `tfsdk:"is_ca_certificate"`
	SetSubjectKeyID     types.Bool   `tfsdk:"set_subject_key_id"`
	SetAuthorityKeyID   types.Bool   `tfsdk:"set_authority_key_id"`
	CertPEM             types.String `tfsdk:"cert_pem"`
	ReadyForRenewal     types.Bool   `tfsdk:"ready_for_renewal"`
	ValidityStartTime   types.String `tfsdk:"validity_start_time"`
	ValidityEndTime     types.String `tfsdk:"validity_end_time"`
	KeyAlgorithm        types.String `tfsdk:"key_algorithm"`
	ID                  types.String `tfsdk:"id"`
	Subject             types.List   `tfsdk:"subject"`
}

func (r *selfSignedCertResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_self_signed_cert"
}

func (r *selfSignedCertResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := certificateAttributes()
	sanAttributes(attrs)
	attrs["private_key_pem"] = schema.StringAttribute{
		Required:      true,
		Sensitive:     true,
		PlanModifiers: []planmodifier.String{requiresReplaceIfStateIsPEM()},
		Description:   "Private key in PEM (RFC 1421) format, that the certificate will belong to.",
	}
	attrs["set_authority_key_id"] = schema.BoolAttribute{
		Optional:      true,
		Computed:      true,
		Default:       booldefault.StaticBool(false),
		PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
		Description:   "Should the generated certificate include an authority key identifier (default: `false`).",
	}
	attrs["key_algorithm"] = schema.StringAttribute{
		Computed:      true,
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		Description:   "Name of the algorithm used when generating the private key provided in `private_key_pem`. ",
	}
	resp.Schema = schema.Schema{
		Attributes:  attrs,
		Blocks:      map[string]schema.Block{"subject": subjectBlock()},
		Description: "Creates a self-signed TLS certificate in PEM (RFC 1421) format (stand-in for hashicorp/tls 4.1.0).",
	}
}

func (r *selfSignedCertResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m selfSignedCertModel
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
	tmpl := &x509.Certificate{BasicConstraintsValid: true}
	subject, diags := subjectName(ctx, m.Subject)
	resp.Diagnostics.Append(diags...)
	tmpl.Subject = subject
	tmpl.DNSNames, tmpl.IPAddresses, tmpl.URIs, diags = sans(ctx, m.DNSNames, m.IPAddresses, m.URIs)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	cert, diags := createCertificate(ctx, tmpl, tmpl, key.Public(), key, certOptions{
		validityPeriodHours: m.ValidityPeriodHours.ValueInt64(),
		allowedUses:         m.AllowedUses,
		isCA:                m.IsCACertificate.ValueBool(),
		setSubjectKeyID:     m.SetSubjectKeyID.ValueBool(),
		setAuthorityKeyID:   m.SetAuthorityKeyID.ValueBool(),
	})
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.ID = types.StringValue(cert.id)
	m.CertPEM = types.StringValue(cert.certPEM)
	m.ValidityStartTime = types.StringValue(cert.start)
	m.ValidityEndTime = types.StringValue(cert.end)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *selfSignedCertResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readStateForRenewal(ctx, req, resp)
}

// Update: only early_renewal_hours can change in place; the plan becomes the state.
func (r *selfSignedCertResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m selfSignedCertModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *selfSignedCertResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}

func (r *selfSignedCertResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	modifyPlanForRenewal(ctx, req, resp)
}
