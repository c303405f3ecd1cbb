/**
 * Invariants every synthesized control plane must satisfy, whatever the props. Used by the
 * property tier; each returns a list of violations (empty when satisfied).
 */
import { USER_DATA_LIMIT_BYTES } from "../../lib";
import { SynthJson, bundleFilesOfAll, bundleObjectOf, follow, nodeFilesOf, rawUserDataOf, resources, userDataOf } from "./synth";

/**
 * AWS naming rules, written from the AWS documentation (not from the library's own table):
 * - Elastic Load Balancing CreateLoadBalancer / CreateTargetGroup: at most 32 characters,
 *   alphanumerics and hyphens, must not begin or end with a hyphen; a load balancer name must not
 *   begin with `internal-`.
 * - IAM CreateRole: 1-64 characters of `[\w+=,.@-]`; CreateInstanceProfile: 1-128 of the same.
 * - EC2 CreateSecurityGroup: up to 255 characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*,
 *   must not start with `sg-`.
 * - EC2 CreateLaunchTemplate: 3-128 characters of `[a-zA-Z0-9().\-/_]`.
 * - Auto Scaling CreateAutoScalingGroup: 1-255 characters, no control characters.
 * - KMS CreateAlias: `alias/` followed by `[a-zA-Z0-9/_-]`, 1-256 characters, not `alias/aws/…`.
 */
export const AWS_NAME_LIMITS: ReadonlyArray<[type: string, attr: string, rule: string, test: (name: string) => boolean]> = [
  ["aws_lb", "name", "ELB: ≤ 32 alphanumerics/hyphens, no leading/trailing hyphen, not internal-", (n) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/.test(n) && !n.startsWith("internal-")],
  ["aws_lb_target_group", "name", "ELB: ≤ 32 alphanumerics/hyphens, no leading/trailing hyphen", (n) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/.test(n)],
  ["aws_iam_role", "name", "IAM role: 1-64 of [\\w+=,.@-]", (n) => /^[\w+=,.@-]{1,64}$/.test(n)],
  ["aws_iam_instance_profile", "name", "IAM instance profile: 1-128 of [\\w+=,.@-]", (n) => /^[\w+=,.@-]{1,128}$/.test(n)],
  ["aws_security_group", "name", "EC2 security group: ≤ 255 of a-zA-Z0-9 ._-:/()#,@[]+=&;{}!$*, not sg-", (n) => /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]{1,255}$/.test(n) && !n.startsWith("sg-")],
  ["aws_launch_template", "name", "EC2 launch template: 3-128 of [a-zA-Z0-9().-/_]", (n) => /^[a-zA-Z0-9().\-/_]{3,128}$/.test(n)],
  ["aws_autoscaling_group", "name", "Auto Scaling group: 1-255 characters, no control characters", (n) => n.length >= 1 && n.length <= 255 && !/[\x00-\x1f\x7f]/.test(n)],
  ["aws_kms_alias", "name", "KMS alias: alias/ + 1-250 of [a-zA-Z0-9/_-], not alias/aws/", (n) => /^alias\/[A-Za-z0-9/_-]{1,250}$/.test(n) && !n.startsWith("alias/aws/")],
];

/** Every derived AWS name within its limits; the ASG service-linked role name ≤ 64. */
export function nameViolations(json: SynthJson): string[] {
  const out: string[] = [];
  for (const [type, attr, rule, ok] of AWS_NAME_LIMITS) {
    for (const r of resources(json, type)) {
      const name = String(r.props[attr]);
      if (!ok(name)) out.push(`${type}.${r.name}.${attr} = ${JSON.stringify(name)} breaks ${rule}`);
    }
  }
  for (const r of resources(json, "aws_iam_service_linked_role")) {
    const roleName = `AWSServiceRoleForAutoScaling_${r.props.custom_suffix}`;
    if (roleName.length > 64 || !/^[\w+=,.@-]+$/.test(roleName)) out.push(`service-linked role name ${roleName} too long or invalid`);
  }
  return out;
}

/** etcd's quorum (etcd FAQ: a cluster of n members needs a majority, floor(n/2) + 1). */
function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** First usable host of an IPv4 CIDR (network address + 1), computed here, not by the library. */
export function firstHost(cidr: string): string {
  const [addr, bits] = cidr.split("/");
  const n = addr.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  const network = Math.floor(n / size) * size;
  const h = network + 1;
  return [24, 16, 8, 0].map((s) => Math.floor(h / 2 ** s) % 256).join(".");
}

/** etcd member count odd (or a deliberate single member), members in distinct zones where possible, quorum through any zone loss with ≥ 3 zones. */
export function etcdViolations(json: SynthJson): string[] {
  const out: string[] = [];
  const volumes = resources(json, "aws_ebs_volume").filter((v) => v.props.tags?.["ha-control-plane/purpose"] === "etcd-data");
  const n = volumes.length;
  if (n % 2 === 0) out.push(`even etcd member count ${n}`);
  const zones = new Map<string, number>();
  volumes.forEach((v) => zones.set(v.props.availability_zone, (zones.get(v.props.availability_zone) ?? 0) + 1));
  if (zones.size >= 3) {
    for (const [zone, inZone] of zones) if (n - inZone < majority(n)) out.push(`losing ${zone} loses etcd quorum`);
  }
  const spread = [...zones.values()];
  if (spread.length > 0 && Math.max(...spread) - Math.min(...spread) > 1) out.push(`etcd members unevenly spread: ${spread.join("/")}`);
  return out;
}

/** No ingress from the world except the API port on the load balancer group, and never SSH. */
export function securityGroupViolations(json: SynthJson): string[] {
  const out: string[] = [];
  for (const r of resources(json, "aws_vpc_security_group_ingress_rule")) {
    const group = follow(json, r.props.security_group_id).props.tags?.["ha-control-plane/role"];
    if (r.props.ip_protocol === "-1") out.push(`all-protocol ingress on ${group}`);
    if (r.props.ip_protocol === "tcp" && r.props.from_port <= 22 && r.props.to_port >= 22) out.push(`SSH open on ${group}`);
    if (r.props.cidr_ipv4 === "0.0.0.0/0" && !(group === "api-lb" && r.props.from_port === 6443 && r.props.to_port === 6443)) {
      out.push(`world-open ingress on ${group} ${r.props.ip_protocol} ${r.props.from_port}`);
    }
    const port = r.props.from_port;
    if (group === "etcd" && r.props.ip_protocol === "tcp") {
      const peer = r.props.referenced_security_group_id ? follow(json, r.props.referenced_security_group_id).props.tags?.["ha-control-plane/role"] : "cidr";
      if (port === 2380 && peer !== "etcd") out.push(`etcd peer port open to ${peer}`);
      if (port === 2379 && !["etcd", "apiserver"].includes(peer)) out.push(`etcd client port open to ${peer}`);
    }
  }
  return out;
}

/** Launch templates: IMDSv2, encrypted root, user data ≤ 16 KB. */
export function nodeViolations(json: SynthJson): string[] {
  const out: string[] = [];
  for (const lt of resources(json, "aws_launch_template")) {
    if (lt.props.metadata_options?.http_tokens !== "required") out.push(`${lt.name} allows IMDSv1`);
    if (lt.props.block_device_mappings?.[0]?.ebs?.encrypted !== "true") out.push(`${lt.name} root volume unencrypted`);
    if (rawUserDataOf(lt).length > USER_DATA_LIMIT_BYTES) out.push(`${lt.name} user data over 16 KB`);
    if (/PRIVATE KEY/.test(userDataOf(lt))) out.push(`${lt.name} user data holds a private key`);
    if (nodeFilesOf(json, lt).some((f) => f.source === "bundle" && /PRIVATE KEY/.test(f.content))) out.push(`${lt.name} bootstrap bundle holds a private key`);
  }
  for (const v of resources(json, "aws_ebs_volume")) if (v.props.encrypted !== true) out.push(`${v.name} unencrypted`);
  return out;
}

/**
 * Every API server serving certificate names the five kubernetes names, every load balancer's DNS
 * name, 127.0.0.1, the kubernetes service IP and one API server slot's fixed IP.
 */
export function certificateViolations(json: SynthJson, clusterDomain = "cluster.local"): string[] {
  const out: string[] = [];
  const lbNames = resources(json, "aws_lb").map((lb) => `\${aws_lb.${lb.name}.dns_name}`);
  const requests = resources(json, "tls_cert_request").filter((r) => r.props.subject?.[0]?.common_name === "kube-apiserver");
  const slots = resources(json, "aws_network_interface").filter((e) => e.props.tags?.["ha-control-plane/role"] === "apiserver");
  if (requests.length !== slots.length) out.push(`${requests.length} API serving certificates for ${slots.length} API server slots`);
  const slotIps = new Set(slots.map((e) => e.props.private_ips[0]));
  // The kubernetes service IP: the first host of the service CIDR the API servers are started with.
  const serviceCidrs = new Set<string>();
  for (const lt of resources(json, "aws_launch_template")) {
    for (const f of nodeFilesOf(json, lt)) for (const m of f.content.matchAll(/--service-cluster-ip-range=([0-9./]+)/g)) serviceCidrs.add(m[1]);
  }
  const serviceIps = [...serviceCidrs].map(firstHost);
  for (const r of requests) {
    const dns: string[] = r.props.dns_names ?? [];
    const ips: string[] = r.props.ip_addresses ?? [];
    // kubeadm's API server SANs (kubernetes.io "PKI certificates and requirements"): the service
    // names down to kubernetes.default.svc.<cluster domain>, the domain being the one configured.
    for (const n of ["kubernetes", "kubernetes.default", "kubernetes.default.svc", `kubernetes.default.svc.${clusterDomain}`]) {
      if (!dns.includes(n)) out.push(`${r.name} lacks ${n}`);
    }
    for (const lb of lbNames) if (!dns.includes(lb)) out.push(`${r.name} lacks load balancer name ${lb}`);
    if (!ips.includes("127.0.0.1")) out.push(`${r.name} lacks 127.0.0.1`);
    if (!ips.some((ip) => slotIps.has(ip))) out.push(`${r.name} names no API server slot IP`);
    if (serviceIps.length === 0) out.push("no --service-cluster-ip-range in any API server's user data");
    for (const ip of serviceIps) if (!ips.includes(ip)) out.push(`${r.name} lacks the kubernetes service IP ${ip}`);
  }
  return out;
}

/** All invariants. */
export function allViolations(json: SynthJson, clusterDomain = "cluster.local"): string[] {
  // Extract every bundle the launch templates name in one go (one spawn); nodeFilesOf then reads them.
  bundleFilesOfAll(resources(json, "aws_launch_template").flatMap((lt) => bundleObjectOf(json, lt) ?? []));
  return [...nameViolations(json), ...etcdViolations(json), ...securityGroupViolations(json), ...nodeViolations(json), ...certificateViolations(json, clusterDomain)];
}
