#!/usr/bin/env bash
# ha-etcd-backup: take an etcd snapshot and upload it (systemd timer, every few minutes). Only the
# current leader takes it, so exactly one member backs up per run without any lock; the snapshot is
# verified (`snapshot status`) before upload. Targets: s3://bucket/prefix - uploaded to this member's
# own prefix (<prefix>/<SLOT_NAME, else NODE_ROLE>/, the only one its role may write), naming SSE-KMS
# with the bucket's default key (read from the bucket; nodes cannot change it; the bucket refuses
# any other encryption) and carrying its SHA-256 as metadata -
# or file:///dir (with a .sha256 file beside it). After an upload it publishes EtcdSnapshotsUploaded
# (METRIC_NAMESPACE, when monitoring is on): the stale-backup alarm fires when it stops.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
: "${CLUSTER_NAME:?}" "${BACKUP_TARGET:?BACKUP_TARGET missing}"
PKI_DIR=${PKI_DIR:-/etc/kubernetes/pki}
ETCDCTL=${ETCDCTL:-etcdctl}
ETCD_ENDPOINT=${ETCD_ENDPOINT:-https://127.0.0.1:2379}
ETCD_CACERT=${ETCD_CACERT:-$PKI_DIR/etcd/ca.crt}
ETCD_CERT=${ETCD_CERT:-$PKI_DIR/etcd/healthcheck-client.crt}
ETCD_KEY=${ETCD_KEY:-$PKI_DIR/etcd/healthcheck-client.key}
WORK_DIR=${WORK_DIR:-/var/lib/etcd-backup}

log() {
  logger -t ha-etcd-backup -- "$*" 2>/dev/null || true
  echo "ha-etcd-backup: $*" >&2
}
# The AWS CLI's region, from the instance metadata when unset: only an S3 target and the metric use
# the CLI (a file:// target works without instance metadata).
# ha-include: imds-region.sh
case "$BACKUP_TARGET" in
  s3://*) imds_region ;;
  *) [ -z "${METRIC_NAMESPACE:-}" ] || imds_region ;;
esac

ctl() {
  ETCDCTL_API=3 "$ETCDCTL" --endpoints "$ETCD_ENDPOINT" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" --command-timeout=30s "$@"
}

status=$(ctl endpoint status -w json)
if ! printf '%s' "$status" | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["Status"]
sys.exit(0 if s["header"]["member_id"] == s["leader"] else 1)
'; then
  log "not the leader: another member takes this snapshot"
  exit 0
fi

umask 077
mkdir -p "$WORK_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
name="$CLUSTER_NAME-$stamp.db"
file="$WORK_DIR/$name"
trap 'rm -f "$file" "$file.part"' EXIT
ctl snapshot save "$file" >/dev/null
# A snapshot etcd cannot read back is not a backup.
ETCDCTL_API=3 "$ETCDCTL" snapshot status "$file" -w json >/dev/null

sum=$(sha256sum "$file" | cut -d ' ' -f 1)
case "$BACKUP_TARGET" in
  s3://*)
    prefix=${SLOT_NAME:-${NODE_ROLE:-}}
    if ! [[ $prefix =~ ^[a-z][a-z0-9-]{0,61}[a-z0-9]$ ]]; then
      log "ERROR: no member prefix: SLOT_NAME or NODE_ROLE must be a DNS label, not ${prefix@Q}"
      exit 1
    fi
    bucket=${BACKUP_TARGET#s3://}
    bucket=${bucket%%/*}
    BACKUP_KMS_KEY_ARN=$(aws s3api get-bucket-encryption --bucket "$bucket" --output text \
      --query 'ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID')
    if ! [[ ${BACKUP_KMS_KEY_ARN:-} =~ ^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$ ]]; then
      log "ERROR: the bucket's default key must be a KMS key ARN, not ${BACKUP_KMS_KEY_ARN:-(unset)}"
      exit 1
    fi
    name="$prefix/$name"
    aws s3 cp --only-show-errors --sse aws:kms --sse-kms-key-id "$BACKUP_KMS_KEY_ARN" --metadata "sha256=$sum" "$file" "${BACKUP_TARGET%/}/$name"
    ;;
  file://*)
    dir=${BACKUP_TARGET#file://}
    mkdir -p "$dir"
    cp "$file" "$dir/$name.part"
    printf '%s\n' "$sum" >"$dir/$name.sha256"
    mv "$dir/$name.part" "$dir/$name"
    ;;
  *)
    log "ERROR: BACKUP_TARGET must be s3://… or file://…, not $BACKUP_TARGET"
    exit 1
    ;;
esac
log "snapshot $name uploaded to $BACKUP_TARGET"
if [ -n "${METRIC_NAMESPACE:-}" ]; then
  aws cloudwatch put-metric-data --namespace "$METRIC_NAMESPACE" --metric-name EtcdSnapshotsUploaded \
    --dimensions "Cluster=$CLUSTER_NAME" --value 1 --unit Count
fi
echo "$name"
