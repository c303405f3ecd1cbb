import { ElementKind, PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { literalBoolean, literalString, userDataTexts } from "../values";

const PEM_MARKER = "PRIVATE KEY";
const USER_DATA_ATTRIBUTES = ["user_data", "user_data_base64"];
/** Resources whose output attribute is a copy of an input attribute. */
const PASSTHROUGH: Record<string, Record<string, string>> = { terraform_data: { output: "input" } };
const MAX_DEPTH = 8;
/** The bootstrap bundle key a node's user data names (`node.env`, see `BootstrapBundles`). */
const BUNDLE_KEY = /(?:^|\s)HA_BUNDLE_KEY='([^'\s]+)'/;
/** Attributes of an `aws_s3_object` that hold its content. */
const OBJECT_CONTENT_ATTRIBUTES = ["content", "content_base64"];
/**
 * Attributes of the `aws_ssm_parameter` data source that return the parameter's value (decrypted
 * unless `with_decryption = false`), and the arguments of the `aws_ssm_parameter` resource that set it.
 */
const SSM_VALUE_ATTRIBUTES = ["value", "insecure_value"];

/** True when a PEM private key block is in `value`, or in a string of it once base64 (and gzip) decoded. */
function containsPem(value: unknown): boolean {
  if (typeof value === "string") return userDataTexts(value).some((t) => t.includes(PEM_MARKER));
  if (Array.isArray(value)) return value.some(containsPem);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsPem);
  return false;
}

/**
 * The `aws_ssm_parameter` of the stack a `data.aws_ssm_parameter` reads: its `name` references the
 * resource, or equals the resource's literal name. `undefined` for a parameter declared elsewhere.
 */
function parameterRead(data: ResourceView, context: PolicyContext): ResourceView | undefined {
  const target = context.follow(data.config.name);
  if (target !== undefined) return target.type === "aws_ssm_parameter" && target.kind === ElementKind.RESOURCE ? target : undefined;
  const name = literalString(data.config.name);
  return name === undefined ? undefined : context.ofType("aws_ssm_parameter").find((p) => literalString(p.config.name) === name);
}

/**
 * How private key material reaches `value`, following references through locals, other
 * resources' attributes and data sources (an SSM parameter read back through
 * `data.aws_ssm_parameter` included); `undefined` when it does not. A parameter read from outside
 * the stack is known only at apply time: it is added to `undecided`.
 */
function keyPath(value: unknown, context: PolicyContext, seen: Set<string>, depth: number, undecided: string[]): string | undefined {
  if (containsPem(value)) return `contains a PEM "${PEM_MARKER}" block`;
  if (depth >= MAX_DEPTH) return undefined;
  for (const ref of context.references(value)) {
    if (ref.local !== undefined) {
      if (seen.has(`local.${ref.local}`)) continue;
      seen.add(`local.${ref.local}`);
      const via = keyPath(context.locals[ref.local], context, seen, depth + 1, undecided);
      if (via) return `references local.${ref.local}, which ${via}`;
      continue;
    }
    const element = ref.element as ResourceView;
    if (element.type === "tls_private_key") {
      if (ref.attribute === undefined || ref.attribute.startsWith("private_key")) return `references ${ref.expression}`;
      continue;
    }
    if (element.kind === ElementKind.DATA && element.type === "aws_ssm_parameter" && SSM_VALUE_ATTRIBUTES.includes(ref.attribute ?? "")) {
      const via = parameterKeyPath(element, context, seen, depth, undecided);
      if (via) return `references ${ref.expression}, which ${via}`;
      continue;
    }
    const key = `${element.address}.${ref.attribute ?? ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const attribute = ref.attribute !== undefined ? (PASSTHROUGH[element.type]?.[ref.attribute] ?? ref.attribute) : undefined;
    // A data source derives every attribute from its arguments; a resource's computed attributes
    // (id, arn) carry no input, so only attributes present in its configuration are followed.
    const source =
      attribute !== undefined && attribute in element.config ? element.config[attribute] : element.kind === ElementKind.DATA || attribute === undefined ? element.config : undefined;
    if (source === undefined) continue;
    const via = keyPath(source, context, seen, depth + 1, undecided);
    if (via) return `references ${ref.expression}, which ${via}`;
  }
  return undefined;
}

/**
 * How private key material reaches the value a `data.aws_ssm_parameter` returns: the value the
 * stack's `aws_ssm_parameter` of that name is given. A SecureString read with
 * `with_decryption = false` returns its ciphertext.
 */
function parameterKeyPath(data: ResourceView, context: PolicyContext, seen: Set<string>, depth: number, undecided: string[]): string | undefined {
  const parameter = parameterRead(data, context);
  if (parameter === undefined) {
    const name = literalString(data.config.name);
    undecided.push(`reads SSM parameter ${name ?? "named by an expression"} (${data.address}), which this stack does not declare: its value is known only at apply time`);
    return undefined;
  }
  if (literalBoolean(data.config.with_decryption) === false && parameter.config.type === "SecureString") return undefined;
  for (const attribute of SSM_VALUE_ATTRIBUTES) {
    const key = `${parameter.address}.${attribute}`;
    if (parameter.config[attribute] === undefined || seen.has(key)) continue;
    seen.add(key);
    const via = keyPath(parameter.config[attribute], context, seen, depth + 1, undecided);
    if (via) return `reads ${key}, which ${via}`;
  }
  return undefined;
}

/**
 * How private key material reaches the bootstrap bundle(s) the user data names: the
 * `aws_s3_object` whose key is the user data's `HA_BUNDLE_KEY`, its content decoded (base64, gzip:
 * a tar archive keeps file contents as they are).
 */
function bundleKeyPath(value: unknown, context: PolicyContext, undecided: string[]): string | undefined {
  const keys = new Set<string>();
  for (const text of typeof value === "string" ? userDataTexts(value) : []) {
    const m = BUNDLE_KEY.exec(text);
    if (m) keys.add(m[1]);
  }
  for (const key of keys) {
    for (const object of context.ofType("aws_s3_object")) {
      if (object.config.key !== key) continue;
      for (const attribute of OBJECT_CONTENT_ATTRIBUTES) {
        if (object.config[attribute] === undefined) continue;
        const via = keyPath(object.config[attribute], context, new Set(), 0, undecided);
        if (via) return `names bootstrap bundle ${key}, whose ${object.address}.${attribute} ${via}`;
      }
    }
  }
  return undefined;
}

/**
 * HA-EC3: no private key in user data, nor in the bootstrap bundle the user data names (the bundle
 * is readable by every node of the role and kept in the bucket's versions). User data is readable by anyone who can call
 * ec2:DescribeInstanceAttribute and by every process on the node through IMDS, and it is kept in
 * the launch template's versions forever; nodes fetch keys at boot instead.
 */
export const PRIVATE_KEY_IN_USER_DATA: PolicyRule = {
  id: "HA-EC3",
  level: PolicyLevel.ERROR,
  description:
    "User data of launch templates, launch configurations and instances, and the bootstrap bundle it names, carry no private key (no tls_private_key reference, no PEM PRIVATE KEY block)",
  fix: "store the key in Secrets Manager or SSM Parameter Store (KMS-encrypted) and have the node fetch it at boot with its instance role; pass only the secret's name in user data",
  appliesTo: ["aws_launch_template", "aws_instance", "aws_launch_configuration"],
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    const present = USER_DATA_ATTRIBUTES.filter((a) => resource.config[a] !== undefined);
    if (present.length === 0) return RuleResult.notApplicable("no user data");
    const undecided: string[] = [];
    for (const attribute of present) {
      const via = keyPath(resource.config[attribute], context, new Set(), 0, undecided) ?? bundleKeyPath(resource.config[attribute], context, undecided);
      if (via) return RuleResult.nonCompliant(`${attribute} ${via}`);
    }
    if (undecided.length > 0) return RuleResult.notApplicable(`user data ${undecided[0]}`);
    return RuleResult.compliant();
  },
};
