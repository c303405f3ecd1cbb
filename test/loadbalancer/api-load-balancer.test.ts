import { ApiLoadBalancer, EndpointAccess, ExistingNetwork, detectionTimeSeconds, readmissionTimeSeconds, shutdownDelaySeconds } from "../../lib";
import { ApiLoadBalancerProps } from "../../lib/loadbalancer/api-load-balancer";
import { SynthJson, follow, only, resources, synth } from "../helpers/synth";

const subnet = (i: number, pub = false) => ({
  subnetId: `subnet-0${pub ? "b" : "a"}${String(i).repeat(15)}`,
  availabilityZone: `eu-west-1${"abc"[i - 1]}`,
  cidrBlock: `10.0.${pub ? 100 + i : i * 16}.0/${pub ? 24 : 20}`,
});
const network = ExistingNetwork.fromAttributes({
  vpcId: "vpc-0123456789abcdef0",
  vpcCidr: "10.0.0.0/16",
  privateSubnets: [subnet(1), subnet(2), subnet(3)],
  publicSubnets: [subnet(1, true), subnet(2, true), subnet(3, true)],
});

function build(extra: Partial<ApiLoadBalancerProps> = {}): { json: SynthJson; lb: ApiLoadBalancer } {
  let lb!: ApiLoadBalancer;
  const json = synth((s) => {
    lb = new ApiLoadBalancer(s, "Api", { clusterName: "c1", network, securityGroupId: "sg-0123456789abcdef0", ...extra });
  });
  return { json, lb };
}

describe("ApiLoadBalancer", () => {
  it("creates an internal NLB with cross-zone balancing over the private subnets, a TCP 6443 listener and its security group", () => {
    const { json } = build();
    const lb = only(json, "aws_lb");
    expect(lb.props).toMatchObject({
      internal: true,
      load_balancer_type: "network",
      enable_cross_zone_load_balancing: true,
      enable_deletion_protection: true,
      security_groups: ["sg-0123456789abcdef0"],
      subnets: network.privateSubnets.map((s) => s.subnetId),
    });
    const listener = only(json, "aws_lb_listener");
    expect(listener.props).toMatchObject({ port: 6443, protocol: "TCP" });
    expect(follow(json, listener.props.load_balancer_arn).name).toBe(lb.name);
    expect(follow(json, listener.props.default_action[0].target_group_arn).type).toBe("aws_lb_target_group");
  });

  it("health-checks /readyz over HTTPS and detects a dead API server in at most 10 s, re-admitting in at most 10 s", () => {
    const { json, lb } = build();
    const tg = only(json, "aws_lb_target_group");
    const hc = tg.props.health_check;
    expect(hc).toMatchObject({ protocol: "HTTPS", path: "/readyz", port: "traffic-port", matcher: "200", enabled: true });
    expect(hc.timeout).toBeLessThan(hc.interval);
    // Derived from the synthesized JSON, not from the construct's own arithmetic.
    expect(hc.interval * hc.unhealthy_threshold).toBeLessThanOrEqual(10);
    expect(hc.interval * hc.healthy_threshold).toBeLessThanOrEqual(10);
    expect(lb.detectionTimeSeconds).toBe(hc.interval * hc.unhealthy_threshold);
    expect(lb.readmissionTimeSeconds).toBe(hc.interval * hc.healthy_threshold);
  });

  it("turns client IP preservation off (hairpin) and drains with connection termination", () => {
    const { json, lb } = build({ drainTimeSeconds: 45 });
    const tg = only(json, "aws_lb_target_group");
    expect(tg.props).toMatchObject({ preserve_client_ip: "false", deregistration_delay: "45", connection_termination: true, target_type: "instance", protocol: "TCP", port: 6443 });
    expect(lb.drainTimeSeconds).toBe(45);
  });

  it("derives the API server shutdown delay from the detection time plus a margin", () => {
    const { lb } = build({ healthCheckIntervalSeconds: 10, unhealthyThreshold: 3, healthCheckTimeoutSeconds: 5 });
    expect(lb.detectionTimeSeconds).toBe(30);
    expect(lb.shutdownDelaySeconds).toBeGreaterThan(lb.detectionTimeSeconds);
    expect(lb.shutdownDelaySeconds).toBe(shutdownDelaySeconds(lb.healthCheck));
    expect(detectionTimeSeconds(lb.healthCheck)).toBe(30);
    expect(readmissionTimeSeconds(lb.healthCheck)).toBe(20);
  });

  it("adds a public NLB in the public subnets with its own target group when asked", () => {
    const { json, lb } = build({ endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC });
    const lbs = resources(json, "aws_lb");
    expect(lbs.map((l) => l.props.internal).sort()).toEqual([false, true]);
    const pub = lbs.find((l) => l.props.internal === false)!;
    expect(pub.props.subnets).toEqual(network.publicSubnets.map((s) => s.subnetId));
    expect(resources(json, "aws_lb_target_group")).toHaveLength(2);
    expect(lb.targetGroupArns).toHaveLength(2);
    expect(lb.publicHost).toBeDefined();
    expect(lb.serverNames).toHaveLength(2);
  });

  it("creates Route 53 alias records and uses their names as endpoints and certificate names", () => {
    const { json, lb } = build({
      endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC,
      privateHostedZoneId: "Z0PRIVATE00000000001",
      internalDnsName: "api.internal.example.com",
      publicHostedZoneId: "Z0PUBLIC000000000001",
      publicDnsName: "api.example.com",
    });
    const records = resources(json, "aws_route53_record");
    expect(records.map((r) => r.props.name).sort()).toEqual(["api.example.com", "api.internal.example.com"]);
    records.forEach((r) => expect(r.props.alias.evaluate_target_health).toBe(true));
    expect(lb.internalHost).toBe("api.internal.example.com");
    expect(lb.publicHost).toBe("api.example.com");
    expect(lb.serverNames).toEqual(expect.arrayContaining(["api.internal.example.com", "api.example.com"]));
    expect(lb.serverNames).toHaveLength(4);
  });

  it("names load balancers and target groups within 32 characters", () => {
    const { json } = build({ clusterName: "a-very-long-cluster-name-of-forty-chars", endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC });
    for (const r of [...resources(json, "aws_lb"), ...resources(json, "aws_lb_target_group")]) {
      expect(r.props.name.length).toBeLessThanOrEqual(32);
      expect(r.props.name).toMatch(/^[0-9A-Za-z][0-9A-Za-z-]*[0-9A-Za-z]$/);
    }
    const names = resources(json, "aws_lb").map((r) => r.props.name);
    expect(new Set(names).size).toBe(2);
  });
});
