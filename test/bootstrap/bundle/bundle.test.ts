/**
 * The bootstrap bundle as synthesized: the SHA-256 and key in each node's user data match the
 * bytes of the `aws_s3_object` (checked with node:crypto, not the library), the bucket's
 * protections, the node role's reach, the launch template's dependency and bad input.
 */
import { createHash } from "node:crypto";
import { Testing } from "../../../lib/core";
import { HaClusterStack } from "../../../examples/ha-cluster/main";
import { ConfigError, EtcdTopology, HaControlPlane } from "../../../lib";
import { PRIVATE_KEY_IN_USER_DATA, PolicyContext, RuleStatus } from "../../../lib/policy";
import { gunzipSync, gzipSync } from "node:zlib";
import { FoundResource, SynthJson, bundleObjectOf, cloudConfigOf, follow, nodeFilesOf, resources, synth, synthStack } from "../../helpers/synth";

const AZS = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const ref = synthStack(new HaClusterStack(Testing.app(), "ref"));
const stacked = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "st", availabilityZones: AZS, amiId: "ami-0123456789abcdef0", etcdTopology: EtcdTopology.STACKED }));

const envOf = (lt: FoundResource, key: string) => new RegExp(`^${key}='([^']*)'$`, "m").exec(cloudConfigOf(lt).write_files.find((f) => f.path === "/etc/ha-control-plane/node.env")!.content)?.[1];

describe.each([["reference", ref], ["stacked", stacked]] as Array<[string, SynthJson]>)("bootstrap bundles of the %s example", (_name, json) => {
  const templates = resources(json, "aws_launch_template");

  it.each(templates.map((lt) => [lt.props.name as string, lt]))("%s: user data names the object whose bytes have its SHA-256", (_n, lt) => {
    const object = bundleObjectOf(json, lt)!;
    expect(object).toBeDefined();
    const sha = createHash("sha256").update(Buffer.from(object.props.content_base64, "base64")).digest("hex");
    expect(envOf(lt, "HA_BUNDLE_SHA256")).toBe(sha);
    expect(object.props.key).toBe(`bundles/${/-(apiserver|etcd-\d)$/.exec(lt.props.name)![1]}/${sha}.tar.gz`);
    expect(follow(json, object.props.bucket).props.bucket).toBe(envOf(lt, "HA_BUNDLE_BUCKET"));
    expect(object.props).toMatchObject({ server_side_encryption: "aws:kms", lifecycle: { create_before_destroy: true } });
    expect(follow(json, object.props.kms_key_id).type).toBe("aws_kms_key");
    // The template is created after its bundle.
    expect(lt.props.depends_on).toContain(`aws_s3_object.${object.name}`);
  });

  it.each(templates.map((lt) => [lt.props.name as string, lt]))("%s: user data keeps only node.env and the fetch step; the fetch runs first and stops runcmd on failure", (_n, lt) => {
    const doc = cloudConfigOf(lt);
    expect(doc.write_files.map((f) => f.path)).toEqual(["/etc/ha-control-plane/node.env", "/usr/local/sbin/ha-fetch-bundle"]);
    expect(doc.runcmd[0]).toBe("/usr/local/sbin/ha-fetch-bundle || exit 1");
    // Every unit the runcmd enables is in the bundle, and no bundle file is also in the user data.
    const bundled = nodeFilesOf(json, lt).filter((f) => f.source === "bundle").map((f) => f.path);
    expect(bundled).toEqual(expect.arrayContaining(["/usr/local/sbin/ha-claim-slot", "/etc/systemd/system/ha-claim-slot.service", "/etc/chrony/sources.d/amazon-time-sync.sources"]));
  });

  it("one versioned, KMS-encrypted, private, TLS-only bucket, not protected from destroy", () => {
    const buckets = resources(json, "aws_s3_bucket").filter((b) => /-bootstrap-[0-9a-f]{8}$/.test(b.props.bucket));
    expect(buckets).toHaveLength(1);
    const b = buckets[0];
    expect(b.props.lifecycle?.prevent_destroy).toBeUndefined();
    const on = (type: string) => resources(json, type).filter((r) => r.props.bucket === `\${aws_s3_bucket.${b.name}.id}`);
    expect(on("aws_s3_bucket_versioning")[0].props.versioning_configuration.status).toBe("Enabled");
    const sse = on("aws_s3_bucket_server_side_encryption_configuration")[0].props.rule[0];
    expect(sse.apply_server_side_encryption_by_default.sse_algorithm).toBe("aws:kms");
    expect(follow(json, sse.apply_server_side_encryption_by_default.kms_master_key_id).type).toBe("aws_kms_key");
    expect(on("aws_s3_bucket_public_access_block")[0].props).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
    const policy = JSON.parse(on("aws_s3_bucket_policy")[0].props.policy);
    expect(policy.Statement).toContainEqual(expect.objectContaining({ Effect: "Deny", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }));
  });

  it("lets each node role read only its own role's bundle prefix, and decrypt only through S3", () => {
    for (const lt of templates) {
      const role = /-(apiserver|etcd-\d)$/.exec(lt.props.name)![1];
      const profile = resources(json, "aws_iam_instance_profile").find((p) => `\${aws_iam_instance_profile.${p.name}.arn}` === lt.props.iam_instance_profile.arn)!;
      const policy = resources(json, "aws_iam_role_policy").find((p) => p.props.role === profile.props.role)!;
      const statements = JSON.parse(policy.props.policy).Statement as Array<{ Sid: string; Action: string[]; Resource: string; Condition?: Record<string, Record<string, unknown>> }>;
      const reads = statements.filter((s) => s.Action.some((a) => a.startsWith("s3:Get")) && String(s.Resource).includes("/bundles/"));
      expect(reads.map((s) => [s.Action, s.Resource])).toEqual([[["s3:GetObject"], expect.stringMatching(new RegExp(`^\\$\\{aws_s3_bucket\\.[^.]+\\.arn\\}/bundles/${role}/\\*$`))]]);
      const decrypt = statements.find((s) => s.Sid === "DecryptBootstrapBundle")!;
      expect(decrypt.Action).toEqual(["kms:Decrypt"]);
      expect(decrypt.Condition!.StringLike["kms:ViaService"]).toBe("s3.*.amazonaws.com");
    }
  });
});

describe("bootstrap bundle options and bad input", () => {
  const base = { clusterName: "c1", availabilityZones: AZS, amiId: "ami-0123456789abcdef0" };

  it("puts bundles under a prefix of an existing bucket, creating no bucket", () => {
    const json = synth((s) => new HaControlPlane(s, "Cp", { ...base, existingBootstrapBundleBucketName: "shared-bundles", bootstrapBundleKeyPrefix: "clusters/c1/" }));
    expect(resources(json, "aws_s3_bucket").filter((b) => /bootstrap|shared/.test(b.props.bucket))).toEqual([]);
    for (const o of resources(json, "aws_s3_object")) {
      expect(o.props.bucket).toBe("shared-bundles");
      expect(o.props.key).toMatch(/^clusters\/c1\/bundles\/(apiserver|etcd-\d)\/[0-9a-f]{64}\.tar\.gz$/);
    }
    const reads = resources(json, "aws_iam_role_policy").flatMap((p) => JSON.parse(p.props.policy).Statement).filter((s: { Sid: string }) => s.Sid === "ReadBootstrapBundle");
    expect(reads.map((s: { Resource: string }) => s.Resource).sort()).toEqual(["apiserver", "etcd-0", "etcd-1", "etcd-2"].map((r) => `arn:aws:s3:::shared-bundles/clusters/c1/bundles/${r}/*`));
  });

  it("names the bucket after the cluster unless told otherwise", () => {
    const json = synth((s) => new HaControlPlane(s, "Cp", { ...base, bootstrapBundleBucketName: "my-bundles" }));
    expect(resources(json, "aws_s3_object").every((o) => follow(json, o.props.bucket).props.bucket === "my-bundles")).toBe(true);
  });

  it.each([
    [{ bootstrapBundleBucketName: "Not_A_Bucket" }, /bootstrapBundleBucketName is "Not_A_Bucket": is not a valid S3 bucket name/],
    [{ existingBootstrapBundleBucketName: "x" }, /existingBootstrapBundleBucketName is "x"/],
    [{ bootstrapBundleBucketName: "a-bucket", existingBootstrapBundleBucketName: "b-bucket" }, /pass one of them/],
    [{ bootstrapBundleKeyPrefix: "no-slash" }, /bootstrapBundleKeyPrefix is "no-slash"/],
    [{ bootstrapBundleKeyPrefix: "a/../" }, /bootstrapBundleKeyPrefix is "a\/..\/"/],
  ])("refuses %j", (extra, message) => {
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { ...base, ...extra }))).toThrow(ConfigError);
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { ...base, ...extra }))).toThrow(message);
  });
});

describe("HA-EC3 looks into the bootstrap bundle", () => {
  it("finds a private key in the bundle the user data names, and none in the reference example's", () => {
    const json = JSON.parse(JSON.stringify(ref)) as SynthJson;
    const results = () => {
      const context = PolicyContext.fromSynthesizedJson(json);
      return context.ofType("aws_launch_template").map((v) => ({ address: v.address, ...PRIVATE_KEY_IN_USER_DATA.evaluate(v, context) }));
    };
    expect(results().map((r) => r.status)).toEqual([RuleStatus.COMPLIANT, RuleStatus.COMPLIANT, RuleStatus.COMPLIANT, RuleStatus.COMPLIANT]);
    // Tamper one bundle: a PEM private key in one of its files (still a valid .tar.gz).
    const lt = resources(json, "aws_launch_template").find((l) => l.props.name === "prod-eu1-apiserver")!;
    const object = bundleObjectOf(json, lt)!;
    const tar = gunzipSync(Buffer.from(object.props.content_base64, "base64")).toString("latin1");
    // Overwrite file content (not a header) with as many bytes: the tar stays well-formed.
    const marker = "-----BEGIN PRIVATE KEY-----";
    const at = tar.indexOf("Description=");
    const tampered = tar.slice(0, at) + marker + tar.slice(at + marker.length);
    expect(tampered).not.toBe(tar);
    (json.resource!.aws_s3_object[object.name] as Record<string, unknown>).content_base64 = gzipSync(Buffer.from(tampered, "latin1")).toString("base64");
    const findings = results().filter((r) => r.status === RuleStatus.NON_COMPLIANT);
    expect(findings.map((f) => f.address)).toEqual([`aws_launch_template.${lt.name}`]);
    expect(findings[0].reason).toMatch(/names bootstrap bundle bundles\/apiserver\/[0-9a-f]{64}\.tar\.gz, whose aws_s3_object\.[^ ]+\.content_base64 contains a PEM "PRIVATE KEY" block/);
  });
});
