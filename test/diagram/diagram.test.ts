/**
 * renderMermaid (lib/diagram): the architecture picture of a synthesized stack. Every diagram is
 * parsed by the real Mermaid parser (./parse.ts) and the assertions read what Mermaid understood
 * (vertices, edges, subgraphs), checked against the synthesized JSON: zones, subnets and
 * addresses come from the aws_subnet / aws_network_interface resources, edges from the
 * aws_vpc_security_group_ingress_rule resources. docs/architecture.mmd must be what
 * `npm run diagram` writes today.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { App, Testing } from "../../lib/core";
import { ConfigError, DiagramDirection, escapeMermaidLabel, renderMermaid } from "../../lib";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { ExistingVpcStack } from "../../examples/existing-vpc/main";
import { EtcdTopology, HaControlPlane } from "../helpers/reference";
import { FoundResource, SynthJson, follow, resources, synth, synthStack } from "../helpers/synth";
import { ParsedFlowchart, ParsedSubgraph, linesOf, parseMermaid, parseMermaidAhead } from "./parse";

const ROOT = path.resolve(__dirname, "../..");
const ROLE = "ha-control-plane/role";
const SLOT = "ha-control-plane/slot";

function tag(r: FoundResource, key: string): string | undefined {
  return (r.props.tags ?? {})[key];
}

/** The AWS rule notation: a port or port range for TCP/UDP; for ICMP from_port is the type and to_port the code. */
function expectedPorts(rule: FoundResource): string {
  const { ip_protocol: protocol, from_port: from, to_port: to } = rule.props;
  if (protocol === "icmp") return `icmp type ${from} code ${to}`;
  return from === to ? `${protocol} ${from}` : `${protocol} ${from}-${to}`;
}

function vertexText(chart: ParsedFlowchart, id: string): string {
  const v = chart.vertices.find((x) => x.id === id);
  if (!v) throw new Error(`no vertex ${id}`);
  return v.text;
}

/** The subgraph that directly contains `id`. */
function parentOf(chart: ParsedFlowchart, id: string): ParsedSubgraph | undefined {
  return chart.subgraphs.find((s) => s.nodes.includes(id));
}

/** Checks every slot ENI of `role` appears once with its address, in its subnet, in its zone. */
function expectSlots(json: SynthJson, chart: ParsedFlowchart, role: string): FoundResource[] {
  const enis = resources(json, "aws_network_interface").filter((e) => tag(e, ROLE) === role);
  for (const eni of enis) {
    const [ip] = eni.props.private_ips as string[];
    const holders = chart.vertices.filter((v) => linesOf(v.text).includes(ip));
    expect(holders).toHaveLength(1);
    expect(holders[0].text).toContain(tag(eni, SLOT)!);
    const subnet = follow(json, eni.props.subnet_id);
    const subnetGraph = parentOf(chart, holders[0].id);
    expect(subnetGraph?.title).toContain(subnet.props.cidr_block);
    expect(parentOf(chart, subnetGraph!.id)?.title).toBe(subnet.props.availability_zone);
  }
  return enis;
}

/** Ingress rules as (source, admitting group, ports), sources named as the picture names them. */
function expectedRuleEdges(json: SynthJson): string[] {
  return resources(json, "aws_vpc_security_group_ingress_rule").map((rule) => {
    const target = `security group ${follow(json, rule.props.security_group_id).props.name}`;
    const source = rule.props.referenced_security_group_id ? `security group ${follow(json, rule.props.referenced_security_group_id).props.name}` : rule.props.cidr_ipv4;
    return `${source} --${expectedPorts(rule)}--> ${target}`;
  });
}

function drawnRuleEdges(chart: ParsedFlowchart): string[] {
  return chart.edges.filter((e) => e.stroke === "normal").map((e) => `${vertexText(chart, e.start)} --${e.text}--> ${vertexText(chart, e.end)}`);
}

// The stacks of this file, synthesized once; their diagrams go through one Mermaid process.
const stack = new HaClusterStack(Testing.app(), "ha-cluster");
const json = synthStack(stack);
const text = renderMermaid(json);
const stackedJson = synth((s) => {
  new HaControlPlane(s, "ControlPlane", {
    clusterName: "stacked",
    kubernetesVersion: "1.33.5",
    vpcCidr: "10.0.0.0/16",
    availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    apiServerCount: 3,
    etcdTopology: EtcdTopology.STACKED,
    amiId: "ami-0a422d70f727fe93e",
  });
});
const existingVpcJson = synthStack(new ExistingVpcStack(Testing.app(), "existing-vpc"));
const nasty = `a "quoted" #1 <b>&amp; end subgraph`;
const nastyJson = structuredClone(json);
const [nastySg] = resources(nastyJson, "aws_security_group");
nastyJson.resource!.aws_security_group[nastySg.name].name = nasty;
const leftRight = renderMermaid(json, { direction: DiagramDirection.LEFT_RIGHT });
parseMermaidAhead([text, renderMermaid(stackedJson), renderMermaid(existingVpcJson), renderMermaid(nastyJson), leftRight]);

describe("renderMermaid on the reference example (examples/ha-cluster)", () => {
  const chart = parseMermaid(text);

  it("is a flowchart the real Mermaid parser accepts", () => {
    expect(chart.type).toBe("flowchart-v2");
    expect(chart.direction).toBe("TB");
    expect(text.endsWith("\n")).toBe(true);
  });

  it("draws every zone of the stack as a subgraph holding its subnets", () => {
    const subnets = resources(json, "aws_subnet");
    const zones = [...new Set(subnets.map((s) => s.props.availability_zone as string))].sort();
    expect(zones).toEqual(["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
    for (const zone of zones) {
      const graphs = chart.subgraphs.filter((s) => s.title === zone);
      expect(graphs).toHaveLength(1);
      const titles = [...graphs[0].nodes.map((id) => chart.subgraphs.find((s) => s.id === id)?.title ?? vertexText(chart, id))].sort();
      const want = subnets.filter((s) => s.props.availability_zone === zone).map((s) => `subnet ${s.props.tags.Name} ${s.props.cidr_block}`).sort();
      expect(titles).toEqual(want);
    }
  });

  it("shows every API-server slot once with its fixed IP, in its subnet and zone", () => {
    expect(expectSlots(json, chart, "apiserver")).toHaveLength(3);
  });

  it("shows every etcd member once with its fixed IP and its data volume", () => {
    const members = expectSlots(json, chart, "etcd");
    expect(members).toHaveLength(3);
    for (const eni of members) {
      const volume = resources(json, "aws_ebs_volume").find((v) => tag(v, SLOT) === tag(eni, SLOT))!;
      const vertex = chart.vertices.find((v) => linesOf(v.text).includes(eni.props.private_ips[0]))!;
      expect(linesOf(vertex.text)).toContain(`etcd data volume ${volume.props.type} ${volume.props.size} GiB`);
    }
  });

  it("draws every security-group ingress rule as one edge from its source to the admitting group, labelled with its ports", () => {
    const want = expectedRuleEdges(json).sort();
    expect(want).toHaveLength(15);
    expect(drawnRuleEdges(chart).sort()).toEqual(want);
    // A few read straight from the Kubernetes and etcd port tables, not from the synthesized rules.
    expect(want).toEqual(
      expect.arrayContaining([
        "security group prod-eu1-api-lb --tcp 6443--> security group prod-eu1-apiserver",
        "security group prod-eu1-apiserver --tcp 2379--> security group prod-eu1-etcd",
        "security group prod-eu1-etcd --tcp 2380--> security group prod-eu1-etcd",
        "security group prod-eu1-apiserver --tcp 10250--> security group prod-eu1-nodes",
        "10.20.0.0/16 --tcp 6443--> security group prod-eu1-api-lb",
      ]),
    );
  });

  it("links the load balancer and every slot to the security groups they are in", () => {
    const dotted = chart.edges.filter((e) => e.stroke === "dotted").map((e) => `${vertexText(chart, e.start)} -.- ${vertexText(chart, e.end)}`);
    const want = resources(json, "aws_network_interface").flatMap((eni) =>
      (eni.props.security_groups as string[]).map((g) => `${chart.vertices.find((v) => linesOf(v.text).includes(eni.props.private_ips[0]))!.text} -.- security group ${follow(json, g).props.name}`),
    );
    expect(dotted).toEqual(expect.arrayContaining(want));
    expect(dotted).toContain(`NLB prod-eu1-api-int (internal)<br>listener TCP 6443 -.- security group prod-eu1-api-lb`);
  });

  it("shows the NLB with its listener port", () => {
    const [listener] = resources(json, "aws_lb_listener");
    const lb = follow(json, listener.props.load_balancer_arn);
    const vertex = chart.vertices.filter((v) => v.text.startsWith(`NLB ${lb.props.name} `));
    expect(vertex).toHaveLength(1);
    expect(linesOf(vertex[0].text)).toContain(`listener ${listener.props.protocol} ${listener.props.port}`);
  });

  it("shows the etcd backup bucket, the bootstrap-bundle bucket and the alarm topic", () => {
    const backups = json.resource!.aws_s3_bucket[stack.getLogicalId(stack.controlPlane.etcdBackups!.bucket)];
    const bundles = json.resource!.aws_s3_bucket[stack.getLogicalId(stack.controlPlane.bootstrapBundles.bucket!)];
    const texts = chart.vertices.map((v) => v.text);
    expect(texts).toContain(`S3 etcd backups<br>${backups.bucket}`);
    expect(texts).toContain(`S3 bootstrap bundles<br>${bundles.bucket}`);
    const [topic] = resources(json, "aws_sns_topic");
    const alarms = resources(json, "aws_cloudwatch_metric_alarm").filter((a) => (a.props.alarm_actions ?? []).some((x: string) => x.includes(`aws_sns_topic.${topic.name}.`)));
    expect(alarms.length).toBeGreaterThan(0);
    expect(texts).toContain(`SNS alarm topic ${topic.props.name}<br>${alarms.length} CloudWatch alarms`);
  });

  it("renders the same text from the cdk.tf.json a real `cdktf synth` writes", () => {
    const outdir = mkdtempSync(path.join(tmpdir(), "ha-cp-diagram-test-"));
    try {
      const app = new App({ outdir });
      new HaClusterStack(app, "ha-cluster");
      app.synth();
      const written = JSON.parse(readFileSync(path.join(outdir, "stacks", "ha-cluster", "cdk.tf.json"), "utf8"));
      expect(renderMermaid(written)).toBe(text);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("is deterministic: the order of types and resources in the JSON does not matter", () => {
    const reversed = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).reverse());
    const shuffled = { ...json, resource: reversed(Object.fromEntries(Object.entries(json.resource!).map(([t, m]) => [t, reversed(m)]))) };
    expect(Object.keys(shuffled.resource)[0]).not.toBe(Object.keys(json.resource!)[0]);
    expect(renderMermaid(shuffled)).toBe(text);
  });

  it("docs/architecture.mmd is what `npm run diagram` writes from the current sources", () => {
    const committed = readFileSync(path.join(ROOT, "docs", "architecture.mmd"), "utf8");
    // Run `npm run diagram` and commit docs/architecture.mmd when this fails.
    expect(committed).toBe(text);
  });
});

describe("renderMermaid on other shapes", () => {
  it("renders a stacked-topology stack: each API server slot carries an etcd member, its data volume and both groups", () => {
    const json = stackedJson;
    const chart = parseMermaid(renderMermaid(json));
    const slots = expectSlots(json, chart, "apiserver");
    expect(slots).toHaveLength(3);
    expect(resources(json, "aws_network_interface").filter((e) => tag(e, ROLE) === "etcd")).toHaveLength(0);
    for (const eni of slots) {
      const vertex = chart.vertices.find((v) => linesOf(v.text).includes(eni.props.private_ips[0]))!;
      expect(linesOf(vertex.text)[0]).toBe(`API server + etcd member ${tag(eni, SLOT)}`);
      expect(linesOf(vertex.text)).toContain("etcd data volume gp3 20 GiB");
      const groups = chart.edges.filter((e) => e.start === vertex.id && e.stroke === "dotted").map((e) => vertexText(chart, e.end)).sort();
      expect(groups).toEqual(["security group stacked-apiserver", "security group stacked-etcd"]);
    }
    expect(drawnRuleEdges(chart).sort()).toEqual(expectedRuleEdges(json).sort());
  });

  it("places slots in subnets the stack only references by id (existing VPC) in the zone of their etcd volumes", () => {
    const json = existingVpcJson;
    const chart = parseMermaid(renderMermaid(json));
    expect(resources(json, "aws_subnet")).toHaveLength(0);
    for (const eni of resources(json, "aws_network_interface").filter((e) => tag(e, ROLE) === "etcd")) {
      const vertex = chart.vertices.find((v) => linesOf(v.text).includes(eni.props.private_ips[0]))!;
      const subnetGraph = parentOf(chart, vertex.id)!;
      expect(subnetGraph.title).toBe(`subnet ${eni.props.subnet_id}`);
      const volume = resources(json, "aws_ebs_volume").find((v) => tag(v, SLOT) === tag(eni, SLOT))!;
      expect(parentOf(chart, subnetGraph.id)?.title).toBe(volume.props.availability_zone);
    }
    expect(chart.subgraphs.find((s) => s.id === "vpc")?.title).toBe("existing VPC vpc-0123456789abcdef0");
    expect(chart.vertices.filter((v) => v.text.startsWith("NLB "))).toHaveLength(2);
    expect(drawnRuleEdges(chart).sort()).toEqual(expectedRuleEdges(json).sort());
  });

  it("escapes labels: quotes, #, <, >, & and Mermaid keywords in names still parse and keep their text", () => {
    const json = nastyJson;
    const chart = parseMermaid(renderMermaid(json));
    const shown = chart.vertices.filter((x) => x.shown.startsWith("security group ")).map((x) => x.shown);
    expect(shown).toContain(`security group ${nasty}`);
    expect(shown).toHaveLength(resources(json, "aws_security_group").length);
  });

  it("escapeMermaidLabel turns the characters Mermaid would read as syntax into entities", () => {
    expect(escapeMermaidLabel('say "hi" #1 <b> & x\ny')).toBe("say #quot;hi#quot; #35;1 #lt;b#gt; #amp; x y");
  });

  it("draws left to right when asked", () => {
    expect(parseMermaid(leftRight).direction).toBe("LR");
  });

  it("refuses input that is not a synthesized stack with a ConfigError naming the fix", () => {
    expect(() => renderMermaid({})).toThrow(ConfigError);
    expect(() => renderMermaid({ resources: {} })).toThrow(/synthJson is .*: is not a synthesized stack .*Testing\.synth/);
    expect(() => renderMermaid({ resource: {} }, { direction: "RL" as DiagramDirection })).toThrow(/direction is "RL"/);
  });
});
