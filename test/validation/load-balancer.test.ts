/**
 * ApiLoadBalancer (and the health-check timing rules it applies) refuses bad input with a
 * ConfigError, and accepts its boundary values.
 */
import { ApiLoadBalancer, ApiLoadBalancerProps, EndpointAccess } from "../../lib/loadbalancer/api-load-balancer";
import { DEFAULT_HEALTH_CHECK, checkHealthCheckTiming, shutdownDelaySeconds } from "../../lib/loadbalancer/timing";
import { INetwork } from "../../lib/network/network";
import { resources, synth } from "../helpers/synth";
import { BadInput, IDS, existingNetwork, expectConfigError, manyTags, scope } from "./config-error";

const LB_PROPS: ApiLoadBalancerProps = { clusterName: "prod", network: existingNetwork(), securityGroupId: IDS.sg };
const PUBLIC = { endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC };
const NO_SUBNETS: INetwork = { vpcId: IDS.vpc, vpcCidr: "172.20.0.0/16", privateSubnets: [], publicSubnets: [] };

describe("ApiLoadBalancer refuses bad input with a ConfigError", () => {
  const rows: BadInput<Partial<ApiLoadBalancerProps>>[] = [
    { title: "refuses an invalid cluster name", props: { clusterName: "PROD" }, prop: "clusterName", value: "PROD", fix: /"prod"/ },
    { title: "refuses 45 user tags", props: { tags: manyTags(45) }, prop: "tags", value: "45 tags" },
    { title: "refuses an empty security group id", props: { securityGroupId: "" }, prop: "securityGroupId", value: "", shows: '""', fix: /ControlPlaneSecurityGroups\.loadBalancer\.id/ },
    { title: "refuses a security group id with surrounding white space", props: { securityGroupId: ` ${IDS.sg}` }, prop: "securityGroupId", value: ` ${IDS.sg}` },
    { title: "refuses an unknown endpoint access", props: { endpointAccess: "PRIVATE" as EndpointAccess }, prop: "endpointAccess", value: "PRIVATE", fix: /EndpointAccess\.INTERNAL/ },

    { title: "refuses a 4-second health-check interval", props: { healthCheckIntervalSeconds: 4 }, prop: "healthCheckIntervalSeconds", value: 4, fix: /5 to 300 seconds/ },
    { title: "refuses a 301-second health-check interval", props: { healthCheckIntervalSeconds: 301 }, prop: "healthCheckIntervalSeconds", value: 301 },
    { title: "refuses a fractional health-check interval", props: { healthCheckIntervalSeconds: 5.5 }, prop: "healthCheckIntervalSeconds", value: 5.5 },
    { title: "refuses a 1-second health-check timeout", props: { healthCheckTimeoutSeconds: 1 }, prop: "healthCheckTimeoutSeconds", value: 1, fix: /2 to 120 seconds/ },
    { title: "refuses a 121-second health-check timeout", props: { healthCheckIntervalSeconds: 300, healthCheckTimeoutSeconds: 121 }, prop: "healthCheckTimeoutSeconds", value: 121 },
    { title: "refuses a timeout equal to the interval", props: { healthCheckIntervalSeconds: 5, healthCheckTimeoutSeconds: 5 }, prop: "healthCheckTimeoutSeconds", value: 5, fix: /use at most 4/ },
    { title: "refuses a timeout longer than the interval", props: { healthCheckIntervalSeconds: 10, healthCheckTimeoutSeconds: 20 }, prop: "healthCheckTimeoutSeconds", value: 20, fix: /use at most 9/ },
    { title: "refuses the default timeout with a shorter interval than allowed", props: { healthCheckIntervalSeconds: 3 }, prop: "healthCheckIntervalSeconds", value: 3 },
    { title: "refuses a healthy threshold of 1", props: { healthyThreshold: 1 }, prop: "healthCheckHealthyThreshold", value: 1, fix: /2 to 10/ },
    { title: "refuses a healthy threshold of 11", props: { healthyThreshold: 11 }, prop: "healthCheckHealthyThreshold", value: 11 },
    { title: "refuses an unhealthy threshold of 1", props: { unhealthyThreshold: 1 }, prop: "healthCheckUnhealthyThreshold", value: 1, fix: /2 to 10/ },
    { title: "refuses an unhealthy threshold of 11", props: { unhealthyThreshold: 11 }, prop: "healthCheckUnhealthyThreshold", value: 11 },
    { title: "refuses a negative drain time", props: { drainTimeSeconds: -1 }, prop: "drainTimeSeconds", value: -1, fix: /0 to 3600 seconds/ },
    { title: "refuses a drain time over an hour", props: { drainTimeSeconds: 3601 }, prop: "drainTimeSeconds", value: 3601 },
    { title: "refuses a fractional drain time", props: { drainTimeSeconds: 1.5 }, prop: "drainTimeSeconds", value: 1.5 },

    { title: "refuses a private zone without an internal record name", props: { privateHostedZoneId: IDS.zone }, prop: "internalDnsName", value: undefined, fix: /or neither/ },
    { title: "refuses an internal record name without a private zone", props: { internalDnsName: "api.prod.internal" }, prop: "privateHostedZoneId", value: undefined },
    { title: "refuses a lower-case zone id", props: { privateHostedZoneId: "z0123456789abcdefghij", internalDnsName: "api.prod.internal" }, prop: "privateHostedZoneId", value: "z0123456789abcdefghij", fix: /Z0123456789ABCDEFGHIJ/ },
    { title: "refuses a zone id over 32 characters", props: { privateHostedZoneId: `Z${"A".repeat(32)}`, internalDnsName: "api.prod.internal" }, prop: "privateHostedZoneId", value: `Z${"A".repeat(32)}` },
    { title: "refuses an internal record name with a trailing '-' label", props: { privateHostedZoneId: IDS.zone, internalDnsName: "api-.prod.internal" }, prop: "internalDnsName", value: "api-.prod.internal", fix: /api\.k8s\.example\.com/ },
    { title: "refuses an internal record name with a wildcard", props: { privateHostedZoneId: IDS.zone, internalDnsName: "*.prod.internal" }, prop: "internalDnsName", value: "*.prod.internal" },
    { title: "refuses an internal record name over 253 characters", props: { privateHostedZoneId: IDS.zone, internalDnsName: `${"a".repeat(60)}.`.repeat(5) + "internal" }, prop: "internalDnsName", value: `${"a".repeat(60)}.`.repeat(5) + "internal" },
    { title: "refuses a public zone on an internal-only endpoint", props: { publicHostedZoneId: IDS.zone, publicDnsName: "api.example.com" }, prop: "publicHostedZoneId", value: IDS.zone, fix: /INTERNAL_AND_PUBLIC or drop the public zone/ },
    { title: "refuses a public zone without a public record name", props: { ...PUBLIC, publicHostedZoneId: IDS.zone }, prop: "publicDnsName", value: undefined },
    { title: "refuses a public record name without a public zone", props: { ...PUBLIC, publicDnsName: "api.example.com" }, prop: "publicHostedZoneId", value: undefined },
    { title: "refuses a malformed public zone id", props: { ...PUBLIC, publicHostedZoneId: "public", publicDnsName: "api.example.com" }, prop: "publicHostedZoneId", value: "public" },
    { title: "refuses an upper-case public record name", props: { ...PUBLIC, publicHostedZoneId: IDS.zone, publicDnsName: "Api.Example.com" }, prop: "publicDnsName", value: "Api.Example.com" },
    { title: "refuses a public endpoint in a network without public subnets", props: { ...PUBLIC, network: existingNetwork(3, false) }, prop: "endpointAccess", value: "INTERNAL_AND_PUBLIC", fix: /network\.publicSubnets/ },
    { title: "refuses a network without private subnets", props: { network: NO_SUBNETS }, prop: "network.privateSubnets", value: [], fix: /private subnet/ },
  ];
  it.each(rows)("$title", (row) => {
    expectConfigError(() => new ApiLoadBalancer(scope(), "Api", { ...LB_PROPS, ...row.props }), row);
  });
});

describe("ApiLoadBalancer accepts boundary values", () => {
  const rows: Array<{ title: string; props: Partial<ApiLoadBalancerProps>; healthCheck?: Record<string, number> }> = [
    { title: "accepts a 5-second interval with a 4-second timeout", props: { healthCheckIntervalSeconds: 5, healthCheckTimeoutSeconds: 4 }, healthCheck: { interval: 5, timeout: 4 } },
    { title: "accepts a 300-second interval with a 120-second timeout", props: { healthCheckIntervalSeconds: 300, healthCheckTimeoutSeconds: 120 }, healthCheck: { interval: 300, timeout: 120 } },
    { title: "accepts a 2-second timeout", props: { healthCheckTimeoutSeconds: 2 }, healthCheck: { timeout: 2 } },
    { title: "accepts thresholds of 2 and 10", props: { healthyThreshold: 10, unhealthyThreshold: 2 }, healthCheck: { healthy_threshold: 10, unhealthy_threshold: 2 } },
    { title: "accepts thresholds of 10 and 2", props: { healthyThreshold: 2, unhealthyThreshold: 10 }, healthCheck: { healthy_threshold: 2, unhealthy_threshold: 10 } },
    { title: "accepts a drain time of 0", props: { drainTimeSeconds: 0 } },
    { title: "accepts a drain time of 3600", props: { drainTimeSeconds: 3600 } },
    { title: "accepts exactly 44 user tags", props: { tags: manyTags(44) } },
    {
      title: "accepts Route 53 names for both endpoints",
      props: { ...PUBLIC, privateHostedZoneId: IDS.zone, internalDnsName: "api.prod.internal", publicHostedZoneId: "Z1", publicDnsName: `${"a".repeat(63)}.example.com` },
    },
  ];
  it.each(rows)("$title", (row) => {
    const json = synth((s) => new ApiLoadBalancer(s, "Api", { ...LB_PROPS, ...row.props }));
    const groups = resources(json, "aws_lb_target_group");
    expect(groups.length).toBeGreaterThan(0);
    for (const tg of groups) {
      expect(tg.props.deregistration_delay).toBe(String(row.props.drainTimeSeconds ?? 30));
      if (row.healthCheck) expect(tg.props.health_check).toMatchObject(row.healthCheck);
    }
  });
});

describe("checkHealthCheckTiming", () => {
  it("accepts the defaults, which detect and re-admit in 10 s", () => {
    expect(() => checkHealthCheckTiming("healthCheck", DEFAULT_HEALTH_CHECK)).not.toThrow();
    expect(shutdownDelaySeconds(DEFAULT_HEALTH_CHECK)).toBe(10 + 5 + 5);
  });

  it.each([
    [{ intervalSeconds: 4 }, "hcIntervalSeconds"],
    [{ intervalSeconds: 301 }, "hcIntervalSeconds"],
    [{ timeoutSeconds: 1 }, "hcTimeoutSeconds"],
    [{ timeoutSeconds: 121, intervalSeconds: 300 }, "hcTimeoutSeconds"],
    [{ timeoutSeconds: 5 }, "hcTimeoutSeconds"],
    [{ healthyThreshold: 1 }, "hcHealthyThreshold"],
    [{ healthyThreshold: 11 }, "hcHealthyThreshold"],
    [{ unhealthyThreshold: 1 }, "hcUnhealthyThreshold"],
    [{ unhealthyThreshold: 11 }, "hcUnhealthyThreshold"],
  ])("refuses %j, naming %s after the given prefix", (change, prop) => {
    const timing = { ...DEFAULT_HEALTH_CHECK, ...change };
    const value = Object.values(change)[0];
    expectConfigError(() => checkHealthCheckTiming("hc", timing), { prop, value });
  });
});
