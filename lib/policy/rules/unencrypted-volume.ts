import { PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { block, blocks, isExpression, literalBoolean, literalString } from "../values";

/** True when the stack turns on EBS encryption by default for the account and region. */
function encryptedByDefault(context: PolicyContext): boolean {
  return context.ofType("aws_ebs_encryption_by_default").some((r) => r.config.enabled === undefined || literalBoolean(r.config.enabled) === true);
}

/** `encrypted` of one volume: "yes", "no (why)", or undefined when an expression. */
function volumeProblem(what: string, encrypted: unknown, byDefault: boolean): string | null | undefined {
  if (encrypted === undefined) return byDefault ? null : `${what} does not set encrypted (unencrypted unless the account enables EBS encryption by default)`;
  const value = literalBoolean(encrypted);
  if (value === undefined) return isExpression(encrypted) ? undefined : `${what} has encrypted = ${JSON.stringify(encrypted)}`;
  return value ? null : `${what} sets encrypted = false`;
}

/**
 * HA-EC2: every EBS volume is encrypted: standalone volumes (etcd data), volumes of launch
 * templates and launch configurations, and instance root and data volumes. Node disks hold etcd
 * data, certificates and kubelet credentials.
 */
export const UNENCRYPTED_VOLUME: PolicyRule = {
  id: "HA-EC2",
  level: PolicyLevel.ERROR,
  description: "EBS volumes (aws_ebs_volume, launch-template and launch-configuration block devices, instance root and data volumes) are encrypted",
  fix: "set encrypted = true (with kms_key_id of the cluster key) on the volume or block device, declaring the root device explicitly; or enable aws_ebs_encryption_by_default",
  appliesTo: ["aws_ebs_volume", "aws_launch_template", "aws_instance", "aws_launch_configuration"],
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    const c = resource.config;
    const byDefault = encryptedByDefault(context);
    const problems: (string | null | undefined)[] = [];
    switch (resource.type) {
      case "aws_ebs_volume":
        problems.push(volumeProblem("the volume", c.encrypted, byDefault));
        break;
      case "aws_launch_template": {
        const ebs = blocks(c.block_device_mappings).filter((m) => m.no_device === undefined && m.virtual_name === undefined);
        if (ebs.length === 0) problems.push(byDefault ? null : "declares no block device, so the root volume comes from the AMI unencrypted");
        for (const m of ebs) {
          const device = literalString(m.device_name) ?? "a device";
          problems.push(volumeProblem(`block device ${device}`, block(m.ebs)?.encrypted, byDefault));
        }
        break;
      }
      case "aws_instance":
      case "aws_launch_configuration": {
        const root = block(c.root_block_device);
        const fromTemplate = resource.type === "aws_instance" && block(c.launch_template) !== undefined;
        if (root !== undefined) problems.push(volumeProblem("root_block_device", root.encrypted, byDefault));
        else if (!fromTemplate) problems.push(byDefault ? null : "declares no root_block_device, so the root volume comes from the AMI unencrypted");
        for (const d of blocks(c.ebs_block_device)) {
          problems.push(volumeProblem(`ebs_block_device ${literalString(d.device_name) ?? ""}`.trim(), d.encrypted, byDefault));
        }
        break;
      }
      default:
        return RuleResult.notApplicable();
    }
    const found = problems.filter((p): p is string => typeof p === "string");
    if (found.length > 0) return RuleResult.nonCompliant(`${resource.type}: ${found.join("; ")}`);
    if (problems.some((p) => p === undefined)) return RuleResult.notApplicable("encryption known only at apply time");
    return problems.length > 0 ? RuleResult.compliant() : RuleResult.notApplicable("no volume declared (inherits its launch template)");
  },
};
