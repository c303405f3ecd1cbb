/**
 * Small helpers over synthesized stack JSON: build a stack, find resources of a type, follow a
 * `${type.name.attr}` reference back to its resource.
 */
import { gunzipSync } from "node:zlib";
import { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack, Testing } from "../../lib/core";

/** Synthesized Terraform JSON of one stack. */
export interface SynthJson {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly output?: Record<string, { value: unknown }>;
  readonly [key: string]: unknown;
}

/** One resource: its type, logical name and properties. */
export interface FoundResource {
  readonly type: string;
  readonly name: string;
  readonly props: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A stack with an AWS provider, for constructs under test. */
export function testStack(id = "test"): { app: App; stack: TerraformStack } {
  const app = Testing.app();
  const stack = new TerraformStack(app, id);
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  return { app, stack };
}

/** Builds constructs in a fresh stack and returns the synthesized JSON. */
export function synth(build: (stack: Construct) => void, options: { runValidations?: boolean } = {}): SynthJson {
  const { stack } = testStack();
  build(stack);
  return JSON.parse(Testing.synth(stack as TerraformStack, options.runValidations ?? false)) as SynthJson;
}

/** Synthesizes an existing stack. */
export function synthStack(stack: TerraformStack): SynthJson {
  return JSON.parse(Testing.synth(stack)) as SynthJson;
}

/** All resources of `type`. */
export function resources(json: SynthJson, type: string): FoundResource[] {
  return Object.entries(json.resource?.[type] ?? {}).map(([name, props]) => ({ type, name, props }));
}

/** All data sources of `type`. */
export function dataSources(json: SynthJson, type: string): FoundResource[] {
  return Object.entries(json.data?.[type] ?? {}).map(([name, props]) => ({ type, name, props }));
}

/** The only resource of `type` (fails when there are 0 or several). */
export function only(json: SynthJson, type: string): FoundResource {
  const found = resources(json, type);
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  return found[0];
}

/** Every resource in the stack. */
export function allResources(json: SynthJson): FoundResource[] {
  return Object.keys(json.resource ?? {}).flatMap((type) => resources(json, type));
}

/** The Terraform reference expression for an attribute of a resource: `${type.name.attr}`. */
export function refTo(r: FoundResource, attr: string): string {
  return `\${${r.type}.${r.name}.${attr}}`;
}

/** Follows a `${type.name.attr}` reference to the resource it names. */
export function follow(json: SynthJson, reference: unknown): FoundResource {
  const m = /^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.[a-z0-9_.]+\}$/.exec(String(reference));
  if (!m) throw new Error(`not a plain resource reference: ${String(reference)}`);
  const props = json.resource?.[m[1]]?.[m[2]];
  if (!props) throw new Error(`reference to a missing resource: ${String(reference)}`);
  return { type: m[1], name: m[2], props: props as Record<string, unknown> };
}

/** Raw user data of a launch template as EC2 receives it (gzip bytes when compressed). */
export function rawUserDataOf(launchTemplate: FoundResource): Buffer {
  return Buffer.from(String(launchTemplate.props.user_data), "base64");
}

/** Decoded user data text of a launch template (literal base64, gunzipped when compressed). */
export function userDataOf(launchTemplate: FoundResource): string {
  const raw = rawUserDataOf(launchTemplate);
  const gzipped = raw.length > 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  return (gzipped ? gunzipSync(raw) : raw).toString("utf8");
}
