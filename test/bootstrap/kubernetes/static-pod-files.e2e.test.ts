/**
 * Issue 10, defect 3: every file a control-plane container reads must be inside a hostPath it
 * mounts. The API server user data of the reference cluster (and a stacked one) is laid out in a
 * temporary root as cloud-init writes it, real certificates from openssl stand where
 * ha-fetch-secrets puts them, and the real ha-kube-configure (bash, the real AWS CLI against the AWS emulator) writes manifests
 * and kubeconfigs. Then every manifest is parsed and every flag path, every file referenced by a
 * kubeconfig as written, and every admission plugin file is checked against the container's mounts.
 * When kubectl is available (HA_CP_KUBE_BIN), it reads the written kubeconfigs too.
 */
import { execFile, execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { Testing } from "../../../lib/core";
import { HaClusterStack } from "../../../examples/ha-cluster/main";
import { EtcdTopology, HaControlPlane } from "../../../lib";
import { AwsEmulator, awsEmulatorCheck, startAwsEmulator } from "../../harness/aws-emulator";
import { allOf, describeTier, toolAvailable } from "../../harness/tiers";
import { renderedScript } from "../../helpers/scripts";
import { nodeFilesOf, resources, synth, synthStack } from "../../helpers/synth";
import { containerReads, unmountedReads } from "./static-pod-files";

const run = promisify(execFile);
const SCRIPT = renderedScript("ha-kube-configure.sh");

type WriteFiles = Array<{ path: string; content: string; permissions: string }>;

/** Every file (user data and bootstrap bundle) of the first API server launch template of a synthesized stack. */
function apiServerWriteFiles(json: ReturnType<typeof synthStack>): WriteFiles {
  const lt = resources(json, "aws_launch_template").find((l) =>
    /apiserver/.test(String(l.props.name))
  )!;
  return nodeFilesOf(json, lt);
}

const CASES: Array<[string, () => WriteFiles]> = [
  [
    "reference cluster",
    () =>
      apiServerWriteFiles(synthStack(new HaClusterStack(Testing.app(), "ref"))),
  ],
  [
    "stacked etcd",
    () =>
      apiServerWriteFiles(
        synth(
          (s) =>
            new HaControlPlane(s, "Cp", {
              clusterName: "st",
              kubernetesVersion: "1.33.5",
              availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
              amiId: "ami-0123456789abcdef0",
              etcdTopology: EtcdTopology.STACKED,
            })
        )
      ),
  ],
];

/**
 * The node's bin directory: the real AWS CLI (from the emulator's virtualenv) and a silent logger.
 * The emulator's Secrets Manager already holds the cluster's encryption key, written with the
 * script's fixed first-write token as the first API server leaves it.
 */
function nodeBin(dir: string, emulator: AwsEmulator): string {
  const bin = path.join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  emulator.aws("secretsmanager", "create-secret", "--name", "c/control-plane/encryption-key", "--secret-string", Buffer.alloc(32, 7).toString("base64"), "--client-request-token", "ha-control-plane-initial-encryption-key-v1");
  writeFileSync(path.join(bin, "aws"), `#!/usr/bin/env bash\nexec ${JSON.stringify(emulator.awsCli)} "$@"\n`);
  writeFileSync(path.join(bin, "logger"), "#!/usr/bin/env bash\nexit 0\n");
  chmodSync(path.join(bin, "aws"), 0o755);
  chmodSync(path.join(bin, "logger"), 0o755);
  return bin;
}

/** A self-signed client certificate and key, as ha-fetch-secrets writes them (PEM, 0600). */
function issue(pki: string, stem: string, cn: string): void {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      path.join(pki, `${stem}.key`),
      "-out",
      path.join(pki, `${stem}.crt`),
    ],
    { stdio: "ignore" }
  );
  chmodSync(path.join(pki, `${stem}.key`), 0o600);
}

const KUBECTL = path.join(
  process.env.HA_CP_KUBE_BIN ??
    "/var/cache/cdktf-ha-control-plane/kubernetes-1.33.5/bin",
  "kubectl"
);

const TOOLS = allOf(toolAvailable("bash", ["--version"]), toolAvailable("openssl", ["version"]), awsEmulatorCheck());
const KUBECTL_CHECK = toolAvailable(KUBECTL, ["version", "--client"]);

describeTier(
  "static pods read only mounted files (real ha-kube-configure, AWS CLI against moto)",
  TOOLS,
  { tierLabel: "node e2e" },
  () => {
    const root = mkdtempSync(path.join(tmpdir(), "static-pod-files-"));
    jest.setTimeout(180000);
    let emulator!: AwsEmulator;
    let bin!: string;
    beforeAll(async () => {
      emulator = await startAwsEmulator();
      bin = nodeBin(root, emulator);
    }, 60000);
    afterAll(async () => {
      await emulator?.stop();
      rmSync(root, { recursive: true, force: true });
    });

    /** Boots one node root from `files`; returns a reader of host paths inside it. */
    async function boot(
      name: string,
      files: WriteFiles
    ): Promise<{ node: string; read: (p: string) => string | undefined }> {
      const node = path.join(root, name);
      for (const f of files) {
        const target = path.join(node, f.path);
        mkdirSync(path.dirname(target), { recursive: true });
        writeFileSync(target, f.content, { mode: parseInt(f.permissions, 8) });
      }
      const pki = path.join(node, "etc/kubernetes/pki");
      mkdirSync(pki, { recursive: true, mode: 0o700 });
      issue(pki, "ca", "kubernetes");
      issue(pki, "scheduler", "system:kube-scheduler");
      issue(pki, "controller-manager", "system:kube-controller-manager");
    // Every other PKI file a manifest names (the API server's), non-empty as ha-fetch-secrets leaves them.
    for (const f of files.filter((x) => x.path.startsWith("/etc/ha-control-plane/manifests/"))) {
      for (const ref of new Set(f.content.match(/\/etc\/kubernetes\/pki\/[\w./-]+/g) ?? [])) {
        const target = path.join(node, ref);
        if (existsSync(target)) continue;
        mkdirSync(path.dirname(target), { recursive: true });
        writeFileSync(target, readFileSync(path.join(pki, ref.endsWith(".key") ? "ca.key" : "ca.crt")), { mode: 0o600 });
      }
    }
      mkdirSync(path.join(node, "run"), { recursive: true });
      writeFileSync(
        path.join(node, "node.env"),
        "ENCRYPTION_KEY_SECRET='c/control-plane/encryption-key'\n"
      );
      writeFileSync(
        path.join(node, "run/slot.env"),
        "SLOT_NAME=apiserver-0\nSLOT_IP=10.0.0.10\n"
      );
      await run("bash", [SCRIPT], {
        env: {
          ...emulator.env,
          HOME: node,
          PATH: `${bin}:/usr/bin:/bin`,
          ENV_FILE: path.join(node, "node.env"),
          STATE_DIR: path.join(node, "run"),
          TEMPLATE_DIR: path.join(node, "etc/ha-control-plane/manifests"),
          MANIFEST_DIR: path.join(node, "etc/kubernetes/manifests"),
          KUBECONFIG_TEMPLATE_DIR: path.join(
            node,
            "etc/ha-control-plane/kubeconfigs"
          ),
          KUBE_DIR: path.join(node, "etc/kubernetes"),
          PKI_DIR: pki,
          ENCRYPTION_CONFIG: path.join(
            node,
            "etc/kubernetes/encryption-config.yaml"
          ),
          START_KUBELET: "false",
        },
        timeout: 90000,
      });
      const read = (p: string) => {
        const f = path.join(node, p);
        return existsSync(f) && statSync(f).isFile()
          ? readFileSync(f, "utf8")
          : undefined;
      };
      return { node, read };
    }

    describe.each(CASES)("%s", (name, filesOf) => {
      let booted: { node: string; read: (p: string) => string | undefined };
      beforeAll(async () => {
        booted = await boot(name.replace(/\W+/g, "-"), filesOf());
      }, 180000);

      const manifests = () =>
        readdirSync(path.join(booted.node, "etc/kubernetes/manifests")).filter(
          (f) => f.endsWith(".yaml")
        );

      it("writes the secrets-encryption configuration with the key Secrets Manager holds", () => {
        const config = parse(booted.read("/etc/kubernetes/encryption-config.yaml")!);
        expect(config.resources[0].providers[0].secretbox.keys[0].secret).toBe(Buffer.alloc(32, 7).toString("base64"));
      });

      it("writes the three control-plane static pods", () => {
        expect(manifests().sort()).toEqual([
          "kube-apiserver.yaml",
          "kube-controller-manager.yaml",
          "kube-scheduler.yaml",
        ]);
      });

      it("mounts every file each container reads: flags, kubeconfigs and the files they reference, admission plugin configs", () => {
        for (const m of manifests()) {
          const reads = containerReads(
            readFileSync(
              path.join(booted.node, "etc/kubernetes/manifests", m),
              "utf8"
            ),
            booted.read
          );
          expect(reads.length).toBeGreaterThan(0);
          expect(unmountedReads(reads)).toEqual([]);
        }
      });

      it("gives the scheduler a kubeconfig with its own certificate and key embedded, 0600, and nothing else to read", () => {
        const pod = parse(
          booted.read("/etc/kubernetes/manifests/kube-scheduler.yaml")!
        );
        expect(
          pod.spec.volumes.map(
            (v: { hostPath: { path: string } }) => v.hostPath.path
          )
        ).toEqual(["/etc/kubernetes/scheduler.conf"]);
        const file = path.join(booted.node, "etc/kubernetes/scheduler.conf");
        expect(statSync(file).mode & 0o777).toBe(0o600);
        const kc = parse(readFileSync(file, "utf8"));
        const pem = (stem: string) =>
          readFileSync(
            path.join(booted.node, "etc/kubernetes/pki", stem),
            "utf8"
          );
        expect(
          Buffer.from(
            kc.users[0].user["client-certificate-data"],
            "base64"
          ).toString()
        ).toBe(pem("scheduler.crt"));
        expect(
          Buffer.from(kc.users[0].user["client-key-data"], "base64").toString()
        ).toBe(pem("scheduler.key"));
        expect(
          Buffer.from(
            kc.clusters[0].cluster["certificate-authority-data"],
            "base64"
          ).toString()
        ).toBe(pem("ca.crt"));
        // The embedded certificate is the scheduler's (openssl reads it back).
        const subject = execFileSync(
          "openssl",
          ["x509", "-noout", "-subject"],
          {
            input: Buffer.from(
              kc.users[0].user["client-certificate-data"],
              "base64"
            ),
          }
        ).toString();
        expect(subject).toMatch(/CN\s*=\s*system:kube-scheduler/);
      });

      describeTier(
        "with kubectl",
        KUBECTL_CHECK,
        { tierLabel: "kubectl" },
        () => {
          it("kubectl reads the written kubeconfigs (kubectl config view --raw)", () => {
            for (const conf of ["scheduler.conf", "controller-manager.conf"]) {
              const file = path.join(booted.node, "etc/kubernetes", conf);
              const view = JSON.parse(
                execFileSync(KUBECTL, [
                  "config",
                  "view",
                  "--kubeconfig",
                  file,
                  "--raw",
                  "-o",
                  "json",
                ]).toString()
              );
              const user = view.users[0].user;
              expect(user["client-certificate-data"]).toBe(
                readFileSync(
                  path.join(
                    booted.node,
                    "etc/kubernetes/pki",
                    conf.replace(".conf", ".crt")
                  )
                ).toString("base64")
              );
              expect(user["client-certificate"]).toBeUndefined();
            }
          });
        }
      );
    });

    it("fails visibly, writing no manifest, when a certificate a kubeconfig embeds is missing", async () => {
      const files = CASES[0][1]();
      const node = path.join(root, "missing-cert");
      for (const f of files) {
        mkdirSync(path.dirname(path.join(node, f.path)), { recursive: true });
        writeFileSync(path.join(node, f.path), f.content);
      }
      mkdirSync(path.join(node, "etc/kubernetes/pki"), { recursive: true });
      mkdirSync(path.join(node, "run"), { recursive: true });
      writeFileSync(
        path.join(node, "node.env"),
        "ENCRYPTION_KEY_SECRET='c/control-plane/encryption-key'\n"
      );
      writeFileSync(
        path.join(node, "run/slot.env"),
        "SLOT_NAME=apiserver-0\nSLOT_IP=10.0.0.10\n"
      );
      const result = run("bash", [SCRIPT], {
        env: {
          ...emulator.env,
          HOME: node,
          PATH: `${bin}:/usr/bin:/bin`,
          ENV_FILE: path.join(node, "node.env"),
          STATE_DIR: path.join(node, "run"),
          TEMPLATE_DIR: path.join(node, "etc/ha-control-plane/manifests"),
          MANIFEST_DIR: path.join(node, "etc/kubernetes/manifests"),
          KUBECONFIG_TEMPLATE_DIR: path.join(
            node,
            "etc/ha-control-plane/kubeconfigs"
          ),
          KUBE_DIR: path.join(node, "etc/kubernetes"),
          PKI_DIR: path.join(node, "etc/kubernetes/pki"),
          ENCRYPTION_CONFIG: path.join(
            node,
            "etc/kubernetes/encryption-config.yaml"
          ),
          START_KUBELET: "false",
        },
        timeout: 90000,
      });
      await expect(result).rejects.toMatchObject({
        stderr: expect.stringMatching(/pki\/ca\.crt is missing/),
      });
      expect(
        existsSync(
          path.join(node, "etc/kubernetes/manifests/kube-scheduler.yaml")
        )
      ).toBe(false);
    });
  }
);
