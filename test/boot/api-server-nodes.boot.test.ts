/**
 * Boot tier: the reference example's API-server nodes boot on Debian 12, after its etcd nodes. The
 * stack is applied with terraform against moto; each node is a systemd-nspawn container (systemd
 * as PID 1, ./../harness/nspawn-node.ts) booting the user data moto's launch template stores. An
 * API-server node runs containers (`runsContainers`: containerd, runc and the kubelet inside the
 * container). Everything it installs comes from the platform team's mirrors, as in an air-gapped
 * VPC: kubelet, kubeadm and kubectl from an HTTPS binary mirror pinned by SHA-256
 * (`kubernetesBinaryMirror`), etcd's archive from the same mirror (`etcdRelease`), and the
 * control-plane images from a local OCI registry (Debian's docker-registry, `imageRepository`)
 * holding images built here from the pinned binaries under their upstream names.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Server } from "node:https";
import { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { ApplyEmulator, TerraformApplyWorkspace } from "../harness/terraform-apply";
import { BootEnvironment, SERVICE_IP, startBootEnvironment } from "./environment";
import { NodeSpec, NspawnNode, VolumeStore, VpcNetwork, allOrAbort, bootTierCheck, nodeRootfs, waitFor } from "../harness/nspawn-node";
import { HaproxyLoadBalancer, nlbModelFromSynth } from "../harness/nlb-haproxy";
import { motoCheck } from "../harness/real-components";
import { providerPlanCheck } from "../harness/provider-plan";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { buildMirror, mirrorCertificate, populateRegistry, registryCheck, serveMirror, startRegistry } from "../harness/asset-mirror";
import { BootedNodes, explainFailure, settle } from "./node-report";

// beforeAll: registry, apply, VPC (each test passes its own budget, below).
jest.setTimeout(30 * 60_000);

const ETCD_VERSION = "3.5.21";
const KUBERNETES_VERSION = "1.33.5";
/** kubeadm's pause tag for Kubernetes 1.33 (kubernetes/cmd/kubeadm/app/constants: PauseVersion). */
const PAUSE_TAG = "3.10";
const MIRROR_PORT = 8443;
const REGISTRY_PORT = 5443;
const REGISTRY = `${SERVICE_IP}:${REGISTRY_PORT}`;
/** How long a node may take for cloud-init (the API node installs and pulls more than an etcd node). */
const CLOUD_INIT_MS = 12 * 60_000;
/** An etcd node: cloud-init, then systemd settling; then etcd.service active. */
const ETCD_SETTLE = { cloudInitMs: CLOUD_INIT_MS, settleMs: 4 * 60_000 };
const ETCD_ACTIVE_MS = 3 * 60_000;
/**
 * An API-server node's system is `starting` until ha-complete-lifecycle ends, which it does at
 * the latest at the node's LAUNCH_READY_DEADLINE_SECONDS of boot (840 s in the reference example;
 * checked against node.env on each node below), so 14 min after cloud-init covers it.
 */
const API_SETTLE = { cloudInitMs: CLOUD_INIT_MS, settleMs: 14 * 60_000 };
/** /readyz on the slot address once settled (ha-complete-lifecycle has seen it pass already). */
const READYZ_MS = 2 * 60_000;
/** The reference example's API servers (README: 3 behind the internal NLB). */
const API_NODES = 3;
/**
 * API-server nodes booted at once. All three with the three etcd nodes running on this machine's
 * 2 cores (measured: see README, boot tier); lower it and the test's budget grows by waves.
 */
const API_BOOT_CONCURRENCY = 3;
/** Beyond the target group's own timing, for haproxy's first check and the runtime socket. */
const LB_SLACK_MS = 15_000;
/** What a test may take besides its waits (AWS CLI calls, checks, printing). */
const TEST_OVERHEAD_MS = 2 * 60_000;
/** The first test's budget: its waits' deadlines in sequence. */
const ETCD_TEST_MS = ETCD_SETTLE.cloudInitMs + ETCD_SETTLE.settleMs + 3 * ETCD_ACTIVE_MS + TEST_OVERHEAD_MS;
/**
 * The load balancer's part: every target in service, bounded by the synthesized health check (the
 * slowest an NLB allows, AWS target-group limits: (10 healthy checks + 1) × 30 s + 10 s timeout,
 * ≈ 6 min; the real model's bound is asserted to fit), then the /readyz requests (10 s each).
 */
const LB_BUDGET_MS = 6 * 60_000 + 2 * API_NODES * 10_000 + 30_000;
/** The second test's budget: per wave of API_BOOT_CONCURRENCY nodes, one node's waits in sequence; then the load balancer. */
const API_TEST_MS = Math.ceil(API_NODES / API_BOOT_CONCURRENCY) * (API_SETTLE.cloudInitMs + API_SETTLE.settleMs + READYZ_MS) + LB_BUDGET_MS + TEST_OVERHEAD_MS;
/** Units of an API-server node whose start times are printed, in boot order. */
const API_UNITS = ["ha-claim-slot.service", "ha-fetch-secrets.service", "ha-kube-install.service", "containerd.service", "ha-kube-configure.service", "kubelet.service", "ha-complete-lifecycle.service"];
const execFileAsync = promisify(execFile);

/**
 * The test image's adaptations of a node that runs containers in a container, which shares the
 * host's kernel: (1) the modules ha-kube-install loads are this kernel's built-in ones, listed in
 * modules.builtin as a distribution kernel ships it (`depmod` indexes it before cloud-init), and
 * (2) `sysctl --system` cannot set the Debian image's own defaults that are not namespaced
 * (kernel.pid_max, fs.protected_*): a wrapper runs the real sysctl and reports the keys of
 * kernel.*, vm.* and fs.* the kernel refuses instead of failing on them; any other error still
 * fails. The keys ha-kube-install sets and the kubelet checks are the node's own copies
 * (`ownKernelKeys`), so they never reach the wrapper's exception.
 */
export function containerKernelFiles(kernelRelease: string): Record<string, string> {
  return {
    [`usr/lib/modules/${kernelRelease}/modules.builtin`]: "kernel/fs/overlayfs/overlay.ko\nkernel/net/bridge/br_netfilter.ko\n",
    "etc/systemd/system/cloud-init.service.d/90-boot-tier-depmod.conf": "[Service]\nExecStartPre=/sbin/depmod\n",
    "usr/local/lib/ha-boot-tier/bin/sysctl": [
      "#!/bin/bash",
      "# boot tier: the container shares the host's kernel; keys that are not namespaced are reported, not set",
      "exec 3>&1",
      "errors=$(/usr/sbin/sysctl \"$@\" 2>&1 1>&3); rc=$?",
      "[ \"$rc\" -eq 0 ] && exit 0",
      "other=$(printf '%s\\n' \"$errors\" | grep -vE '^sysctl: permission denied on key \"(kernel|vm|fs)\\.[a-z0-9_.]+\"(, ignoring)?$' | grep -v '^$')",
      "printf '%s\\n' \"$errors\" | grep -E '^sysctl: permission denied' | sed 's/^/ha-boot-tier: host kernel: /' >&2",
      "if [ -n \"$other\" ]; then printf '%s\\n' \"$other\" >&2; exit \"$rc\"; fi",
      "exit 0",
      "",
    ].join("\n"),
    "etc/systemd/system/ha-kube-install.service.d/90-boot-tier.conf": "[Service]\nEnvironment=PATH=/usr/local/lib/ha-boot-tier/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
    // runc as containerd's shim finds it first on the PATH: the same runc, after raising a negative
    // oomScoreAdj in the bundle's spec to 0. The kubelet asks -998 for every pause container
    // (-997 for a Guaranteed pod); lowering oom_score_adj needs CAP_SYS_RESOURCE, which this
    // machine's capability bounding set does not have (for any process, the test's own included).
    "usr/local/sbin/runc": [
      "#!/bin/bash",
      "# boot tier: this machine cannot lower oom_score_adj (no CAP_SYS_RESOURCE); everything else is runc's",
      "bundle=\"\"",
      "args=(\"$@\")",
      "for ((i = 0; i < ${#args[@]}; i++)); do",
      "  case ${args[i]} in --bundle | -b) bundle=${args[i + 1]:-} ;; --bundle=*) bundle=${args[i]#--bundle=} ;; esac",
      "done",
      "if [ -n \"$bundle\" ] && [ -f \"$bundle/config.json\" ]; then",
      "  adj=$(jq '.process.oomScoreAdj // 0' \"$bundle/config.json\")",
      "  if [ \"$adj\" -lt 0 ]; then",
      "    jq -c '.process.oomScoreAdj = 0' \"$bundle/config.json\" > \"$bundle/config.json.boot-tier\" && mv \"$bundle/config.json.boot-tier\" \"$bundle/config.json\"",
      "    logger -t ha-boot-tier-runc \"oomScoreAdj $adj -> 0 for $(basename \"$bundle\") (no CAP_SYS_RESOURCE here)\"",
      "  fi",
      "fi",
      "exec /usr/sbin/runc \"$@\"",
      "",
    ].join("\n"),
  };
}

/** The kernel.* and vm.* keys ha-kube-install writes to its sysctl file (read from the script). */
function installKernelKeys(): string[] {
  const script = readFileSync(path.join(__dirname, "../../lib/bootstrap/scripts/ha-kube-install.sh"), "utf8");
  const block = /cat >\/etc\/sysctl\.d\/90-kubernetes\.conf <<'EOF'\n([\s\S]*?)\nEOF/.exec(script);
  if (block === null) throw new Error("ha-kube-install.sh: no sysctl file block");
  return block[1].split("\n").map((l) => l.split("=")[0].trim()).filter((k) => /^(kernel|vm)\./.test(k));
}

describeTier(
  "boot tier: the reference example's API-server nodes boot under systemd, cloud-init, containerd and the kubelet (Debian 12)",
  allOf(bootTierCheck(), motoCheck(), providerPlanCheck(), registryCheck(), toolAvailable("haproxy", ["-v"])),
  { tierLabel: "boot" },
  () => {
    const tierStart = Date.now();
    let dir: string;
    let emulator: ApplyEmulator | undefined;
    let workspace: TerraformApplyWorkspace | undefined;
    let mirror: Server | undefined;
    let registry: { port: number; stop(): void } | undefined;
    let vpc: VpcNetwork | undefined;
    let volumes: VolumeStore;
    let tls: { cert: string; key: string };
    let trustBundle = "";
    const fleet = new BootedNodes();
    let lb: HaproxyLoadBalancer | undefined;
    let synthesized = "";
    const timings: string[] = [];

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON
    async function aws(...args: string[]): Promise<any> {
      const { stdout } = await execFileAsync(emulator!.awsCli, [...args, "--output", "json"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", ...emulator!.env },
        encoding: "utf8",
        timeout: 120_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      return stdout.trim() === "" ? undefined : JSON.parse(stdout);
    }

    /** What the instances of `template` boot from, read from the emulator (one spec per running instance). */
    async function nodeSpecs(template: string, namePrefix: string, files: Record<string, string> = {}, runsContainers = false, ownKernelKeys: string[] = []): Promise<NodeSpec[]> {
      const [version] = (await aws("ec2", "describe-launch-template-versions", "--launch-template-name", template, "--versions", "$Latest")).LaunchTemplateVersions;
      const data = version.LaunchTemplateData;
      const userData = gunzipSync(Buffer.from(data.UserData, "base64")).toString("utf8");
      const instances = (await aws("ec2", "describe-instances", "--filters", `Name=tag:aws:autoscaling:groupName,Values=${template}`, "Name=instance-state-name,Values=running")).Reservations.flatMap(
        (r: { Instances: Array<{ InstanceId: string; Placement: { AvailabilityZone: string } }> }) => r.Instances,
      ).sort((a: { Placement: { AvailabilityZone: string } }, b: { Placement: { AvailabilityZone: string } }) => a.Placement.AvailabilityZone.localeCompare(b.Placement.AvailabilityZone));
      const ca = readFileSync(emulator!.caBundle, "utf8");
      return instances.map((inst: { InstanceId: string }, i: number) => ({
        name: instances.length === 1 ? namePrefix : `${namePrefix}-${i}`,
        instanceId: inst.InstanceId,
        userData,
        instanceProfileArn: data.IamInstanceProfile?.Arn,
        hopLimit: data.MetadataOptions?.HttpPutResponseHopLimit ?? 1,
        instanceTags: data.MetadataOptions?.InstanceMetadataTags === "enabled",
        runsContainers,
        ownKernelKeys,
        executables: Object.keys(files).filter((f) => /\/s?bin\//.test(f)),
        files: {
          "etc/systemd/system.conf.d/90-boot-tier.conf": `[Manager]\nDefaultEnvironment="AWS_ENDPOINT_URL=https://${SERVICE_IP}" "AWS_CA_BUNDLE=/etc/ha-boot-tier/emulator-ca.pem" "AWS_METADATA_SERVICE_TIMEOUT=5" "AWS_METADATA_SERVICE_NUM_ATTEMPTS=3"\n`,
          "etc/ha-boot-tier/emulator-ca.pem": ca,
          // The image trusts the platform team's mirror and registry (their CA in the system bundle).
          "etc/ssl/certs/ca-certificates.crt": trustBundle,
          "etc/apt/sources.list": `deb [trusted=yes] https://${SERVICE_IP}:${MIRROR_PORT}/apt ./\n`,
          "etc/cloud/cloud.cfg.d/91-boot-tier-locale.cfg": "locale: C.UTF-8\n",
          "etc/systemd/system/chrony.service.d/90-boot-tier.conf": "[Unit]\nConditionCapability=\n[Service]\nExecStart=\nExecStart=!/usr/sbin/chronyd -x $DAEMON_OPTS\n",
          ...files,
        },
      }));
    }

    /**
     * Spreads `group`'s instances over its subnets as EC2 Auto Scaling does ("launches instances
     * evenly across the Availability Zones" of the group's subnets): moto 5.1.22 launches every
     * instance of a group in its first subnet ("We'll create all instances in a single subnet to
     * make things easier", autoscaling/models.py), so the three API servers would be in one zone,
     * where only one apiserver slot interface is. For each subnet without an instance, one instance
     * of a crowded subnet leaves the group (detach-instances, decrementing) and is terminated, and an
     * instance of the group's launch template with the group's propagated tags is launched in that
     * subnet and attached (attach-instances tags it with the group's name, as the group's own are).
     * Returns what moved.
     */
    async function balanceAcrossZones(group: string): Promise<string[]> {
      const [asg] = (await aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", group)).AutoScalingGroups;
      const subnets = String(asg.VPCZoneIdentifier).split(",").filter(Boolean);
      const ids = (asg.Instances as Array<{ InstanceId: string }>).map((i) => i.InstanceId);
      const bySubnet = new Map<string, string[]>(subnets.map((s) => [s, []]));
      for (const r of (await aws("ec2", "describe-instances", "--instance-ids", ...ids)).Reservations) {
        for (const i of r.Instances as Array<{ InstanceId: string; SubnetId: string }>) bySubnet.get(i.SubnetId)?.push(i.InstanceId);
      }
      const template = asg.LaunchTemplate?.LaunchTemplateName ?? asg.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification?.LaunchTemplateName;
      const tags = (asg.Tags as Array<{ Key: string; Value: string; PropagateAtLaunch: boolean }>).filter((t) => t.PropagateAtLaunch && !t.Key.startsWith("aws:"));
      const moved: string[] = [];
      for (const subnet of subnets) {
        if (bySubnet.get(subnet)!.length > 0) continue;
        const crowded = [...bySubnet.entries()].find(([, list]) => list.length > 1);
        if (crowded === undefined) break;
        const surplus = crowded[1].pop()!;
        await aws("autoscaling", "detach-instances", "--auto-scaling-group-name", group, "--instance-ids", surplus, "--should-decrement-desired-capacity");
        await aws("ec2", "terminate-instances", "--instance-ids", surplus);
        const spec = ["--launch-template", `LaunchTemplateName=${template},Version=$Latest`, "--subnet-id", subnet, "--count", "1"];
        if (tags.length > 0) spec.push("--tag-specifications", JSON.stringify([{ ResourceType: "instance", Tags: tags.map((t) => ({ Key: t.Key, Value: t.Value })) }]));
        const launched = (await aws("ec2", "run-instances", ...spec)).Instances[0].InstanceId as string;
        await aws("autoscaling", "attach-instances", "--auto-scaling-group-name", group, "--instance-ids", launched);
        bySubnet.get(subnet)!.push(launched);
        moved.push(`${surplus} (${crowded[0]}) → ${launched} (${subnet})`);
      }
      return moved;
    }

    function boot(spec: NodeSpec): Promise<NspawnNode> {
      return fleet.boot(() => NspawnNode.boot(emulator!, vpc!, volumes, dir, spec));
    }

    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), "boot-api-"));
      volumes = new VolumeStore(path.join(dir, "volumes"));
      tls = mirrorCertificate(dir, SERVICE_IP);
      trustBundle = readFileSync(path.join(nodeRootfs()!, "etc/ssl/certs/ca-certificates.crt"), "utf8") + readFileSync(tls.cert, "utf8");
      const sums = buildMirror(path.join(dir, "mirror"), ETCD_VERSION, KUBERNETES_VERSION);
      mirror = await serveMirror(path.join(dir, "mirror/www"), tls);
      registry = await startRegistry(path.join(dir, "registry"), tls);
      const pushStart = Date.now();
      const digests = await populateRegistry(registry.port, readFileSync(tls.cert), path.join(dir, "images"), KUBERNETES_VERSION, PAUSE_TAG);
      timings.push(`registry populated (${Object.keys(digests).join(", ")}): ${((Date.now() - pushStart) / 1000).toFixed(1)} s`);

      synthesized = Testing.synth(
        new HaClusterStack(Testing.app(), "ha-cluster", {
          etcdRelease: {
            version: ETCD_VERSION,
            sha256: { amd64: sums.etcd },
            mirrorUrlTemplate: `https://${SERVICE_IP}:${MIRROR_PORT}/etcd/etcd-v{version}-linux-{arch}.tar.gz`,
            mirrorOnly: true,
          },
          kubernetesBinaryMirror: {
            version: KUBERNETES_VERSION,
            mirrorUrlTemplate: `https://${SERVICE_IP}:${MIRROR_PORT}/kubernetes/v{version}/{arch}/{file}`,
            sha256: { amd64: sums.kube! },
          },
          imageRepository: REGISTRY,
        }),
      );
      const env: BootEnvironment = {};
      try {
        await startBootEnvironment(env, synthesized, dir, [[(mirror.address() as AddressInfo).port, MIRROR_PORT], [registry.port, REGISTRY_PORT]], timings);
      } finally {
        ({ emulator, workspace, vpc } = env);
      }
    });

    afterAll(async () => {
      await lb?.stop().catch(() => undefined);
      await fleet.stopAll();
      vpc?.destroy();
      registry?.stop();
      await new Promise((r) => (mirror ? mirror.close(r) : r(undefined)));
      await workspace?.cleanup();
      await emulator?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
      timings.push(`boot tier (API-server nodes) wall time: ${((Date.now() - tierStart) / 1000).toFixed(1)} s`);
      console.log(timings.join("\n"));
    });

    let etcdUp = false;

    it("boots the three etcd nodes first (etcd from the HTTPS mirror)", async () => {
      const specs = (await Promise.all(["etcd-0", "etcd-1", "etcd-2"].map((s) => nodeSpecs(`prod-eu1-${s}`, s)))).flat();
      // A node that fails its wait stops the others' (allOrAbort): the test fails then, not when
      // the slowest sibling's deadline passes.
      const booted = await allOrAbort(specs, (s) => boot(s), { parent: fleet.signal });
      const reports = await allOrAbort(booted, (n, signal) => settle(n, ETCD_SETTLE, signal), { parent: fleet.signal });
      // A precondition here (etcd-nodes.boot.test.ts holds the etcd nodes to every unit active):
      // cloud-init done and etcd active; any other failed unit is printed.
      const problems: string[] = [];
      for (const [i, r] of reports.entries()) {
        timings.push(`${r.node}: boot to ready ${r.readySeconds.toFixed(1)} s (${r.systemState}${r.failed === "" ? "" : `; failed: ${r.failed.replace(/\s+/g, " ")}`})`);
        if (!/status: done/.test(r.cloudInit)) problems.push(`${r.cloudInit}; system ${r.systemState}\n${await explainFailure(booted[i], r.failed)}`);
      }
      expect(problems).toEqual([]);
      for (const n of booted) {
        await waitFor(async () => (await n.exec(["systemctl", "is-active", "etcd.service"])).stdout.trim() === "active", ETCD_ACTIVE_MS, `${n.spec.name}: etcd.service active`, fleet.signal);
      }
      etcdUp = true;
    }, ETCD_TEST_MS);

    /** What one API-server node showed once /readyz answered on its slot address. */
    interface ApiNode {
      readonly node: NspawnNode;
      readonly slotIp: string;
      readonly readySeconds: number;
    }

    /**
     * Boots one API-server node and waits for it: cloud-init done, systemd settled, every unit
     * active (but ha-complete-lifecycle, see below), /readyz on its slot address, the control-plane
     * containers from the local registry. Prints its per-unit start times.
     */
    async function bootApiNode(spec: NodeSpec, signal: AbortSignal): Promise<ApiNode> {
      const node = await boot(spec);
      // An API-server node's system is `starting` until ha-complete-lifecycle has seen /readyz pass
      // (its deadline: 840 s of boot).
      const report = await settle(node, API_SETTLE, signal);
      timings.push(`${report.node}: boot to settled ${report.readySeconds.toFixed(1)} s (${report.systemState}); slowest units:\n${report.blame.split("\n").slice(0, 6).map((l) => `    ${l.trim()}`).join("\n")}`);
      // Every unit active, but one: moto 5.1.22 answers CompleteLifecycleAction with a 500 (HTML, an
      // internal error), so ha-complete-lifecycle, whose part before the call is what the node does
      // (wait for /readyz to pass 3 times in a row), fails at the call. Any other failed unit fails the test.
      const failedUnits = report.failed.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
      const unexpected = failedUnits.filter((u) => u !== "ha-complete-lifecycle.service");
      const problems = unexpected.length > 0 || !/status: done/.test(report.cloudInit) ? [`${report.cloudInit}; system ${report.systemState}\n${await explainFailure(node, report.failed)}`] : [];
      expect(problems).toEqual([]);
      if (failedUnits.includes("ha-complete-lifecycle.service")) {
        const journal = (await node.exec(["journalctl", "--no-pager", "-o", "cat", "-u", "ha-complete-lifecycle.service"])).stdout;
        expect(journal).toContain("https://127.0.0.1:6443/readyz passed 3 times in a row: completing apiserver-ready with CONTINUE");
        expect(journal).toContain("500 Internal Server Error");
      }
      for (const u of ["containerd.service", "ha-kube-install.service", "ha-kube-configure.service", "kubelet.service"]) {
        expect({ node: spec.name, unit: u, state: (await node.exec(["systemctl", "is-active", u])).stdout.trim() }).toEqual({ node: spec.name, unit: u, state: "active" });
      }
      // Per-unit start times, from systemd's own clock (seconds after its start in the container).
      const zero = Number((await node.exec(["systemctl", "show", "-P", "UserspaceTimestampMonotonic"])).stdout.trim());
      const starts: string[] = [];
      for (const u of API_UNITS) {
        const [inactiveExit, activeEnter] = (await node.exec(["systemctl", "show", "-P", "InactiveExitTimestampMonotonic", "-P", "ActiveEnterTimestampMonotonic", u])).stdout.trim().split("\n").map(Number);
        const at = (us: number) => (us > 0 ? `${((us - zero) / 1e6).toFixed(1)}` : "-");
        starts.push(`${u.replace(/\.service$/, "")} ${at(inactiveExit)}→${at(activeEnter)}`);
      }
      timings.push(`${spec.name}: unit start→active, s after systemd started: ${starts.join(", ")}`);
      // The settle budget covers the node's own deadline for /readyz (ha-complete-lifecycle's).
      const deadline = Number(/^LAUNCH_READY_DEADLINE_SECONDS='?(\d+)'?$/m.exec((await node.exec(["cat", "/etc/ha-control-plane/node.env"])).stdout)?.[1]);
      expect({ node: spec.name, deadlineWithinSettleBudget: deadline > 0 && deadline * 1000 <= API_SETTLE.settleMs }).toEqual({ node: spec.name, deadlineWithinSettleBudget: true });
      const slotIp = /^SLOT_IP=(.*)$/m.exec((await node.exec(["cat", "/run/ha-control-plane/slot.env"])).stdout)?.[1]?.replace(/'/g, "");
      expect(slotIp).toMatch(/^10\.0\.\d+\.\d+$/);
      let readyz = "";
      await waitFor(async () => {
        const r = await node.exec(["curl", "-sS", "--max-time", "5", "--cacert", "/etc/kubernetes/pki/ca.crt", `https://${slotIp}:6443/readyz`], 60_000, signal);
        readyz = r.stdout;
        return r.stdout.trim() === "ok";
      }, READYZ_MS, `${spec.name}: /readyz on ${slotIp} (${readyz})`, signal).catch(async (err: Error) => {
        const pods = await node.exec(["sh", "-c", "ctr -n k8s.io images ls -q; ctr -n k8s.io containers ls; ls /etc/kubernetes/manifests"]);
        throw new Error(`${err.message}\n${pods.stdout}${pods.stderr}\n--- kubelet\n${await node.journal("kubelet.service", 40)}\n--- containerd\n${await node.journal("containerd.service", 20)}`);
      });
      const readySeconds = (Date.now() - node.startedAt) / 1000;
      // The three control-plane containers run from the local registry's images (containerd's view).
      const containers = (await node.exec(["ctr", "-n", "k8s.io", "containers", "ls", "--quiet"])).stdout.trim().split("\n").filter(Boolean);
      const images = new Set<string>();
      for (const id of containers) images.add((await node.exec(["ctr", "-n", "k8s.io", "containers", "info", id])).stdout.match(/"Image": "([^"]+)"/)?.[1] ?? "");
      for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) expect({ node: spec.name, images: [...images] }).toEqual({ node: spec.name, images: expect.arrayContaining([`${REGISTRY}/${c}:v${KUBERNETES_VERSION}`]) });
      expect({ node: spec.name, images: [...images] }).toEqual({ node: spec.name, images: expect.arrayContaining([`${REGISTRY}/pause:${PAUSE_TAG}`]) });
      timings.push(`${spec.name}: /readyz ok on ${slotIp} ${readySeconds.toFixed(1)} s after boot`);
      return { node, slotIp: slotIp!, readySeconds };
    }

    it(
      `boots the three API-server nodes (${API_BOOT_CONCURRENCY} at a time): containerd, the kubelet and the static pods from the local registry; /readyz through the load balancer, every node in service`,
      async () => {
        if (!etcdUp) throw new Error("the etcd nodes did not boot (see the first test)");
        const templates = (await aws("ec2", "describe-launch-templates")).LaunchTemplates.map((t: { LaunchTemplateName: string }) => t.LaunchTemplateName) as string[];
        const apiTemplate = templates.find((t) => !/etcd/.test(t));
        expect(apiTemplate).toBeDefined();
        const moved = await balanceAcrossZones(apiTemplate!);
        timings.push(`API-server group spread over its zones as EC2 Auto Scaling would (moto launches all in the first subnet): ${moved.join("; ") || "already spread"}`);
        const kernel = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
        const specs = await nodeSpecs(apiTemplate!, "api", containerKernelFiles(kernel), true, installKernelKeys());
        timings.push(`API-server instances: ${specs.length} (${specs.map((s) => s.instanceId).join(", ")}), booted ${API_BOOT_CONCURRENCY} at a time`);
        // The reference example's Auto Scaling group of API servers: 3 (README, architecture).
        expect(specs.length).toBe(API_NODES);
        // One per zone, each with its zone's apiserver slot interface to claim.
        const zones = (await aws("ec2", "describe-instances", "--instance-ids", ...specs.map((s) => s.instanceId))).Reservations.flatMap((r: { Instances: Array<{ Placement: { AvailabilityZone: string } }> }) => r.Instances.map((i) => i.Placement.AvailabilityZone));
        expect(new Set(zones).size).toBe(API_NODES);
        const bootStart = Date.now();
        const api = await allOrAbort(specs, bootApiNode, { parent: fleet.signal, concurrency: API_BOOT_CONCURRENCY });
        timings.push(`all ${api.length} API-server nodes ready on their slot addresses ${((Date.now() - bootStart) / 1000).toFixed(1)} s after the first boot started`);

        // The load balancer of the control-plane tier: haproxy configured from the synthesized
        // listener and target group (nlb-haproxy.ts), in the VPC, targets = the slot addresses.
        const model = nlbModelFromSynth(JSON.parse(synthesized));
        lb = await HaproxyLoadBalancer.start(model, {
          bind: `${SERVICE_IP}:${model.listenerPort}`,
          servers: api.map((a) => ({ name: a.node.spec.name, address: a.slotIp })),
          netns: vpc!.ns,
        });
        // In service: `healthyThreshold` passing checks, `interval` apart; the first within one
        // interval of the start, each answered within `timeout` (the target group's settings).
        const h = model.health;
        const inServiceMs = (h.healthyThreshold + 1) * h.intervalSeconds * 1000 + h.timeoutSeconds * 1000 + LB_SLACK_MS;
        expect(inServiceMs).toBeLessThanOrEqual(LB_BUDGET_MS - 2 * API_NODES * 10_000);
        const lbStart = Date.now();
        await Promise.all(api.map((a) => lb!.waitHealthy(a.node.spec.name, inServiceMs)));
        timings.push(`every API node in service at the load balancer ${((Date.now() - lbStart) / 1000).toFixed(1)} s after it started (bound ${inServiceMs / 1000} s: ${h.healthyThreshold} × ${h.intervalSeconds} s checks, ${h.protocol} ${h.path ?? ""})`);

        // /readyz through the load balancer, as a client in the VPC reaches it: the internal NLB's
        // DNS name (the API server certificate's name for it) resolved to the listener.
        const lbs = (await aws("elbv2", "describe-load-balancers")).LoadBalancers as Array<{ DNSName: string; Scheme: string; Type: string }>;
        const internal = lbs.find((l) => l.Type === "network" && l.Scheme === "internal");
        expect(internal).toBeDefined();
        const caFile = path.join(dir, "kubernetes-ca.crt");
        writeFileSync(caFile, (await api[0].node.exec(["cat", "/etc/kubernetes/pki/ca.crt"])).stdout);
        const before = await lb.sessions();
        const answers: string[] = [];
        for (let i = 0; i < 2 * api.length; i++) {
          const { stdout } = await execFileAsync("ip", ["netns", "exec", vpc!.ns, "curl", "-sS", "--max-time", "10", "--cacert", caFile, "--resolve", `${internal!.DNSName}:${model.listenerPort}:${SERVICE_IP}`, `https://${internal!.DNSName}:${model.listenerPort}/readyz`], { encoding: "utf8", timeout: 30_000 });
          answers.push(stdout.trim());
        }
        expect(answers).toEqual(Array(2 * api.length).fill("ok"));
        const after = await lb.sessions();
        // Round robin over three healthy targets: each API server answered some of them.
        const served = Object.fromEntries(api.map((a) => [a.node.spec.name, (after[a.node.spec.name] ?? 0) - (before[a.node.spec.name] ?? 0) > 0]));
        expect(served).toEqual(Object.fromEntries(api.map((a) => [a.node.spec.name, true])));
        timings.push(`/readyz via the load balancer (${internal!.DNSName}): ${answers.length} of ${answers.length} ok, sessions per API node ${JSON.stringify(Object.fromEntries(api.map((a) => [a.node.spec.name, (after[a.node.spec.name] ?? 0) - (before[a.node.spec.name] ?? 0)])))}`);
        for (const a of api) timings.push(`${a.node.spec.name}: boot to /readyz ${a.readySeconds.toFixed(1)} s`);
      },
      API_TEST_MS,
    );
  },
);
