/**
 * Finding 5 (issue 14): what a node's credentials reach beyond the node, decided by the IAM
 * evaluator (test/helpers/iam-eval.ts) over the role's inline policy and any attached AWS managed
 * policy. Managed policy documents come from outside the library: the AWS managed policy set bundled
 * with moto (`moto/iam/aws_managed_policies.py`, a copy of AWS's published documents).
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { NodeRole } from "../../lib";
import { motoVenv } from "../harness/aws-emulator";
import { PolicyDocument, evaluate } from "../helpers/iam-eval";
import { resources, synth } from "../helpers/synth";

const ROLE_ARN = "arn:aws:iam::111122223333:role/prod-apiserver";

function managedPolicy(arn: string): PolicyDocument {
  const venv = motoVenv();
  if (venv === undefined) throw new Error(`cannot read ${arn}: the moto virtualenv (AWS managed policy documents) is not installed`);
  const name = arn.replace(/^arn:aws:iam::aws:policy\//, "");
  const out = execFileSync(path.join(venv, "bin/python3"), ["-c", "import json,sys\nfrom moto.iam.aws_managed_policies import aws_managed_policies_data as d\nprint(json.dumps(json.loads(d)[sys.argv[1]]['Document']))", name], { encoding: "utf8" });
  return JSON.parse(out) as PolicyDocument;
}

describe("node role reach (IAM policy simulation)", () => {
  const json = synth((s) => new NodeRole(s, "Role", { clusterName: "prod", nodeRole: "apiserver" }));
  const policies: PolicyDocument[] = [
    ...resources(json, "aws_iam_role_policy").map((p) => JSON.parse(String(p.props.policy)) as PolicyDocument),
    ...resources(json, "aws_iam_role_policy_attachment").map((a) => managedPolicy(String(a.props.policy_arn))),
  ];
  const can = (action: string, resource: string, context: Record<string, string> = {}) => evaluate({ principalArn: ROLE_ARN, action, resource, context }, policies).allowed;

  it("cannot read the account's SSM parameters", () => {
    expect(can("ssm:GetParameter", "arn:aws:ssm:eu-west-1:111122223333:parameter/payments/db-password")).toBe(false);
    expect(can("ssm:GetParameters", "arn:aws:ssm:eu-west-1:111122223333:parameter/AmazonCloudWatch-linux")).toBe(false);
    expect(can("ssm:GetDocument", "arn:aws:ssm:eu-west-1:111122223333:document/any")).toBe(false);
  });

  it("cannot change log groups' retention or create log groups anywhere", () => {
    expect(can("logs:PutRetentionPolicy", "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/cloudtrail:*")).toBe(false);
    expect(can("logs:CreateLogGroup", "arn:aws:logs:eu-west-1:111122223333:log-group:anything")).toBe(false);
  });

  it("publishes metrics only into its own namespace", () => {
    expect(can("cloudwatch:PutMetricData", "*", { "cloudwatch:namespace": "HaControlPlane" })).toBe(true);
    expect(can("cloudwatch:PutMetricData", "*", { "cloudwatch:namespace": "Billing/Alerts" })).toBe(false);
    expect(can("cloudwatch:PutMetricData", "*")).toBe(false);
  });

  it("still opens Session Manager sessions", () => {
    for (const action of ["ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:OpenDataChannel", "ec2messages:GetMessages"]) {
      expect(can(action, "*")).toBe(true);
    }
  });
});
