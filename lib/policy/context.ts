/**
 * The synthesized stack as rules see it: every resource, data source, output and local of one
 * stack's Terraform JSON (what `TerraformStack.toTerraform()` returns, tokens resolved to `${...}`
 * expressions), with helpers to follow references between them.
 */
import { asRecord } from "./values";

/** Whether an element is a managed resource or a data source. */
export enum ElementKind {
  /** `resource "type" "name"`. */
  RESOURCE = "resource",
  /** `data "type" "name"`. */
  DATA = "data",
}

/** One resource or data source in its synthesized form. */
export interface ResourceView {
  /** Resource or data source. */
  readonly kind: ElementKind;
  /** Terraform type, e.g. `aws_subnet`. */
  readonly type: string;
  /** Logical name in the JSON, e.g. `ControlPlane_Network_PrivateSubnet0_7FD18886`. */
  readonly name: string;
  /** Terraform address: `aws_subnet.<name>` or `data.aws_subnet.<name>`. */
  readonly address: string;
  /**
   * Construct path, from the element's `//` metadata.
   * @default - undefined for elements added as raw overrides (no metadata)
   */
  readonly path?: string;
  /**
   * Attributes and meta-arguments exactly as synthesized (snake_case, blocks as objects or lists,
   * references as `${...}` strings), without the `//` metadata.
   */
  readonly config: Readonly<Record<string, unknown>>;
}

/** One Terraform output. */
export interface OutputView {
  /** Logical name in the JSON, e.g. `ControlPlane_api_shutdown_delay_seconds_6BA81E6F`. */
  readonly name: string;
  /** Construct id, e.g. `api_shutdown_delay_seconds`. */
  readonly id: string;
  /**
   * Construct path, from the output's `//` metadata.
   * @default - undefined when the output carries no metadata
   */
  readonly path?: string;
  /** The synthesized value. */
  readonly value: unknown;
}

/** Where a reference found in a value points. */
export interface ReferenceTarget {
  /**
   * The resource or data source referenced.
   * @default - undefined when the reference is a local
   */
  readonly element?: ResourceView;
  /**
   * The local referenced (`local.<name>`).
   * @default - undefined when the reference is a resource or data source
   */
  readonly local?: string;
  /**
   * The first attribute after the address, e.g. `id`, `names`, `private_key_pem`.
   * @default - undefined when the whole element or local is referenced
   */
  readonly attribute?: string;
  /** The matched reference text, e.g. `aws_subnet.a.id`. */
  readonly expression: string;
}

/** Key under which a rule's `appliesTo` names a view: `aws_subnet` or `data.aws_subnet`. */
export function typeKeyOf(view: ResourceView): string {
  return view.kind === ElementKind.DATA ? `data.${view.type}` : view.type;
}

const REFERENCE = /(?<![\w.$-])(data\.)?([a-z][a-z0-9]*_[a-z0-9_]*)\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?(?:\.([A-Za-z_]\w*))?/g;
const LOCAL = /(?<![\w.$-])local\.([A-Za-z_][\w-]*)/g;
const EXACT = /^\$\{((?:data\.)?[a-z][a-z0-9]*_[a-z0-9_]*\.[A-Za-z_][\w-]*)(?:\[[^\]]*\])?(?:\.([A-Za-z_]\w*))?(?:\.\w+|\[[^\]]*\])*\}$/;

/**
 * The bodies of the `${ ... }` interpolations in a string (outermost ones; quoted strings and
 * nested braces inside them are kept). `$${` is Terraform's escape for a literal `${` and is skipped.
 */
export function interpolations(text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < text.length - 1; i++) {
    if (text[i] !== "$" || text[i + 1] !== "{") continue;
    if (i > 0 && text[i - 1] === "$") continue;
    let depth = 1;
    let inString = false;
    let j = i + 2;
    for (; j < text.length && depth > 0; j++) {
      const c = text[j];
      if (inString) {
        if (c === "\\") j++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === "{") depth++;
      else if (c === "}") depth--;
    }
    found.push(text.slice(i + 2, depth === 0 ? j - 1 : j));
    i = j - 1;
  }
  return found;
}

/** All resources, data sources, outputs and locals of one synthesized stack. */
export class PolicyContext {
  /**
   * Reads a stack's synthesized JSON (`TerraformStack.toTerraform()`, or a parsed `cdk.tf.json`).
   * Elements keep the order of the JSON, which is the construct order within each type.
   */
  public static fromSynthesizedJson(json: unknown): PolicyContext {
    return new PolicyContext(asRecord(json) ?? {});
  }

  /** Every resource and data source, resources first. */
  public readonly resources: readonly ResourceView[];
  /** Every output. */
  public readonly outputs: readonly OutputView[];
  /** Every local, by name. */
  public readonly locals: Readonly<Record<string, unknown>>;

  private readonly byAddr = new Map<string, ResourceView>();
  private readonly byType = new Map<string, ResourceView[]>();
  private readonly memos = new Map<string, unknown>();

  private constructor(json: Record<string, unknown>) {
    const views: ResourceView[] = [];
    for (const kind of [ElementKind.RESOURCE, ElementKind.DATA]) {
      for (const [type, byName] of Object.entries(asRecord(json[kind]) ?? {})) {
        for (const [name, raw] of Object.entries(asRecord(byName) ?? {})) {
          const body = asRecord(raw) ?? {};
          const { "//": meta, ...config } = body;
          const path = asRecord(asRecord(meta)?.metadata)?.path;
          views.push({
            kind,
            type,
            name,
            address: kind === ElementKind.DATA ? `data.${type}.${name}` : `${type}.${name}`,
            path: typeof path === "string" ? path : undefined,
            config,
          });
        }
      }
    }
    for (const v of views) {
      this.byAddr.set(v.address, v);
      const key = typeKeyOf(v);
      this.byType.set(key, [...(this.byType.get(key) ?? []), v]);
    }
    this.resources = views;
    this.locals = asRecord(json.locals) ?? {};

    const paths = new Map<string, string>();
    const walk = (node: unknown, trail: string[]): void => {
      if (typeof node === "string") paths.set(node, trail.join("/"));
      else for (const [k, v] of Object.entries(asRecord(node) ?? {})) walk(v, [...trail, k]);
    };
    walk(asRecord(json["//"])?.outputs, []);
    this.outputs = Object.entries(asRecord(json.output) ?? {}).map(([name, body]) => {
      const path = paths.get(name);
      return { name, id: path !== undefined ? path.split("/").pop()! : name, path, value: asRecord(body)?.value };
    });
  }

  /** Resources of a Terraform type (`aws_subnet`), or data sources (`data.aws_subnet`). */
  public ofType(type: string): readonly ResourceView[] {
    return this.byType.get(type) ?? [];
  }

  /** The resource (`aws_x.name`) or data source (`data.aws_x.name`) at an address. */
  public byAddress(address: string): ResourceView | undefined {
    return this.byAddr.get(address);
  }

  /** Outputs whose construct id (or logical name) is `id`. */
  public outputsNamed(id: string): readonly OutputView[] {
    return this.outputs.filter((o) => o.id === id || o.name === id);
  }

  /**
   * The target of a value that is exactly one reference (`${aws_subnet.a.id}`,
   * `${data.aws_vpc.v.cidr_block}`, with an optional `[index]`), if it names an element of the stack.
   */
  public reference(value: unknown): ReferenceTarget | undefined {
    if (typeof value !== "string") return undefined;
    const m = EXACT.exec(value);
    if (!m) return undefined;
    const element = this.byAddr.get(m[1]);
    return element ? { element, attribute: m[2], expression: value.slice(2, -1) } : undefined;
  }

  /** The element a value references exactly (see `reference`). */
  public follow(value: unknown): ResourceView | undefined {
    return this.reference(value)?.element;
  }

  /**
   * Every reference to an element or local of the stack found anywhere in `value` (strings inside
   * nested objects and lists included), in order of appearance.
   */
  public references(value: unknown): ReferenceTarget[] {
    const found: ReferenceTarget[] = [];
    const scan = (v: unknown): void => {
      if (typeof v === "string") {
        for (const body of interpolations(v)) {
          for (const m of body.matchAll(REFERENCE)) {
            const address = `${m[1] ?? ""}${m[2]}.${m[3]}`;
            const element = this.byAddr.get(address);
            if (element) found.push({ element, attribute: m[4], expression: m[0] });
          }
          for (const m of body.matchAll(LOCAL)) {
            if (m[1] in this.locals) found.push({ local: m[1], expression: m[0] });
          }
        }
      } else if (Array.isArray(v)) v.forEach(scan);
      else if (v !== null && typeof v === "object") Object.values(v).forEach(scan);
    };
    scan(value);
    return found;
  }

  /** Computes a stack-wide value once per context (for helpers shared by several rules). */
  public memo<T>(key: string, compute: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, compute());
    return this.memos.get(key) as T;
  }
}
