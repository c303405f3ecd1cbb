import { ElementKind, PolicyContext, ResourceView } from "../context";
import { isNodeRole, roleNamed } from "../iam";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { displayName, list, literalString } from "../values";

/** An AWS managed policy ARN (`arn:aws:iam::aws:policy/...`, any partition, a partition reference too). */
const AWS_MANAGED = /^arn:(aws[a-z-]*|\$\{[^}]+\}):iam::aws:policy\//;

function managedArn(value: unknown, context: PolicyContext): string | undefined {
  if (typeof value === "string" && AWS_MANAGED.test(value)) return value;
  const target = context.follow(value);
  if (target?.type === "aws_iam_policy" && target.kind === ElementKind.DATA) {
    const arn = literalString(target.config.arn);
    if (arn !== undefined && AWS_MANAGED.test(arn)) return arn;
  }
  return undefined;
}

/**
 * HA-IAM1: no AWS managed policy on a control-plane node role. They are written for every account
 * and reach far beyond a node (`AmazonSSMManagedInstanceCore` reads every SSM parameter,
 * `CloudWatchAgentServerPolicy` sets any log group's retention); a node's role holds the CA keys'
 * secret, so its reach is the cluster's.
 */
export const NODE_ROLE_MANAGED_POLICY: PolicyRule = {
  id: "HA-IAM1",
  level: PolicyLevel.ERROR,
  description:
    "Control-plane node roles (EC2 instance roles tagged ha-control-plane/cluster) have no AWS managed policy attached (aws_iam_role_policy_attachment, aws_iam_policy_attachment, managed_policy_arns)",
  fix: "grant the node only the actions it needs with NodeRole.addStatement (inline, resource-scoped); for Session Manager the library already grants AWS's documented minimum",
  appliesTo: ["aws_iam_role_policy_attachment", "aws_iam_policy_attachment", "aws_iam_role"],
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    if (resource.type === "aws_iam_role") {
      if (!isNodeRole(resource)) return RuleResult.notApplicable("not a control-plane node role");
      const managed = list(resource.config.managed_policy_arns).map((a) => managedArn(a, context)).filter((a): a is string => a !== undefined);
      if (managed.length > 0) return RuleResult.nonCompliant(`node role ${displayName(resource.config, resource.address)} lists AWS managed policies ${managed.join(", ")} in managed_policy_arns`);
      return RuleResult.compliant();
    }
    const roles = resource.type === "aws_iam_role_policy_attachment" ? [resource.config.role] : list(resource.config.roles);
    const nodeRoles = roles.map((r) => roleNamed(r, context)).filter((r): r is ResourceView => isNodeRole(r));
    if (nodeRoles.length === 0) return RuleResult.notApplicable("attaches to no control-plane node role of this stack");
    const arn = managedArn(resource.config.policy_arn, context);
    if (arn === undefined) return RuleResult.compliant();
    return RuleResult.nonCompliant(`attaches AWS managed policy ${arn} to node role ${nodeRoles.map((r) => displayName(r.config, r.address)).join(", ")}`);
  },
};
