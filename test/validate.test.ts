/**
 * The construct-time checks of lib/validate.ts against tables written from outside the library:
 *
 * - AWS tagging (docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html, EC2 "Tag restrictions"):
 *   at most 50 user tags per resource; a key of 1 to 128 characters, a value of 0 to 256; the
 *   `aws:` prefix, in any case ("aws:", "AWS:", "Aws:"), is reserved for AWS.
 * - EC2 AMI ids: `ami-` and 8 hex digits (before 2016) or 17 hex digits.
 * - EC2 instance types (docs.aws.amazon.com/ec2/latest/instancetypes): `family.size`, and which
 *   families run on AWS Graviton (arm64), from the "General purpose / Compute optimized / Memory
 *   optimized / Storage optimized / Accelerated computing" processor tables.
 * - RFC 1123 §2.1 host name labels: 1-63 letters, digits and hyphens, not ending with a hyphen (the
 *   library further requires a leading letter and at most 40 characters, its documented contract).
 * - Kubernetes version skew policy (kubernetes.io/releases/version-skew-policy): kube-apiservers of an
 *   HA cluster within one minor version; kubeadm: "Skipping MINOR versions when upgrading is
 *   unsupported"; no downgrades. Semantic Versioning 2.0.0 §2: no leading zeros.
 * - etcd FAQ, "What is failure tolerance?": quorum of n members is floor(n/2)+1, written as the
 *   literal table 1→1, 2→2, 3→2, 4→3, 5→3, 6→4, 7→4.
 */
import { Lazy } from "../lib/core";
import { refusal } from "./helpers/refusal";
import {
  DNS_LABEL,
  TAG_LIMITS,
  checkAmiId,
  checkClusterName,
  checkEtcdUpgrade,
  checkEtcdZonePlacement,
  checkInstanceType,
  checkInteger,
  checkKubernetesUpgrade,
  checkKubernetesVersion,
  checkNonEmpty,
  checkRenewalAlarm,
  checkSingleZone,
  checkTags,
  isArmInstanceType,
  isUnresolved,
} from "../lib/validate";

const token = (v: string): string => Lazy.stringValue({ produce: () => v });
const tokenNumber = (v: number): number => Lazy.numberValue({ produce: () => v });

describe("isUnresolved", () => {
  it("is true for string, number and list tokens and false for plain values", () => {
    expect([isUnresolved(token("x")), isUnresolved(tokenNumber(3)), isUnresolved(Lazy.listValue({ produce: () => ["a"] }))]).toEqual([true, true, true]);
    expect([isUnresolved("x"), isUnresolved(3), isUnresolved(["a"]), isUnresolved(undefined), isUnresolved({ a: 1 }), isUnresolved(null)]).toEqual([false, false, false, false, false, false]);
  });
});

describe("checkInteger / checkNonEmpty", () => {
  it("accepts whole numbers at both ends of the range, and tokens", () => {
    for (const v of [1, 2, 5]) expect(() => checkInteger("p", v, 1, 5)).not.toThrow();
    expect(() => checkInteger("p", tokenNumber(99), 1, 5)).not.toThrow();
  });
  it.each([0, 6, 2.5, NaN, Infinity])("refuses %p with the range and the default fix", (v) => {
    const e = refusal(() => checkInteger("a.b", v, 1, 5));
    expect([e.prop, e.value]).toEqual(["a.b", v]);
    expect(e.message).toMatch(/: must be a whole number from 1 to 5; use a value from 1 to 5$/);
  });
  it("refuses a string and uses the given fix", () => {
    expect(refusal(() => checkInteger("p", "3" as unknown as number, 1, 5, "use 3")).message).toBe('p is "3": must be a whole number from 1 to 5; use 3');
  });
  it.each(["a", "a b", token("")])("checkNonEmpty accepts %j", (v) => {
    expect(() => checkNonEmpty("p", v, "fix")).not.toThrow();
  });
  it.each(["", "   ", " a", "a ", "\ta", 3 as unknown as string, undefined as unknown as string])("checkNonEmpty refuses %j", (v) => {
    const e = refusal(() => checkNonEmpty("p", v, "do this"));
    expect(e.message.endsWith(": must be a non-empty string without surrounding white space; do this")).toBe(true);
    expect(e.prop).toBe("p");
  });
});

describe("checkClusterName (RFC 1123 label, leading letter, ≤ 40 characters)", () => {
  it.each(["a", "prod", "prod-eu-1", "a1", "a".repeat(40), "x-0"])("accepts %j", (n) => {
    expect(() => checkClusterName("clusterName", n)).not.toThrow();
  });
  /** [name, suggestion]: the suggestion lower-cases, turns runs of other characters into '-', drops leading non-letters and trailing '-', keeps 40. */
  it.each([
    ["Prod", "prod"],
    ["my_cluster!", "my-cluster"],
    ["1prod", "prod"],
    ["-prod", "prod"],
    ["prod-", "prod"],
    ["prod--", "prod"],
    ["a.b", "a-b"],
    ["a__b", "a-b"],
    ["a".repeat(41), "a".repeat(40)],
    [`${"a".repeat(39)}-b`, "a".repeat(39)],
    [`${"a".repeat(38)}--b`, "a".repeat(38)],
    ["", "prod-cluster"],
    ["123", "prod-cluster"],
    ["a".repeat(63), "a".repeat(40)],
  ])("refuses %j and suggests %j", (n, suggestion) => {
    const e = refusal(() => checkClusterName("clusterName", n));
    expect([e.prop, e.value]).toEqual(["clusterName", n]);
    expect(e.message).toContain(
      ": must be a DNS label of 1 to 40 characters: lower-case letters, digits and '-', starting with a letter and not ending with '-' (it is used in host names, tags and AWS resource names); ",
    );
    expect(e.message.endsWith(`; use for example "${suggestion}"`)).toBe(true);
  });
  it("refuses a token (the name becomes host names at synth time) and a non-string", () => {
    expect(refusal(() => checkClusterName("clusterName", token("prod"))).prop).toBe("clusterName");
    expect(refusal(() => checkClusterName("clusterName", undefined as unknown as string)).message.endsWith('use for example "prod-cluster"')).toBe(true);
    expect(refusal(() => checkClusterName("clusterName", 7 as unknown as string)).message.endsWith('use for example "prod-cluster"')).toBe(true);
  });
  it("DNS_LABEL is RFC 1123 with a leading letter, up to 63 characters", () => {
    expect(["a", "a-b", "a1", "a".repeat(63)].every((l) => DNS_LABEL.test(l))).toBe(true);
    expect(["", "1a", "-a", "a-", "A", "a_b", "a.b", "a".repeat(64), "xa\n"].some((l) => DNS_LABEL.test(l))).toBe(false);
  });
});

describe("checkTags (AWS tag restrictions)", () => {
  const tags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));
  it("holds AWS's limits", () => {
    expect(TAG_LIMITS).toEqual({ maxTags: 50, keyMax: 128, valueMax: 256 });
  });
  it("accepts no tags, 50 minus the library's own, keys of 1 and 128, values of 0 and 256, and tokens", () => {
    expect(() => checkTags("tags", undefined, 10)).not.toThrow();
    expect(() => checkTags("tags", tags(40), 10)).not.toThrow();
    expect(() => checkTags("tags", tags(50), 0)).not.toThrow();
    expect(() => checkTags("tags", { a: "", ["k".repeat(128)]: "v".repeat(256), "x:aws:y": "aws:z" }, 10)).not.toThrow();
    expect(() => checkTags("tags", { [token("aws:x")]: "v", t: token("v".repeat(300)) }, 10)).not.toThrow();
    // A token key skips the whole entry: its value is checked at apply time with it.
    expect(() => checkTags("tags", { [token("k")]: "v".repeat(300) }, 10)).not.toThrow();
    expect(() => checkTags("tags", { [token("k")]: 5 as unknown as string }, 10)).not.toThrow();
  });
  it("refuses more than 50 minus the library's own, naming the count and the room", () => {
    const e = refusal(() => checkTags("tags", tags(41), 10));
    expect([e.prop, e.value]).toEqual(["tags", "41 tags"]);
    expect(e.message).toBe('tags is "41 tags": AWS allows 50 tags per resource and the library adds 10 of its own; pass at most 40 tags');
    expect(refusal(() => checkTags("tags", tags(51), 0)).message).toContain("pass at most 50 tags");
  });
  it.each([
    ["an empty key", { "": "v" }, '', 'tags[""] is "": a tag key must have 1 to 128 characters; shorten the key'],
    ["a key of 129", { ["k".repeat(129)]: "v" }, "k".repeat(129), "a tag key must have 1 to 128 characters; shorten the key"],
    ["aws:", { "aws:name": "v" }, "aws:name", 'tags["aws:name"] is "aws:name": the aws: prefix is reserved for AWS; rename the tag key'],
    ["AWS:", { "AWS:name": "v" }, "AWS:name", "the aws: prefix is reserved for AWS"],
    ["Aws:", { "Aws:name": "v" }, "Aws:name", "the aws: prefix is reserved for AWS"],
    ["a value of 257", { k: "v".repeat(257) }, "v".repeat(257), "a tag value may have at most 256 characters; shorten the value"],
    ["a number value", { k: 5 as unknown as string }, 5, 'tags["k"] is 5: a tag value must be a string; pass the value as a string'],
  ])("refuses %s, naming the key", (_t, t, value, message) => {
    const e = refusal(() => checkTags("tags", t as Record<string, string>, 0));
    expect(e.prop).toBe(`tags[${JSON.stringify(Object.keys(t)[0])}]`);
    expect(e.value).toEqual(value);
    expect(e.message).toContain(message);
  });
});

describe("EC2 instance types and AMI ids", () => {
  it.each(["m6i.large", "c7g.2xlarge", "u-6tb1.metal", "t3.micro", "x2iedn.32xlarge", "mac2-m2pro.metal", token("m6i.large")])("accepts %j", (t) => {
    expect(() => checkInstanceType("instanceType", t)).not.toThrow();
  });
  it.each(["m6i", "M6i.large", "m6i.", ".large", "6i.large", "m6i.large.x", "m6i large", "", 5 as unknown as string])("refuses %j", (t) => {
    const e = refusal(() => checkInstanceType("instanceType", t));
    expect(e.message).toMatch(/: is not an EC2 instance type \(family\.size\); use for example "m6i\.large"$/);
  });
  /** AWS instance type docs: families on Graviton (arm64), and x86 / GPU families that are not. */
  const ARM = ["a1", "m6g", "m6gd", "m7g", "m7gd", "m8g", "c6g", "c6gn", "c7g", "c7gn", "c8g", "r6g", "r7gd", "r8g", "t4g", "x2gd", "x8g", "im4gn", "is4gen", "i4g", "i8g", "g5g", "hpc7g"];
  const X86 = ["m5", "m6i", "m7i", "m7a", "c5n", "c6a", "r5", "r7iz", "t3", "t3a", "z1d", "x2iedn", "g4dn", "g4ad", "g5", "g6", "g6e", "gr6", "p4d", "p5", "inf2", "trn1", "dl1", "vt1", "f1", "hpc6a", "u-6tb1", "m5zn"];
  it.each(ARM)("%s is arm64 (Graviton)", (family) => {
    expect(isArmInstanceType(`${family}.xlarge`)).toBe(true);
  });
  it.each(X86)("%s is not arm64", (family) => {
    expect(isArmInstanceType(`${family}.xlarge`)).toBe(false);
  });
  it.each(["ami-0123abcd", "ami-0123456789abcdef0", token("ami-x")])("accepts the AMI id %j", (id) => {
    expect(() => checkAmiId("imageId", id)).not.toThrow();
  });
  it.each(["ami-0123abc", "ami-0123abcde", "ami-0123456789abcdef", "ami-0123456789abcdef01", "ami-0123ABCD", "ami-0123abcg", "AMI-0123abcd", "0123abcd", "xami-0123abcd", "ami-0123abcd ", ""])("refuses the AMI id %j", (id) => {
    const e = refusal(() => checkAmiId("imageId", id));
    expect(e.message).toBe(`imageId is ${JSON.stringify(id)}: is not an AMI id (ami- followed by 8 or 17 hex digits); pass the id of an image in your region, or omit it to look up Ubuntu 24.04`);
  });
});

describe("Kubernetes versions and the version skew policy", () => {
  it.each(["1.32.0", "v1.32.0", "1.33.5", "1.40.12", "1.100.0", token("x")])("accepts %j", (v) => {
    expect(() => checkKubernetesVersion("kubernetesVersion", v)).not.toThrow();
  });
  it.each(["1.31.9", "1.9.0", "1.032.0", "1.33.05", "2.0.0", "1.33", "1.33.5-rc.1", "V1.33.5", "vv1.33.5", " 1.33.5", "1.33.5.1", "", undefined as unknown as string])("refuses %j", (v) => {
    const e = refusal(() => checkKubernetesVersion("kubernetesVersion", v));
    expect(e.prop).toBe("kubernetesVersion");
    expect(e.message).toMatch(/: must be a Kubernetes release 1\.32\.0 or newer \(anonymous access limited to health endpoints needs 1\.32\), written MAJOR\.MINOR\.PATCH; use for example "1\.33\.5"$/);
  });

  /** [deployed, target, refused with]: one minor up at most, never down. */
  it.each<[string | undefined, string, string | undefined]>([
    [undefined, "1.35.0", undefined],
    ["1.33.5", "1.33.5", undefined],
    ["1.33.5", "1.33.9", undefined],
    ["1.33.5", "v1.34.0", undefined],
    ["v1.33.5", "1.34.2", undefined],
    ["1.33.5", "1.35.0", "skips"],
    ["1.33.5", "1.40.0", "skips"],
    ["1.33.5", "1.33.4", "older"],
    ["1.34.0", "1.33.9", "older"],
    ["1.34.0", "v1.32.0", "older"],
  ])("deployed %s → %s: %s", (deployed, target, refused) => {
    const run = () => checkKubernetesUpgrade("kubernetesVersion", "deployedKubernetesVersion", deployed, target);
    if (refused === undefined) {
      expect(run).not.toThrow();
      return;
    }
    const e = refusal(run);
    expect([e.prop, e.value]).toEqual(["kubernetesVersion", target]);
    const plainDeployed = deployed!.replace(/^v/, "");
    if (refused === "older") {
      expect(e.message).toBe(
        `kubernetesVersion is ${JSON.stringify(target)}: is older than the deployed deployedKubernetesVersion ${plainDeployed}: Kubernetes does not support downgrading a control plane (servers of the newer release may already have stored objects the older one cannot read); keep kubernetesVersion at ${plainDeployed} or newer (to go back, restore an etcd snapshot taken before the upgrade)`,
      );
    } else {
      const next = `1.${Number(plainDeployed.split(".")[1]) + 1}`;
      expect(e.message).toBe(
        `kubernetesVersion is ${JSON.stringify(target)}: skips a minor version from the deployed deployedKubernetesVersion ${plainDeployed}: Kubernetes' version skew policy keeps the newest and oldest kube-apiserver of an HA cluster within one minor version, and kubeadm does not support skipping minor versions; upgrade one minor at a time: deploy the newest ${next}.x patch release first, update deployedKubernetesVersion to it, then deploy ${target.replace(/^v/, "")}`,
      );
    }
  });
  it("checks the deployed version's own format, and lets tokens and unparseable targets through", () => {
    expect(refusal(() => checkKubernetesUpgrade("kubernetesVersion", "deployedKubernetesVersion", "1.31.0", "1.32.0")).prop).toBe("deployedKubernetesVersion");
    expect(() => checkKubernetesUpgrade("kubernetesVersion", "deployedKubernetesVersion", token("1.40.0"), "1.33.0")).not.toThrow();
    expect(() => checkKubernetesUpgrade("kubernetesVersion", "deployedKubernetesVersion", "1.33.0", token("1.30.0"))).not.toThrow();
    expect(() => checkKubernetesUpgrade("kubernetesVersion", "deployedKubernetesVersion", "1.35.0", "1.30")).not.toThrow();
    // Targets that are not MAJOR.MINOR.PATCH are left to checkKubernetesVersion.
    for (const target of ["x1.40.0", "1.40.0x", "1.30.0-rc.1"]) {
      expect(() => checkKubernetesUpgrade("kubernetesVersion", "deployedKubernetesVersion", "1.33.0", target)).not.toThrow();
    }
    expect(refusal(() => checkKubernetesUpgrade("kubernetesVersion", "deployedKubernetesVersion", "v1.33.5", "v1.35.0")).message).toContain(
      "from the deployed deployedKubernetesVersion 1.33.5: Kubernetes' version skew policy",
    );
    expect(refusal(() => checkKubernetesUpgrade("kubernetesVersion", "deployedKubernetesVersion", "v1.33.5", "v1.35.0")).message).toMatch(/then deploy 1\.35\.0$/);
  });

  it.each<[string | undefined, string, boolean]>([
    [undefined, "3.5.0", false],
    ["3.5.21", "3.5.21", false],
    ["3.5.21", "3.6.0", false],
    ["3.5.21", "4.0.0", false],
    ["3.5.21", "3.5.20", true],
    ["3.5.21", "3.4.99", true],
    ["3.5.21", "2.9.9", true],
    ["v3.5.21", "v3.5.20", true],
    ["10.0.0", "9.9.9", true],
    ["3.10.0", "3.9.99", true],
  ])("etcd deployed %s → %s refused: %s", (deployed, target, refused) => {
    const run = () => checkEtcdUpgrade("etcd.version", "etcd.deployedVersion", deployed, target);
    if (!refused) {
      expect(run).not.toThrow();
      return;
    }
    const e = refusal(run);
    expect([e.prop, e.value]).toEqual(["etcd.version", target]);
    const [major, minor] = deployed!.replace(/^v/, "").split(".");
    expect(e.message).toBe(
      `etcd.version is ${JSON.stringify(target)}: is older than the deployed etcd.deployedVersion ${deployed}: a member of an older release does not rejoin a cluster already at ${major}.${minor} (etcd downgrades need 'etcdctl downgrade enable' on the running cluster first), and a replacement would pick it up unplanned; keep etcd.version at ${deployed} or newer (downgrade etcd by hand following etcd's downgrade guide, then update etcd.deployedVersion)`,
    );
  });
  it("refuses an unparseable deployed etcd release, lets tokens and unparseable targets through", () => {
    const e = refusal(() => checkEtcdUpgrade("etcd.version", "etcd.deployedVersion", "3.5", "3.5.21"));
    expect(e.message).toBe('etcd.deployedVersion is "3.5": is not an etcd release written MAJOR.MINOR.PATCH; use for example "3.5.21"');
    expect(() => checkEtcdUpgrade("etcd.version", "etcd.deployedVersion", token("9.9.9"), "3.5.21")).not.toThrow();
    expect(() => checkEtcdUpgrade("etcd.version", "etcd.deployedVersion", "3.5.21", token("1.0.0"))).not.toThrow();
    expect(() => checkEtcdUpgrade("etcd.version", "etcd.deployedVersion", "3.5.21", "3.4")).not.toThrow();
  });
});

describe("zones", () => {
  it("checkSingleZone: refuses one known zone unless allowed, names it, and reports what it found", () => {
    expect(checkSingleZone("subnets", "v", [], false)).toBe(false);
    expect(checkSingleZone("subnets", "v", ["eu-west-1a", "eu-west-1b"], false)).toBe(false);
    expect(checkSingleZone("subnets", "v", ["eu-west-1a", "eu-west-1a"], true)).toBe(true);
    const e = refusal(() => checkSingleZone("subnets", ["s1", "s2"], ["eu-west-1a", "eu-west-1a"], false));
    expect([e.prop, e.value]).toEqual(["subnets", ["s1", "s2"]]);
    expect(e.message).toBe(
      'subnets is ["s1","s2"]: puts every API server and etcd member in eu-west-1a: that zone\'s outage stops the Kubernetes API and loses etcd quorum, which is not highly available; list at least 3 zones, or set allowSingleZone: true to accept a control plane that one zone outage stops',
    );
  });
  it("checkSingleZone: token zones are one zone only when there is one subnet", () => {
    expect(refusal(() => checkSingleZone("subnets", "v", [token("z")], false)).message).toContain("member in one zone: that zone's outage");
    expect(checkSingleZone("subnets", "v", [token("z")], true)).toBe(true);
    expect(checkSingleZone("subnets", "v", [token("z"), token("z")], false)).toBe(false);
    expect(checkSingleZone("subnets", "v", ["eu-west-1a", token("z")], false)).toBe(false);
  });

  /** etcd FAQ quorum table: members → quorum. */
  const QUORUM: Record<number, number> = { 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4 };
  /** [members per zone, loses quorum with the fullest zone]: survivors = total - fullest, vs the table's quorum. */
  it.each<[number[], boolean]>([
    [[1], false],
    [[1, 1], true],
    [[2], true],
    [[1, 1, 1], false],
    [[2, 1], true],
    [[1, 2], true],
    [[3], true],
    [[2, 2], true],
    [[2, 1, 1], true],
    [[2, 2, 1], false],
    [[1, 2, 2], false],
    [[3, 1, 1], true],
    [[2, 2, 2], false],
    [[3, 2, 2], false],
    [[2, 3, 2], false],
    [[3, 3, 1], false],
    [[4, 2, 1], true],
    [[1, 4, 2], true],
  ])("%j loses quorum with a zone: %s", (counts, weak) => {
    const total = counts.reduce((a, b) => a + b, 0);
    expect(total > 1 && total - Math.max(...counts) < QUORUM[total]).toBe(weak);
    const perZone = new Map(counts.map((n, i) => [`eu-west-1${"abc"[i]}`, n]));
    expect(checkEtcdZonePlacement("etcd", "v", perZone, true)).toBe(weak);
    if (!weak) {
      expect(() => checkEtcdZonePlacement("etcd", "v", perZone, false)).not.toThrow();
      return;
    }
    const e = refusal(() => checkEtcdZonePlacement("etcd", "v", perZone, false));
    const fullest = counts.indexOf(Math.max(...counts));
    const zone = `eu-west-1${"abc"[fullest]}`;
    const spread = counts.map((n, i) => `eu-west-1${"abc"[i]}: ${n}`).join(", ");
    expect(e.prop).toBe("etcd");
    expect(e.message).toBe(
      `etcd is "v": places ${counts[fullest]} of ${total} etcd members in ${zone} (${spread}), and a quorum of ${total} is ${QUORUM[total]}: losing ${zone} loses etcd quorum and stops the Kubernetes API; spread the members over at least 3 zones, or set allowEtcdZoneQuorumLoss: true to accept that one zone outage stops the cluster`,
    );
  });
  it("lets token zones and an empty placement through", () => {
    expect(checkEtcdZonePlacement("etcd", "v", new Map([[token("z"), 3]]), false)).toBe(false);
    expect(checkEtcdZonePlacement("etcd", "v", new Map([[token("z"), 2], ["eu-west-1a", 1]]), false)).toBe(false);
    expect(checkEtcdZonePlacement("etcd", "v", new Map(), false)).toBe(false);
  });
});

describe("checkRenewalAlarm (alarm inside the renewal window)", () => {
  it.each<[number, number, boolean]>([
    [14, 2160, false],
    [89, 2160, false],
    [90, 2160, true],
    [91, 2160, true],
    [1, 25, false],
    [1, 24, true],
    [365, 8761, false],
  ])("alarm %i days, renewal %i h: refused %s", (days, hours, refused) => {
    const run = () => checkRenewalAlarm("alarmDays", days, "renewalHours", hours);
    if (!refused) {
      expect(run).not.toThrow();
      return;
    }
    const e = refusal(run);
    const renewalDays = Math.floor(hours / 24);
    expect([e.prop, e.value]).toEqual(["alarmDays", days]);
    expect(e.message).toBe(
      `alarmDays is ${days}: fires ${days} days before expiry, but renewalHours (${hours} h, ${renewalDays} days) only re-issues leaves on a deploy in their last ${renewalDays} days: the alarm would fire on every normal renewal; use a value below ${renewalDays} (e.g. 14), or raise renewalHours`,
    );
  });
  it("shows whole days of a renewal window that is not a whole number of days", () => {
    expect(refusal(() => checkRenewalAlarm("a", 91, "r", 2170)).message).toContain("(2170 h, 90 days)");
  });
  it("refuses an alarm outside 1-365 days with fix 'use 14', and lets tokens and a non-finite window through", () => {
    expect(refusal(() => checkRenewalAlarm("a", 0, "r", 2160)).message).toBe("a is 0: must be a whole number from 1 to 365; use 14");
    expect(refusal(() => checkRenewalAlarm("a", 366, "r", 100000)).message).toBe("a is 366: must be a whole number from 1 to 365; use 14");
    expect(() => checkRenewalAlarm("a", tokenNumber(999), "r", 2160)).not.toThrow();
    expect(() => checkRenewalAlarm("a", 14, "r", tokenNumber(1))).not.toThrow();
    expect(() => checkRenewalAlarm("a", 14, "r", Infinity)).not.toThrow();
    expect(() => checkRenewalAlarm("a", 14, "r", "1" as unknown as number)).not.toThrow();
  });
});
