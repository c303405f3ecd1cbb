package main

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type locallySignedCertResource struct{}

var _ resource.ResourceWithModifyPlan = (*locallySignedCertResource)(nil)

func newLocallySignedCertResource() resource.Resource { return &locallySignedCertResource{} }

type locallySignedCertModel struct {
	CACertPEM           types.String `tfsdk:"ca_cert_pem"`
	CAPrivateKeyPEM     types.String `tfsdk:"ca_private_key_pem"`
	CertRequestPEM      types.String `tfsdk:"cert_request_pem"`
	ValidityPeriodHours types.Int64  `tfsdk:"validity_period_hours"`
	AllowedUses         types.List   `tfsdk:"allowed_uses"`
	EarlyRenewalHours   types.Int64  `tfsdk:"early_renewal_hours"`
	IsCACertificate     types.Bool   `tfsdk:"is_ca_certificate"`
	SetSubjectKeyID     types.Bool   `tfsdk:"set_subject_key_id"`
	CertPEM             types.String `tfsdk:"cert_pem"`
	ReadyForRenewal     types.Bool   `tfsdk:"ready_for_renewal"`
	ValidityStartTime   types.String `tfsdk:"validity_start_time"`
	ValidityEndTime     types.String `tfsdk:"validity_end_time"`
	CAKeyAlgorithm      types.String `tfsdk:"ca_key_algorithm"`
	ID                  types.String `tfsdk:"id"`
}

func (r *locallySignedCertResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_locally_signed_cert"
}

func (r *locallySignedCertResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := certificateAttributes()
	pemReplace := []planmodifier.String{requiresReplaceIfStateIsPEM()}
	attrs["ca_cert_pem"] = schema.StringAttribute{
		Required: true, PlanModifiers: pemReplace,
		Description: pemCertDescription("Certificate data of the Certificate Authority (CA)"),
	}
	attrs["ca_private_key_pem"] = schema.StringAttribute{
		Required: true, Sensitive: true, PlanModifiers: pemReplace,
		Description: pemCertDescription("Private key of the Certificate Authority (CA) used to sign the certificate,"),
	}
	attrs["cert_request_pem"] = schema.StringAttribute{
		Required: true, PlanModifiers: pemReplace,
		Description: pemCertDescription("Certificate request data"),
	}
	attrs["ca_key_algorithm"] = schema.StringAttribute{
		Computed:      true,
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		Description:   "Name of the algorithm used when generating the private key provided in `ca_private_key_pem`. ",
	}
	resp.Schema = schema.Schema{
		Attributes:  attrs,
		Description: "Creates a TLS certificate from a CSR, signed by a local CA (stand-in for hashicorp/tls 4.1.0).",
	}
}

func parseCertificatePEM(text string) (*x509.Certificate, error) {
	block, err := decodePEM(text, pemCertificate)
	if err != nil {
		return nil, err
	}
	certs, err := x509.ParseCertificates(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("failed to parse certificate: %w", err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("expected one certificate, found %d", len(certs))
	}
	return certs[0], nil
}

func (r *locallySignedCertResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m locallySignedCertModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	block, err := decodePEM(m.CertRequestPEM.ValueString(), pemCertRequest)
	if err != nil {
		resp.Diagnostics.AddError("Failed to parse certificate request PEM", err.Error())
		return
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		resp.Diagnostics.AddError("Failed to parse certificate request PEM", fmt.Sprintf("failed to parse certificate request: %v", err))
		return
	}
	// Stricter than the real provider, which does not check: a CSR whose signature does not verify was
	// not made with the key it carries.
	if err := csr.CheckSignature(); err != nil {
		resp.Diagnostics.AddError("Invalid certificate request signature", err.Error())
		return
	}
	caKey, algorithm, err := parsePrivateKeyPEM(m.CAPrivateKeyPEM.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Failed to parse CA private key PEM", err.Error())
		return
	}
	m.CAKeyAlgorithm = types.StringValue(algorithm)
	caCert, err := parseCertificatePEM(m.CACertPEM.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Failed to parse CA certificate PEM", err.Error())
		return
	}
	if !caCert.IsCA {
		resp.Diagnostics.AddWarning("Potentially Invalid Certificate Authority",
			"Certificate provided as Authority does not appear to be a valid Certificate Authority. The resulting certificate might fail certificate validation.")
	}
	tmpl := &x509.Certificate{
		Subject:               csr.Subject,
		DNSNames:              csr.DNSNames,
		IPAddresses:           csr.IPAddresses,
		URIs:                  csr.URIs,
		BasicConstraintsValid: true,
	}
	cert, diags := createCertificate(ctx, tmpl, caCert, csr.PublicKey, caKey, certOptions{
		validityPeriodHours: m.ValidityPeriodHours.ValueInt64(),
		allowedUses:         m.AllowedUses,
		isCA:                m.IsCACertificate.ValueBool(),
		setSubjectKeyID:     m.SetSubjectKeyID.ValueBool(),
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

func (r *locallySignedCertResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readStateForRenewal(ctx, req, resp)
}

func (r *locallySignedCertResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m locallySignedCertModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *locallySignedCertResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}

func (r *locallySignedCertResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	modifyPlanForRenewal(ctx, req, resp)
}
