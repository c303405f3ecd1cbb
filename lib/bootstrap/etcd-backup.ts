import { BootExtras, nodeScript } from "./node-user-data";
import { renderOneshotService, renderTimer } from "./systemd";

/** Input of {@link etcdBackupBootExtras}. */
export interface EtcdBackupBootInput {
  /** `s3://bucket/prefix` (or `file:///dir` in tests). */
  readonly target: string;
  /** Minutes between snapshots. */
  readonly intervalMinutes: number;
  /** The cluster's `initial-cluster` (name=peer URL list), for restores. */
  readonly initialCluster: string;
}

/** Paths of the backup and restore tools on etcd nodes. */
export const ETCD_BACKUP_PATHS = {
  /** Script that takes a snapshot (only on the current leader), verifies it and uploads it to the backup target. */
  backupScript: "/usr/local/sbin/ha-etcd-backup",
  /** Script an operator runs on every member with the same snapshot to rebuild the cluster from it (old data moved aside). */
  restoreScript: "/usr/local/sbin/ha-etcd-restore",
  /** One step of `ha-restore` on a node (stop/start the API servers, backups and etcd; restore). */
  restoreNodeScript: "/usr/local/sbin/ha-restore-node",
  /** Oneshot unit running the backup script. */
  unit: "/etc/systemd/system/ha-etcd-backup.service",
  /** Timer starting the backup unit every backup interval. */
  timer: "/etc/systemd/system/ha-etcd-backup.timer",
} as const;

/**
 * What an etcd node adds for backups: the snapshot script on a timer (every member runs it; only
 * the leader snapshots) and the restore script for disaster recovery. Uploads name SSE-KMS with the
 * bucket's default key, read from the bucket (the bucket refuses anything else; user data stays
 * literal text) and carry the snapshot's SHA-256 as metadata.
 */
export function etcdBackupBootExtras(input: EtcdBackupBootInput): BootExtras {
  return {
    files: [
      { path: ETCD_BACKUP_PATHS.backupScript, permissions: "0755", content: nodeScript("ha-etcd-backup.sh") },
      { path: ETCD_BACKUP_PATHS.restoreScript, permissions: "0755", content: nodeScript("ha-etcd-restore.sh") },
      { path: ETCD_BACKUP_PATHS.restoreNodeScript, permissions: "0755", content: nodeScript("ha-restore-node.sh") },
      {
        path: ETCD_BACKUP_PATHS.unit,
        permissions: "0644",
        // Requisite, not Requires: a backup run never starts etcd (a restore stops it on purpose).
        content: renderOneshotService({ description: "Snapshot etcd to the backup bucket (leader only)", after: ["etcd.service"], requisite: ["etcd.service"], execStart: ETCD_BACKUP_PATHS.backupScript, install: false }),
      },
      {
        path: ETCD_BACKUP_PATHS.timer,
        permissions: "0644",
        content: renderTimer({ description: `Snapshot etcd every ${input.intervalMinutes} minutes`, onBootMinutes: 5, everyMinutes: input.intervalMinutes }),
      },
    ],
    env: { BACKUP_TARGET: input.target, INITIAL_CLUSTER: input.initialCluster },
    runcmd: [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "ha-etcd-backup.timer"]],
  };
}
