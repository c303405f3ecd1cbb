/**
 * Architecture picture of a synthesized stack as a Mermaid flowchart.
 *
 * A pure renderer over the synthesized Terraform JSON (what `Testing.synth` returns, or
 * `cdktf.out/stacks/<stack>/cdk.tf.json`): it never walks a construct tree, so it draws what will
 * be deployed, including stacks built by hand or by another library version. It reads resources by
 * type and by the tags the library writes (role, slot, purpose), and follows `${type.name.attr}`
 * references; anything it cannot resolve (a subnet passed in by id) is drawn by its literal value.
 */
import { ConfigError } from "../errors";
import { ROLE_TAG, SLOT_TAG } from "../tags";

/** Direction of the flowchart. */
export enum DiagramDirection {
  /** Mermaid `flowchart TB`: zones stacked vertically, each zone's resources flowing downwards. */
  TOP_DOWN = "TB",
  /** Mermaid `flowchart LR`: zones side by side, wider than tall (suits a README page). */
  LEFT_RIGHT = "LR",
}

/** Options of {@link renderMermaid}. */
export interface DiagramOptions {
  /**
   * Direction of the flowchart.
   * @default DiagramDirection.TOP_DOWN
   */
  readonly direction?: DiagramDirection;
}

// The purpose tag EtcdCluster writes on data volumes and BootstrapBundles on bundle objects. Kept as
// literals so the renderer loads no construct (and no provider binding); the diagram tests check
// them against a synthesized stack.
const PURPOSE_TAG = "ha-control-plane/purpose";
const ETCD_DATA = "etcd-data";
const BOOTSTRAP_BUNDLE = "bootstrap-bundle";

type Config = Record<string, unknown>;
interface Resource {
  readonly type: string;
  readonly name: string;
  readonly config: Config;
}

/**
 * Renders a synthesized stack as a Mermaid flowchart: one subgraph per availability zone holding
 * its subnets, the API-server slots and etcd members with their fixed IPs (and etcd data volumes)
 * inside their subnets, the load balancers with their listener ports, one node per security group
 * with one edge per `aws_vpc_security_group_ingress_rule` (source → admitting group, labelled with
 * protocol and port range), and the etcd backup bucket, the bootstrap-bundle bucket and the alarm
 * topic. The output is deterministic (everything sorted) and every label is escaped for Mermaid.
 *
 * @param synthJson - the synthesized stack: the parsed JSON of `Testing.synth(stack)` or of
 *   `cdktf.out/stacks/<stack>/cdk.tf.json`
 * @param options - rendering options
 * @returns the flowchart source: a `%%` comment line saying it is generated, then `flowchart TB`
 *   (or `LR`) and the graph, ending with a newline
 * @throws ConfigError when `synthJson` is not a synthesized stack (no `resource` object)
 */
export function renderMermaid(synthJson: object, options: DiagramOptions = {}): string {
  const direction = options.direction ?? DiagramDirection.TOP_DOWN;
  if (!Object.values(DiagramDirection).includes(direction)) {
    throw new ConfigError("direction", direction, "is not a DiagramDirection", "use DiagramDirection.TOP_DOWN or DiagramDirection.LEFT_RIGHT");
  }
  const model = new StackModel(synthJson);
  return new Renderer(model, direction).render();
}

/** Indexes the resources of a synthesized stack and resolves references between them. */
class StackModel {
  private readonly byType = new Map<string, Resource[]>();

  constructor(synthJson: object) {
    const resource = isObject(synthJson) ? synthJson.resource : undefined;
    if (!isObject(resource)) {
      throw new ConfigError(
        "synthJson",
        synthJson,
        "is not a synthesized stack (no \"resource\" object)",
        "pass the parsed JSON of Testing.synth(stack) or of cdktf.out/stacks/<stack>/cdk.tf.json",
      );
    }
    for (const type of Object.keys(resource).sort()) {
      const instances = resource[type];
      if (!isObject(instances)) continue;
      const list: Resource[] = [];
      for (const name of Object.keys(instances).sort()) {
        const config = instances[name];
        if (isObject(config)) list.push({ type, name, config });
      }
      this.byType.set(type, list);
    }
  }

  /** Resources of one type, sorted by name. */
  public all(type: string): Resource[] {
    return this.byType.get(type) ?? [];
  }

  /** The resource a `${type.name.attr}` reference points to, if it is in this stack. */
  public follow(value: unknown): Resource | undefined {
    const ref = parseRef(value);
    if (!ref) return undefined;
    return this.all(ref.type).find((r) => r.name === ref.name);
  }
}

/** A `${type.name.attr}` reference, or undefined for a literal or a composite expression. */
function parseRef(value: unknown): { type: string; name: string } | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.[a-z_]+\}$/.exec(value);
  return m ? { type: m[1], name: m[2] } : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

function tagsOf(config: Config): Record<string, unknown> {
  return isObject(config.tags) ? config.tags : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

/**
 * Escapes text for a quoted Mermaid label. Mermaid reads `#name;` / `#code;` as entities, so `#`,
 * the quote that ends the label and the characters an HTML label would interpret become entities;
 * a line break becomes a space.
 *
 * @param text - the label text as it should read
 * @returns the text to put between the quotes of a Mermaid node, subgraph or edge label
 */
export function escapeMermaidLabel(text: string): string {
  return text
    .replace(/#/g, "#35;")
    .replace(/"/g, "#quot;")
    .replace(/&/g, "#amp;")
    .replace(/</g, "#lt;")
    .replace(/>/g, "#gt;")
    .replace(/[\r\n]+/g, " ");
}

/** A quoted label from lines (joined with Mermaid's line break). */
function label(...lines: string[]): string {
  return `"${lines.map(escapeMermaidLabel).join("<br/>")}"`;
}

/** A Mermaid node id from a resource: only `[A-Za-z0-9_]`, prefixed so no id is a keyword. */
function nodeId(prefix: string, name: string): string {
  return `${prefix}_${name.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** "tcp 6443", "tcp 1024-65535", "icmp type 3 code 4", "all traffic". */
function portLabel(rule: Config): string {
  const protocol = str(rule.ip_protocol) ?? "?";
  const from = str(rule.from_port);
  const to = str(rule.to_port);
  if (protocol === "-1" || protocol === "all") return "all traffic";
  if (protocol === "icmp" || protocol === "1" || protocol === "icmpv6" || protocol === "58") {
    const name = protocol === "icmpv6" || protocol === "58" ? "icmpv6" : "icmp";
    if (from === undefined || from === "-1") return `${name} all types`;
    return to === undefined || to === "-1" ? `${name} type ${from}` : `${name} type ${from} code ${to}`;
  }
  if (from === undefined) return `${protocol} all ports`;
  return from === to || to === undefined ? `${protocol} ${from}` : `${protocol} ${from}-${to}`;
}

interface Slot {
  readonly id: string;
  readonly lines: string[];
  readonly subnetKey: string;
  readonly groups: string[];
  /** Zone of the slot's etcd data volume, if it has one (places subnets the stack only references by id). */
  readonly zone?: string;
}

class Renderer {
  private readonly out: string[] = [];

  constructor(
    private readonly model: StackModel,
    private readonly direction: DiagramDirection,
  ) {}

  public render(): string {
    this.out.push("%% Generated from a synthesized stack by renderMermaid (cdktf-ha-control-plane). Do not edit: run `npm run diagram`.");
    this.out.push(`flowchart ${this.direction}`);
    const groupIds = this.securityGroupIds();
    const slots = this.slots();
    const subnets = this.subnets();
    const lbs = this.loadBalancers();
    const nats = this.natGateways();

    const vpcs = this.model.all("aws_vpc");
    // An existing VPC is named by the literal vpc_id its security groups carry.
    const existing = [...new Set(this.model.all("aws_security_group").map((g) => g.config.vpc_id).filter((v) => this.model.follow(v) === undefined).map(str))];
    const vpcTitle =
      vpcs.length === 1 ? `VPC ${str(vpcs[0].config.cidr_block) ?? ""}`.trim() : vpcs.length === 0 && existing.length === 1 && existing[0] !== undefined ? `existing VPC ${existing[0]}` : "VPC";
    this.out.push(`  subgraph vpc[${label(vpcTitle)}]`);
    for (const lb of lbs) this.out.push(`    ${lb.id}[${label(...lb.lines)}]`);

    // Zones: from the subnets of the stack, plus a group for subnets it only references by id.
    const zones = new Map<string, { key: string; title: string }[]>();
    for (const subnet of subnets.values()) {
      const zone = subnet.zone ?? "";
      zones.set(zone, [...(zones.get(zone) ?? []), subnet]);
    }
    for (const slot of slots) {
      if (!subnets.has(slot.subnetKey)) {
        const zone = slots.find((s) => s.subnetKey === slot.subnetKey && s.zone !== undefined)?.zone;
        const subnet = { key: slot.subnetKey, title: `subnet ${slot.subnetKey}`, zone };
        subnets.set(slot.subnetKey, subnet);
        zones.set(zone ?? "", [...(zones.get(zone ?? "") ?? []), subnet]);
      }
    }
    for (const zone of [...zones.keys()].sort()) {
      const zoneId = zone === "" ? "zone_unknown" : nodeId("zone", zone);
      this.out.push(`    subgraph ${zoneId}[${label(zone === "" ? "zone not declared in this stack" : zone)}]`);
      const inZone = [...(zones.get(zone) ?? [])].sort((a, b) => a.key.localeCompare(b.key));
      for (const subnet of inZone) {
        const members = [
          ...slots.filter((s) => s.subnetKey === subnet.key).map((s) => ({ id: s.id, lines: s.lines })),
          ...nats.filter((n) => n.subnetKey === subnet.key),
        ];
        const subnetId = nodeId("subnet", subnet.key);
        if (members.length === 0) {
          this.out.push(`      ${subnetId}[${label(subnet.title)}]`);
          continue;
        }
        this.out.push(`      subgraph ${subnetId}[${label(subnet.title)}]`);
        for (const m of members) this.out.push(`        ${m.id}[${label(...m.lines)}]`);
        this.out.push("      end");
      }
      this.out.push("    end");
    }
    this.out.push("  end");

    this.securityGroups(groupIds, slots, lbs);
    this.regionalServices();
    return `${this.out.join("\n")}\n`;
  }

  private securityGroupIds(): Map<string, string> {
    const ids = new Map<string, string>();
    for (const sg of this.model.all("aws_security_group")) ids.set(sg.name, nodeId("sg", sg.name));
    return ids;
  }

  /** Key of a group reference: the resource name when in the stack, else the literal value. */
  private groupKey(value: unknown): string | undefined {
    const target = this.model.follow(value);
    if (target?.type === "aws_security_group") return target.name;
    return str(value);
  }

  private subnetKey(value: unknown): string {
    const target = this.model.follow(value);
    if (target?.type === "aws_subnet") return target.name;
    return str(value) ?? "?";
  }

  private subnets(): Map<string, { key: string; title: string; zone: string | undefined }> {
    const out = new Map<string, { key: string; title: string; zone: string | undefined }>();
    for (const subnet of this.model.all("aws_subnet")) {
      const name = str(tagsOf(subnet.config).Name) ?? subnet.name;
      const cidr = str(subnet.config.cidr_block) ?? "";
      out.set(subnet.name, { key: subnet.name, title: `subnet ${name} ${cidr}`.trim(), zone: str(subnet.config.availability_zone) });
    }
    return out;
  }

  /** API-server slots and etcd members: the fixed-address ENIs the library tags with a role and slot. */
  private slots(): Slot[] {
    const volumes = this.model.all("aws_ebs_volume").filter((v) => tagsOf(v.config)[PURPOSE_TAG] === ETCD_DATA);
    const out: Slot[] = [];
    for (const eni of this.model.all("aws_network_interface")) {
      const tags = tagsOf(eni.config);
      const role = str(tags[ROLE_TAG]);
      if (role !== "apiserver" && role !== "etcd") continue;
      const slot = str(tags[SLOT_TAG]) ?? eni.name;
      const ips = list(eni.config.private_ips).map(str).filter((ip): ip is string => ip !== undefined);
      const volume = volumes.find((v) => str(tagsOf(v.config)[SLOT_TAG]) === slot);
      const lines = [role === "etcd" ? `etcd member ${slot}` : volume ? `API server + etcd member ${slot}` : `API server slot ${slot}`, ips.join(", ") || "address assigned at apply"];
      if (volume) {
        const type = str(volume.config.type) ?? "";
        const size = str(volume.config.size);
        lines.push(`etcd data volume ${type} ${size === undefined ? "" : `${size} GiB`}`.replace(/\s+/g, " ").trim());
      }
      const groups = list(eni.config.security_groups)
        .map((g) => this.groupKey(g))
        .filter((g): g is string => g !== undefined);
      const zone = volume ? str(volume.config.availability_zone) : undefined;
      out.push({ id: nodeId(role === "etcd" ? "etcd" : "api", eni.name), lines, subnetKey: this.subnetKey(eni.config.subnet_id), groups, zone });
    }
    return out;
  }

  private loadBalancers(): { id: string; lines: string[]; groups: string[] }[] {
    const listeners = this.model.all("aws_lb_listener");
    return this.model.all("aws_lb").map((lb) => {
      const type = str(lb.config.load_balancer_type) ?? "application";
      const kind = type === "network" ? "NLB" : type === "gateway" ? "GWLB" : "ALB";
      const scheme = lb.config.internal === true ? "internal" : "internet-facing";
      const ports = listeners
        .filter((l) => this.model.follow(l.config.load_balancer_arn)?.name === lb.name)
        .map((l) => `listener ${str(l.config.protocol) ?? ""} ${str(l.config.port) ?? ""}`.replace(/\s+/g, " ").trim());
      const groups = list(lb.config.security_groups)
        .map((g) => this.groupKey(g))
        .filter((g): g is string => g !== undefined);
      return { id: nodeId("lb", lb.name), lines: [`${kind} ${str(lb.config.name) ?? lb.name} (${scheme})`, ...ports], groups };
    });
  }

  private natGateways(): { id: string; lines: string[]; subnetKey: string }[] {
    return this.model.all("aws_nat_gateway").map((nat) => ({ id: nodeId("nat", nat.name), lines: ["NAT gateway"], subnetKey: this.subnetKey(nat.config.subnet_id) }));
  }

  /** One node per group, members linked to it, one edge per ingress rule: source → admitting group. */
  private securityGroups(groupIds: Map<string, string>, slots: Slot[], lbs: { id: string; groups: string[] }[]): void {
    const external = new Map<string, string>();
    // A group of the stack by its node id; a group the stack only references by id gets its own node.
    const groupNode = (key: string): string => {
      const declared = groupIds.get(key);
      if (declared !== undefined) return declared;
      const id = nodeId("sgext", key);
      external.set(id, key);
      return id;
    };
    for (const sg of this.model.all("aws_security_group")) {
      this.out.push(`  ${groupIds.get(sg.name)}{{${label(`security group ${str(sg.config.name) ?? sg.name}`)}}}`);
    }
    // Membership: which group each load balancer and slot is in (dotted, unlabelled).
    const members = [...lbs, ...slots].flatMap((m) => m.groups.map((g) => `  ${m.id} -.- ${groupNode(g)}`));
    const sources = new Map<string, string>();
    const edges: string[] = [];
    for (const rule of this.model.all("aws_vpc_security_group_ingress_rule")) {
      const target = this.groupKey(rule.config.security_group_id);
      if (target === undefined) continue;
      let sourceId: string;
      const ref = rule.config.referenced_security_group_id;
      if (ref !== undefined) {
        sourceId = groupNode(this.groupKey(ref) ?? "?");
      } else {
        const text = str(rule.config.cidr_ipv4) ?? str(rule.config.cidr_ipv6) ?? str(rule.config.prefix_list_id) ?? "any source";
        sourceId = nodeId("src", text);
        sources.set(sourceId, text);
      }
      edges.push(`  ${sourceId} -->|${label(portLabel(rule.config))}| ${groupNode(target)}`);
    }
    for (const [id, key] of [...external.entries()].sort(([a], [b]) => a.localeCompare(b))) this.out.push(`  ${id}{{${label(`security group ${key}`)}}}`);
    for (const [id, text] of [...sources.entries()].sort(([a], [b]) => a.localeCompare(b))) this.out.push(`  ${id}([${label(text)}])`);
    this.out.push(...members, ...edges);
  }

  /** Buckets and the alarm topic: regional services outside the VPC. */
  private regionalServices(): void {
    const bundleBuckets = new Set(
      this.model
        .all("aws_s3_object")
        .filter((o) => tagsOf(o.config)[PURPOSE_TAG] === BOOTSTRAP_BUNDLE)
        .map((o) => this.model.follow(o.config.bucket)?.name)
        .filter((n): n is string => n !== undefined),
    );
    const lines: string[] = [];
    for (const bucket of this.model.all("aws_s3_bucket")) {
      const name = str(bucket.config.bucket) ?? str(bucket.config.bucket_prefix) ?? bucket.name;
      // The etcd backup bucket is the one with S3 Object Lock (snapshots cannot be deleted early).
      const purpose = bundleBuckets.has(bucket.name) ? "bootstrap bundles" : bucket.config.object_lock_enabled === true ? "etcd backups" : "bucket";
      lines.push(`    ${nodeId("s3", bucket.name)}[(${label(`S3 ${purpose}`, name)})]`);
    }
    const alarms = this.model.all("aws_cloudwatch_metric_alarm");
    for (const topic of this.model.all("aws_sns_topic")) {
      const count = alarms.filter((a) => list(a.config.alarm_actions).some((x) => this.model.follow(x)?.name === topic.name)).length;
      const name = str(topic.config.name) ?? topic.name;
      lines.push(`    ${nodeId("sns", topic.name)}[${label(`SNS alarm topic ${name}`, `${count} CloudWatch alarm${count === 1 ? "" : "s"}`)}]`);
    }
    if (lines.length === 0) return;
    this.out.push(`  subgraph regional[${label("regional services")}]`, ...lines, "  end");
  }
}
