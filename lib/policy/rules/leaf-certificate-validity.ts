import { PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { CERTIFICATE_TYPES, MAX_LEAF_VALIDITY_HOURS, isLeafCertificate } from "../certificates";
import { literalNumber } from "../values";

/**
 * HA-PKI1: leaf certificates are valid for at most a year, as kubeadm and Cluster API issue them:
 * a stolen key is useful for less time. A warning: longer lifetimes (kops issues ~455 days) are a
 * trade-off, not an outage.
 */
export const LEAF_CERTIFICATE_VALIDITY: PolicyRule = {
  id: "HA-PKI1",
  level: PolicyLevel.WARNING,
  description: `Leaf certificates (tls_locally_signed_cert, tls_self_signed_cert with is_ca_certificate false) are valid for at most ${MAX_LEAF_VALIDITY_HOURS} hours (1 year)`,
  fix: `set validity_period_hours to ${MAX_LEAF_VALIDITY_HOURS} or less, with early_renewal_hours so Terraform re-issues before expiry`,
  appliesTo: CERTIFICATE_TYPES,
  evaluate: (resource: ResourceView, _context: PolicyContext): RuleResult => {
    const leaf = isLeafCertificate(resource);
    if (leaf === undefined) return RuleResult.notApplicable("is_ca_certificate known only at apply time");
    if (!leaf) return RuleResult.notApplicable("a CA certificate");
    const hours = literalNumber(resource.config.validity_period_hours);
    if (hours === undefined) return RuleResult.notApplicable("validity known only at apply time");
    if (hours <= MAX_LEAF_VALIDITY_HOURS) return RuleResult.compliant();
    return RuleResult.nonCompliant(`the leaf certificate is valid for ${hours} hours (${(hours / 24).toFixed(0)} days), more than ${MAX_LEAF_VALIDITY_HOURS}`);
  },
};
