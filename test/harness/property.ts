/**
 * Tier 4 wiring: fast-check with a fixed, printed seed.
 *
 * The seed comes from `FC_SEED` (default: a fixed value, so CI runs are reproducible) and the run
 * count from `FC_NUM_RUNS` (default 100 locally, 1000 in CI). On failure the error names the seed
 * and the counterexample path; rerun with `FC_SEED=<seed> npx jest <file>` to reproduce.
 */
import * as fc from "fast-check";
import { IN_CI } from "./tiers";

/** Default seed: fixed so every CI run explores the same cases unless FC_SEED says otherwise. */
export const DEFAULT_SEED = 20261126;

/** The seed in force. */
export function propertySeed(): number {
  const env = process.env.FC_SEED;
  return env !== undefined && /^-?\d+$/.test(env) ? Number(env) : DEFAULT_SEED;
}

/** Runs per property (`FC_NUM_RUNS`, else 1000 in CI and 100 locally). */
export function propertyRuns(ciDefault = 1000, localDefault = 100): number {
  const env = process.env.FC_NUM_RUNS;
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  return IN_CI ? ciDefault : localDefault;
}

/** Asserts a property with the project's seed and run count; a failure message carries the seed. */
export function assertProperty<Ts>(property: fc.IProperty<Ts>, options: { numRuns?: number; seed?: number } = {}): void {
  const seed = options.seed ?? propertySeed();
  const numRuns = options.numRuns ?? propertyRuns();
  const details = fc.check(property, { seed, numRuns });
  if (!details.failed) return;
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `property failed with seed ${seed} after ${details.numRuns} of ${numRuns} runs (shrunk ${details.numShrinks} times; reproduce with FC_SEED=${seed}, path ${JSON.stringify(details.counterexamplePath)}):\n` +
      `${error}\ncounterexample: ${fc.stringify(details.counterexample)}`,
  );
}
