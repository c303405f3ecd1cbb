import { Construct } from "constructs";
import { PriorityClassV1 } from "@cdktf/provider-kubernetes/lib/priority-class-v1";
import { ConfigError } from "../errors";
import { MANAGED_BY_LABELS } from "./rbac";

/** What a pod of a priority class may do to lower-priority pods. */
export enum PreemptionPolicy {
  /** Evict lower-priority pods to make room (the Kubernetes default). */
  PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority",
  /** Wait ahead of lower-priority pods in the queue, never evict them. */
  NEVER = "Never",
}

/** One PriorityClass. */
export interface PriorityClassSpec {
  /** Name: a DNS subdomain not starting with `system-` (reserved for Kubernetes). */
  readonly name: string;
  /** Priority, at most 1000000000 (values above are reserved for `system-*` classes). */
  readonly value: number;
  /**
   * What it is for.
   * @default - none
   */
  readonly description?: string;
  /**
   * Whether pods of the class evict lower-priority pods to be scheduled; a value outside
   * {@link PreemptionPolicy} is a ConfigError.
   * @default PreemptionPolicy.PREEMPT_LOWER_PRIORITY
   */
  readonly preemptionPolicy?: PreemptionPolicy;
  /**
   * The class of pods that name none (at most one class may be the default).
   * @default false
   */
  readonly globalDefault?: boolean;
}

/** Highest value a user-defined PriorityClass may have. */
export const MAX_USER_PRIORITY = 1_000_000_000;

/**
 * Default classes for platform workloads: below `system-node-critical` (2000001000) and
 * `system-cluster-critical` (2000000000), above every application by default (0).
 */
export const DEFAULT_PRIORITY_CLASSES: readonly PriorityClassSpec[] = [
  {
    name: "platform-critical",
    value: MAX_USER_PRIORITY,
    description: "Platform components the cluster cannot serve without (CNI, DNS, ingress, admission policy)",
  },
  {
    name: "platform-high",
    value: 100_000_000,
    description: "Platform services that win over applications (monitoring, logging, autoscaling)",
  },
];

const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Validates priority classes: names, values, uniqueness, at most one global default. */
export function checkPriorityClasses(prop: string, classes: readonly PriorityClassSpec[]): void {
  const names = new Set<string>();
  let defaults = 0;
  classes.forEach((pc, i) => {
    const p = `${prop}[${i}]`;
    if (typeof pc.name !== "string" || !DNS_SUBDOMAIN.test(pc.name)) {
      throw new ConfigError(`${p}.name`, pc.name, "is not a lower-case DNS subdomain", 'use e.g. "platform-critical"');
    }
    if (pc.name.startsWith("system-")) {
      throw new ConfigError(`${p}.name`, pc.name, "the system- prefix is reserved for Kubernetes' own classes", `drop the prefix, e.g. "platform-${pc.name.slice(7)}"`);
    }
    if (names.has(pc.name)) throw new ConfigError(`${p}.name`, pc.name, "is listed twice", "give every class its own name");
    names.add(pc.name);
    if (typeof pc.value !== "number" || !Number.isInteger(pc.value) || pc.value < -2_147_483_648 || pc.value > MAX_USER_PRIORITY) {
      throw new ConfigError(`${p}.value`, pc.value, `must be a whole number up to ${MAX_USER_PRIORITY} (higher values are reserved for system-* classes)`, `use at most ${MAX_USER_PRIORITY}`);
    }
    if (pc.preemptionPolicy !== undefined && !Object.values(PreemptionPolicy).includes(pc.preemptionPolicy)) {
      throw new ConfigError(`${p}.preemptionPolicy`, pc.preemptionPolicy, "is not a preemption policy", "use PreemptionPolicy.PREEMPT_LOWER_PRIORITY or NEVER");
    }
    if (pc.description !== undefined && (typeof pc.description !== "string" || pc.description.length > 1024)) {
      throw new ConfigError(`${p}.description`, pc.description, "must be a string of at most 1024 characters", "shorten it");
    }
    if (pc.globalDefault === true) defaults++;
  });
  if (defaults > 1) {
    throw new ConfigError(prop, classes.filter((c) => c.globalDefault).map((c) => c.name), "marks more than one class globalDefault; the API server refuses the second", "mark at most one");
  }
}

/** Props of {@link PriorityClasses}. */
export interface PriorityClassesProps {
  /**
   * The PriorityClasses to create. Each name must be a lower-case DNS subdomain without the reserved
   * `system-` prefix, unique, with a whole-number value up to 1000000000; at most one may be
   * `globalDefault` (ConfigError otherwise).
   * @default DEFAULT_PRIORITY_CLASSES (platform-critical, platform-high)
   */
  readonly classes?: readonly PriorityClassSpec[];
}

/** PriorityClasses for platform workloads. */
export class PriorityClasses extends Construct {
  /** The classes by name. */
  public readonly byName: ReadonlyMap<string, PriorityClassV1>;

  constructor(scope: Construct, id: string, props: PriorityClassesProps = {}) {
    super(scope, id);
    const classes = props.classes ?? DEFAULT_PRIORITY_CLASSES;
    checkPriorityClasses("priorityClasses", classes);
    const byName = new Map<string, PriorityClassV1>();
    for (const pc of classes) {
      // The name is the construct id: renaming a class replaces it, which the API requires anyway.
      byName.set(
        pc.name,
        new PriorityClassV1(this, pc.name, {
          metadata: { name: pc.name, labels: { ...MANAGED_BY_LABELS } },
          value: pc.value,
          description: pc.description,
          preemptionPolicy: pc.preemptionPolicy ?? PreemptionPolicy.PREEMPT_LOWER_PRIORITY,
          globalDefault: pc.globalDefault ?? false,
        }),
      );
    }
    this.byName = byName;
  }
}
