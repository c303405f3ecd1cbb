package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// keyUsages and extendedKeyUsages: the allowed_uses vocabulary of the real provider and the X.509
// bits each word sets.
var keyUsages = map[string]x509.KeyUsage{
	"digital_signature":  x509.KeyUsageDigitalSignature,
	"content_commitment": x509.KeyUsageContentCommitment,
	"key_encipherment":   x509.KeyUsageKeyEncipherment,
	"data_encipherment":  x509.KeyUsageDataEncipherment,
	"key_agreement":      x509.KeyUsageKeyAgreement,
	"cert_signing":       x509.KeyUsageCertSign,
	"crl_signing":        x509.KeyUsageCRLSign,
	"encipher_only":      x509.KeyUsageEncipherOnly,
	"decipher_only":      x509.KeyUsageDecipherOnly,
}

var extendedKeyUsages = map[string]x509.ExtKeyUsage{
	"any_extended":                      x509.ExtKeyUsageAny,
	"server_auth":                       x509.ExtKeyUsageServerAuth,
	"client_auth":                       x509.ExtKeyUsageClientAuth,
	"code_signing":                      x509.ExtKeyUsageCodeSigning,
	"email_protection":                  x509.ExtKeyUsageEmailProtection,
	"ipsec_end_system":                  x509.ExtKeyUsageIPSECEndSystem,
	"ipsec_tunnel":                      x509.ExtKeyUsageIPSECTunnel,
	"ipsec_user":                        x509.ExtKeyUsageIPSECUser,
	"timestamping":                      x509.ExtKeyUsageTimeStamping,
	"ocsp_signing":                      x509.ExtKeyUsageOCSPSigning,
	"microsoft_server_gated_crypto":     x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	"netscape_server_gated_crypto":      x509.ExtKeyUsageNetscapeServerGatedCrypto,
	"microsoft_commercial_code_signing": x509.ExtKeyUsageMicrosoftCommercialCodeSigning,
	"microsoft_kernel_code_signing":     x509.ExtKeyUsageMicrosoftKernelCodeSigning,
}

func supportedKeyUsages() []string {
	out := make([]string, 0, len(keyUsages)+len(extendedKeyUsages))
	for k := range keyUsages {
		out = append(out, k)
	}
	for k := range extendedKeyUsages {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// nowFunc is time.Now; a variable so Go tests can move the clock.
var nowFunc = time.Now

// pemPattern: a value that is a PEM document. A change to such a value replaces the resource; a change
// from a non-PEM value (e.g. an unknown during import) does not, as in the real provider.
var pemPattern = regexp.MustCompile(`^-----BEGIN [[:alpha:] ]+-----\n(.|\s)+\n-----END [[:alpha:] ]+-----\n?$`)

func requiresReplaceIfStateIsPEM() planmodifier.String {
	const d = "Attribute requires replacement if it contains a PEM string"
	return stringplanmodifier.RequiresReplaceIf(func(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = pemPattern.MatchString(req.StateValue.ValueString())
	}, d, d)
}

// readyForRenewalModifier: once Read has flagged the certificate ready for renewal, the next plan
// replaces it.
type readyForRenewalModifier struct{}

func (readyForRenewalModifier) Description(context.Context) string {
	return "Replaces the certificate when the state says it is ready for renewal."
}
func (m readyForRenewalModifier) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}
func (readyForRenewalModifier) PlanModifyBool(_ context.Context, req planmodifier.BoolRequest, resp *planmodifier.BoolResponse) {
	if req.StateValue.IsNull() || req.StateValue.IsUnknown() || !req.StateValue.ValueBool() {
		return
	}
	resp.PlanValue = types.BoolUnknown()
	resp.RequiresReplace = true
}

func pemCertDescription(what string) string {
	return what + " in [PEM (RFC 1421)](https://datatracker.ietf.org/doc/html/rfc1421) format."
}

// certificateAttributes: the attributes tls_self_signed_cert and tls_locally_signed_cert share.
func certificateAttributes() map[string]schema.Attribute {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	return map[string]schema.Attribute{
		"validity_period_hours": schema.Int64Attribute{
			Required:      true,
			PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			Validators:    []validator.Int64{int64validator.AtLeast(0)},
			Description:   "Number of hours, after initial issuing, that the certificate will remain valid for.",
		},
		"allowed_uses": schema.ListAttribute{
			ElementType:   types.StringType,
			Required:      true,
			PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
			Validators:    []validator.List{listvalidator.ValueStringsAre(stringvalidator.OneOf(supportedKeyUsages()...))},
			Description:   "List of key usages allowed for the issued certificate (RFC 5280 key usages and extended key usages).",
		},
		"early_renewal_hours": schema.Int64Attribute{
			Optional:    true,
			Computed:    true,
			Default:     int64default.StaticInt64(0),
			Validators:  []validator.Int64{int64validator.AtLeast(0)},
			Description: "The resource will consider the certificate to have expired the given number of hours before its actual expiry time. (default: `0`)",
		},
		"is_ca_certificate": schema.BoolAttribute{
			Optional:      true,
			Computed:      true,
			Default:       booldefault.StaticBool(false),
			PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
			Description:   "Is the generated certificate representing a Certificate Authority (CA) (default: `false`).",
		},
		"set_subject_key_id": schema.BoolAttribute{
			Optional:      true,
			Computed:      true,
			Default:       booldefault.StaticBool(false),
			PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
			Description:   "Should the generated certificate include a subject key identifier (default: `false`).",
		},
		"cert_pem": schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			Description: pemCertDescription("Certificate data"),
		},
		"ready_for_renewal": schema.BoolAttribute{
			Computed:      true,
			Default:       booldefault.StaticBool(false),
			PlanModifiers: []planmodifier.Bool{readyForRenewalModifier{}},
			Description:   "Is the certificate either expired (i.e. beyond the `validity_period_hours`) or ready for an early renewal (i.e. within the `early_renewal_hours`)?",
		},
		"validity_start_time": schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			Description: "The time after which the certificate is valid, as an RFC3339 timestamp.",
		},
		"validity_end_time": schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			Description: "The time until which the certificate is invalid, as an RFC3339 timestamp.",
		},
		"id": schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			Description: "Unique identifier for this resource: the certificate serial number.",
		},
	}
}

// sanAttributes: dns_names, ip_addresses, uris of tls_self_signed_cert and tls_cert_request.
func sanAttributes(attrs map[string]schema.Attribute) {
	for name, what := range map[string]string{"dns_names": "DNS names", "ip_addresses": "IP addresses", "uris": "URIs"} {
		a := schema.ListAttribute{
			ElementType:   types.StringType,
			Optional:      true,
			PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
			Description:   "List of " + what + " for which a certificate is being requested (i.e. certificate subjects).",
		}
		if name != "dns_names" {
			a.Validators = []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))}
		}
		attrs[name] = a
	}
}

// subjectBlock: the `subject` block (at most one) of tls_self_signed_cert and tls_cert_request.
func subjectBlock() schema.Block {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	str := func(d string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, PlanModifiers: replace, Description: d}
	}
	return schema.ListNestedBlock{
		Validators:    []validator.List{listvalidator.SizeBetween(0, 1)},
		PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
		NestedObject: schema.NestedBlockObject{
			Attributes: map[string]schema.Attribute{
				"organization":        str("Distinguished name: `O`"),
				"common_name":         str("Distinguished name: `CN`"),
				"organizational_unit": str("Distinguished name: `OU`"),
				"street_address": schema.ListAttribute{
					ElementType: types.StringType, Optional: true,
					PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
					Description:   "Distinguished name: `STREET`",
				},
				"locality":      str("Distinguished name: `L`"),
				"province":      str("Distinguished name: `ST`"),
				"country":       str("Distinguished name: `C`"),
				"postal_code":   str("Distinguished name: `PC`"),
				"serial_number": str("Distinguished name: `SERIALNUMBER`"),
				"email_address": str("ASN.1 Object Identifier (OID): `1.2.840.113549.1.9.1`"),
			},
		},
		Description: "The subject for which a certificate is being requested.",
	}
}

type subjectModel struct {
	Organization       types.String `tfsdk:"organization"`
	CommonName         types.String `tfsdk:"common_name"`
	OrganizationalUnit types.String `tfsdk:"organizational_unit"`
	StreetAddress      types.List   `tfsdk:"street_address"`
	Locality           types.String `tfsdk:"locality"`
	Province           types.String `tfsdk:"province"`
	Country            types.String `tfsdk:"country"`
	PostalCode         types.String `tfsdk:"postal_code"`
	SerialNumber       types.String `tfsdk:"serial_number"`
	EmailAddress       types.String `tfsdk:"email_address"`
}

var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

func subjectName(ctx context.Context, subjects types.List) (pkix.Name, diag.Diagnostics) {
	var name pkix.Name
	if subjects.IsNull() || subjects.IsUnknown() || len(subjects.Elements()) == 0 {
		return name, nil
	}
	var list []subjectModel
	diags := subjects.ElementsAs(ctx, &list, false)
	if diags.HasError() {
		return name, diags
	}
	s := list[0]
	one := func(v types.String) []string {
		if v.IsNull() || v.IsUnknown() {
			return nil
		}
		return []string{v.ValueString()}
	}
	if !s.CommonName.IsNull() {
		name.CommonName = s.CommonName.ValueString()
	}
	name.Organization = one(s.Organization)
	name.OrganizationalUnit = one(s.OrganizationalUnit)
	if !s.StreetAddress.IsNull() && !s.StreetAddress.IsUnknown() {
		diags.Append(s.StreetAddress.ElementsAs(ctx, &name.StreetAddress, false)...)
	}
	name.Locality = one(s.Locality)
	name.Province = one(s.Province)
	name.Country = one(s.Country)
	name.PostalCode = one(s.PostalCode)
	if !s.SerialNumber.IsNull() {
		name.SerialNumber = s.SerialNumber.ValueString()
	}
	if !s.EmailAddress.IsNull() && !s.EmailAddress.IsUnknown() {
		name.ExtraNames = append(name.ExtraNames, pkix.AttributeTypeAndValue{
			Type:  oidEmailAddress,
			Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(s.EmailAddress.ValueString())},
		})
	}
	return name, diags
}

// sans parses dns_names, ip_addresses and uris into the template.
func sans(ctx context.Context, dns, ips, uris types.List) (d []string, ipOut []net.IP, uriOut []*url.URL, diags diag.Diagnostics) {
	strs := func(l types.List) []string {
		var out []string
		if !l.IsNull() && !l.IsUnknown() {
			diags.Append(l.ElementsAs(ctx, &out, false)...)
		}
		return out
	}
	d = strs(dns)
	for _, s := range strs(ips) {
		ip := net.ParseIP(s)
		if ip == nil {
			diags.AddError("Invalid IP address", fmt.Sprintf("Failed to parse %#v", s))
			return
		}
		ipOut = append(ipOut, ip)
	}
	for _, s := range strs(uris) {
		u, err := url.Parse(s)
		if err != nil {
			diags.AddError("Invalid URI", fmt.Sprintf("Failed to parse %#v: %v", s, err))
			return
		}
		uriOut = append(uriOut, u)
	}
	return
}

// subjectKeyID: SHA-1 of the public key, computed the way the real provider does (so a stand-in
// certificate carries the identifier the real one would).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	var b []byte
	var err error
	switch k := pub.(type) {
	case *rsa.PublicKey:
		b, err = asn1.Marshal(*k)
	case *ecdsa.PublicKey:
		b = elliptic.Marshal(k.Curve, k.X, k.Y) //nolint:staticcheck // the real provider's encoding
	case ed25519.PublicKey:
		b, err = asn1.Marshal(k)
	default:
		err = fmt.Errorf("unsupported public key type %T", pub)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to marshal public key of type %T: %w", pub, err)
	}
	sum := sha1.Sum(b)
	return sum[:], nil
}

// certOptions: the plan values createCertificate reads.
type certOptions struct {
	validityPeriodHours int64
	allowedUses         types.List
	isCA                bool
	setSubjectKeyID     bool
	setAuthorityKeyID   bool
}

type issued struct {
	id, certPEM, start, end string
}

// createCertificate fills the template from opts and signs it with signer as parent; x509 refuses a
// signer whose public key is not the parent's (a leaf signed by the wrong CA key).
func createCertificate(ctx context.Context, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer, opts certOptions) (*issued, diag.Diagnostics) {
	var diags diag.Diagnostics
	tmpl.NotBefore = nowFunc()
	tmpl.NotAfter = tmpl.NotBefore.Add(time.Duration(opts.validityPeriodHours) * time.Hour)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		diags.AddError("Failed to generate serial number", err.Error())
		return nil, diags
	}
	tmpl.SerialNumber = serial

	var uses []string
	diags.Append(opts.allowedUses.ElementsAs(ctx, &uses, false)...)
	if diags.HasError() {
		return nil, diags
	}
	for _, u := range uses {
		if ku, ok := keyUsages[u]; ok {
			tmpl.KeyUsage |= ku
		}
		if eku, ok := extendedKeyUsages[u]; ok {
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, eku)
		}
	}
	if opts.isCA {
		// RFC 5280 4.1.2.6: a CA certificate's subject must not be empty.
		if reflect.DeepEqual(tmpl.Subject, pkix.Name{}) {
			diags.AddError("Invalid Certificate Subject", "Must contain at least one Distinguished Name when creating Certificate Authority (CA)")
			return nil, diags
		}
		tmpl.IsCA = true
		if tmpl.SubjectKeyId, err = subjectKeyID(pub); err != nil {
			diags.AddError("Failed to generate subject key identifier", err.Error())
			return nil, diags
		}
	}
	if opts.setSubjectKeyID {
		if tmpl.SubjectKeyId, err = subjectKeyID(pub); err != nil {
			diags.AddError("Failed to generate subject key identifier", err.Error())
			return nil, diags
		}
	}
	if opts.setAuthorityKeyID {
		if len(parent.SubjectKeyId) == 0 {
			diags.AddError("Invalid Certificate Authority", "Could not determine Authority Key Identifier")
			return nil, diags
		}
		tmpl.AuthorityKeyId = parent.SubjectKeyId
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		diags.AddError("Failed to create certificate", err.Error())
		return nil, diags
	}
	start, _ := tmpl.NotBefore.MarshalText()
	end, _ := tmpl.NotAfter.MarshalText()
	return &issued{
		id:      tmpl.SerialNumber.String(),
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der})),
		start:   string(start),
		end:     string(end),
	}, diags
}

// readyForRenewal: now is within early_renewal_hours of validity_end_time (or past it).
func readyForRenewal(endTime types.String, earlyRenewalHours types.Int64) (bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	if endTime.IsNull() || endTime.IsUnknown() {
		return false, diags
	}
	end, err := time.Parse(time.RFC3339, endTime.ValueString())
	if err != nil {
		diags.AddError(fmt.Sprintf("Failed to parse data from string: %s", endTime.ValueString()), err.Error())
		return false, diags
	}
	early := time.Duration(earlyRenewalHours.ValueInt64()) * time.Hour
	return !end.Add(-early).After(nowFunc()), diags
}

// modifyPlanForRenewal: a plan made after the early-renewal time replaces the certificate.
func modifyPlanForRenewal(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || req.State.Raw.IsNull() {
		return
	}
	var end types.String
	var early types.Int64
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("validity_end_time"), &end)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("early_renewal_hours"), &early)...)
	if resp.Diagnostics.HasError() || early.IsUnknown() {
		return
	}
	ready, diags := readyForRenewal(end, early)
	resp.Diagnostics.Append(diags...)
	if ready {
		p := path.Root("ready_for_renewal")
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, p, types.BoolUnknown())...)
		resp.RequiresReplace = append(resp.RequiresReplace, p)
	}
}

// readStateForRenewal: Read flags the certificate ready for renewal in the state.
func readStateForRenewal(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var end types.String
	var early types.Int64
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("validity_end_time"), &end)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("early_renewal_hours"), &early)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ready, diags := readyForRenewal(end, early)
	resp.Diagnostics.Append(diags...)
	if ready {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("ready_for_renewal"), true)...)
	}
}
