import * as fs from "fs";
import * as path from "path";
import { Construct } from "constructs";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Aspects, TerraformStack, Testing } from "../../lib/core";
import { ConfigError } from "../../lib/errors";
import { HaPolicyPack, POLICY_RECORD_KEY, SUPPRESSION_METADATA_TYPE } from "../../lib/policy";
import { testStack } from "../helpers/synth";
import { group, ingress } from "./fixtures";
import { annotations, errorAnnotations, runPack } from "./helpers";

const REASON = "public API by design for the partner VPN";

/** A construct holding a world-open SSH rule (non-compliant with HA-SG1). */
function openSsh(scope: Construct, id = "Bastion"): Construct {
  const c = new Construct(scope, id);
  ingress(c, "Ssh", group(c, "Api", "apiserver"), 22, { cidr: "0.0.0.0/0" });
  return c;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/** Synthesizes like `cdktf synth` (errors abort) and returns cdk.tf.json and manifest.json. */
function fullSynth(stack: TerraformStack): { tf: Json; manifest: Json } {
  const outdir = Testing.fullSynth(stack);
  const read = (p: string) => JSON.parse(fs.readFileSync(path.join(outdir, p), "utf8"));
  return { tf: read(path.join("stacks", stack.node.id, "cdk.tf.json")), manifest: read("manifest.json") };
}

describe("suppressions", () => {
  it("silence a finding on the construct and its children, with no error", () => {
    const run = runPack((s) => HaPolicyPack.suppress(openSsh(s), "HA-SG1", REASON));
    expect(run.pack.findings).toEqual([]);
    expect(errorAnnotations(run.stack)).toEqual([]);
    expect(run.pack.suppressedFindings).toEqual([
      expect.objectContaining({ ruleId: "HA-SG1", level: "error", path: "policy/Bastion/Ssh", suppressionReason: REASON, suppressedAt: "policy/Bastion" }),
    ]);
  });

  it("record the suppression and its reason in cdk.tf.json, the manifest and the construct metadata", () => {
    const { stack } = testStack("audited");
    const bastion = openSsh(stack);
    HaPolicyPack.suppress(bastion, "HA-SG1", REASON);
    Aspects.of(stack).add(new HaPolicyPack());
    const { tf, manifest } = fullSynth(stack); // would throw on an error annotation

    const record = tf["//"][POLICY_RECORD_KEY];
    expect(record.rules).toContain("HA-SG1");
    expect(record.findings).toEqual([]);
    expect(record.suppressions).toEqual([
      { rule: "HA-SG1", reason: REASON, declaredOn: "audited/Bastion", suppressed: [expect.stringMatching(/^aws_vpc_security_group_ingress_rule\.Bastion_Ssh_/)] },
    ]);
    expect(manifest.stacks.audited.annotations).toEqual([
      expect.objectContaining({ constructPath: "audited/Bastion/Ssh", level: "@cdktf/info", message: expect.stringContaining(`[HA-SG1] suppressed on audited/Bastion (${REASON})`) }),
    ]);
    expect(bastion.node.metadata.filter((m) => m.type === SUPPRESSION_METADATA_TYPE).map((m) => m.data)).toEqual([{ ruleId: "HA-SG1", reason: REASON }]);
    expect(HaPolicyPack.suppressionsOf(bastion.node.findChild("Ssh"))).toEqual([{ ruleId: "HA-SG1", reason: REASON, declaredOn: "audited/Bastion" }]);
  });

  it("list every resource one suppression silenced", () => {
    const { stack } = testStack("audited");
    const bastion = openSsh(stack);
    ingress(bastion, "Rdp", bastion.node.findChild("Api") as SecurityGroup, 3389, { cidr: "0.0.0.0/0" });
    HaPolicyPack.suppress(bastion, "HA-SG1", REASON);
    Aspects.of(stack).add(new HaPolicyPack());
    const { tf } = fullSynth(stack);
    expect(tf["//"][POLICY_RECORD_KEY].suppressions).toEqual([
      expect.objectContaining({ rule: "HA-SG1", suppressed: [expect.stringContaining("Bastion_Ssh_"), expect.stringContaining("Bastion_Rdp_")] }),
    ]);
  });

  it("do not silence other rules or other constructs", () => {
    const run = runPack((s) => {
      HaPolicyPack.suppress(openSsh(s, "A"), "HA-SG2", "etcd rules are reviewed elsewhere");
      openSsh(s, "B");
    });
    expect(run.pack.findings.map((f) => `${f.ruleId} ${f.path}`)).toEqual(["HA-SG1 policy/A/Ssh", "HA-SG1 policy/B/Ssh"]);
  });

  it.each([
    ["no reason", undefined],
    ["an empty reason", ""],
    ["a reason under 10 characters", "by design"],
    ["a reason padded with blanks", "   ok      "],
  ])("refuse a suppression with %s", (_t, reason) => {
    const { stack } = testStack();
    expect(() => HaPolicyPack.suppress(stack, "HA-SG1", reason as string)).toThrow(ConfigError);
    expect(() => HaPolicyPack.suppress(stack, "HA-SG1", reason as string)).toThrow(/reason is .*: a suppression of HA-SG1 needs a reason of at least 10 characters/);
  });

  it("refuse a malformed rule id", () => {
    const { stack } = testStack();
    expect(() => HaPolicyPack.suppress(stack, "", REASON)).toThrow(ConfigError);
    expect(() => HaPolicyPack.suppress(stack, "HA SG1", REASON)).toThrow(/ruleId is "HA SG1": is not a rule id/);
  });

  it("warn about a suppression of a rule the pack does not run", () => {
    const run = runPack((s) => HaPolicyPack.suppress(s, "HA-SG9", "typo of a rule id here"));
    expect(run.pack.findings.map((f) => `${f.ruleId} ${f.level}`)).toEqual(["HA-POLICY warning"]);
    expect(annotations(run.stack).filter((a) => a.level === "warning").map((a) => a.message)).toEqual([
      expect.stringContaining('[HA-POLICY] suppression of unknown rule "HA-SG9"'),
    ]);
  });
});

describe("unsuppressed findings", () => {
  it("fail a real synth with the rule id, what is wrong and the fix", () => {
    const { stack } = testStack("failing");
    openSsh(stack);
    Aspects.of(stack).add(new HaPolicyPack());
    expect(() => Testing.fullSynth(stack)).toThrow(/\[failing\/Bastion\/Ssh\] \[HA-SG1\] .*allows ingress of tcp 22 from 0\.0\.0\.0\/0.*: restrict the source/);
  });

  it("are recorded in cdk.tf.json when they are warnings", () => {
    const { stack } = testStack("warned");
    const bucket = new S3Bucket(stack, "Backups", { bucket: "c1-etcd-backups" });
    new S3BucketPublicAccessBlock(stack, "Block", { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    Aspects.of(stack).add(new HaPolicyPack());
    const { tf } = fullSynth(stack);
    expect(tf["//"][POLICY_RECORD_KEY].findings).toEqual([
      { rule: "HA-BKT1", level: "warning", resource: "aws_s3_bucket.Backups", message: expect.stringMatching(/^\[HA-BKT1\] bucket c1-etcd-backups/) },
    ]);
  });
});
