/**
 * Control-plane tier, scenario 7 (first half): `terraform apply` of the reference example's
 * cluster-objects stack against the running API servers, through the load balancer, with real
 * terraform 1.11 and the providers of the plan mirror (hashicorp/kubernetes 2.38.0 and
 * hashicorp/tls 4.1.0 stand-ins, which apply for real; see test/README.md).
 *
 * The stack: the reference example (`HaClusterStack`) with a `ClusterAccessSecret`, and a
 * `ClusterObjectsStack` reading it, as the README's *Cluster stack* section declares them. Offline
 * substitutions, each the only way to run it here:
 * - the one AWS data source, `data.aws_secretsmanager_secret_version.AccessSecret`, is replaced by
 *   its value (the plan tier's `prepareForOfflinePlan` substitution): the JSON the control plane's
 *   stack writes (`ACCESS_SECRET_KEYS`), filled with the running cluster's CA and the harness's
 *   super-admin certificate (what the secret holds for the first deploy, identity SUPER_ADMIN);
 * - the endpoint in that JSON is `https://<a literal DNS SAN of the API certificate>:<listener port>`
 *   instead of the NLB's DNS name (a Terraform token, not issuable offline), and terraform runs in
 *   the tier's client network namespace with a private /etc/hosts resolving that name to haproxy,
 *   as the VPC's resolver resolves the NLB name. The provider block is applied as synthesized.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Testing } from "../../lib/core";
import { ClusterAccessSecret, ClusterObjectsStack, ControlPlaneAccess } from "../../lib/cluster";
import { ACCESS_SECRET_KEYS, ProviderIdentity } from "../../lib/cluster/access-secret";
import { SUPER_ADMIN_SPEC_ID } from "../../lib/cluster/access";
import { HaClusterStack, HaClusterStackProps } from "../../examples/ha-cluster/main";
import { CommandResult, runCommand } from "../harness/etcd-cluster";
import { JsonObject, PreparedStack, childEnv, cliConfigText, findProviderMirror, mirrorProviders, prepareForOfflinePlan } from "../harness/provider-plan";
import type { ControlPlaneCluster } from "./control-plane";

/** Data source the substitution replaces (its `secret_string`). */
export const ACCESS_SECRET_REFERENCE = "data.aws_secretsmanager_secret_version.AccessSecret.secret_string";

/** The reference example's cluster-objects stack, synthesized (cdk.tf.json as an object); `props` vary the reference stack. */
export function synthesizeClusterObjects(props: HaClusterStackProps = {}): JsonObject {
  const app = Testing.app();
  const cp = new HaClusterStack(app, "cp", props);
  const secret = new ClusterAccessSecret(cp, "ClusterObjectsAccess", {
    controlPlane: cp.controlPlane,
    region: "eu-west-1",
    readerRoleArn: "arn:aws:iam::123456789012:role/cluster-objects-deployer",
  });
  const objects = new ClusterObjectsStack(app, "objects", { access: ControlPlaneAccess.fromControlPlane(cp.controlPlane), accessSecret: secret });
  return JSON.parse(Testing.synth(objects)) as JsonObject;
}

/** Values of the access secret (keys of `ACCESS_SECRET_KEYS`). */
export interface AccessSecretValues {
  readonly apiUrl: string;
  readonly internalApiUrl: string;
  readonly caCertPem: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
}

/** The secret's JSON as the control plane's stack writes it. */
export function accessSecretJson(v: AccessSecretValues): string {
  const K = ACCESS_SECRET_KEYS;
  return JSON.stringify({
    [K.apiUrl]: v.apiUrl,
    [K.internalApiUrl]: v.internalApiUrl,
    [K.caCertPem]: v.caCertPem,
    [K.clientCertPem]: v.clientCertPem,
    [K.clientKeyPem]: v.clientKeyPem,
    [K.identity]: ProviderIdentity.SUPER_ADMIN,
  });
}

/** The synthesized stack prepared for the run: the access secret substituted, nothing else. */
export function prepareClusterObjects(synth: JsonObject, secret: AccessSecretValues): PreparedStack {
  const mirror = findProviderMirror();
  if (!mirror) throw new Error("no provider mirror (run `bash scripts/setup-test-env.sh`)");
  const prepared = prepareForOfflinePlan(synth, {
    availableProviders: mirrorProviders(mirror).map((p) => p.source),
    substituteDataSources: ["aws_secretsmanager_secret_version"],
    substituteValues: { [ACCESS_SECRET_REFERENCE]: accessSecretJson(secret) },
  });
  if (prepared.removedProviders.length > 0) throw new Error(`the mirror lacks ${prepared.removedProviders.join(", ")}`);
  const unexpected = prepared.removed.filter((a) => a !== "data.aws_secretsmanager_secret_version.AccessSecret");
  if (unexpected.length > 0) throw new Error(`more than the access secret was cut out: ${unexpected.join(", ")}`);
  return prepared;
}

/** Where terraform runs: a network namespace and the /etc/hosts it sees there. */
export interface TerraformPlace {
  /** Network namespace (`ip netns exec`). @default - the host's */
  readonly netns?: string;
  /** Content of /etc/hosts in terraform's private mount namespace. @default - the host's */
  readonly hosts?: string;
}

/** A terraform working directory for one stack, run in {@link TerraformPlace}. */
export class TerraformWorkspace {
  private constructor(
    readonly dir: string,
    private readonly place: TerraformPlace,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Writes `main.tf.json` and a CLI configuration using only the plan mirror, then `terraform init`. */
  static async create(json: JsonObject, place: TerraformPlace = {}): Promise<TerraformWorkspace> {
    const mirror = findProviderMirror();
    if (!mirror) throw new Error("no provider mirror (run `bash scripts/setup-test-env.sh`)");
    const dir = await mkdtemp(path.join(tmpdir(), "cluster-objects-"));
    const cli = path.join(dir, "terraform.tfrc");
    await writeFile(path.join(dir, "main.tf.json"), `${JSON.stringify(json, null, 2)}\n`);
    await writeFile(cli, cliConfigText(mirror, mirrorProviders(mirror).map((p) => p.source)));
    if (place.hosts !== undefined) await writeFile(path.join(dir, "hosts"), place.hosts);
    const ws = new TerraformWorkspace(dir, place, childEnv(dir, cli));
    await ws.must(["init", "-input=false", "-no-color"]);
    return ws;
  }

  /** Runs `terraform <args>`; a non-zero exit is data. */
  run(args: readonly string[], timeoutMs = 600_000): Promise<CommandResult> {
    return this.exec(["terraform", ...args], timeoutMs);
  }

  /** Runs any command where terraform runs (its namespace and /etc/hosts), in the working directory. */
  exec(command: readonly string[], timeoutMs = 120_000): Promise<CommandResult> {
    let argv = [...command];
    if (this.place.hosts !== undefined) {
      // A private mount namespace whose /etc/hosts resolves the endpoint name (Go's resolver reads it).
      argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', path.join(this.dir, "hosts"), ...argv];
    }
    if (this.place.netns !== undefined) argv = ["ip", "netns", "exec", this.place.netns, ...argv];
    return runCommand(argv[0], argv.slice(1), { cwd: this.dir, env: this.env, timeoutMs });
  }

  /** kubectl with a kubeconfig given as text (written into the working directory), where terraform runs. */
  async kubectl(kubeconfig: string, args: readonly string[]): Promise<CommandResult> {
    const file = path.join(this.dir, `kubeconfig-${++this.kubeconfigs}`);
    await writeFile(file, kubeconfig, { mode: 0o600 });
    return this.exec(["kubectl", `--kubeconfig=${file}`, "--request-timeout=20s", ...args]);
  }

  private kubeconfigs = 0;

  /** Runs `terraform <args>` and fails with terraform's own text unless it exits 0. */
  async must(args: readonly string[], timeoutMs = 600_000): Promise<CommandResult> {
    const r = await this.run(args, timeoutMs);
    if (r.exitCode !== 0) throw new Error(`terraform ${args[0]} failed (exit ${r.exitCode}${r.timedOut ? ", timed out" : ""}) in ${this.dir}:\n${r.stderr.slice(-6000)}\n${r.stdout.slice(-4000)}`);
    return r;
  }

  /** `terraform output -json`, values only. */
  async outputs(): Promise<Record<string, unknown>> {
    const r = await this.must(["output", "-json", "-no-color"]);
    const parsed = JSON.parse(r.stdout) as Record<string, { value: unknown }>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v.value]));
  }

  /** `terraform state list`. */
  async stateList(): Promise<string[]> {
    const r = await this.must(["state", "list"]);
    return r.stdout.split("\n").filter(Boolean);
  }

  /** Removes the working directory. */
  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Outputs of the cluster-objects stack (`ClusterObjectsStack`'s TerraformOutputs). */
export interface ClusterObjectsOutputs {
  readonly join_endpoint: string;
  readonly kubernetes_ca_certificate: string;
  readonly discovery_kubeconfig: string;
  readonly cluster_dns_ip: string;
  readonly bootstrap_token_id: string;
  readonly bootstrap_token_expiration: string;
  readonly bootstrap_token: string;
  readonly bootstrap_kubeconfig: string;
  readonly join_command: string;
}

/** Result of {@link applyClusterObjects}. */
export interface AppliedClusterObjects {
  /** The workspace (state inside): plan again, destroy, `cleanup()` when done. */
  readonly workspace: TerraformWorkspace;
  readonly outputs: ClusterObjectsOutputs;
  /** Wall time of `terraform apply`. */
  readonly applyMs: number;
  /** Resource addresses in the state after apply. */
  readonly addresses: readonly string[];
  /** What was fed to terraform. */
  readonly prepared: PreparedStack;
  /** The endpoint the stack was given (`https://<name>:<port>`), resolvable only in {@link AppliedClusterObjects.hosts}. */
  readonly endpoint: string;
  /** /etc/hosts terraform ran with (the endpoint name → haproxy's address). */
  readonly hosts: string;
}

/** Options of {@link applyClusterObjects}. */
export interface ApplyClusterObjectsOptions {
  /** The synthesized stack. @default synthesizeClusterObjects() */
  readonly synth?: JsonObject;
  /** `internal_api_url` of the secret (the endpoint nodes join through). @default - the same as the provider's endpoint */
  readonly internalApiUrl?: string;
}

/** Where {@link applyClusterObjectsThrough} reaches the API servers, and as whom. */
export interface ClusterObjectsTarget {
  /** A literal DNS SAN of the API server certificate (the endpoint's host name). */
  readonly apiServerName: string;
  /** The load balancer's listener port. */
  readonly port: number;
  /** The load balancer's address in `netns` (the endpoint name resolves to it). */
  readonly loadBalancerIp: string;
  /** Network namespace terraform runs in. */
  readonly netns: string;
  /** The cluster CA certificate (PEM). */
  readonly caCertPem: string;
  /** The `system:masters` super-admin certificate and key the provider authenticates with (PEM). */
  readonly superAdminCertPem: string;
  readonly superAdminKeyPem: string;
  /** Called after apply: resolves once the admin certificate has its rights (the stack's binding) everywhere. */
  readonly waitForAdminRights: () => Promise<void>;
}

/**
 * `terraform apply` of the reference cluster-objects stack through a load balancer, as
 * {@link applyClusterObjects} does for the control-plane tier and the boot tier does for its booted
 * API servers: the stack's provider endpoint is `https://<apiServerName>:<port>`, resolved to the
 * load balancer by terraform's private /etc/hosts in `netns`.
 */
export async function applyClusterObjectsThrough(target: ClusterObjectsTarget, options: ApplyClusterObjectsOptions = {}): Promise<AppliedClusterObjects> {
  const endpoint = `https://${target.apiServerName}:${target.port}`;
  const hosts = `127.0.0.1 localhost\n${target.loadBalancerIp} ${target.apiServerName}\n`;
  const prepared = prepareClusterObjects(options.synth ?? synthesizeClusterObjects(), {
    apiUrl: endpoint,
    internalApiUrl: options.internalApiUrl ?? endpoint,
    caCertPem: target.caCertPem,
    clientCertPem: target.superAdminCertPem,
    clientKeyPem: target.superAdminKeyPem,
  });
  const workspace = await TerraformWorkspace.create(prepared.json, { netns: target.netns, hosts });
  try {
    const start = Date.now();
    await workspace.must(["apply", "-auto-approve", "-input=false", "-no-color"]);
    const applyMs = Date.now() - start;
    const outputs = (await workspace.outputs()) as unknown as ClusterObjectsOutputs;
    const addresses = await workspace.stateList();
    await target.waitForAdminRights();
    return { workspace, outputs, applyMs, addresses, prepared, endpoint, hosts };
  } catch (err) {
    await workspace.cleanup();
    throw err;
  }
}

/**
 * Applies the reference cluster-objects stack to a running {@link ControlPlaneCluster}: removes the
 * `kubeadm:cluster-admins` binding the harness made for its own admin kubeconfig (the stack creates
 * it, as on a real first deploy; the super-admin identity needs none), then `terraform apply` in the
 * client namespace through haproxy ({@link applyClusterObjectsThrough}), and waits until the admin
 * certificate has rights again.
 */
export async function applyClusterObjects(cp: ControlPlaneCluster, options: ApplyClusterObjectsOptions = {}): Promise<AppliedClusterObjects> {
  const superAdmin = cp.issued.get(SUPER_ADMIN_SPEC_ID);
  if (!superAdmin) throw new Error("the harness issued no super-admin certificate");
  const del = await cp.curl("lb", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:cluster-admins", { cert: superAdmin, method: "DELETE" });
  if (del.status !== 200 && del.status !== 404) throw new Error(`deleting the harness's kubeadm:cluster-admins binding answered ${del.status}: ${del.body}`);
  return applyClusterObjectsThrough(
    {
      apiServerName: cp.apiServerName,
      port: cp.spec.model.listenerPort,
      loadBalancerIp: cp.clientIp,
      netns: cp.clientNs,
      caCertPem: readFileSync(cp.kubernetesCa().cert, "utf8"),
      superAdminCertPem: readFileSync(superAdmin.cert, "utf8"),
      superAdminKeyPem: readFileSync(superAdmin.key, "utf8"),
      // The admin certificate's rights come from the binding the stack created: every API server's
      // RBAC cache must see it before callers use kubectl.
      waitForAdminRights: async () => {
        for (const s of cp.apiSlots) {
          const deadline = Date.now() + 30_000;
          while ((await cp.curl(s, "/api/v1/namespaces/default", { cert: cp.issued.get("admin") })).status !== 200) {
            if (Date.now() > deadline) throw new Error(`the admin certificate has no rights on ${s} 30 s after the stack's kubeadm:cluster-admins binding`);
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      },
    },
    options,
  );
}
