import { ElementKind, PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { blocks } from "../values";

/** The group Kubernetes lets bypass RBAC entirely (no binding can revoke it). */
const SUPER_ADMIN_GROUP = "system:masters";
const MAX_DEPTH = 8;
/** Resources whose output attribute is a copy of an input attribute. */
const PASSTHROUGH: Record<string, Record<string, string>> = { terraform_data: { output: "input" } };

/** True when `key` (a tls_private_key) signs a certificate request for the super-admin group. */
function isSuperAdminKey(key: ResourceView, context: PolicyContext): boolean {
  return context.ofType("tls_cert_request").some(
    (req) =>
      context.references(req.config.private_key_pem).some((r) => r.element?.address === key.address) &&
      // tls 4.1.0: `subject` is one block at most, its `organization` a single string.
      blocks(req.config.subject).some((s) => s.organization === SUPER_ADMIN_GROUP),
  );
}

/** True when `value` carries `key`'s private key, directly or through locals and other resources' attributes. */
function carriesKey(value: unknown, key: ResourceView, context: PolicyContext, seen: Set<string>, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  for (const ref of context.references(value)) {
    if (ref.local !== undefined) {
      if (seen.has(`local.${ref.local}`)) continue;
      seen.add(`local.${ref.local}`);
      if (carriesKey(context.locals[ref.local], key, context, seen, depth + 1)) return true;
      continue;
    }
    const element = ref.element!;
    if (element.address === key.address) {
      if (ref.attribute === undefined || ref.attribute.startsWith("private_key")) return true;
      continue;
    }
    const id = `${element.address}.${ref.attribute ?? ""}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const attribute = ref.attribute !== undefined ? (PASSTHROUGH[element.type]?.[ref.attribute] ?? ref.attribute) : undefined;
    const source =
      attribute !== undefined && attribute in element.config ? element.config[attribute] : element.kind === ElementKind.DATA || attribute === undefined ? element.config : undefined;
    if (source !== undefined && carriesKey(source, key, context, seen, depth + 1)) return true;
  }
  return false;
}

/**
 * HA-OUT1: no Terraform output carries the private key of a `system:masters` client certificate,
 * sensitive or not. `sensitive` only hides a value from the CLI: it is in the state in plain text,
 * and every reader of the state (or of `terraform_remote_state`) gets a credential RBAC cannot
 * revoke.
 */
export const SUPER_ADMIN_OUTPUT: PolicyRule = {
  id: "HA-OUT1",
  level: PolicyLevel.ERROR,
  description: "No Terraform output (sensitive or not) carries the private key of a system:masters client certificate",
  fix: "hand the super-admin credential over through a Secrets Manager secret readable only by the role that needs it (ClusterAccessSecret), or use the RBAC-revocable kubeadm:cluster-admins identity; never a stack output",
  appliesTo: ["tls_private_key"],
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    if (!isSuperAdminKey(resource, context)) return RuleResult.notApplicable(`not the key of a ${SUPER_ADMIN_GROUP} certificate`);
    const leaking = context.outputs.filter((o) => carriesKey(o.value, resource, context, new Set(), 0));
    if (leaking.length === 0) return RuleResult.compliant();
    return RuleResult.nonCompliant(`the ${SUPER_ADMIN_GROUP} key ${resource.address} is in output ${leaking.map((o) => o.id).join(", ")}`);
  },
};
