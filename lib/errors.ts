/**
 * Thrown at construct time for input that cannot produce a working control plane.
 *
 * The message always names the prop, the offending value, what is allowed and how to fix it, so a
 * typo never reaches `terraform apply`.
 */
export class ConfigError extends Error {
  /** Dotted path of the offending prop, e.g. `etcd.memberCount`. */
  public readonly prop: string;
  /** The offending value as given. */
  public readonly value: unknown;

  constructor(prop: string, value: unknown, problem: string, fix: string) {
    super(`${prop} is ${describeValue(value)}: ${problem}; ${fix}`);
    this.name = "ConfigError";
    this.prop = prop;
    this.value = value;
    Object.setPrototypeOf(this, ConfigError.prototype);
  }
}

/** Renders a value for an error message: short, quoted strings, JSON for the rest. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") {
    const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    return JSON.stringify(shown);
  }
  if (value === undefined) return "undefined";
  try {
    const json = JSON.stringify(value);
    return json.length > 120 ? `${json.slice(0, 117)}...` : json;
  } catch {
    return String(value);
  }
}
