import { PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { block, literalString } from "../values";

type Verdict = { readonly ok: true } | { readonly ok: false; readonly why: string } | undefined;

/** IMDS settings of one metadata_options block: ok, not ok (why), or undefined when an expression. */
function metadataVerdict(options: Record<string, unknown> | undefined): Verdict {
  if (options === undefined) return { ok: false, why: "declares no metadata_options, so http_tokens falls back to the AMI or account default (optional: IMDSv1 allowed)" };
  if (options.http_endpoint !== undefined) {
    const endpoint = literalString(options.http_endpoint);
    if (endpoint === undefined) return undefined;
    if (endpoint === "disabled") return { ok: true };
  }
  if (options.http_tokens === undefined) return { ok: false, why: "does not set metadata_options.http_tokens (defaults to optional: IMDSv1 allowed)" };
  const tokens = literalString(options.http_tokens);
  if (tokens === undefined) return undefined;
  return tokens === "required" ? { ok: true } : { ok: false, why: `sets metadata_options.http_tokens = "${tokens}" (IMDSv1 allowed)` };
}

/**
 * HA-EC1: instances require IMDSv2 session tokens, so an SSRF in a pod or node process cannot read
 * the node role's credentials with a plain GET.
 */
export const IMDS_V1: PolicyRule = {
  id: "HA-EC1",
  level: PolicyLevel.ERROR,
  description: 'Launch templates, launch configurations and instances require IMDSv2 (metadata_options.http_tokens = "required")',
  fix: 'set metadata_options { http_tokens = "required", http_put_response_hop_limit = 1 } (2 if pods need IMDS)',
  appliesTo: ["aws_launch_template", "aws_instance", "aws_launch_configuration"],
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    const options = block(resource.config.metadata_options);
    let verdict = metadataVerdict(options);
    // An instance launched from a template inherits the template's options unless it sets its own.
    if (resource.type === "aws_instance" && options === undefined) {
      const template = block(resource.config.launch_template);
      if (template !== undefined) {
        const target = context.follow(template.id) ?? context.follow(template.name);
        if (target === undefined || target.type !== "aws_launch_template") return RuleResult.notApplicable("launched from a template outside this stack");
        verdict = metadataVerdict(block(target.config.metadata_options));
        if (verdict !== undefined && !verdict.ok) return RuleResult.nonCompliant(`inherits from ${target.address}, which ${verdict.why}`);
      }
    }
    if (verdict === undefined) return RuleResult.notApplicable("metadata options known only at apply time");
    return verdict.ok ? RuleResult.compliant() : RuleResult.nonCompliant(`${resource.type} ${verdict.why}`);
  },
};
