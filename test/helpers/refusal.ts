import { ConfigError } from "../../lib/errors";

/** The ConfigError `fn` throws, or a failure naming what happened instead. */
export function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw new Error(`expected a ConfigError, got ${String(e)}`);
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}
