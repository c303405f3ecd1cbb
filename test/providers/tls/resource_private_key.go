package main

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type privateKeyResource struct{}

func newPrivateKeyResource() resource.Resource { return &privateKeyResource{} }

type privateKeyModel struct {
	Algorithm                  types.String `tfsdk:"algorithm"`
	RSABits                    types.Int64  `tfsdk:"rsa_bits"`
	ECDSACurve                 types.String `tfsdk:"ecdsa_curve"`
	PrivateKeyPEM              types.String `tfsdk:"private_key_pem"`
	PrivateKeyOpenSSH          types.String `tfsdk:"private_key_openssh"`
	PrivateKeyPKCS8            types.String `tfsdk:"private_key_pem_pkcs8"`
	PublicKeyPEM               types.String `tfsdk:"public_key_pem"`
	PublicKeyOpenSSH           types.String `tfsdk:"public_key_openssh"`
	PublicKeyFingerprintMD5    types.String `tfsdk:"public_key_fingerprint_md5"`
	PublicKeyFingerprintSHA256 types.String `tfsdk:"public_key_fingerprint_sha256"`
	ID                         types.String `tfsdk:"id"`
}

func (r *privateKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_private_key"
}

func (r *privateKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	computed := func(sensitive bool) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Sensitive: sensitive}
	}
	resp.Schema = schema.Schema{
		// Schema version 1, like the real provider (v0 states predate 3.2.0 and are not upgraded here).
		Version: 1,
		Attributes: map[string]schema.Attribute{
			"algorithm": schema.StringAttribute{
				Required:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.OneOf(supportedAlgorithms...)},
				Description:   "Name of the algorithm to use when generating the private key. Currently-supported values are: `RSA`, `ECDSA`, `ED25519`. ",
			},
			"rsa_bits": schema.Int64Attribute{
				Optional:      true,
				Computed:      true,
				Default:       int64default.StaticInt64(2048),
				PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
				Description:   "When `algorithm` is `RSA`, the size of the generated RSA key, in bits (default: `2048`).",
			},
			"ecdsa_curve": schema.StringAttribute{
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString("P224"),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.OneOf(supportedECDSACurves...)},
				Description:   "When `algorithm` is `ECDSA`, the name of the elliptic curve to use. Currently-supported values are: `P224`, `P256`, `P384`, `P521`. (default: `P224`).",
			},
			"private_key_pem":               computed(true),
			"private_key_openssh":           computed(true),
			"private_key_pem_pkcs8":         computed(true),
			"public_key_pem":                computed(false),
			"public_key_openssh":            computed(false),
			"public_key_fingerprint_md5":    computed(false),
			"public_key_fingerprint_sha256": computed(false),
			"id":                            computed(false),
		},
		Description: "Creates a PEM (and OpenSSH) formatted private key (stand-in for hashicorp/tls 4.1.0).",
	}
}

func (r *privateKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m privateKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	key, err := generateKey(m.Algorithm.ValueString(), m.RSABits.ValueInt64(), m.ECDSACurve.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Unable to generate Key from configuration", err.Error())
		return
	}
	prv, err := privateKeyPEM(key)
	if err != nil {
		resp.Diagnostics.AddError("Unable to encode key to PEM", err.Error())
		return
	}
	pkcs8, err := privateKeyPKCS8PEM(key)
	if err != nil {
		resp.Diagnostics.AddError("Unable to encode private key to PKCS#8 PEM", err.Error())
		return
	}
	openssh, err := privateKeyOpenSSH(key, "")
	if err != nil {
		resp.Diagnostics.AddError("Unable to marshal private key into OpenSSH format", err.Error())
		return
	}
	pub, err := publicAttributes(key)
	if err != nil {
		resp.Diagnostics.AddError("Failed to marshal public key", err.Error())
		return
	}
	m.PrivateKeyPEM = types.StringValue(prv)
	m.PrivateKeyPKCS8 = types.StringValue(pkcs8)
	m.PrivateKeyOpenSSH = types.StringValue(openssh)
	m.PublicKeyPEM = types.StringValue(pub.pem)
	m.PublicKeyOpenSSH = types.StringValue(pub.openssh)
	m.PublicKeyFingerprintMD5 = types.StringValue(pub.md5)
	m.PublicKeyFingerprintSHA256 = types.StringValue(pub.sha256)
	m.ID = types.StringValue(pub.id)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

// Read: everything there is to know is in the state.
func (r *privateKeyResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

// Update is never reached with a change: every configurable attribute requires replacement.
func (r *privateKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m privateKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *privateKeyResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}
