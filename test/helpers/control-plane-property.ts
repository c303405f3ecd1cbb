/**
 * The HaControlPlane property (tier 4): random props either throw a ConfigError naming the
 * offending prop, or synthesize output that satisfies every invariant (test/helpers/invariants.ts).
 * No other exception may escape. Two test files run it with different seeds so both jest workers
 * share the 1,000 CI runs.
 */
import * as fc from "fast-check";
import { App, TerraformStack, Testing } from "../../lib/core";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { ConfigError, EndpointAccess, EtcdTopology, HaControlPlane, HaControlPlaneProps, NatGatewayMode } from "../../lib";
import { assertProperty, propertyRuns, propertySeed } from "../harness/property";
import { allViolations } from "./invariants";
import { SynthJson } from "./synth";

const letters = "abcdefghijklmnopqrstuvwxyz";
const clusterName = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/) },
  { weight: 2, arbitrary: fc.constantFrom(...letters.split("")) },
  { weight: 1, arbitrary: fc.constantFrom("", "A", "Prod", "1abc", "abc-", "a.b", "ünï", "a".repeat(41), "a".repeat(200), "internal-x", "sg-x", "xn--x") },
  { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
);
const zonesOf = (region: string) => fc.subarray(["a", "b", "c", "d", "e", "f"].map((z) => `${region}${z}`), { minLength: 1, maxLength: 6 });
const availabilityZones = fc.oneof(
  { weight: 8, arbitrary: zonesOf("eu-west-1") },
  { weight: 1, arbitrary: fc.constantFrom(["eu-west-1a", "eu-west-1a", "eu-west-1b"], ["x"], [], ["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1d", "eu-west-1e", "eu-west-1f", "eu-west-1g"]) },
);
const cidr = (valid: string[]) => fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom("10.0.0.1/16", "300.0.0.0/8", "10.0.0.0/33", "fd00::/64", "nonsense", "10.0.0.0/8", "10.0.0.0/24") });
const tags = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.:/=+@-]{0,20}$/), fc.string({ maxLength: 30 }), { maxKeys: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom({ "aws:owner": "x" }, Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, "v"])), { ["k".repeat(129)]: "v" }) },
);

/**
 * A valid configuration: counts that spread evenly, odd etcd, CIDRs apart, public endpoint with
 * CIDRs. One zone carries allowSingleZone and two zones allowEtcdZoneQuorumLoss: with at most two
 * zones one of them holds an etcd majority (3 over 2 is 2 + 1), so those shapes are only valid
 * acknowledged; from three zones on, round-robin placement never puts a majority in one zone.
 */
export const validProps: fc.Arbitrary<HaControlPlaneProps> = zonesOf("eu-west-1").chain((zones) => {
  const z = zones.length;
  const apiCounts = [z, 2 * z, 3 * z].filter((c) => c >= 2 && c <= 9);
  const stackedCounts = apiCounts.filter((c) => c % 2 === 1 && c >= 3);
  const topology = stackedCounts.length > 0 ? fc.constantFrom(EtcdTopology.EXTERNAL, EtcdTopology.EXTERNAL, EtcdTopology.STACKED) : fc.constant(EtcdTopology.EXTERNAL);
  return fc.record({
    clusterName: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/), fc.constantFrom(...letters.split(""))),
    availabilityZones: fc.constant(zones),
    vpcCidr: fc.constantFrom("10.0.0.0/16", "172.16.0.0/16", "192.168.0.0/20", "10.10.0.0/22"),
    serviceCidr: fc.constantFrom("10.96.0.0/12", "172.31.0.0/16"),
    podCidr: fc.constantFrom("10.244.0.0/16", "100.64.0.0/16"),
    etcdTopology: topology,
    apiServerCount: fc.constantFrom(...(apiCounts.length > 0 ? apiCounts : [2])),
    etcdMemberCount: fc.constantFrom(3, 5, 7),
    natGateways: fc.constantFrom(NatGatewayMode.PER_AZ, NatGatewayMode.SINGLE),
    endpointAccess: fc.constantFrom(EndpointAccess.INTERNAL, EndpointAccess.INTERNAL_AND_PUBLIC),
    allowedApiCidrs: fc.constantFrom(["0.0.0.0/0"], ["198.51.100.0/24", "203.0.113.0/24"]),
    apiServerInstanceType: fc.constantFrom("m6i.large", "c7g.xlarge", "t3.medium"),
    etcdInstanceType: fc.constantFrom("m6i.large", "r7g.large"),
    kubernetesVersion: fc.constantFrom("1.33.5", "v1.32.0"),
    amiId: fc.constantFrom("ami-0123456789abcdef0", "ami-12345678", undefined),
    etcdDataVolumeSizeGiB: fc.constantFrom(20, 100),
    etcdDataVolumeIops: fc.constantFrom(3000, 10000),
    tags: fc.oneof(fc.constant(undefined), fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.:/=+@-]{0,20}$/), fc.string({ maxLength: 30 }), { maxKeys: 8 })),
  }).map((p) => {
    const stacked = p.etcdTopology === EtcdTopology.STACKED;
    return {
      ...p,
      apiServerCount: stacked ? stackedCounts[0] : p.apiServerCount,
      etcdMemberCount: stacked ? undefined : p.etcdMemberCount,
      ...(z === 1 ? { allowSingleZone: true } : {}),
      ...(z === 2 ? { allowEtcdZoneQuorumLoss: true } : {}),
    } as HaControlPlaneProps;
  });
});

/** Wild values, one prop at a time: empty, 200-char and unicode names, counts 0–9, bad CIDRs, tags over the limit. */
const wild: Record<string, fc.Arbitrary<unknown>> = {
  clusterName,
  availabilityZones,
  vpcCidr: cidr(["10.0.0.0/16"]),
  serviceCidr: cidr(["10.96.0.0/12", "10.0.0.0/16"]),
  podCidr: cidr(["10.244.0.0/16", "10.96.0.0/16"]),
  apiServerCount: fc.integer({ min: 0, max: 9 }),
  etcdMemberCount: fc.integer({ min: 0, max: 9 }),
  allowedApiCidrs: fc.constantFrom([], ["bad"], ["10.0.0.0/8", "10.0.0.0/8"]),
  apiServerInstanceType: fc.constantFrom("", "large", "M6I.LARGE", "m6i"),
  etcdInstanceType: fc.constantFrom(" m6i.large", "x"),
  kubernetesVersion: fc.constantFrom("1.31.9", "latest", "", "2.0.0"),
  amiId: fc.constantFrom("ami-xyz", "", "ami-123"),
  etcdDataVolumeSizeGiB: fc.integer({ min: -5, max: 40 }),
  etcdDataVolumeIops: fc.integer({ min: 0, max: 20000 }),
  etcdDataVolumeThroughputMiBps: fc.integer({ min: 0, max: 1200 }),
  tags,
};

const props: fc.Arbitrary<HaControlPlaneProps> = fc.oneof(
  validProps,
  fc.tuple(validProps, fc.constantFrom(...Object.keys(wild))).chain(([base, key]) => wild[key].map((value) => ({ ...base, [key]: value }) as HaControlPlaneProps)),
);

const PROP_NAMES = new Set<string>([
  "clusterName", "availabilityZones", "vpcCidr", "serviceCidr", "podCidr", "apiServerCount", "etcdMemberCount", "etcdTopology",
  "allowedApiCidrs", "apiServerInstanceType", "etcdInstanceType", "kubernetesVersion", "apiServerAmiId", "etcdAmiId", "amiId",
  "etcdDataVolumeSizeGiB", "etcdDataVolumeIops", "etcdDataVolumeThroughputMiBps", "tags", "endpointAccess", "natGateways", "network.privateSubnets",
]);

function build(p: HaControlPlaneProps): SynthJson {
  const app: App = Testing.app();
  const stack = new TerraformStack(app, "fuzz");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new HaControlPlane(stack, "Cp", p);
  return JSON.parse(Testing.synth(stack)) as SynthJson;
}

/** Defines the property test for one share of the runs (`part` 0 or 1 of 2). */
export function describeControlPlaneProperty(part: number, parts: number): void {
  describe(`HaControlPlane under random props (part ${part + 1} of ${parts})`, () => {
    jest.setTimeout(900000);
    const outcomes = { valid: 0, refused: 0 };
    const numRuns = Math.ceil(propertyRuns() / parts);
    afterAll(() => console.log(`property tier part ${part + 1}: ${outcomes.valid} valid control planes, ${outcomes.refused} refused with ConfigError`));

    it("either refuses with a ConfigError naming the prop, or synthesizes a control plane satisfying every invariant", () => {
      assertProperty(
        fc.property(props, (p) => {
          let json: SynthJson;
          try {
            json = build(p);
          } catch (err) {
            if (!(err instanceof ConfigError)) throw new Error(`${(err as Error).name} escaped instead of a ConfigError: ${(err as Error).message}`);
            const root = err.prop.split(/[.[ ]/)[0];
            if (!PROP_NAMES.has(root) && !PROP_NAMES.has(err.prop)) throw new Error(`ConfigError names an unknown prop "${err.prop}": ${err.message}`);
            if (!err.message.startsWith(`${err.prop} is `)) throw new Error(`message does not lead with the prop: ${err.message}`);
            outcomes.refused++;
            return;
          }
          const violations = allViolations(json);
          if (violations.length > 0) throw new Error(`invariants broken:\n${violations.join("\n")}`);
          outcomes.valid++;
        }),
        { numRuns, seed: propertySeed() + part },
      );
      expect(outcomes.valid).toBeGreaterThan(0);
      expect(outcomes.refused).toBeGreaterThan(0);
    });
  });
}
