/**
 * Runs the real slot-claim script (bash) against stub `aws`, `curl` (IMDS), `ip`, `blkid`,
 * `mkfs.ext4`, `mount` and `mountpoint` commands that record every call, to prove what a replaced VM
 * does at boot: claim a free slot interface, keep one it already has, route from the slot IP,
 * attach the member's volume, and never format a volume that holds a filesystem.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { renderNodeEnv, NodeBootInput } from "../../lib";
import { describeTier, toolAvailable } from "../harness/tiers";
import { renderedScript } from "../helpers/scripts";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-claim-slot.sh");

const STUBS: Record<string, string> = {
  curl: `#!/usr/bin/env bash
echo "curl $*" >> "$CALLS"
url="\${*: -1}"
case "$url" in
  */api/token) echo token ;;
  */instance-id) echo i-0123 ;;
  */placement/availability-zone) echo eu-west-1a ;;
  */placement/region) echo eu-west-1 ;;
  */local-ipv4) echo 10.0.0.50 ;;
  */subnet-ipv4-cidr-block) echo 10.0.0.0/20 ;;
  *) exit 22 ;;
esac`,
  aws: `#!/usr/bin/env bash
echo "aws $*" >> "$CALLS"
args="$*"
case "$args" in
  *attach-network-interface*) touch "$STATE/eni-attached"; exit 0 ;;
  *attach-volume*) touch "$STATE/vol-attached"; exit 0 ;;
  *describe-network-interfaces*MacAddress*) echo 0a:00:00:00:00:01 ;;
  *describe-network-interfaces*TagSet*) echo apiserver-0 ;;
  *describe-network-interfaces*attachment.instance-id*) [ -e "$STATE/eni-attached" ] && printf 'eni-0slot\\t10.0.0.10\\n' || true ;;
  *describe-network-interfaces*status,Values=available*) [ -e "$STATE/eni-attached" ] || printf 'eni-0slot\\t10.0.0.10\\n' ;;
  *describe-volumes*--filters*) echo vol-0data ;;
  *describe-volumes*InstanceId*) [ -e "$STATE/vol-attached" ] && echo i-0123 || echo None ;;
  *describe-volumes*State*) echo available ;;
  *) echo "unexpected aws call: $args" >&2; exit 1 ;;
esac`,
  ip: `#!/usr/bin/env bash
echo "ip $*" >> "$CALLS"
case "$*" in
  "-4 -o addr show") echo "2: eth0    inet 10.0.0.50/20 brd 10.0.15.255 scope global eth0" ;;
  "-4 route show default dev eth0") echo "default via 10.0.0.1 dev eth0 proto dhcp metric 100" ;;
  "rule show") cat "$STATE/rules" 2>/dev/null || true ;;
  rule\\ add*) echo "100: from 10.0.0.50 lookup 101" >> "$STATE/rules" ;;
esac`,
  blkid: `#!/usr/bin/env bash
echo "blkid $*" >> "$CALLS"
if [ -e "$STATE/has-fs" ]; then echo ext4; else exit 2; fi`,
  "mkfs.ext4": `#!/usr/bin/env bash
echo "mkfs.ext4 $*" >> "$CALLS"
touch "$STATE/has-fs"`,
  mount: `#!/usr/bin/env bash
echo "mount $*" >> "$CALLS"
touch "$STATE/mounted"`,
  mountpoint: `#!/usr/bin/env bash
[ -e "$STATE/mounted" ]`,
  logger: `#!/usr/bin/env bash
exit 0`,
  sleep: `#!/usr/bin/env bash
exit 0`,
};

interface Node {
  readonly dir: string;
  readonly state: string;
  boot(): Promise<{ calls: string[]; slotEnv: string }>;
}

function makeNode(input: NodeBootInput): Node {
  const dir = mkdtempSync(path.join(tmpdir(), "claim-slot-"));
  const bin = path.join(dir, "bin");
  const state = path.join(dir, "state");
  for (const d of [bin, state, path.join(dir, "sys/eth0"), path.join(dir, "sys/eth1"), path.join(dir, "by-id"), path.join(dir, "run")]) mkdirSync(d, { recursive: true });
  for (const [name, body] of Object.entries(STUBS)) {
    writeFileSync(path.join(bin, name), `${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  }
  writeFileSync(path.join(dir, "sys/eth0/address"), "0a:00:00:00:00:00\n");
  writeFileSync(path.join(dir, "sys/eth1/address"), "0a:00:00:00:00:01\n");
  writeFileSync(path.join(dir, "by-id/nvme-Amazon_Elastic_Block_Store_vol0data"), "");
  writeFileSync(path.join(dir, "node.env"), renderNodeEnv({ ...input, dataMountPath: path.join(dir, "data") }));
  return {
    dir,
    state,
    async boot() {
      const calls = path.join(dir, "calls.log");
      writeFileSync(calls, "");
      await run("bash", [SCRIPT], {
        env: {
          PATH: `${bin}:/usr/bin:/bin`,
          CALLS: calls,
          STATE: state,
          ENV_FILE: path.join(dir, "node.env"),
          STATE_DIR: path.join(dir, "run"),
          SYSFS_NET: path.join(dir, "sys"),
          DISK_BY_ID: path.join(dir, "by-id"),
        },
        timeout: 20000,
      });
      return { calls: readFileSync(calls, "utf8").trim().split("\n"), slotEnv: readFileSync(path.join(dir, "run/slot.env"), "utf8") };
    },
  };
}

describeTier("ha-claim-slot (real bash, stubbed AWS)", toolAvailable("bash", ["--version"]), { mandatoryInCi: true, tierLabel: "node e2e" }, () => {
  const nodes: Node[] = [];
  afterAll(() => nodes.forEach((n) => rmSync(n.dir, { recursive: true, force: true })));
  const node = (input: NodeBootInput) => {
    const n = makeNode(input);
    nodes.push(n);
    return n;
  };

  it("claims a free API slot interface in its zone, routes from the slot IP and records the slot", async () => {
    const n = node({ clusterName: "prod", nodeRole: "apiserver" });
    const { calls, slotEnv } = await n.boot();
    expect(calls).toContain("aws ec2 attach-network-interface --network-interface-id eni-0slot --instance-id i-0123 --device-index 1");
    expect(calls.filter((c) => c.startsWith("aws ec2 describe-network-interfaces --filters"))[0]).toContain("Name=tag:ha-control-plane/cluster,Values=prod Name=tag:ha-control-plane/role,Values=apiserver Name=availability-zone,Values=eu-west-1a");
    expect(calls).toContain("ip route replace default via 10.0.0.1 dev eth1 src 10.0.0.10 metric 10");
    expect(calls).toContain("ip route replace 10.0.0.0/20 dev eth1 src 10.0.0.10 metric 10");
    expect(calls).toContain("ip rule add from 10.0.0.50 lookup 101 priority 100");
    expect(slotEnv).toContain("SLOT_NAME=apiserver-0");
    expect(slotEnv).toContain("SLOT_IP=10.0.0.10");
    expect(calls.some((c) => c.includes("describe-volumes"))).toBe(false);
  });

  it("keeps the interface it already holds on reboot (idempotent) and adds the policy rule once", async () => {
    const n = node({ clusterName: "prod", nodeRole: "apiserver" });
    await n.boot();
    const { calls } = await n.boot();
    expect(calls.some((c) => c.startsWith("aws ec2 attach-network-interface"))).toBe(false);
    expect(calls.filter((c) => c.startsWith("ip rule add"))).toHaveLength(0);
  });

  it("attaches an etcd member's blank data volume, creates a filesystem and mounts it 0700", async () => {
    const n = node({ clusterName: "prod", nodeRole: "etcd", slotName: "etcd-0", dataVolume: "by-slot" });
    const { calls, slotEnv } = await n.boot();
    expect(calls.find((c) => c.startsWith("aws ec2 describe-network-interfaces --filters"))).toContain("Name=tag:ha-control-plane/slot,Values=etcd-0");
    expect(calls).toContain("aws ec2 attach-volume --volume-id vol-0data --instance-id i-0123 --device /dev/sdf");
    expect(calls.some((c) => c.startsWith("mkfs.ext4"))).toBe(true);
    expect(calls.some((c) => c.startsWith("mount -o noatime"))).toBe(true);
    expect(slotEnv).toContain("SLOT_NAME=etcd-0");
    expect((await import("node:fs")).statSync(path.join(n.dir, "data")).mode & 0o777).toBe(0o700);
  });

  it("never formats a replacement member's volume that already holds data", async () => {
    const n = node({ clusterName: "prod", nodeRole: "etcd", slotName: "etcd-0", dataVolume: "by-slot" });
    writeFileSync(path.join(n.state, "has-fs"), "");
    const { calls } = await n.boot();
    expect(calls.some((c) => c.startsWith("aws ec2 attach-volume"))).toBe(true);
    expect(calls.some((c) => c.startsWith("mkfs"))).toBe(false);
    expect(existsSync(path.join(n.state, "mounted"))).toBe(true);
  });
});
