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
import { X509Certificate } from "node:crypto";
import { allOrAbort, bootTierCheck, waitFor } from "../harness/nspawn-node";
import { motoCheck } from "../harness/real-components";
import { providerPlanCheck } from "../harness/provider-plan";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { registryCheck } from "../harness/asset-mirror";
import { explainFailure, settle } from "./node-report";
import { API_CLOUD_INIT_MS, API_SERVER_CHECKS, AirGappedCluster, ApiNode, apiBootBudgetMs } from "./api-nodes";
import { applyObjectsThroughLoadBalancer, bootWorker, kubeletClientCertificate } from "./worker-join";

// beforeAll: registry, apply, VPC (each test passes its own budget, below).
jest.setTimeout(30 * 60_000);

/** An etcd node: cloud-init (as long as an API-server node's), then systemd settling; then etcd.service active. */
const ETCD_SETTLE = { cloudInitMs: API_CLOUD_INIT_MS, settleMs: 4 * 60_000 };
const ETCD_ACTIVE_MS = 3 * 60_000;
/** The reference example's API servers (README: 3 behind the internal NLB), one in each of its zones. */
const API_NODES = 3;
const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
/**
 * API-server nodes booted at once. All three with the three etcd nodes running on this machine's
 * 2 cores (measured: see README, boot tier); lower it and the test's budget grows by waves.
 */
const API_BOOT_CONCURRENCY = 3;
/** What a test may take besides its waits (AWS CLI calls, checks, printing). */
const TEST_OVERHEAD_MS = 2 * 60_000;
/** The first test's budget: its waits' deadlines in sequence. */
const ETCD_TEST_MS = ETCD_SETTLE.cloudInitMs + ETCD_SETTLE.settleMs + 3 * ETCD_ACTIVE_MS + TEST_OVERHEAD_MS;
/** The second test's budget: per wave of API_BOOT_CONCURRENCY nodes, one node's waits in sequence; then the load balancer. */
const API_TEST_MS = apiBootBudgetMs(API_NODES, API_BOOT_CONCURRENCY, API_SERVER_CHECKS, TEST_OVERHEAD_MS);

/** The worker: cloud-init (binaries from the mirror, the join) and systemd settling. */
const WORKER_SETTLE = { cloudInitMs: 8 * 60_000, settleMs: 3 * 60_000 };
/** `terraform init` and `apply` of the cluster-objects stack through the load balancer (measured ≈ 30 s in the control-plane tier). */
const OBJECTS_APPLY_MS = 5 * 60_000;
/** The third test's budget: the apply, the worker's waits, the Node and CSR checks (1 min). */
const WORKER_TEST_MS = OBJECTS_APPLY_MS + WORKER_SETTLE.cloudInitMs + WORKER_SETTLE.settleMs + 60_000 + TEST_OVERHEAD_MS;

describeTier(
  "boot tier: the reference example's API-server nodes boot under systemd, cloud-init, containerd and the kubelet (Debian 12)",
  allOf(bootTierCheck(), motoCheck(), providerPlanCheck(), registryCheck(), toolAvailable("haproxy", ["-v"])),
  { tierLabel: "boot" },
  () => {
    const cluster = new AirGappedCluster();
    const { fleet, timings } = cluster;

    beforeAll(() => cluster.start("boot-api-"));
    afterAll(() => cluster.stop("API-server nodes"));

    let etcdUp = false;
    let api: ApiNode[] = [];
    let apiTemplate = "";

    it("boots the three etcd nodes first (etcd from the HTTPS mirror)", async () => {
      const specs = (await Promise.all(["etcd-0", "etcd-1", "etcd-2"].map((s) => cluster.nodeSpecs(`prod-eu1-${s}`, s)))).flat();
      // A node that fails its wait stops the others' (allOrAbort): the test fails then, not when
      // the slowest sibling's deadline passes.
      const booted = await allOrAbort(specs, (s) => cluster.boot(s), { parent: fleet.signal });
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

    it(
      `boots the three API-server nodes (${API_BOOT_CONCURRENCY} at a time): containerd, the kubelet and the static pods from the local registry; /readyz through the load balancer, every node in service`,
      async () => {
        if (!etcdUp) throw new Error("the etcd nodes did not boot (see the first test)");
        ({ template: apiTemplate, nodes: api } = await cluster.bootApiServers(API_NODES, ZONES, API_BOOT_CONCURRENCY, API_SERVER_CHECKS));
      },
      API_TEST_MS,
    );

    it(
      "applies the cluster-objects stack through the load balancer; a worker container runs the README's kubeadm join under systemd with no kubelet flag added, and its Node appears with a TLS-bootstrapped client certificate",
      async () => {
        if (api.length === 0) throw new Error("the API-server nodes did not come up (see the second test)");
        const { applied, adminKubeconfig, caPem } = await applyObjectsThroughLoadBalancer(cluster, api);
        try {
          timings.push(`cluster-objects stack: terraform apply through the load balancer ${(applied.applyMs / 1000).toFixed(1)} s (${applied.addresses.length} resources)`);
          // The README's "Joining worker nodes": the join_command output is exactly this.
          expect(applied.outputs.join_command).toBe("kubeadm join --discovery-file /etc/kubernetes/discovery.yaml");
          const internalDnsName = new URL(applied.endpoint).hostname;
          const worker = await bootWorker(cluster, apiTemplate, applied, internalDnsName, WORKER_SETTLE, fleet.signal);
          timings.push(`worker: kubeadm join exited 0 after ${worker.joinSeconds.toFixed(1)} s; boot to settled ${worker.bootSeconds.toFixed(1)} s`);
          const { node } = worker;
          expect((await node.exec(["systemctl", "is-active", "kubelet.service"])).stdout.trim()).toBe("active");
          expect((await node.exec(["systemctl", "--failed", "--no-legend", "--plain"])).stdout.trim()).toBe("");
          // The kubelet runs as the packaged unit and drop-in start it, with kubeadm's flags only:
          // no /etc/default/kubelet, and the KubeletConfiguration kubeadm wrote says cgroupDriver: systemd.
          expect((await node.exec(["test", "-e", "/etc/default/kubelet"])).code).not.toBe(0);
          expect((await node.exec(["cat", "/var/lib/kubelet/config.yaml"])).stdout).toMatch(/^cgroupDriver: systemd$/m);
          const pid = (await node.exec(["systemctl", "show", "-P", "MainPID", "kubelet.service"])).stdout.trim();
          const argv = (await node.exec(["cat", `/proc/${pid}/cmdline`])).stdout.split("\0").filter(Boolean);
          const flags = /^KUBELET_KUBEADM_ARGS="([^"]*)"$/m.exec((await node.exec(["cat", "/var/lib/kubelet/kubeadm-flags.env"])).stdout)?.[1].split(" ").filter(Boolean) ?? [];
          expect(argv).toEqual(["/usr/local/bin/kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml", ...flags]);
          expect(argv.some((a) => a.startsWith("--cgroup-driver"))).toBe(false);
          // The Node, seen through the load balancer with the admin certificate (rights from the stack's binding).
          const kubectl = async (...args: string[]) => {
            const r = await applied.workspace.kubectl(adminKubeconfig, args);
            if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
            return r.stdout;
          };
          const nodeObject = JSON.parse(await kubectl("get", "node", worker.nodeName, "-o", "json"));
          expect(nodeObject.metadata.name).toBe(worker.nodeName);
          expect(worker.nodeName).toBe("worker");
          // Its client certificate: CN system:node:<name>, O system:nodes, issued by the cluster CA
          // through a CSR the controller-manager auto-approved (TLS bootstrapping; the test approves nothing).
          const cert = await kubeletClientCertificate(node);
          expect(cert.subject.split("\n").sort()).toEqual([`CN=system:node:${worker.nodeName}`, "O=system:nodes"]);
          expect(cert.checkIssued(new X509Certificate(caPem))).toBe(true);
          type Csr = { spec: { signerName: string; username: string }; status: { certificate?: string; conditions?: Array<{ type: string; reason?: string }> } };
          const csrs = (JSON.parse(await kubectl("get", "csr", "-o", "json")).items as Csr[]).filter((c) => c.spec.signerName === "kubernetes.io/kube-apiserver-client-kubelet");
          expect(csrs.map((c) => ({ requestor: /^system:bootstrap:[a-z0-9]{6}$/.test(c.spec.username), conditions: (c.status.conditions ?? []).map((x) => `${x.type}/${x.reason ?? ""}`), issued: Boolean(c.status.certificate) }))).toEqual([{ requestor: true, conditions: ["Approved/AutoApproved"], issued: true }]);
          const ready = (nodeObject.status.conditions as Array<{ type: string; status: string; reason: string }>).find((c) => c.type === "Ready");
          timings.push(`worker Node ${worker.nodeName}: registered (Ready=${ready?.status}: ${ready?.reason}; no CNI is installed), client certificate ${cert.subject.replace(/\n/g, ", ")} via an auto-approved CSR`);
        } finally {
          await applied.workspace.cleanup();
        }
      },
      WORKER_TEST_MS,
    );
  },
);
