/**
 * The hashicorp/tls 4.1.0 stand-in (`test/providers/tls`, built by
 * `bash scripts/setup-test-env.sh tls-standin`): where it is, whether it is built, and a terraform
 * working directory that installs it together with the real hashicorp/aws provider from the local
 * filesystem mirrors, with no registry and no network.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { TierCheck, allOf, toolAvailable } from "./tiers";

/** The command that builds the stand-in (what a failing gate tells you to run). */
export const TLS_STANDIN_SETUP = "bash scripts/setup-test-env.sh tls-standin";

/** The provider address and version the stand-in registers as. */
export const TLS_PROVIDER = { source: "registry.terraform.io/hashicorp/tls", version: "4.1.0" } as const;
const AWS_PROVIDER = { source: "registry.terraform.io/hashicorp/aws", version: "5.100.0" } as const;

const REPO = path.resolve(__dirname, "..", "..");

/** The two filesystem mirrors a stand-in workspace installs from. */
export interface TlsStandinPaths {
  /** `HA_CP_TLS_MIRROR`: the stand-in's cache directory, itself a one-provider mirror. */
  readonly tlsMirror: string;
  /** `HA_CP_TF_MIRROR`: the mirror holding the real hashicorp/aws provider. */
  readonly awsMirror: string;
}

let cachedPaths: TlsStandinPaths | undefined;

/** Reads both mirror paths from `setup-test-env.sh --print-env` (which builds nothing). */
export function tlsStandinPaths(): TlsStandinPaths {
  if (cachedPaths) return cachedPaths;
  const out = execFileSync("bash", [path.join(REPO, "scripts", "setup-test-env.sh"), "--print-env"], { encoding: "utf8" });
  const vars: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]] = m[2];
  }
  for (const k of ["HA_CP_TLS_MIRROR", "HA_CP_TF_MIRROR"]) {
    if (!vars[k]) throw new Error(`setup-test-env.sh --print-env did not print ${k}`);
  }
  cachedPaths = { tlsMirror: vars.HA_CP_TLS_MIRROR, awsMirror: vars.HA_CP_TF_MIRROR };
  return cachedPaths;
}

function providerBinary(mirror: string, source: string, version: string, file: string): string {
  return path.join(mirror, source, version, "linux_amd64", file);
}

/** The stand-in binary inside its mirror. */
export function tlsStandinBinary(): string {
  return providerBinary(tlsStandinPaths().tlsMirror, TLS_PROVIDER.source, TLS_PROVIDER.version, `terraform-provider-tls_v${TLS_PROVIDER.version}`);
}

/**
 * The stand-in tier can run: its build finished (`.complete`, written last, so a half-built cache is
 * never used) for the current source tree (the directory name carries the source hash), the real
 * AWS provider is mirrored, and terraform and openssl run.
 */
export function tlsStandinCheck(): TierCheck {
  const { tlsMirror, awsMirror } = tlsStandinPaths();
  const fix = `(run \`${TLS_STANDIN_SETUP}\`)`;
  if (!existsSync(path.join(tlsMirror, ".complete"))) {
    return { available: false, reason: `hashicorp/tls 4.1.0 stand-in not built for this source tree: ${tlsMirror} has no .complete marker ${fix}` };
  }
  if (!existsSync(tlsStandinBinary())) {
    return { available: false, reason: `hashicorp/tls 4.1.0 stand-in: ${tlsStandinBinary()} missing ${fix}` };
  }
  const aws = providerBinary(awsMirror, AWS_PROVIDER.source, AWS_PROVIDER.version, `terraform-provider-aws_v${AWS_PROVIDER.version}_x5`);
  if (!existsSync(aws)) {
    return { available: false, reason: `hashicorp/aws ${AWS_PROVIDER.version} not in ${awsMirror} (run \`bash scripts/setup-test-env.sh providers\`)` };
  }
  return allOf(toolAvailable("terraform", ["version"]), toolAvailable("openssl", ["version"]));
}

/** Exit code and output of one terraform command. */
export interface TerraformResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A terraform working directory in a fresh temp dir, local state, providers only from the two
 * mirrors (no `direct` block: a provider missing from them fails init at once).
 */
export class StandinWorkspace {
  /**
   * Creates the directory, writes the configuration (HCL as `main.tf`, or a synthesized stack's JSON
   * as `main.tf.json` when `fileName` says so) and the CLI config; call {@link init} next.
   */
  static async create(mainTf: string, fileName = "main.tf"): Promise<StandinWorkspace> {
    const { tlsMirror, awsMirror } = tlsStandinPaths();
    const dir = await mkdtemp(path.join(tmpdir(), "tls-standin-"));
    const cliConfig = path.join(dir, "terraform.tfrc");
    await writeFile(
      cliConfig,
      [
        "provider_installation {",
        `  filesystem_mirror {\n    path    = ${JSON.stringify(tlsMirror)}\n    include = ["${TLS_PROVIDER.source}"]\n  }`,
        `  filesystem_mirror {\n    path    = ${JSON.stringify(awsMirror)}\n    include = ["${AWS_PROVIDER.source}"]\n  }`,
        "}",
        "disable_checkpoint = true",
        "",
      ].join("\n"),
    );
    await writeFile(path.join(dir, fileName), mainTf);
    return new StandinWorkspace(dir, cliConfig);
  }

  private constructor(
    /** The working directory (removed by {@link dispose}). */
    readonly dir: string,
    private readonly cliConfig: string,
  ) {}

  /** Runs `terraform args...` in the directory with an environment that sees only this directory's settings. */
  terraform(args: readonly string[], timeoutMs = 180_000): Promise<TerraformResult> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (/^(AWS_|TF_)/.test(k)) continue;
      env[k] = v;
    }
    Object.assign(env, {
      TF_CLI_CONFIG_FILE: this.cliConfig,
      TF_DATA_DIR: path.join(this.dir, ".terraform"),
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      CHECKPOINT_DISABLE: "1",
      AWS_EC2_METADATA_DISABLED: "true",
    });
    return new Promise((resolve) => {
      execFile("terraform", ["-chdir=" + this.dir, ...args], { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        const failure = error as (NodeJS.ErrnoException & { code?: number | string }) | null;
        resolve({
          code: failure ? (typeof failure.code === "number" ? failure.code : -1) : 0,
          stdout: String(stdout),
          stderr: String(stderr) + (failure && typeof failure.code !== "number" ? `\n${failure.message}` : ""),
        });
      });
    });
  }

  /** `terraform init` from the mirrors; throws with terraform's output when it fails. */
  async init(): Promise<void> {
    const r = await this.terraform(["init", "-input=false", "-no-color"]);
    if (r.code !== 0) throw new Error(`terraform init failed in ${this.dir}:\n${r.stderr}\n${r.stdout}`);
  }

  /** Removes the directory (state, keys and all). */
  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
