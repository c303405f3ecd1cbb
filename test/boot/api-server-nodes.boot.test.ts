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
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Server } from "node:https";
import { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { ApplyEmulator, TerraformApplyWorkspace, startApplyEmulator } from "../harness/terraform-apply";
import { NodeSpec, NspawnNode, VolumeStore, VpcNetwork, bootTierCheck, nodeRootfs, waitFor } from "../harness/nspawn-node";
import { motoCheck } from "../harness/real-components";
import { providerPlanCheck } from "../harness/provider-plan";
import { allOf, describeTier } from "../harness/tiers";
import { buildMirror, mirrorCertificate, populateRegistry, registryCheck, serveMirror, startRegistry } from "../harness/asset-mirror";
import { explainFailure, settle } from "./node-report";

jest.setTimeout(30 * 60_000);

const ETCD_VERSION = "3.5.21";
const KUBERNETES_VERSION = "1.33.5";
/** kubeadm's pause tag for Kubernetes 1.33 (kubernetes/cmd/kubeadm/app/constants: PauseVersion). */
const PAUSE_TAG = "3.10";
const SUBNETS = ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"];
const SERVICE_IP = "10.0.0.1";
const MIRROR_PORT = 8443;
const REGISTRY_PORT = 5443;
const REGISTRY = `${SERVICE_IP}:${REGISTRY_PORT}`;
/** How long a node may take for cloud-init (the API node installs and pulls more than an etcd node). */
const CLOUD_INIT_MS = 12 * 60_000;
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
  allOf(bootTierCheck(), motoCheck(), providerPlanCheck(), registryCheck()),
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
    const nodes: NspawnNode[] = [];
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

    async function boot(spec: NodeSpec): Promise<NspawnNode> {
      const node = await NspawnNode.boot(emulator!, vpc!, volumes, dir, spec);
      nodes.push(node);
      return node;
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

      const synthesized = Testing.synth(
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
      emulator = await startApplyEmulator({ extraIpSans: [SERVICE_IP] });
      const applyStart = Date.now();
      workspace = await TerraformApplyWorkspace.create(synthesized, emulator);
      const apply = await workspace.apply();
      if (apply.code !== 0) throw new Error(`apply failed: ${apply.stderr.slice(-2000)}`);
      timings.push(`terraform apply against the emulator: ${((Date.now() - applyStart) / 1000).toFixed(1)} s`);
      vpc = VpcNetwork.create(dir, SUBNETS);
      vpc.serviceIp = SERVICE_IP;
      await vpc.forward(emulator.port, 443);
      await vpc.forward((mirror.address() as AddressInfo).port, MIRROR_PORT);
      await vpc.forward(registry.port, REGISTRY_PORT);
      vpc.startTimeSync();
      await vpc.startImds();
    });

    afterAll(async () => {
      for (const n of nodes) await n.stop().catch(() => undefined);
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
      const booted = await Promise.all(specs.map(boot));
      const reports = await Promise.all(booted.map((n) => settle(n, { cloudInitMs: CLOUD_INIT_MS, settleMs: 4 * 60_000 })));
      // A precondition here (etcd-nodes.boot.test.ts holds the etcd nodes to every unit active):
      // cloud-init done and etcd active; any other failed unit is printed.
      const problems: string[] = [];
      for (const [i, r] of reports.entries()) {
        timings.push(`${r.node}: boot to ready ${r.readySeconds.toFixed(1)} s (${r.systemState}${r.failed === "" ? "" : `; failed: ${r.failed.replace(/\s+/g, " ")}`})`);
        if (!/status: done/.test(r.cloudInit)) problems.push(`${r.cloudInit}; system ${r.systemState}\n${await explainFailure(booted[i], r.failed)}`);
      }
      expect(problems).toEqual([]);
      for (const n of booted) {
        await waitFor(async () => (await n.exec(["systemctl", "is-active", "etcd.service"])).stdout.trim() === "active", 3 * 60_000, `${n.spec.name}: etcd.service active`);
      }
      etcdUp = true;
    });

    it("boots an API-server node: containerd, the kubelet and the static pods from the local registry; /readyz answers on the slot IP", async () => {
      if (!etcdUp) throw new Error("the etcd nodes did not boot (see the first test)");
      const templates = (await aws("ec2", "describe-launch-templates")).LaunchTemplates.map((t: { LaunchTemplateName: string }) => t.LaunchTemplateName) as string[];
      const apiTemplate = templates.find((t) => !/etcd/.test(t));
      expect(apiTemplate).toBeDefined();
      const kernel = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
      const ownKeys = installKernelKeys();
      const specs = await nodeSpecs(apiTemplate!, "api", containerKernelFiles(kernel), true, ownKeys);
      timings.push(`API-server instances: ${specs.length} (${specs.map((s) => s.instanceId).join(", ")})`);
      const node = await boot(specs[0]);
      // An API-server node's system is `starting` until ha-complete-lifecycle has seen /readyz pass
      // (its deadline: 840 s of boot).
      const report = await settle(node, { cloudInitMs: CLOUD_INIT_MS, settleMs: 14 * 60_000 });
      timings.push(`${report.node}: boot to settled ${report.readySeconds.toFixed(1)} s (${report.systemState}); slowest units:\n${report.blame.split("\n").slice(0, 10).map((l) => `    ${l.trim()}`).join("\n")}`);
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
        timings.push(`${node.spec.name}: ha-complete-lifecycle saw /readyz pass 3 times, then moto answered CompleteLifecycleAction with 500 (emulator gap)`);
      }
      for (const u of ["containerd.service", "ha-kube-install.service", "ha-kube-configure.service", "kubelet.service"]) {
        expect({ unit: u, state: (await node.exec(["systemctl", "is-active", u])).stdout.trim() }).toEqual({ unit: u, state: "active" });
      }
      const slotIp = /^SLOT_IP=(.*)$/m.exec((await node.exec(["cat", "/run/ha-control-plane/slot.env"])).stdout)?.[1]?.replace(/'/g, "");
      expect(slotIp).toMatch(/^10\.0\.\d+\.\d+$/);
      let readyz = "";
      const readyStart = Date.now();
      await waitFor(async () => {
        const r = await node.exec(["curl", "-sS", "--max-time", "5", "--cacert", "/etc/kubernetes/pki/ca.crt", `https://${slotIp}:6443/readyz`]);
        readyz = r.stdout;
        return r.stdout.trim() === "ok";
      }, 10 * 60_000, `${node.spec.name}: /readyz on ${slotIp} (${readyz})`).catch(async (err: Error) => {
        const pods = await node.exec(["sh", "-c", "ctr -n k8s.io images ls -q; ctr -n k8s.io containers ls; ls /etc/kubernetes/manifests"]);
        throw new Error(`${err.message}\n${pods.stdout}${pods.stderr}\n--- kubelet\n${await node.journal("kubelet.service", 40)}\n--- containerd\n${await node.journal("containerd.service", 20)}`);
      });
      // The three control-plane containers run from the local registry's images (containerd's view).
      const containers = (await node.exec(["ctr", "-n", "k8s.io", "containers", "ls", "--quiet"])).stdout.trim().split("\n").filter(Boolean);
      const images = new Set<string>();
      for (const id of containers) images.add((await node.exec(["ctr", "-n", "k8s.io", "containers", "info", id])).stdout.match(/"Image": "([^"]+)"/)?.[1] ?? "");
      for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) expect(images).toContain(`${REGISTRY}/${c}:v${KUBERNETES_VERSION}`);
      expect(images).toContain(`${REGISTRY}/pause:${PAUSE_TAG}`);
      timings.push(`${node.spec.name}: /readyz ok on ${slotIp} ${((Date.now() - node.startedAt) / 1000).toFixed(1)} s after boot (${((Date.now() - readyStart) / 1000).toFixed(1)} s after settling)`);
    });
  },
);
