import { createHash } from "node:crypto";

/**
 * AWS-safe resource names, in one place.
 *
 * Every name the library derives from a cluster name goes through {@link deriveName}: invalid
 * characters are replaced, and a name longer than the resource's limit is truncated and given a
 * stable hash of the full name, so two long names that share a prefix still differ and the same
 * input always yields the same name (a changed name would replace the resource).
 */
export interface NameRule {
  /** Human-readable resource kind for messages, e.g. `aws_lb.name`. */
  readonly kind: string;
  /** Maximum length in characters. */
  readonly maxLength: number;
  /** Regular expression matching ONE allowed character. */
  readonly allowedChar: RegExp;
  /** Replacement for a disallowed character. */
  readonly replacement: string;
  /** Lower-case the name before checking (S3). @default false */
  readonly lowercase?: boolean;
  /** Characters that may not start or end the name. @default "-" */
  readonly trimChars?: string;
  /** Prefixes AWS refuses; a name starting with one is prefixed with `k-`. @default [] */
  readonly forbiddenPrefixes?: readonly string[];
  /** Suffixes AWS refuses; a name ending with one gets a hash appended. @default [] */
  readonly forbiddenSuffixes?: readonly string[];
}

/** Length of the hash appended to shortened names. */
export const NAME_HASH_LENGTH = 8;

/**
 * The name rule of every AWS name the library derives, one member per resource kind. Each limit is
 * the one the AWS API enforces (field guide §2); {@link deriveName} shortens and sanitises to fit.
 */
export interface NameRules {
  /** `aws_lb.name`: at most 32 alphanumerics and hyphens; AWS refuses a name starting with `internal-`. */
  readonly loadBalancer: NameRule;
  /** `aws_lb_target_group.name`: at most 32 alphanumerics and hyphens. */
  readonly targetGroup: NameRule;
  /** `aws_iam_role.name`: at most 64 characters of `[\w+=,.@-]`. */
  readonly iamRole: NameRule;
  /** `aws_iam_policy.name`: at most 128 characters of `[\w+=,.@-]`. */
  readonly iamPolicy: NameRule;
  /** `aws_iam_instance_profile.name`: at most 128 characters of `[\w+=,.@-]`. */
  readonly instanceProfile: NameRule;
  /** `aws_security_group.name`: at most 255 characters of the EC2-VPC set; AWS refuses a name starting with `sg-`. */
  readonly securityGroup: NameRule;
  /**
   * `aws_s3_bucket.bucket`: at most 63 lower-case letters, digits and hyphens (the library uses no
   * dots); the reserved prefixes `xn--`, `sthree-`, `amzn-s3-demo-` and suffixes
   * `-s3alias`, `--ol-s3`, `--x-s3` are refused by S3.
   */
  readonly s3Bucket: NameRule;
  /** `aws_launch_template.name`: at most 128 characters of `[a-zA-Z0-9().\-/_]`. */
  readonly launchTemplate: NameRule;
  /** `aws_autoscaling_group.name`: at most 255 characters of `[\w.\-/]`. */
  readonly autoscalingGroup: NameRule;
  /** `aws_kms_alias.name` (after `alias/`): at most 250 characters of `[A-Za-z0-9/_-]`. */
  readonly kmsAlias: NameRule;
  /** `aws_secretsmanager_secret.name`: at most 512 characters of `[A-Za-z0-9/_+=.@-]`. */
  readonly secret: NameRule;
  /** `aws_sns_topic.name`: at most 256 alphanumerics, hyphens and underscores. */
  readonly snsTopic: NameRule;
  /** `aws_cloudwatch_metric_alarm.alarm_name`: at most 255 printable ASCII characters. */
  readonly cloudwatchAlarm: NameRule;
  /** An RFC 1123 DNS label (host names, Route 53 records): at most 63 lower-case letters, digits and hyphens. */
  readonly dnsLabel: NameRule;
}

/** The rules from the AWS API limits (field guide §2); see {@link NameRules} for each. */
export const NAME_RULES: NameRules = {
  loadBalancer: {
    kind: "aws_lb.name",
    maxLength: 32,
    allowedChar: /[0-9A-Za-z-]/,
    replacement: "-",
    forbiddenPrefixes: ["internal-"],
  },
  targetGroup: { kind: "aws_lb_target_group.name", maxLength: 32, allowedChar: /[0-9A-Za-z-]/, replacement: "-" },
  iamRole: { kind: "aws_iam_role.name", maxLength: 64, allowedChar: /[\w+=,.@-]/, replacement: "-" },
  iamPolicy: { kind: "aws_iam_policy.name", maxLength: 128, allowedChar: /[\w+=,.@-]/, replacement: "-" },
  instanceProfile: {
    kind: "aws_iam_instance_profile.name",
    maxLength: 128,
    allowedChar: /[\w+=,.@-]/,
    replacement: "-",
  },
  securityGroup: {
    kind: "aws_security_group.name",
    maxLength: 255,
    allowedChar: /[0-9A-Za-z ._\-:/()#,@[\]+=&;{}!$*]/,
    replacement: "-",
    forbiddenPrefixes: ["sg-"],
  },
  s3Bucket: {
    kind: "aws_s3_bucket.bucket",
    maxLength: 63,
    allowedChar: /[a-z0-9-]/,
    replacement: "-",
    lowercase: true,
    forbiddenPrefixes: ["xn--", "sthree-", "amzn-s3-demo-"],
    forbiddenSuffixes: ["-s3alias", "--ol-s3", "--x-s3"],
  },
  launchTemplate: {
    kind: "aws_launch_template.name",
    maxLength: 128,
    allowedChar: /[a-zA-Z0-9().\-/_]/,
    replacement: "-",
  },
  autoscalingGroup: { kind: "aws_autoscaling_group.name", maxLength: 255, allowedChar: /[\w.\-/]/, replacement: "-" },
  kmsAlias: { kind: "aws_kms_alias.name", maxLength: 250, allowedChar: /[A-Za-z0-9/_-]/, replacement: "-" },
  secret: { kind: "aws_secretsmanager_secret.name", maxLength: 512, allowedChar: /[A-Za-z0-9/_+=.@-]/, replacement: "-" },
  snsTopic: { kind: "aws_sns_topic.name", maxLength: 256, allowedChar: /[A-Za-z0-9_-]/, replacement: "-" },
  cloudwatchAlarm: { kind: "aws_cloudwatch_metric_alarm.alarm_name", maxLength: 255, allowedChar: /[\x20-\x7e]/, replacement: "-" },
  dnsLabel: { kind: "DNS label", maxLength: 63, allowedChar: /[a-z0-9-]/, replacement: "-", lowercase: true },
};

/** A stable short hash (lower-case hex) of `input`. */
export function stableHash(input: string, length: number = NAME_HASH_LENGTH): string {
  return createHash("sha256").update(input, "utf8").digest("hex").slice(0, length);
}

/**
 * Derives a name that satisfies `rule` from `parts` joined with `-`.
 *
 * Valid short names are returned unchanged. Otherwise the name is sanitised, truncated, and given
 * `-<hash of the original>` so it stays unique and stable.
 */
export function deriveName(parts: readonly string[], rule: NameRule): string {
  const original = parts.filter((p) => p.length > 0).join("-");
  const trim = rule.trimChars ?? "-";
  let name = rule.lowercase ? original.toLowerCase() : original;
  name = Array.from(name)
    .map((c) => (rule.allowedChar.test(c) ? c : rule.replacement))
    .join("");
  name = collapse(name, rule.replacement);
  name = trimEnds(name, trim);
  let needsHash = name !== original || name.length > rule.maxLength || name.length === 0;
  for (const prefix of rule.forbiddenPrefixes ?? []) {
    if (name.toLowerCase().startsWith(prefix)) {
      name = `k-${name}`;
      needsHash = true;
    }
  }
  for (const suffix of rule.forbiddenSuffixes ?? []) {
    if (name.endsWith(suffix)) needsHash = true;
  }
  if (!needsHash) return name;
  const hash = stableHash(original);
  const room = rule.maxLength - hash.length - 1;
  const head = trimEnds(name.slice(0, Math.max(0, room)), trim);
  return head.length > 0 ? `${head}-${hash}` : hash;
}

function collapse(name: string, replacement: string): string {
  if (replacement.length === 0) return name;
  const esc = replacement.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return name.replace(new RegExp(`(${esc}){2,}`, "g"), replacement);
}

function trimEnds(name: string, chars: string): string {
  let start = 0;
  let end = name.length;
  while (start < end && chars.includes(name[start])) start++;
  while (end > start && chars.includes(name[end - 1])) end--;
  return name.slice(start, end);
}

/** True when `name` satisfies `rule` (used by tests and the policy pack). */
export function fitsRule(name: string, rule: NameRule): boolean {
  if (name.length === 0 || name.length > rule.maxLength) return false;
  if (rule.lowercase && name !== name.toLowerCase()) return false;
  if (!Array.from(name).every((c) => rule.allowedChar.test(c))) return false;
  const trim = rule.trimChars ?? "-";
  if (trim.includes(name[0]) || trim.includes(name[name.length - 1])) return false;
  if ((rule.forbiddenPrefixes ?? []).some((p) => name.toLowerCase().startsWith(p))) return false;
  if ((rule.forbiddenSuffixes ?? []).some((s) => name.endsWith(s))) return false;
  return true;
}
