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
} from "cdktf";
export type { IAspect, ITerraformDependable } from "cdktf";
