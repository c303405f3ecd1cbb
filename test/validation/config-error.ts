/**
 * Shared helpers of the validation tests: what a good ConfigError looks like, and cheap fixtures
 * (a literal existing network, a literal endpoint and key) so constructs can be built without
 * synthesizing anything.
 */
import { Construct } from "constructs";
import { ConfigError } from "../../lib/errors";
import { ExistingNetwork, INetwork, SubnetAttributes } from "../../lib/network/network";
import { HaControlPlaneProps } from "../../lib/control-plane";
import { IApiEndpoint } from "../../lib/loadbalancer/api-load-balancer";
import { IEncryptionKey } from "../../lib/security/encryption-key";
import { testStack } from "../helpers/synth";

/** Marker: the row does not pin the error's `value` (it is derived, e.g. a list of subnets). */
export const ANY_VALUE: unique symbol = Symbol("any value");

/** One bad-input row of a validation table. */
export interface BadInput<P> {
  /** Behaviour, used as the test name: "refuses an even etcd member count". */
  readonly title: string;
  /** Props (or prop overrides) to build with. */
  readonly props: P;
  /** Expected `ConfigError.prop`. */
  readonly prop: string;
  /** Expected `ConfigError.value` (compared with toEqual); ANY_VALUE to skip. */
  readonly value: unknown;
  /** Text the message must show for the value. @default - the value itself (see `shownValue`) */
  readonly shows?: string;
  /** The fix (the part after the last "; ") must match this. @default - any non-empty fix */
  readonly fix?: RegExp;
}

/** How a value should appear in a message: strings as themselves (a prefix when long), the rest as JSON. */
export function shownValue(value: unknown): string {
  if (typeof value === "string") return value.length > 60 ? value.slice(0, 60) : value;
  if (value === undefined) return "undefined";
  const json = JSON.stringify(value);
  return json.length > 100 ? json.slice(0, 100) : json;
}

/**
 * Runs `build` and checks it throws a ConfigError (and nothing else) naming `prop`, carrying
 * `value`, whose message reads `<prop> is <value>: <problem>; <fix>`.
 */
export function expectConfigError(build: () => unknown, expected: Omit<BadInput<unknown>, "title" | "props">): ConfigError {
  let thrown: unknown = undefined;
  let threw = false;
  try {
    build();
  } catch (err) {
    threw = true;
    thrown = err;
  }
  if (!threw) throw new Error(`expected a ConfigError for ${expected.prop}, but nothing was thrown`);
  if (!(thrown instanceof ConfigError)) {
    const detail = thrown instanceof Error ? `${thrown.name}: ${thrown.message}\n${thrown.stack}` : String(thrown);
    throw new Error(`expected a ConfigError for ${expected.prop}, but got a different exception:\n${detail}`);
  }
  const err = thrown;
  expect(err.name).toBe("ConfigError");
  expect(err.prop).toBe(expected.prop);
  if (expected.value !== ANY_VALUE) expect(err.value).toEqual(expected.value);
  const shows = expected.shows ?? (expected.value === ANY_VALUE ? undefined : shownValue(expected.value));
  if (shows !== undefined) expect(err.message).toContain(shows);

  const head = `${err.prop} is `;
  expect(err.message.startsWith(head)).toBe(true);
  const rest = err.message.slice(head.length);
  const colon = rest.indexOf(": ");
  const semi = rest.lastIndexOf("; ");
  expect(colon).toBeGreaterThan(0);
  expect(semi).toBeGreaterThan(colon);
  const problem = rest.slice(colon + 2, semi).trim();
  const fix = rest.slice(semi + 2).trim();
  expect(problem.length).toBeGreaterThan(0);
  expect(fix.length).toBeGreaterThan(0);
  if (expected.fix) expect(fix).toMatch(expected.fix);
  return err;
}

/** A fresh scope (stack with an AWS provider) to build constructs in. */
export function scope(): Construct {
  return testStack().stack;
}

/** Valid literal ids. */
export const IDS = {
  vpc: "vpc-0123456789abcdef0",
  sg: "sg-0123456789abcdef0",
  ami: "ami-0a422d70f727fe93e",
  kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
  zone: "Z0123456789ABCDEFGHIJ",
} as const;

/** Subnet `i` (0-based) of a literal existing network in eu-west-1. */
export function privateSubnet(i: number, overrides: Partial<SubnetAttributes> = {}): SubnetAttributes {
  return {
    subnetId: `subnet-0aaaaaaaaaaaaaaa${i}`,
    availabilityZone: `eu-west-1${"abcdef"[i]}`,
    cidrBlock: `172.20.${i * 16}.0/20`,
    ...overrides,
  };
}

/** Public subnet `i` of the same network. */
export function publicSubnet(i: number, overrides: Partial<SubnetAttributes> = {}): SubnetAttributes {
  return {
    subnetId: `subnet-0bbbbbbbbbbbbbbb${i}`,
    availabilityZone: `eu-west-1${"abcdef"[i]}`,
    cidrBlock: `172.20.${128 + i}.0/24`,
    ...overrides,
  };
}

/** A valid existing network over `zones` zones (172.20.0.0/16), with public subnets unless told. */
export function existingNetwork(zones = 3, withPublic = true): INetwork {
  return ExistingNetwork.fromAttributes({
    vpcId: IDS.vpc,
    vpcCidr: "172.20.0.0/16",
    privateSubnets: Array.from({ length: zones }, (_, i) => privateSubnet(i)),
    publicSubnets: withPublic ? Array.from({ length: zones }, (_, i) => publicSubnet(i)) : [],
  });
}

/** A literal API endpoint, for building API server nodes without a load balancer. */
export const LITERAL_ENDPOINT: IApiEndpoint = {
  internalHost: "api.internal.example.com",
  serverNames: ["api.internal.example.com"],
  port: 6443,
  targetGroupArns: ["arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/prod-api-int/0123456789abcdef"],
  detectionTimeSeconds: 10,
  readmissionTimeSeconds: 10,
  drainTimeSeconds: 30,
  shutdownDelaySeconds: 20,
};

/** A literal KMS key. */
export const LITERAL_KEY: IEncryptionKey = { keyArn: IDS.kmsKeyArn };

/** HaControlPlane props of examples/ha-cluster/main.ts (the valid reference configuration). */
export const REFERENCE_PROPS: HaControlPlaneProps = {
  clusterName: "prod-eu1",
  kubernetesVersion: "1.33.5",
  vpcCidr: "10.0.0.0/16",
  availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
  apiServerCount: 3,
  etcdMemberCount: 3,
  amiId: IDS.ami,
  allowedApiCidrs: ["10.20.0.0/16"],
  tags: { team: "platform", environment: "production" },
};

/** `n` distinct user tags. */
export function manyTags(n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`tag-${i}`, `value-${i}`]));
}
