/** Unit tier: the apply harness's preparation and its second-plan classification, without terraform. */
import { KNOWN_EMULATOR_DRIFT, plannedChanges, prepareForEmulator } from "../harness/terraform-apply";
import { AWS_PROVIDER_SOURCE, type JsonObject } from "../harness/provider-plan";

const ENDPOINT = "http://127.0.0.1:45999";

function stack(extra: JsonObject = {}): JsonObject {
  return {
    terraform: { required_providers: { aws: { source: "aws", version: "5.100.0" }, tls: { source: "hashicorp/tls" } } },
    provider: { aws: [{ region: "eu-west-1" }], tls: [{}] },
    resource: {
      tls_private_key: { k: { algorithm: "RSA" } },
      aws_vpc: { v: { cidr_block: "10.0.0.0/16" } },
      aws_s3_bucket: { b: { bucket: "x-bucket" } },
      aws_secretsmanager_secret_version: { s: { secret_id: "id", secret_string: "${tls_private_key.k.private_key_pem}" } },
      ...extra,
    },
  };
}

describe("prepareForEmulator", () => {
  it("points every AWS provider at the emulator for exactly the services the stack uses, plus STS", () => {
    const prepared = prepareForEmulator(stack(), ENDPOINT, [AWS_PROVIDER_SOURCE]);
    const aws = (prepared.json.provider as any).aws[0]; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(aws.endpoints).toEqual([{ ec2: ENDPOINT, s3: ENDPOINT, secretsmanager: ENDPOINT, sts: ENDPOINT }]);
    expect(aws).toMatchObject({ region: "eu-west-1", s3_use_path_style: true, skip_requesting_account_id: false, skip_credentials_validation: true });
    expect(prepared.removed).toEqual(["tls_private_key.k"]);
    expect(prepared.emulatorCut).toEqual([]);
  });

  it("refuses a stack with an AWS type whose emulator service was never checked", () => {
    expect(() => prepareForEmulator(stack({ aws_route53_zone: { z: { name: "example.com" } } }), ENDPOINT, [AWS_PROVIDER_SOURCE])).toThrow(
      "no emulator service known for aws_route53_zone",
    );
  });

  it("cuts a listed gap by name and replaces references to it with placeholders", () => {
    const input = stack({ aws_kms_key: { key: { description: "k" } }, aws_ebs_volume: { d: { kms_key_id: "${aws_kms_key.key.arn}", size: 1 } } });
    const prepared = prepareForEmulator(input, ENDPOINT, [AWS_PROVIDER_SOURCE], { aws_kms_key: "not emulated (test)" });
    expect(prepared.emulatorCut).toEqual(["aws_kms_key.key"]);
    expect((prepared.json.resource as any).aws_kms_key).toBeUndefined(); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect((prepared.json.resource as any).aws_ebs_volume.d.kms_key_id).toMatch(/^arn:aws:/); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(prepared.replaced).toContain("aws_kms_key.key.arn");
  });
});

describe("second plan classification", () => {
  const update = (address: string, before: JsonObject, after: JsonObject, afterUnknown: JsonObject = {}) => ({
    address,
    type: address.split(".")[0],
    change: { actions: ["update"], before, after, after_unknown: afterUnknown },
  });
  const classify = (plan: JsonObject) => {
    const changes = plannedChanges(plan);
    return changes.map((c) => ({ path: `${c.address}:${c.path}`, drift: KNOWN_EMULATOR_DRIFT.find((d) => d.type === c.type && d.matches(c, changes))?.id }));
  };

  it("explains moto's launch template tag echo and what follows from it, and nothing else", () => {
    const spec = { resource_type: "instance", tags: { a: "1" } };
    const echo = { resource_type: "launch-template", tags: { a: "1" } };
    const plan = {
      resource_changes: [
        update("aws_launch_template.t", { tag_specifications: [spec, echo], latest_version: 1 }, { tag_specifications: [spec] }, { latest_version: true }),
        update("aws_autoscaling_group.g", { launch_template: [{ version: "1" }], default_instance_warmup: 0 }, { launch_template: [{}], default_instance_warmup: 40 }, { launch_template: [{ version: true }] }),
        update("aws_lb_target_group.tg", { health_check: [{ interval: 10 }] }, { health_check: [{ interval: 5 }] }),
      ],
    };
    expect(classify(plan)).toEqual([
      { path: "aws_launch_template.t:tag_specifications", drift: "launch-template-tag-echo" },
      { path: "aws_launch_template.t:latest_version", drift: "launch-template-version-follows-echo" },
      { path: "aws_autoscaling_group.g:launch_template[0].version", drift: "asg-template-version-follows-echo" },
      { path: "aws_autoscaling_group.g:default_instance_warmup", drift: "asg-default-instance-warmup" },
      { path: "aws_lb_target_group.tg:health_check[0].interval", drift: undefined },
    ]);
  });

  it("does not excuse a new template version or a lost description that moto did not cause", () => {
    const plan = {
      resource_changes: [
        update("aws_launch_template.t", { user_data: "a", latest_version: 1 }, { user_data: "b" }, { latest_version: true }),
        update("aws_vpc_security_group_ingress_rule.r", { description: null, cidr_ipv4: "10.0.0.0/8" }, { description: "x", cidr_ipv4: "10.0.0.0/8" }),
        { address: "aws_ebs_volume.v", type: "aws_ebs_volume", change: { actions: ["delete", "create"], before: {}, after: {} } },
      ],
    };
    expect(classify(plan).every((c) => c.drift === undefined)).toBe(true);
    expect(classify(plan).map((c) => c.path)).toEqual([
      "aws_launch_template.t:user_data",
      "aws_launch_template.t:latest_version",
      "aws_vpc_security_group_ingress_rule.r:description",
      "aws_ebs_volume.v:*",
    ]);
  });
});
