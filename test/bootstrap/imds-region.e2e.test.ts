/**
 * Every node script that calls the AWS CLI gives it a region. The AWS CLI v1 does not read the
 * region from the instance metadata (v2 does), and a node may have either; the boot tier found
 * ha-publish-metrics failing on a Debian 12 node with "You must specify a region". The shared
 * `imds_region` (lib/bootstrap/scripts/include/imds-region.sh) runs here for real against the strict
 * IMDSv2 stand-in over an instance in moto, and the real AWS CLI v1 shows why it is needed.
 */
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { nodeScript } from "../../lib/bootstrap/node-user-data";
import { AwsEmulator, EMULATOR_REGION, ImdsStandIn, awsEmulatorCheck, startAwsEmulator, startImds } from "../harness/aws-emulator";
import { describeTier } from "../harness/tiers";
import { OPERATOR_SCRIPTS } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPTS_DIR = path.join(__dirname, "../../lib/bootstrap/scripts");
const INCLUDE = path.join(SCRIPTS_DIR, "include/imds-region.sh");

/** Scripts run on the node (operator scripts run on a workstation with its own AWS config). */
const NODE_SCRIPTS = readdirSync(SCRIPTS_DIR).filter((f) => f.endsWith(".sh") && !OPERATOR_SCRIPTS.has(f));

describe("node scripts and the AWS CLI's region", () => {
  it.each(NODE_SCRIPTS.filter((f) => /^\s*(?:[^#\n]*[;|&(]\s*)?aws [a-z]/m.test(nodeScript(f))))("%s sets AWS_DEFAULT_REGION from the instance metadata for the AWS CLI", (file) => {
    const text = nodeScript(file);
    // The shared function, or the script's own IMDS read of placement/region exported for the CLI.
    const setsRegion = /^imds_region$/m.test(text) || (/placement\/region/.test(text) && /^\s*(export )?AWS_DEFAULT_REGION=/m.test(text) && /^\s*export AWS_DEFAULT_REGION\b/m.test(text));
    expect({ file, setsRegion }).toEqual({ file, setsRegion: true });
  });
});

describeTier("imds_region against the IMDSv2 stand-in (real bash, curl and AWS CLI v1)", awsEmulatorCheck(), { tierLabel: "node e2e" }, () => {
  let emulator: AwsEmulator;
  let imds: ImdsStandIn;

  beforeAll(async () => {
    emulator = await startAwsEmulator();
    const image: string = emulator.aws("ec2", "describe-images", "--query", "Images[0].ImageId");
    const instanceId = emulator.aws("ec2", "run-instances", "--image-id", image, "--instance-type", "m6i.large", "--count", "1", "--placement", `AvailabilityZone=${EMULATOR_REGION}b`).Instances[0].InstanceId;
    imds = await startImds(emulator, instanceId);
  }, 60000);

  afterAll(async () => {
    await imds?.stop();
    await emulator?.stop();
  });

  const withoutRegion = (env: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(env).filter(([k]) => k !== "AWS_DEFAULT_REGION"));
  const bash = (script: string, env: Record<string, string>) =>
    run("bash", ["-c", `set -euo pipefail\n. ${INCLUDE}\n${script}`], { env: { PATH: `${path.dirname(emulator.awsCli)}:/usr/bin:/bin`, HOME: "/nonexistent", ...env }, encoding: "utf8", timeout: 60000 });

  it("the AWS CLI v1 has no region without it (why the scripts set one)", async () => {
    const noRegion = withoutRegion(emulator.env);
    await expect(bash("aws ec2 describe-availability-zones >/dev/null", noRegion)).rejects.toMatchObject({ stderr: expect.stringContaining("You must specify a region") });
  });

  it("exports the instance's region read with an IMDSv2 token, and the CLI then works", async () => {
    const noRegion = withoutRegion(emulator.env);
    const before = imds.requests.length;
    const { stdout } = await bash('imds_region\necho "$AWS_DEFAULT_REGION"\naws ec2 describe-availability-zones --query "AvailabilityZones[0].RegionName" --output text', { ...noRegion, AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint });
    expect(stdout.trim().split("\n")).toEqual([EMULATOR_REGION, EMULATOR_REGION]);
    expect(imds.requests.slice(before)).toEqual(["PUT /latest/api/token 200", "GET /latest/meta-data/placement/region 200"]);
  });

  it("keeps a region already set and asks IMDS nothing", async () => {
    const before = imds.requests.length;
    const { stdout } = await bash('imds_region\necho "$AWS_DEFAULT_REGION"', { ...emulator.env, AWS_DEFAULT_REGION: "us-east-2", AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint });
    expect(stdout.trim()).toBe("us-east-2");
    expect(imds.requests.length).toBe(before);
  });

  it("refuses an endpoint that is not http://host[:port]", async () => {
    const noRegion = withoutRegion(emulator.env);
    await expect(bash("imds_region", { ...noRegion, AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://x/$(id)" })).rejects.toMatchObject({ stderr: expect.stringContaining("refusing AWS_EC2_METADATA_SERVICE_ENDPOINT") });
    expect(readFileSync(INCLUDE, "utf8")).toContain("imds_region()");
  });
});
