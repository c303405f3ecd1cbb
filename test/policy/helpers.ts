/**
 * Helpers of the policy-pack tests: build a small stack, run the pack over it, and read what it
 * reported (findings, annotations, the synthesized record).
 */
import { IConstruct } from "constructs";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { Aspects, TerraformStack, Testing } from "../../lib/core";
import { HaPolicyPack, HaPolicyPackProps, PolicyFinding, PolicyLevel } from "../../lib/policy";
import { testStack } from "../helpers/synth";

/** What one pack run over one stack produced. */
export interface PackRun {
  readonly stack: TerraformStack;
  readonly pack: HaPolicyPack;
}

/** Builds a fresh stack (with AWS and tls providers), applies the pack and synthesizes it. */
export function runPack(build: (stack: TerraformStack) => void, props?: HaPolicyPackProps): PackRun {
  const { stack } = testStack("policy");
  new TlsProvider(stack, "tls");
  build(stack);
  return runPackOn(stack, props);
}

/** Applies the pack to an existing stack and synthesizes it (validations included). */
export function runPackOn(stack: TerraformStack, props?: HaPolicyPackProps): PackRun {
  const pack = new HaPolicyPack(props);
  Aspects.of(stack).add(pack);
  Testing.synth(stack, true);
  return { stack, pack };
}

/** Findings of one rule. */
export function findingsOf(run: PackRun, ruleId: string): PolicyFinding[] {
  return run.pack.findings.filter((f) => f.ruleId === ruleId);
}

/** `rule level` of every finding, e.g. `HA-SG1 error`, sorted. */
export function summary(run: PackRun): string[] {
  return run.pack.findings.map((f) => `${f.ruleId} ${f.level}`).sort();
}

/** One annotation of the construct tree. */
export interface Annotation {
  readonly path: string;
  readonly level: "info" | "warning" | "error";
  readonly message: string;
}

const LEVELS: Record<string, Annotation["level"]> = { "@cdktf/info": "info", "@cdktf/warn": "warning", "@cdktf/error": "error" };

/** Every annotation under `scope`. */
export function annotations(scope: IConstruct): Annotation[] {
  return scope.node.findAll().flatMap((c) =>
    c.node.metadata.filter((m) => m.type in LEVELS).map((m) => ({ path: c.node.path, level: LEVELS[m.type], message: String(m.data) })),
  );
}

/** Error annotations under `scope`. */
export function errorAnnotations(scope: IConstruct): Annotation[] {
  return annotations(scope).filter((a) => a.level === "error");
}

export { PolicyLevel };
