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
import { App, Fn, TerraformStack, Testing, Token, lazyJsonString } from "../lib/core";

type Doc = (refs: { bucket: S3Bucket; queue: SqsQueue }) => unknown;

/** The `policy` of two aws_iam_policy resources: one from lazyJsonString, one from JSON text. */
function both(doc: Doc, crossStack = false): { fast: unknown; plain: unknown; json: Record<string, any> } {
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
  new IamPolicy(stack, "fast", { name: "fast", policy: lazyJsonString(() => document) });
  new IamPolicy(stack, "plain", { name: "plain", policy: JSON.stringify(document) });
  // As app.synth() does: a preparing pass over every stack registers cross-stack references.
  for (const s of new Set([stack, other])) s.prepareStack();
  const json = JSON.parse(Testing.synth(stack)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  return { fast: json.resource.aws_iam_policy.fast.policy, plain: json.resource.aws_iam_policy.plain.policy, json };
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
