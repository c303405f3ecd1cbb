import { S3Backend, TerraformStack } from "../core";
import { ConfigError } from "../errors";
import { checkNonEmpty } from "../validate";
import { BlueprintStackKind, IStateBackendConfigurator } from "./blueprint";

/** Props of {@link S3StateBackend}. */
export interface S3StateBackendProps {
  /** State bucket (encrypted, versioned; created outside the blueprint). */
  readonly bucket: string;
  /** Region of the bucket. */
  readonly region: string;
  /**
   * Prefix of every state key: a stack's state is `<keyPrefix>/<cluster>/<kind>.tfstate`.
   * @default "kubernetes"
   */
  readonly keyPrefix?: string;
  /**
   * KMS key (ARN) the state objects are encrypted with. The state holds the cluster's private keys.
   * @default - the bucket's default encryption (SSE-S3 unless the bucket sets a key)
   */
  readonly kmsKeyId?: string;
}

/**
 * Keeps each blueprint stack's state in S3, one key per cluster and stack, encrypted, with
 * S3-native state locking (`use_lockfile = true`, Terraform ≥ 1.10): a `<key>.tflock` object
 * beside the state, so no DynamoDB table is needed (DynamoDB locking is deprecated in Terraform
 * 1.11). cdktf 0.21's `S3Backend` has no `useLockfile`, so it is set with an override.
 */
export class S3StateBackend implements IStateBackendConfigurator {
  private readonly props: S3StateBackendProps;

  constructor(props: S3StateBackendProps) {
    checkNonEmpty("bucket", props.bucket, "pass the name of the state bucket");
    checkNonEmpty("region", props.region, 'pass the bucket\'s region, e.g. "eu-west-1"');
    const prefix = props.keyPrefix ?? "kubernetes";
    if (!/^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/.test(prefix)) {
      throw new ConfigError("keyPrefix", prefix, "must be S3 key segments separated by '/', without leading or trailing '/'", 'use for example "kubernetes" or "teams/payments"');
    }
    this.props = { ...props, keyPrefix: prefix };
  }

  /** Declares the stack's S3 backend with native locking. */
  public configure(stack: TerraformStack, clusterName: string, kind: BlueprintStackKind): void {
    const backend = new S3Backend(stack, {
      bucket: this.props.bucket,
      key: `${this.props.keyPrefix}/${clusterName}/${kind}.tfstate`,
      region: this.props.region,
      encrypt: true,
      kmsKeyId: this.props.kmsKeyId,
    });
    backend.addOverride("use_lockfile", true);
  }
}
