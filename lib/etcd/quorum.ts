/** Pure etcd membership arithmetic. */

/** Votes needed for quorum: n/2 + 1. */
export function quorumSize(members: number): number {
  return Math.floor(members / 2) + 1;
}

/** Member failures the cluster survives. */
export function faultTolerance(members: number): number {
  return members - quorumSize(members);
}

/**
 * True when losing any single zone leaves a quorum, given how many members sit in each zone.
 */
export function survivesAnyZoneLoss(membersPerZone: readonly number[]): boolean {
  const total = membersPerZone.reduce((a, b) => a + b, 0);
  return membersPerZone.every((inZone) => total - inZone >= quorumSize(total));
}
