/** Leaf certificates of the Terraform tls provider. */
import { ResourceView } from "./context";
import { isExpression, literalBoolean } from "./values";

/** Certificate resource types of the tls provider. */
export const CERTIFICATE_TYPES = ["tls_locally_signed_cert", "tls_self_signed_cert"] as const;
/** One year: the leaf validity kubeadm and Cluster API use. */
export const MAX_LEAF_VALIDITY_HOURS = 8760;

/** `true` for a leaf (not a CA), `undefined` when `is_ca_certificate` is an expression. */
export function isLeafCertificate(cert: ResourceView): boolean | undefined {
  const ca = cert.config.is_ca_certificate;
  if (ca === undefined) return true;
  if (isExpression(ca)) return undefined;
  return literalBoolean(ca) !== true;
}
