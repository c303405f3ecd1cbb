import { Token } from "../../core";
import { ConfigError } from "../../errors";
import { BootExtras, BootFile, NODE_PATHS, NodeBootInput, nodeBootPlan, nodeScript, renderNodeCloudConfig } from "../node-user-data";
import { BundleArchive, renderBundleArchive } from "./archive";

/**
 * Pure renderer of a node's boot split in two: the files that are the same on every node of a role
 * and hold no secret go into a bootstrap bundle (a deterministic `.tar.gz`, see
 * {@link renderBundleArchive}); the user data keeps what differs per node (`node.env`, any file
 * holding a value known only at apply time), the bundle's bucket, key and SHA-256, and the fetch
 * step that checks and extracts the bundle before anything else runs.
 */

/** Where a role's bundle goes. */
export interface NodeBundleTarget {
  /** Bucket name (literal, or a token resolving to the name). */
  readonly bucketName: string;
  /**
   * Key prefix inside the bucket: empty, or ending in `/`.
   * @default ""
   */
  readonly keyPrefix?: string;
  /** Node role, part of the key (`apiserver`, `etcd-0`): the role's nodes may read only its prefix. */
  readonly role: string;
}

/** A node boot split into user data and bundle. */
export interface NodeBundle {
  /** The cloud-config (user data). */
  readonly userData: string;
  /** The bundle. */
  readonly archive: BundleArchive;
  /** Object key: `<prefix>bundles/<role>/<sha256>.tar.gz`. */
  readonly key: string;
  /** Key prefix of the role's bundles, `<prefix>bundles/<role>/` (what the role may read). */
  readonly rolePrefix: string;
  /** Files left in the user data (`node.env` first, then the fetch step and per-node files). */
  readonly inlineFiles: readonly BootFile[];
}

/** `node.env` keys the fetch step reads. */
export const BUNDLE_ENV = {
  /** `HA_BUNDLE_BUCKET`: the bucket holding the node's bundle. */
  bucket: "HA_BUNDLE_BUCKET",
  /** `HA_BUNDLE_KEY`: the bundle's object key, `<prefix>bundles/<role>/<sha256>.tar.gz` (a changed bundle is a new key). */
  key: "HA_BUNDLE_KEY",
  /** `HA_BUNDLE_SHA256`: the SHA-256 the fetch step checks the downloaded bundle against. */
  sha256: "HA_BUNDLE_SHA256",
} as const;

/** Checks a bundle key prefix: empty, or `segment/` segments of letters, digits, `_`, `.`, `-`. */
export function checkBundleKeyPrefix(prop: string, prefix: string): void {
  if (Token.isUnresolved(prefix)) {
    throw new ConfigError(prop, prefix, "must be known at synth time (it is part of the node's IAM policy and of the checked key)", "pass a literal prefix");
  }
  if (prefix !== "" && !/^([A-Za-z0-9_.-]+\/)+$/.test(prefix)) {
    throw new ConfigError(prop, prefix, "is not a key prefix of segments of letters, digits, '_', '.' and '-', each ending in '/'", 'use "" or e.g. "clusters/prod/"');
  }
  if (prefix.split("/").some((seg) => seg === "." || seg === "..")) {
    throw new ConfigError(prop, prefix, "has a '.' or '..' segment", "use plain segments");
  }
}

/**
 * Splits the boot of `input` (with `extras`) into user data and a bundle for `target`. A file whose
 * path or content holds a cdktf token stays in the user data (its bytes are known only at apply
 * time, so it cannot be part of an archive checksummed at synth).
 */
export function renderNodeBundle(input: NodeBootInput, extras: BootExtras, target: NodeBundleTarget): NodeBundle {
  const prefix = target.keyPrefix ?? "";
  checkBundleKeyPrefix("bootstrapBundleKeyPrefix", prefix);
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(target.role)) {
    throw new ConfigError("bundle role", target.role, "is not a lower-case DNS label", 'use the node role, e.g. "apiserver" or "etcd-0"');
  }
  const plan = nodeBootPlan(input, extras);
  const [envFile, ...rest] = plan.files;
  if (envFile.path !== NODE_PATHS.env) throw new Error(`node boot plan starts with ${envFile.path}, not ${NODE_PATHS.env}`);
  const perNode = (f: BootFile) => Token.isUnresolved(f.path) || Token.isUnresolved(f.content);
  const archive = renderBundleArchive(rest.filter((f) => !perNode(f)));
  const rolePrefix = `${prefix}bundles/${target.role}/`;
  const key = `${rolePrefix}${archive.sha256}.tar.gz`;
  const env = { ...extras.env, [BUNDLE_ENV.bucket]: target.bucketName, [BUNDLE_ENV.key]: key, [BUNDLE_ENV.sha256]: archive.sha256 };
  const withEnv = nodeBootPlan(input, { ...extras, env });
  const inlineFiles: BootFile[] = [withEnv.files[0], { path: NODE_PATHS.fetchBundleScript, permissions: "0755", content: nodeScript("ha-fetch-bundle.sh") }, ...rest.filter(perNode)];
  // The fetch step is a line of the runcmd script, not an argument vector: on failure it ends the
  // script, so no later entry enables or starts a unit.
  const userData = renderNodeCloudConfig({ files: inlineFiles, runcmd: [`${NODE_PATHS.fetchBundleScript} || exit 1`, ...plan.runcmd] });
  return { userData, archive, key, rolePrefix, inlineFiles };
}
