/**
 * The only module that imports from the CDK for Terraform core package.
 *
 * cdktf 0.21 is the last HashiCorp release; CDK Terrain (`cdktn`) is its community fork, a renamed
 * drop-in. Keeping every core import here means a cdktn build line only has to change this file.
 */
export {
  App,
  Annotations,
  Aspects,
  Fn,
  Lazy,
  S3Backend,
  TerraformElement,
  TerraformOutput,
  TerraformResource,
  TerraformStack,
  Testing,
  Token,
  dependable,
} from "cdktf";
export type { IAspect, ITerraformDependable } from "cdktf";

/**
 * cdktf captures a full stack trace for every token it creates (600+ per control plane), only to
 * print it if that token later fails to resolve. That is a fifth of synth time and ~1 MB of heap
 * per cluster (measured by `npm run bench`). Loading this library turns the capture off; set
 * HA_CP_TOKEN_STACK_TRACES=1 to keep it when debugging an unresolvable token. Cores without this
 * private module (a cdktn build) are left untouched.
 */
function disableTokenCreationStacks(): void {
  if (process.env.HA_CP_TOKEN_STACK_TRACES === "1") return;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const stackTrace = require("cdktf/lib/tokens/private/stack-trace") as { captureStackTrace?: unknown };
    if (typeof stackTrace.captureStackTrace === "function") {
      Object.assign(stackTrace, { captureStackTrace: (): string[] => [] });
    }
  } catch {
    // A core without the module: nothing to turn off.
  }
}
disableTokenCreationStacks();
