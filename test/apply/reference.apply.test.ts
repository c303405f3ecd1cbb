/**
 * Apply tier: the reference example (examples/ha-cluster) and the stacked topology are applied with
 * `terraform apply` against the AWS API emulator (moto), and the emulator's state is read back with
 * the real AWS CLI. The real tls provider cannot be built on this machine; its resources are applied
 * through the strict tls stand-in (test/providers/tls), so the secrets hold real certificates; every
 * AWS resource is created for real in the emulator. Nothing is cut out.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { EtcdTopology, HaControlPlane } from "../../lib";
import { providerPlanCheck } from "../harness/provider-plan";
import { motoCheck } from "../harness/real-components";
import {
  EMULATOR_CUT_TYPES,
  KNOWN_EMULATOR_DRIFT,
  type ApplyEmulator,
  type ReplanResult,
  TerraformApplyWorkspace,
  type TerraformRun,
  startApplyEmulator,
  terraformText,
} from "../harness/terraform-apply";
import { allOf, describeTier } from "../harness/tiers";
import { testStack } from "../helpers/synth";

// Every cloud-config the library's renderer returns while a stack is built, in order: the oracle for
// what the launch templates must carry once EC2 (here: the emulator) has stored them. With the
// bootstrap bundle, a node's user data is what renderNodeBundle returns (node.env and the fetch step).
const mockRendered: string[] = [];
jest.mock("../../lib/bootstrap/bundle/node-bundle", () => {
  const actual = jest.requireActual("../../lib/bootstrap/bundle/node-bundle");
  return {
    ...actual,
    renderNodeBundle: (...args: unknown[]) => {
      const bundle = actual.renderNodeBundle(...args) as { userData: string };
      mockRendered.push(bundle.userData);
      return bundle;
    },
  };
});

jest.setTimeout(20 * 60_000);

/** One slot as the library promises it: a name, the node role tag and the zone it lives in. */
interface ExpectedSlot {
  readonly slot: string;
  readonly role: string;
  readonly zone: string;
}

interface Scenario {
  readonly label: string;
  readonly cluster: string;
  /** Slot interfaces (one per API-server slot and per etcd member; stacked members share the API slot). */
  readonly interfaces: readonly ExpectedSlot[];
  /** etcd data volumes, one per member, in the member's zone. */
  readonly volumes: readonly ExpectedSlot[];
  readonly targetGroup: string;
  /** Launch templates, one per node group. */
  readonly launchTemplates: readonly string[];
  build(): string;
}

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const slots = (prefix: string, role: string): ExpectedSlot[] => ZONES.map((zone, i) => ({ slot: `${prefix}-${i}`, role, zone }));

const SCENARIOS: readonly Scenario[] = [
  {
    label: "reference example (3 API servers, 3 external etcd members)",
    cluster: "prod-eu1",
    interfaces: [...slots("apiserver", "apiserver"), ...slots("etcd", "etcd")],
    volumes: slots("etcd", "etcd"),
    targetGroup: "prod-eu1-api-int",
    launchTemplates: ["prod-eu1-apiserver", "prod-eu1-etcd-0", "prod-eu1-etcd-1", "prod-eu1-etcd-2"],
    build: () => Testing.synth(new HaClusterStack(Testing.app(), "ha-cluster")),
  },
  {
    label: "stacked topology (3 API servers running etcd)",
    cluster: "stacked",
    interfaces: slots("apiserver", "apiserver"),
    volumes: slots("apiserver", "apiserver"),
    targetGroup: "stacked-api-int",
    launchTemplates: ["stacked-apiserver"],
    build: () => {
      const { stack } = testStack("stacked");
      new HaControlPlane(stack, "Cp", {
        clusterName: "stacked",
        availabilityZones: ZONES,
        amiId: "ami-0123456789abcdef0",
        etcdTopology: EtcdTopology.STACKED,
        apiServerCount: 3,
      });
      return Testing.synth(stack);
    },
  },
];

/**
 * The emulator drift the second plan shows for these stacks (see KNOWN_EMULATOR_DRIFT for what
 * moto does). Pinned: when moto fixes one, or a new one appears, this list must change.
 */
const EXPECTED_DRIFT = [
  "asg-capacity-reservation-unset",
  "asg-default-instance-warmup",
  "asg-service-linked-role",
  "asg-template-version-follows-echo",
  "launch-template-tag-echo",
  "launch-template-version-follows-echo",
  "lifecycle-hook-placeholder-targets",
  "sg-rule-referenced-group-description",
];

/**
 * What terraform must refuse to destroy: the etcd data volumes, the backup bucket (the Object Lock
 * one), the cluster key and the secrets-encryption key secret (issue 18 finding 8).
 */
const PROTECTED: ReadonlyArray<readonly [string, (props: Record<string, unknown>) => boolean]> = [
  ["aws_ebs_volume", () => true],
  ["aws_s3_bucket", (props) => props.object_lock_enabled === true],
  ["aws_kms_key", () => true],
  ["aws_secretsmanager_secret", (props) => String(props.name).endsWith("/control-plane/encryption-key")],
];

interface Applied {
  readonly scenario: Scenario;
  readonly synthesized: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly rendered: readonly string[];
  readonly emulator: ApplyEmulator;
  readonly workspace: TerraformApplyWorkspace;
  readonly apply: TerraformRun;
}

function tagsOf(list: ReadonlyArray<{ Key: string; Value: string }> | undefined): Record<string, string> {
  return Object.fromEntries((list ?? []).map((t) => [t.Key, t.Value]));
}

function ipInCidr(ip: string, cidr: string): boolean {
  const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(base) / size);
}

const timings: string[] = [];

describeTier("apply tier: stacks applied against the AWS API emulator", allOf(motoCheck(), providerPlanCheck()), { tierLabel: "apply" }, () => {
  const applied = new Map<string, Applied>();
  const started: ApplyEmulator[] = [];
  const workspaces: TerraformApplyWorkspace[] = [];
  const tierStart = Date.now();

  /** Runs `step` for every applied stack at once (the first test that asks starts it), keyed by label. */
  function phase<T>(step: (a: Applied) => Promise<T>): () => Promise<Map<string, T>> {
    let running: Promise<Map<string, T>> | undefined;
    return () =>
      (running ??= Promise.all([...applied.values()].map(async (a) => [a.scenario.label, await step(a)] as const)).then((pairs) => new Map(pairs)));
  }
  const replans = phase((a) => a.workspace.replan());
  const destroys = phase(async ({ workspace, synthesized }) => {
    const protectedAddresses = PROTECTED.flatMap(([type, is]) => Object.entries(synthesized.resource[type] ?? {}).filter(([, props]) => is(props as Record<string, unknown>)).map(([name]) => `${type}.${name}`)).sort();
    const before = await workspace.state();
    const refused = await workspace.destroy();
    const afterRefused = await workspace.state();
    // Switch protection off in the configuration terraform reads, as an operator would.
    const lifecycles: unknown[] = [];
    await workspace.edit((json) => {
      for (const address of protectedAddresses) {
        const [type, name] = address.split(".");
        const resource = (json.resource as any)[type][name]; // eslint-disable-line @typescript-eslint/no-explicit-any
        lifecycles.push(resource.lifecycle);
        resource.lifecycle = { prevent_destroy: false };
      }
    });
    const destroyed = await workspace.destroy();
    const finalState = await workspace.state();
    return { protectedAddresses, before, refused, afterRefused, lifecycles, destroyed, finalState };
  });

  beforeAll(async () => {
    const pending: Array<Promise<void>> = [];
    for (const scenario of SCENARIOS) {
      mockRendered.length = 0;
      const synthesized = scenario.build();
      const rendered = [...mockRendered];
      const emulator = await startApplyEmulator(); // one emulator per stack
      started.push(emulator);
      const workspace = await TerraformApplyWorkspace.create(synthesized, emulator);
      workspaces.push(workspace);
      pending.push(
        workspace.apply().then((apply) => {
          applied.set(scenario.label, { scenario, synthesized: JSON.parse(synthesized), rendered, emulator, workspace, apply });
        }),
      );
    }
    await Promise.all(pending);
  });

  afterAll(async () => {
    await Promise.all(workspaces.map((w) => w.cleanup()));
    for (const e of started) await e.stop();
    for (const w of workspaces) timings.push(`${w.dir.replace(/.*\//, "")}: ${w.runs.map((r) => `${r.args[0]} ${r.seconds.toFixed(1)} s`).join(", ")}`);
    timings.push(`apply tier wall time: ${((Date.now() - tierStart) / 1000).toFixed(1)} s`);
    console.log(timings.join("\n"));
  });

  it("cuts out nothing: every AWS resource against the emulator, every tls resource through the tls stand-in", () => {
    expect(EMULATOR_CUT_TYPES).toEqual({});
    for (const { workspace, synthesized } of applied.values()) {
      expect(Object.keys(synthesized.resource as Record<string, object>).some((type) => type.startsWith("tls_"))).toBe(true);
      expect(workspace.prepared.removed).toEqual([]);
      expect(workspace.prepared.removedProviders).toEqual([]);
      expect(workspace.prepared.emulatorCut).toEqual([]);
    }
  });

  describe.each(SCENARIOS.map((s) => [s.label, s] as const))("%s", (label) => {
    const get = (): Applied => {
      const a = applied.get(label);
      if (!a) throw new Error(`${label} was not applied`);
      return a;
    };

    it("applies every AWS and tls resource of the stack", async () => {
      const { workspace, synthesized, apply } = get();
      // AWS and tls resources (the tls stand-in issues real keys and certificates).
      const aws = Object.entries(synthesized.resource as Record<string, object>)
        .filter(([type]) => type.startsWith("aws_") || type.startsWith("tls_"))
        .reduce((n, [, byName]) => n + Object.keys(byName).length, 0);
      expect(apply.stdout).toContain(`Apply complete! Resources: ${aws} added, 0 changed, 0 destroyed.`);
      const state = await workspace.state();
      const managed = ((state.values as any)?.root_module?.resources ?? []).filter((r: any) => r.mode === "managed"); // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(managed).toHaveLength(aws);
    });

    it("delivers real certificates: every leaf in every slot secret verifies against a CA of its bundle, and each API serving certificate names its slot IP", () => {
      const { emulator, scenario, synthesized } = get();
      const declared = Object.values(synthesized.resource.aws_network_interface as Record<string, { private_ips: string[]; tags: Record<string, string> }>);
      const secrets = (emulator.aws("secretsmanager", "list-secrets").SecretList as Array<{ Name: string; Tags?: Array<{ Key: string; Value: string }> }>)
        .map((x) => ({ name: x.Name, slot: tagsOf(x.Tags ?? [])["ha-control-plane/slot"] }))
        .filter((x) => x.slot !== undefined);
      expect(secrets.length).toBe(declared.length);
      const dir = mkdtempSync(path.join(tmpdir(), "apply-certs-"));
      try {
        let apiLeaves = 0;
        for (const { name, slot } of secrets) {
          const files = JSON.parse(emulator.aws("secretsmanager", "get-secret-value", "--secret-id", name).SecretString).files as Record<string, string>;
          const certs = Object.entries(files).filter(([f, pem]) => f.endsWith(".crt") && pem.includes("BEGIN CERTIFICATE"));
          const isCa = (pem: string) => /CA:TRUE/.test(execFileSync("openssl", ["x509", "-noout", "-ext", "basicConstraints"], { input: pem, encoding: "utf8" }));
          const cas = certs.filter(([, pem]) => isCa(pem));
          const leaves = certs.filter(([, pem]) => !isCa(pem));
          expect({ slot, cas: cas.length > 0, leaves: leaves.length > 0 }).toEqual({ slot, cas: true, leaves: true });
          const caFile = path.join(dir, `${slot}-cas.pem`);
          writeFileSync(caFile, cas.map(([, pem]) => pem).join("\n"));
          for (const [file, pem] of leaves) {
            const leafFile = path.join(dir, `${slot}-${file.replace(/\//g, "_")}`);
            writeFileSync(leafFile, pem);
            // openssl verify is the oracle: a leaf signed with its own key, or by another CA, fails here.
            expect(execFileSync("openssl", ["verify", "-CAfile", caFile, leafFile], { encoding: "utf8" })).toContain(": OK");
            const text = execFileSync("openssl", ["x509", "-noout", "-subject", "-ext", "subjectAltName"], { input: pem, encoding: "utf8" });
            if (/CN ?= ?kube-apiserver\s*$/m.test(text)) {
              apiLeaves++;
              const ip = declared.find((d) => d.tags["ha-control-plane/slot"] === slot)!.private_ips[0];
              expect(text).toContain(`IP Address:${ip}`);
            }
          }
        }
        expect(apiLeaves).toBe(scenario.interfaces.filter((i) => i.role === "apiserver").length);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("creates one slot interface per API-server slot and etcd member, with its fixed address and tags", () => {
      const { emulator, scenario, synthesized } = get();
      const enis = emulator.aws("ec2", "describe-network-interfaces", "--filters", `Name=tag:ha-control-plane/cluster,Values=${scenario.cluster}`).NetworkInterfaces;
      const subnets = emulator.aws("ec2", "describe-subnets").Subnets as Array<{ SubnetId: string; AvailabilityZone: string; CidrBlock: string }>;
      const declared = Object.values(synthesized.resource.aws_network_interface as Record<string, { private_ips: string[]; tags: Record<string, string> }>);
      const seen = enis.map((eni: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
        const tags = tagsOf(eni.TagSet);
        const subnet = subnets.find((s) => s.SubnetId === eni.SubnetId)!;
        const want = declared.find((d) => d.tags["ha-control-plane/slot"] === tags["ha-control-plane/slot"]);
        expect(want).toBeDefined();
        expect(tags).toEqual(want!.tags);
        expect(ipInCidr(eni.PrivateIpAddress, subnet.CidrBlock)).toBe(true);
        expect(eni.Status).toBe("available"); // claimed by a node at boot, never by terraform
        return { slot: tags["ha-control-plane/slot"], role: tags["ha-control-plane/role"], zone: subnet.AvailabilityZone, ip: eni.PrivateIpAddress, wantIp: want!.private_ips[0] };
      });
      expect(seen.map(({ slot, role, zone }: ExpectedSlot) => ({ slot, role, zone })).sort((a: ExpectedSlot, b: ExpectedSlot) => a.slot.localeCompare(b.slot))).toEqual(
        [...scenario.interfaces].sort((a, b) => a.slot.localeCompare(b.slot)),
      );
      for (const s of seen) expect(s.ip).toBe(s.wantIp);
      expect(new Set(seen.map((s: { ip: string }) => s.ip)).size).toBe(seen.length);
    });

    it("creates one etcd data volume per member in the member's zone", () => {
      const { emulator, scenario } = get();
      const volumes = emulator.aws("ec2", "describe-volumes", "--filters", `Name=tag:ha-control-plane/cluster,Values=${scenario.cluster}`, "Name=tag:ha-control-plane/purpose,Values=etcd-data").Volumes;
      const seen = volumes
        .map((v: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
          const tags = tagsOf(v.Tags);
          expect(v).toMatchObject({ Size: 20, VolumeType: "gp3", Iops: 3000, Encrypted: true, State: "available" });
          expect(v.Attachments ?? []).toEqual([]);
          return { slot: tags["ha-control-plane/slot"], role: tags["ha-control-plane/role"], zone: v.AvailabilityZone };
        })
        .sort((a: ExpectedSlot, b: ExpectedSlot) => a.slot.localeCompare(b.slot));
      expect(seen).toEqual(scenario.volumes);
    });

    it("gives the API target group an HTTPS /readyz health check as synthesized", () => {
      const { emulator, scenario, synthesized } = get();
      const [group] = emulator.aws("elbv2", "describe-target-groups", "--names", scenario.targetGroup).TargetGroups;
      const declared = Object.values(synthesized.resource.aws_lb_target_group as Record<string, any>)[0]; // eslint-disable-line @typescript-eslint/no-explicit-any
      const hc = declared.health_check;
      expect(group).toMatchObject({
        Protocol: "TCP",
        Port: 6443,
        TargetType: "instance",
        HealthCheckEnabled: true,
        HealthCheckProtocol: "HTTPS",
        HealthCheckPath: "/readyz",
        HealthCheckPort: "traffic-port",
      });
      expect({
        HealthCheckIntervalSeconds: group.HealthCheckIntervalSeconds,
        HealthCheckTimeoutSeconds: group.HealthCheckTimeoutSeconds,
        HealthyThresholdCount: group.HealthyThresholdCount,
        UnhealthyThresholdCount: group.UnhealthyThresholdCount,
        Matcher: group.Matcher,
      }).toEqual({
        HealthCheckIntervalSeconds: hc.interval,
        HealthCheckTimeoutSeconds: hc.timeout,
        HealthyThresholdCount: hc.healthy_threshold,
        UnhealthyThresholdCount: hc.unhealthy_threshold,
        Matcher: { HttpCode: hc.matcher },
      });
    });

    it("stores launch template user data that decodes (base64, gzip) to exactly what the renderer produced", () => {
      const { emulator, scenario, rendered } = get();
      expect(rendered).toHaveLength(scenario.launchTemplates.length);
      const decoded = scenario.launchTemplates.map((name) => {
        const [version] = emulator.aws("ec2", "describe-launch-template-versions", "--launch-template-name", name, "--versions", "$Latest").LaunchTemplateVersions;
        const text = gunzipSync(Buffer.from(version.LaunchTemplateData.UserData, "base64")).toString("utf8");
        expect(text.startsWith("#cloud-config\n")).toBe(true);
        expect(text).toContain(name.replace(`${scenario.cluster}-`, ""));
        return text;
      });
      // One rendered document per template, each stored unchanged.
      expect([...decoded].sort()).toEqual([...rendered].sort());
      expect(new Set(decoded).size).toBe(decoded.length);
    });

  });

  // After every read-only assertion above: these phases run for both stacks at once and change them.
  describe.each(SCENARIOS.map((s) => [s.label, s] as const))("%s, then", (label) => {
    const get = (): Applied => {
      const a = applied.get(label);
      if (!a) throw new Error(`${label} was not applied`);
      return a;
    };

    it("plans no change on a second plan, apart from the emulator's listed drift", async () => {
      const replan: ReplanResult = (await replans()).get(label)!;
      expect(replan.unexplained).toEqual([]);
      expect([...new Set(replan.explained.map((c) => c.drift))].sort()).toEqual(EXPECTED_DRIFT);
      expect(replan.exitCode).toBe(2); // the drift above; 0 once moto stops drifting
      for (const id of EXPECTED_DRIFT) expect(KNOWN_EMULATOR_DRIFT.map((d) => d.id)).toContain(id);
    });

    it("refuses to destroy the etcd volumes and the backup bucket, and destroys everything once protection is off", async () => {
      const { emulator, scenario, synthesized } = get();
      const run = (await destroys()).get(label)!;
      expect(run.protectedAddresses).toHaveLength(scenario.volumes.length + 3);

      expect(run.refused.code).toBe(1);
      const text = terraformText(run.refused);
      expect(text).toContain("Error: Instance cannot be destroyed");
      const named = [...text.matchAll(/Resource (\S+) has\s+lifecycle\.prevent_destroy set/g)].map((m) => m[1]).sort();
      // terraform stops the destroy walk at the first refusals, so resources destroyed only after the
      // refused ones (the cluster key and the encryption-key secret come after everything that uses
      // them) may go unnamed: every name must be a protected resource, and the first ones are there.
      expect(named.length).toBeGreaterThan(0);
      for (const address of named) expect(run.protectedAddresses).toContain(address);
      for (const address of run.protectedAddresses.filter((a) => /^aws_(ebs_volume|s3_bucket)\./.test(a))) expect(named).toContain(address);
      expect(run.afterRefused).toEqual(run.before); // refused at plan time: nothing destroyed
      expect(run.lifecycles).toEqual(run.protectedAddresses.map(() => ({ prevent_destroy: true })));

      if (run.destroyed.code !== 0) throw new Error(`destroy failed:\n${terraformText(run.destroyed)}`);
      expect(run.destroyed.stdout).toMatch(/Destroy complete! Resources: \d+ destroyed\./);
      expect((run.finalState.values as any)?.root_module?.resources ?? []).toEqual([]); // eslint-disable-line @typescript-eslint/no-explicit-any

      const filter = `Name=tag:ha-control-plane/cluster,Values=${scenario.cluster}`;
      expect(emulator.aws("ec2", "describe-network-interfaces", "--filters", filter).NetworkInterfaces).toEqual([]);
      expect(emulator.aws("ec2", "describe-volumes", "--filters", filter).Volumes).toEqual([]);
      expect(emulator.aws("ec2", "describe-vpcs", "--filters", filter).Vpcs).toEqual([]);
      const bucket = Object.values(synthesized.resource.aws_s3_bucket as Record<string, { bucket: string }>)[0].bucket;
      expect((emulator.aws("s3api", "list-buckets").Buckets ?? []).map((b: { Name: string }) => b.Name)).not.toContain(bucket);
      // final_snapshot = true: each etcd volume leaves a snapshot behind.
      const snapshots = emulator.aws("ec2", "describe-snapshots", "--owner-ids", "self").Snapshots;
      expect(snapshots.length).toBeGreaterThanOrEqual(scenario.volumes.length);
    });
  });
});
