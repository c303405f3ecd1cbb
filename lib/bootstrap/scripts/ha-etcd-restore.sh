#!/usr/bin/env bash
# ha-etcd-restore: rebuild this member from a snapshot. Run it on EVERY member with the same
# snapshot and the same RESTORE_TOKEN: together they form a new cluster holding the snapshot's
# data. The current data directory is moved aside, never deleted. `ha-restore` (operator) drives it
# on every member through ha-restore-node; run by hand, stop the API servers first.
#   ha-etcd-restore <snapshot>      snapshot: latest | <key under the target> | s3://… | /path/file.db | url
# `url`: the snapshot at SNAPSHOT_URL (a presigned S3 URL, read from the environment so that it is
# on no command line), which must have the SHA-256 SNAPSHOT_SHA256 (ha-restore pins one snapshot for
# every member this way: members cannot read each other's prefixes).
# The restore bumps the revision by BUMP_REVISION (default 1000000000) and marks it compacted
# (etcdutl --bump-revision --mark-compacted): revisions after the restore are higher than any a
# client or an API server's watch cache saw before, and watches from older revisions get
# "compacted" and re-list, instead of seeing time go backwards (etcd "Disaster recovery").
# Re-running with the same RESTORE_TOKEN and snapshot is a no-op (marker <data-dir>.restore-token),
# so a failed ha-restore can be re-run from the start.
# "latest" is the snapshot with the newest LastModified (modification time for file://) under the
# target, every member's prefix included - never a name sort, which a hostile or clock-skewed name
# would win. Every snapshot is checked against the SHA-256 recorded at upload (object metadata
# "sha256" on S3, <name>.sha256 beside a file) before anything is touched; a snapshot without one is
# refused unless ALLOW_UNVERIFIED_SNAPSHOT=1. Members may read only their own prefix: run it with the
# credentials of a restore role (EtcdBackups.restoreStatements) or fetch the file and pass its path.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
STATE_DIR=${STATE_DIR:-/run/ha-control-plane}
# read_slot_env FILE: sets the variables ha-claim-slot wrote to FILE without running it (the values
# come from tags); refuses an unknown key or a value not of its exact form.
# ha-include: read-slot-env.sh
if [ -e "$STATE_DIR/slot.env" ]; then
  read_slot_env "$STATE_DIR/slot.env"
fi
: "${SLOT_NAME:?}" "${SLOT_IP:?}" "${INITIAL_CLUSTER:?INITIAL_CLUSTER missing}" "${BACKUP_TARGET:?}"
SNAPSHOT=${1:?usage: ha-etcd-restore <latest|name|s3://…|/path/file.db>}
RESTORE_TOKEN=${RESTORE_TOKEN:?set RESTORE_TOKEN to the same new value on every member}
[[ $RESTORE_TOKEN =~ ^[A-Za-z0-9._-]{1,64}$ ]] || { echo "ha-etcd-restore: RESTORE_TOKEN must be 1-64 letters, digits, '.', '_' or '-'" >&2; exit 2; }
BUMP_REVISION=${BUMP_REVISION:-1000000000}
[[ $BUMP_REVISION =~ ^[1-9][0-9]{0,17}$ ]] || { echo "ha-etcd-restore: BUMP_REVISION must be a positive integer" >&2; exit 2; }
DATA_DIR=${ETCD_DATA_DIR:-/var/lib/etcd/data}
PEER_PORT=${ETCD_PEER_PORT:-2380}
STOP_ETCD=${STOP_ETCD:-systemctl stop etcd}
WORK_DIR=${WORK_DIR:-/var/lib/etcd-backup}

log() {
  logger -t ha-etcd-restore -- "$*" 2>/dev/null || true
  echo "ha-etcd-restore: $*" >&2
}
# The AWS CLI's region, from the instance metadata when unset: only S3 snapshots use the CLI (a
# file:// target or a local file works without instance metadata).
# ha-include: imds-region.sh
case "$SNAPSHOT" in
  url | /*) ;;
  *) case "$SNAPSHOT $BACKUP_TARGET" in *s3://*) imds_region ;; esac ;;
esac

# verify FILE EXPECTED WHAT: FILE's SHA-256 must be EXPECTED (64 hex digits).
verify() {
  local got
  if [ -z "$2" ]; then
    if [ "${ALLOW_UNVERIFIED_SNAPSHOT:-0}" = 1 ]; then
      log "WARNING: $3 has no recorded SHA-256; restoring it unverified (ALLOW_UNVERIFIED_SNAPSHOT=1)"
      return 0
    fi
    log "ERROR: $3 has no recorded SHA-256: refusing it (set ALLOW_UNVERIFIED_SNAPSHOT=1 to restore it anyway)"
    return 1
  fi
  got=$(sha256sum "$1" | cut -d ' ' -f 1)
  if [ "$got" != "$2" ]; then
    log "ERROR: $3 has SHA-256 $got, not the $2 recorded at upload: refusing it"
    return 1
  fi
}

# s3_fetch BUCKET KEY: downloads the current version of KEY after reading its recorded checksum, so
# the bytes checked are the version whose metadata was read.
s3_fetch() {
  local head version expected
  head=$(aws s3api head-object --bucket "$1" --key "$2" --output json)
  version=$(printf '%s' "$head" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("VersionId") or "")')
  expected=$(printf '%s' "$head" | python3 -c '
import json, re, sys
v = json.load(sys.stdin).get("Metadata", {}).get("sha256", "")
print(v if re.fullmatch("[0-9a-f]{64}", v) else "")')
  if [ -n "$version" ] && [ "$version" != null ]; then
    aws s3api get-object --bucket "$1" --key "$2" --version-id "$version" "$local_copy" >/dev/null
  else
    aws s3api get-object --bucket "$1" --key "$2" "$local_copy" >/dev/null
  fi
  verify "$local_copy" "$expected" "s3://$1/$2${version:+ (version $version)}"
}

# s3_latest BUCKET PREFIX: the key of the newest *.db object by LastModified.
s3_latest() {
  aws s3api list-objects-v2 --bucket "$1" --prefix "$2" --output json | python3 -c '
import json, sys
from datetime import datetime
text = sys.stdin.read().strip()
objs = [o for o in (json.loads(text).get("Contents") or []) if o["Key"].endswith(".db")] if text else []
if objs:
    print(max(objs, key=lambda o: datetime.fromisoformat(o["LastModified"].replace("Z", "+00:00")))["Key"])'
}

umask 077
mkdir -p "$WORK_DIR"
local_copy="$WORK_DIR/restore.db"
rm -f "$local_copy"
case "$SNAPSHOT" in
  url)
    expected=${SNAPSHOT_SHA256:-}
    [[ $expected =~ ^[0-9a-f]{64}$ ]] || { log "ERROR: snapshot 'url' needs SNAPSHOT_SHA256 (64 hex digits)"; exit 2; }
    [[ ${SNAPSHOT_URL:-} =~ ^https?://[^[:space:]\"]+$ ]] || { log "ERROR: snapshot 'url' needs SNAPSHOT_URL (http(s)://…)"; exit 2; }
    # From stdin (curl -K -): the URL carries a signature and stays off the command line.
    printf 'url = "%s"\n' "$SNAPSHOT_URL" | curl -fsS --retry 5 --retry-all-errors -K - -o "$local_copy"
    verify "$local_copy" "$expected" "the snapshot at SNAPSHOT_URL"
    SNAPSHOT="sha256:$expected"
    ;;
  /*)
    cp "$SNAPSHOT" "$local_copy"
    expected=""
    [ ! -e "$SNAPSHOT.sha256" ] || expected=$(head -c 64 "$SNAPSHOT.sha256")
    verify "$local_copy" "$expected" "$SNAPSHOT"
    ;;
  s3://*)
    path=${SNAPSHOT#s3://}
    s3_fetch "${path%%/*}" "${path#*/}"
    ;;
  *)
    case "$BACKUP_TARGET" in
      s3://*)
        path=${BACKUP_TARGET#s3://}
        bucket=${path%%/*}
        prefix=${path#"$bucket"}
        prefix=${prefix#/}
        prefix=${prefix%/}${prefix:+/}
        if [ "$SNAPSHOT" = "latest" ]; then
          SNAPSHOT=$(s3_latest "$bucket" "$prefix")
          [ -n "$SNAPSHOT" ] || { log "ERROR: no snapshot in $BACKUP_TARGET"; exit 1; }
          SNAPSHOT=${SNAPSHOT#"$prefix"}
          log "latest snapshot (newest LastModified): $SNAPSHOT"
        fi
        s3_fetch "$bucket" "$prefix$SNAPSHOT"
        ;;
      file://*)
        dir=${BACKUP_TARGET#file://}
        if [ "$SNAPSHOT" = "latest" ]; then
          SNAPSHOT=$(find "$dir" -type f -name '*.db' -printf '%T@ %P\n' | sort -n | tail -n 1 | cut -d ' ' -f 2-)
          [ -n "$SNAPSHOT" ] || { log "ERROR: no snapshot in $BACKUP_TARGET"; exit 1; }
          log "latest snapshot (newest modification time): $SNAPSHOT"
        fi
        cp "$dir/$SNAPSHOT" "$local_copy"
        expected=""
        [ ! -e "$dir/$SNAPSHOT.sha256" ] || expected=$(head -c 64 "$dir/$SNAPSHOT.sha256")
        verify "$local_copy" "$expected" "$dir/$SNAPSHOT"
        ;;
      *)
        log "ERROR: BACKUP_TARGET must be s3://… or file://…, not $BACKUP_TARGET"
        exit 1
        ;;
    esac
    ;;
esac

sum=$(sha256sum "$local_copy" | cut -d ' ' -f 1)
marker="$DATA_DIR.restore-token"
if [ -d "$DATA_DIR/member" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$RESTORE_TOKEN $sum" ]; then
  rm -f "$local_copy"
  log "member $SLOT_NAME already restored with token $RESTORE_TOKEN from this snapshot: nothing to do"
  exit 0
fi
if ! command -v etcdutl >/dev/null 2>&1; then
  log "ERROR: etcdutl not found: it is needed for the revision bump (etcd 3.5.10 or later ships it)"
  exit 1
fi
$STOP_ETCD || true
rm -f "$marker"
if [ -d "$DATA_DIR" ]; then
  aside="$DATA_DIR.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
  mv "$DATA_DIR" "$aside"
  log "previous data kept in $aside"
fi
restore=(snapshot restore "$local_copy" --name "$SLOT_NAME" --initial-cluster "$INITIAL_CLUSTER"
  --initial-cluster-token "$RESTORE_TOKEN" --initial-advertise-peer-urls "https://$SLOT_IP:$PEER_PORT" --data-dir "$DATA_DIR"
  --bump-revision "$BUMP_REVISION" --mark-compacted)
etcdutl "${restore[@]}"
chmod 0700 "$DATA_DIR"
printf '%s %s\n' "$RESTORE_TOKEN" "$sum" >"$marker"
rm -f "$local_copy"
log "member $SLOT_NAME restored from $SNAPSHOT (revision bumped by $BUMP_REVISION); start etcd on every member"
