#!/usr/bin/env bash
# ha-etcd-restore: rebuild this member from a snapshot. Run it on EVERY member with the same
# snapshot and the same RESTORE_TOKEN: together they form a new cluster holding the snapshot's
# data. The current data directory is moved aside, never deleted.
#   ha-etcd-restore <snapshot>      snapshot: latest | <name> | s3://… | /path/file.db
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
STATE_DIR=${STATE_DIR:-/run/ha-control-plane}
# read_slot_env FILE: sets the variables ha-claim-slot wrote to FILE without running it (the values
# come from tags); refuses an unknown key or a value not of its exact form.
read_slot_env() {
  local line key value re
  while IFS= read -r line || [ -n "$line" ]; do
    [ -n "$line" ] || continue
    key=${line%%=*} value=${line#*=}
    if [[ $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
    case "$key" in
      SLOT_NAME) re='^[a-z][a-z0-9-]{0,61}[a-z0-9]$' ;;
      SLOT_IP) re='^([0-9]{1,3}\.){3}[0-9]{1,3}$' ;;
      SLOT_ENI) re='^(eni-[0-9a-f]{8,17})?$' ;;
      SLOT_INTERFACE) re='^[A-Za-z0-9_.-]{0,15}$' ;;
      DATA_DEVICE) re='^(/[A-Za-z0-9_./-]*)?$' ;;
      *) echo "refusing $1: unknown key ${key@Q}" >&2; return 1 ;;
    esac
    if ! [[ $value =~ $re ]]; then
      echo "refusing $1: $key=${value@Q} is not of the expected form" >&2
      return 1
    fi
    printf -v "$key" '%s' "$value"
  done <"$1"
}
if [ -e "$STATE_DIR/slot.env" ]; then
  read_slot_env "$STATE_DIR/slot.env"
fi
: "${SLOT_NAME:?}" "${SLOT_IP:?}" "${INITIAL_CLUSTER:?INITIAL_CLUSTER missing}" "${BACKUP_TARGET:?}"
SNAPSHOT=${1:?usage: ha-etcd-restore <latest|name|s3://…|/path/file.db>}
RESTORE_TOKEN=${RESTORE_TOKEN:?set RESTORE_TOKEN to the same new value on every member}
DATA_DIR=${ETCD_DATA_DIR:-/var/lib/etcd/data}
PEER_PORT=${ETCD_PEER_PORT:-2380}
ETCDCTL=${ETCDCTL:-etcdctl}
STOP_ETCD=${STOP_ETCD:-systemctl stop etcd}
WORK_DIR=${WORK_DIR:-/var/lib/etcd-backup}

log() {
  logger -t ha-etcd-restore -- "$*" 2>/dev/null || true
  echo "ha-etcd-restore: $*" >&2
}

umask 077
mkdir -p "$WORK_DIR"
local_copy="$WORK_DIR/restore.db"
case "$SNAPSHOT" in
  /*) cp "$SNAPSHOT" "$local_copy" ;;
  s3://*) aws s3 cp --only-show-errors "$SNAPSHOT" "$local_copy" ;;
  *)
    if [ "$SNAPSHOT" = "latest" ]; then
      case "$BACKUP_TARGET" in
        s3://*) SNAPSHOT=$(aws s3 ls "${BACKUP_TARGET%/}/" | awk '{ print $4 }' | grep '\.db$' | sort | tail -n 1) ;;
        file://*) SNAPSHOT=$(find "${BACKUP_TARGET#file://}" -maxdepth 1 -name '*.db' -printf '%f\n' | sort | tail -n 1) ;;
      esac
      [ -n "$SNAPSHOT" ] || { log "ERROR: no snapshot in $BACKUP_TARGET"; exit 1; }
      log "latest snapshot: $SNAPSHOT"
    fi
    case "$BACKUP_TARGET" in
      s3://*) aws s3 cp --only-show-errors "${BACKUP_TARGET%/}/$SNAPSHOT" "$local_copy" ;;
      file://*) cp "${BACKUP_TARGET#file://}/$SNAPSHOT" "$local_copy" ;;
    esac
    ;;
esac

$STOP_ETCD || true
if [ -d "$DATA_DIR" ]; then
  aside="$DATA_DIR.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
  mv "$DATA_DIR" "$aside"
  log "previous data kept in $aside"
fi
restore=(snapshot restore "$local_copy" --name "$SLOT_NAME" --initial-cluster "$INITIAL_CLUSTER"
  --initial-cluster-token "$RESTORE_TOKEN" --initial-advertise-peer-urls "https://$SLOT_IP:$PEER_PORT" --data-dir "$DATA_DIR")
if command -v etcdutl >/dev/null 2>&1; then
  etcdutl "${restore[@]}"
else
  ETCDCTL_API=3 "$ETCDCTL" "${restore[@]}"
fi
chmod 0700 "$DATA_DIR"
rm -f "$local_copy"
log "member $SLOT_NAME restored from $SNAPSHOT; start etcd on every member"
