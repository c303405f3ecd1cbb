/**
 * Tier gating shared by every test that needs an outside tool.
 *
 * Outside CI a tier whose tool is missing is skipped with a printed reason. In CI (`CI=true`):
 * - tools that `.ci/run` always installs (etcd, shellcheck, cloud-init, openssl) are mandatory, so a
 *   missing one fails the run;
 * - the provider-plan tier needs terraform and the local provider mirror, which come with the machine
 *   image: where both exist it must run; where they do not, a loud `provider-plan tier NOT RUN` line is
 *   printed and the tier is skipped.
 */
import { execFileSync } from "node:child_process";

/** True when running under CI (`CI=true`). */
export const IN_CI = /^(1|true|yes)$/i.test(process.env.CI ?? "");

/** Result of checking whether a tier can run here. */
export interface TierCheck {
  readonly available: boolean;
  /** Why the tier cannot run (empty when available). */
  readonly reason: string;
}

/** Checks that `command` is on the PATH by running it with `args` (e.g. `--version`). */
export function toolAvailable(command: string, args: readonly string[] = ["--version"]): TierCheck {
  try {
    execFileSync(command, args as string[], { stdio: "ignore", timeout: 20000 });
    return { available: true, reason: "" };
  } catch (err) {
    return { available: false, reason: `${command} ${args.join(" ")} failed: ${(err as Error).message.split("\n")[0]}` };
  }
}

/**
 * `describe` for a tier: runs `body` when `check` is available, otherwise skips with a printed
 * reason. With `mandatoryInCi` a missing tool in CI fails the run instead of skipping.
 */
export function describeTier(
  name: string,
  check: TierCheck,
  options: { readonly mandatoryInCi: boolean; readonly tierLabel: string },
  body: () => void,
): void {
  if (check.available) {
    describe(name, body);
    return;
  }
  if (IN_CI && options.mandatoryInCi) {
    describe(name, () => {
      it(`${options.tierLabel} tier must run in CI`, () => {
        throw new Error(`${options.tierLabel} tier cannot run in CI: ${check.reason}`);
      });
    });
    return;
  }
  const banner = IN_CI
    ? `\n*** ${options.tierLabel} tier NOT RUN: ${check.reason} ***\n`
    : `${options.tierLabel} tier skipped (${name}): ${check.reason}`;
  console.warn(banner);
  const skipped = describe.skip;
  skipped(name, body);
}
