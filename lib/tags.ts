/**
 * Tags every resource of a cluster carries. User tags come first so the library's own keys (which
 * other code and IAM conditions rely on) always win.
 */

/** Tag key naming the cluster a resource belongs to (used in IAM conditions at boot). */
export const CLUSTER_TAG = "ha-control-plane/cluster";
/** Tag key naming the node role (`apiserver`, `etcd`). */
export const ROLE_TAG = "ha-control-plane/role";
/** Tag key naming the slot (`apiserver-0`, `etcd-2`). */
export const SLOT_TAG = "ha-control-plane/slot";

/** How many tags the library adds to one resource at most (Name, cluster, kubernetes.io, role, slot, purpose). */
export const RESERVED_TAG_COUNT = 6;

/** The Kubernetes cloud-provider ownership tag key for `clusterName`. */
export function kubernetesClusterTag(clusterName: string): string {
  return `kubernetes.io/cluster/${clusterName}`;
}

/** Builds resource tags for one cluster. */
export class ClusterTags {
  constructor(
    private readonly clusterName: string,
    private readonly userTags: Readonly<Record<string, string>> = {},
  ) {}

  /** Tags for a resource named `name`, optionally with a role and slot. */
  public of(name: string, extra: { readonly role?: string; readonly slot?: string } = {}): Record<string, string> {
    const tags: Record<string, string> = {
      ...this.userTags,
      Name: name,
      [CLUSTER_TAG]: this.clusterName,
      [kubernetesClusterTag(this.clusterName)]: "owned",
    };
    if (extra.role !== undefined) tags[ROLE_TAG] = extra.role;
    if (extra.slot !== undefined) tags[SLOT_TAG] = extra.slot;
    return tags;
  }

  /** The user's tags alone (for tag blocks that must not carry Name, e.g. ASG propagation). */
  public get user(): Readonly<Record<string, string>> {
    return this.userTags;
  }
}
