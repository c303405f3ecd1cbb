import { PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { CERTIFICATE_TYPES, isLeafCertificate } from "../certificates";
import { isExpression, literalNumber } from "../values";

/**
 * HA-PKI2: leaf certificates renew early. The tls provider re-issues a certificate on the first
 * apply after `early_renewal_hours` before expiry; without it the certificate simply expires and the
 * cluster goes down (the most reported failure of self-managed control planes). A window as long as
 * the validity would re-issue on every apply.
 */
export const LEAF_CERTIFICATE_RENEWAL: PolicyRule = {
  id: "HA-PKI2",
  level: PolicyLevel.ERROR,
  description: "Leaf certificates set early_renewal_hours greater than 0 and shorter than validity_period_hours",
  fix: "set early_renewal_hours (e.g. 720 for a 1-year certificate) and apply at least that often so certificates are re-issued before they expire",
  appliesTo: CERTIFICATE_TYPES,
  evaluate: (resource: ResourceView, _context: PolicyContext): RuleResult => {
    const leaf = isLeafCertificate(resource);
    if (leaf === undefined) return RuleResult.notApplicable("is_ca_certificate known only at apply time");
    if (!leaf) return RuleResult.notApplicable("a CA certificate");
    const { early_renewal_hours: early, validity_period_hours: validity } = resource.config;
    if (isExpression(early) || isExpression(validity)) return RuleResult.notApplicable("renewal known only at apply time");
    const earlyHours = literalNumber(early) ?? 0;
    if (earlyHours <= 0) return RuleResult.nonCompliant("the leaf certificate has no early renewal (early_renewal_hours unset or 0): it will expire in place");
    const validityHours = literalNumber(validity);
    if (validityHours !== undefined && earlyHours >= validityHours) {
      return RuleResult.nonCompliant(`early_renewal_hours (${earlyHours}) is not shorter than validity_period_hours (${validityHours}): the certificate is re-issued on every apply`);
    }
    return RuleResult.compliant();
  },
};
