/**
 * lazyJsonString (lib/core.ts) is a speed-up of what cdktf does with `JSON.stringify(doc)` holding
 * tokens. The oracle is cdktf itself: the same document handed over as plain JSON text, in the same
 * stack, must synthesize to the same attribute value, for every shape of token a policy holds
 * (references, a cross-stack reference, Fn calls, a number token, repeated tokens) and for the
 * shapes the fast path leaves to cdktf (a literal `${`, as in an IAM policy variable; a list token).
 */
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { App, Fn, TerraformStack, Testing, Token, dependable, jsonencode, lazyJsonString, omitUndefinedAttributes, sameStackDependable } from "../lib/core";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Doc = (refs: { bucket: S3Bucket; queue: SqsQueue }) => unknown;

/**
 * The `policy` of two aws_iam_policy resources holding the same value: one written by the adapter
 * under test (`fast`), one the way cdktf writes it (`plain`). With `crossStack`, the references
 * point into another stack.
 */
function pair(doc: Doc, fast: (value: unknown) => string, plain: (value: unknown) => string, crossStack = false): { fast: unknown; plain: unknown; json: Json } {
  const app: App = Testing.app();
  const stack = new TerraformStack(app, "s");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  let other = stack;
  if (crossStack) {
    other = new TerraformStack(app, "other");
    new AwsProvider(other, "aws", { region: "eu-west-1" });
  }
  const bucket = new S3Bucket(other, "bucket", { bucket: "b" });
  const queue = new SqsQueue(stack, "queue", { name: "q" });
  // Built once, as the library builds its documents: an attribute getter (`bucket.arn`) makes a new
  // reference token at each call, and only a token seen in the preparing pass resolves cross-stack.
  const document = doc({ bucket, queue });
  new IamPolicy(stack, "fast", { name: "fast", policy: fast(document) });
  new IamPolicy(stack, "plain", { name: "plain", policy: plain(document) });
  // As app.synth() does: a preparing pass over every stack registers cross-stack references.
  for (const s of new Set([stack, other])) s.prepareStack();
  const json = JSON.parse(Testing.synth(stack)) as Json;
  return { fast: json.resource.aws_iam_policy.fast.policy, plain: json.resource.aws_iam_policy.plain.policy, json };
}

/** lazyJsonString against cdktf's handling of the same document as JSON text. */
function both(doc: Doc, crossStack = false): { fast: unknown; plain: unknown; json: Json } {
  return pair(doc, (document) => lazyJsonString(() => document), (document) => JSON.stringify(document), crossStack);
}

const statement = (resource: unknown, condition?: unknown): unknown => ({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: resource, ...(condition ? { Condition: condition } : {}) }],
});

describe("lazyJsonString", () => {
  it("gives the text cdktf gives for JSON with references, repeated many times", () => {
    const { fast, plain } = both(({ bucket, queue }) => ({
      Version: "2012-10-17",
      Statement: Array.from({ length: 12 }, (_, i) => ({
        Sid: `S${i}`,
        Effect: "Allow",
        Action: ["s3:GetObject"],
        Resource: [bucket.arn, `${bucket.arn}/*`],
        Condition: { StringEquals: { "aws:SourceArn": queue.arn, "aws:SourceAccount": queue.id } },
      })),
    }));
    expect(fast).toBe(plain);
    expect(fast).toContain("${aws_s3_bucket.bucket.arn}/*");
    expect(JSON.parse(fast as string).Statement).toHaveLength(12);
  });

  it("gives the text cdktf gives for Fn calls and a number token", () => {
    const { fast, plain } = both(({ bucket, queue }) =>
      statement([Fn.join(",", [bucket.arn, queue.arn]), Fn.lower(bucket.bucket)], { NumericLessThan: { "s3:max-keys": Token.asNumber(queue.delaySeconds) } }),
    );
    expect(fast).toBe(plain);
    expect(fast).toContain("join(");
  });

  it("registers a cross-stack reference as cdktf does", () => {
    const { fast, plain, json } = both(({ bucket }) => statement(bucket.arn), true);
    expect(fast).toBe(plain);
    expect(fast).toMatch(/\$\{data\.terraform_remote_state\./);
    expect(Object.keys(json.data.terraform_remote_state)).toHaveLength(1);
  });

  it("gives the text cdktf gives for a document with an IAM policy variable", () => {
    const { fast, plain } = both(({ bucket }) => statement([`home/\${aws:username}/*`, bucket.arn]));
    expect(fast).toBe(plain);
    expect(fast).toContain("${aws:username}");
  });

  it("gives the same error as cdktf for a list token in a string", () => {
    const doc: Doc = ({ queue }) => statement(Token.asList(queue.arn));
    expect(() => both(doc)).toThrow();
    const app = Testing.app();
    const stack = new TerraformStack(app, "s");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    const queue = new SqsQueue(stack, "queue", { name: "q" });
    new IamPolicy(stack, "fast", { name: "fast", policy: lazyJsonString(() => doc({ bucket: undefined as never, queue })) });
    let plainError = "";
    try {
      const other = Testing.app();
      const s2 = new TerraformStack(other, "s");
      new AwsProvider(s2, "aws", { region: "eu-west-1" });
      const q2 = new SqsQueue(s2, "queue", { name: "q" });
      new IamPolicy(s2, "plain", { name: "plain", policy: JSON.stringify(doc({ bucket: undefined as never, queue: q2 })) });
      Testing.synth(s2);
    } catch (e) {
      plainError = (e as Error).message;
    }
    expect(plainError).not.toBe("");
    expect(() => Testing.synth(stack)).toThrow(plainError.split("\n")[0]);
  });
});

describe("omitUndefinedAttributes", () => {
  /** A stack whose resources leave most attributes unset, in nested blocks and lists too, with tokens. */
  function build(omit: boolean): { stack: TerraformStack; template: LaunchTemplate } {
    const app = Testing.app();
    const stack = new TerraformStack(app, "s");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    const caller = new DataAwsCallerIdentity(stack, "caller");
    const queue = new SqsQueue(stack, "queue", { name: caller.accountId, tags: { a: "1", b: caller.arn } });
    const template = new LaunchTemplate(stack, "template", {
      name: "t",
      blockDeviceMappings: [{ deviceName: "/dev/sda1", ebs: { volumeSize: 20, kmsKeyId: queue.arn } }, { deviceName: "/dev/sdb", noDevice: "" }],
      metadataOptions: { httpTokens: "required" },
      tagSpecifications: [{ resourceType: "instance", tags: { q: queue.url } }],
      dependsOn: [queue],
      lifecycle: { createBeforeDestroy: true },
    });
    template.addOverride("description", "from an override");
    if (omit) omitUndefinedAttributes(stack);
    return { stack, template };
  }

  it("synthesizes the same JSON as cdktf without it", () => {
    const plain = build(false).stack;
    const fast = build(true).stack;
    for (const s of [plain, fast]) s.prepareStack();
    expect(Testing.synth(fast)).toBe(Testing.synth(plain));
    expect(JSON.parse(Testing.synth(fast)).resource.aws_launch_template.template.block_device_mappings[0].ebs).toEqual({ volume_size: 20, kms_key_id: "${aws_sqs_queue.queue.arn}" });
  });

  it("leaves no undefined attribute for cdktf to walk", () => {
    const undefinedPaths = (v: unknown, at: string, out: string[]): string[] => {
      if (Array.isArray(v)) v.forEach((x, i) => undefinedPaths(x, `${at}[${i}]`, out));
      else if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
        for (const [k, x] of Object.entries(v)) {
          if (x === undefined) out.push(`${at}.${k}`);
          else undefinedPaths(x, `${at}.${k}`, out);
        }
      }
      return out;
    };
    expect(undefinedPaths(build(false).template.toTerraform(), "", []).length).toBeGreaterThan(20);
    expect(undefinedPaths(build(true).template.toTerraform(), "", [])).toEqual([]);
  });
});

describe("jsonencode", () => {
  /** jsonencode against cdktf's Fn.jsonencode of the same value. */
  function both(value: Doc, crossStack = false): { fast: unknown; plain: unknown } {
    return pair(value, jsonencode, Fn.jsonencode, crossStack);
  }

  it("gives cdktf's expression for a nested map of references, repeated values included", () => {
    const { fast, plain } = both(({ bucket, queue }) => ({
      files: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`f${i}.pem`, i % 3 === 0 ? bucket.arn : queue.url])),
      other: { a: { b: { c: queue.arn, d: bucket.arn } }, same: queue.url },
      top: bucket.arn,
    }));
    expect(fast).toBe(plain);
    expect(fast).toMatch(/^\$\{jsonencode\(\{"files" = \{"f0.pem" = aws_s3_bucket.bucket.arn, /);
  });

  it("gives cdktf's expression for literals, lists, numbers, nested Fn calls and text around tokens", () => {
    const { fast, plain } = both(({ bucket, queue }) => ({
      text: 'a "quoted"\nline with ${literal}',
      mixed: `prefix-${queue.name}-suffix`,
      list: [bucket.arn, "x", 3, true, [queue.arn]],
      n: 42,
      flag: false,
      joined: Fn.join("", [Fn.format("%s\n", [Fn.trimspace(bucket.arn)]), Fn.trimspace(queue.arn)]),
      empty: {},
    }));
    expect(fast).toBe(plain);
  });

  it("gives cdktf's expression for a cross-stack reference", () => {
    const { fast, plain } = both(({ bucket }) => ({ files: { "ca.crt": bucket.arn } }), true);
    expect(fast).toBe(plain);
    expect(fast).toContain("data.terraform_remote_state.");
  });
});

describe("sameStackDependable", () => {
  function dependsOn(make: (r: SqsQueue) => string, override?: string): unknown {
    const app = Testing.app();
    const stack = new TerraformStack(app, "s");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    const queues = [new SqsQueue(stack, "a", { name: "a" }), new SqsQueue(stack, "b", { name: "b" })];
    const bucket = new S3Bucket(stack, "bucket", { bucket: "x" });
    bucket.dependsOn = queues.map(make);
    if (override) queues[1].overrideLogicalId(override);
    stack.prepareStack();
    return JSON.parse(Testing.synth(stack)).resource.aws_s3_bucket.bucket.depends_on;
  }

  it("gives the depends_on entries cdktf's dependable gives", () => {
    expect(dependsOn(sameStackDependable)).toEqual(dependsOn((r) => dependable(r)));
    expect(dependsOn(sameStackDependable)).toEqual(["aws_sqs_queue.a", "aws_sqs_queue.b"]);
  });

  it("follows a logical id overridden after construction, as cdktf's dependable does", () => {
    expect(dependsOn(sameStackDependable, "renamed")).toEqual(dependsOn((r) => dependable(r), "renamed"));
    expect(dependsOn(sameStackDependable, "renamed")).toEqual(["aws_sqs_queue.a", "aws_sqs_queue.renamed"]);
  });
});
