#!/usr/bin/env bash
# ha-restore-node: one step of a cluster restore on this node. `ha-restore` (operator) runs the steps
# on every node through SSM Run Command, one step on every node before the next step anywhere:
#   stop-api        park the static pod manifests (kube-apiserver, controller-manager, scheduler) in
#                   $PARKED_DIR: the kubelet stops their pods (kubeadm's way); wait until nothing
#                   listens on the API port, then stop the kubelet. A kubelet found stopped while an
#                   API server still answers is started first: it kills the pods no manifest names.
#   stop-etcd       stop the backup timer and service first (a backup run would start etcd again),
#                   then etcd; wait until nothing listens on the client port.
#   restore         ha-etcd-restore url with SNAPSHOT_URL, SNAPSHOT_SHA256 and RESTORE_TOKEN from
#                   the environment (refused while etcd listens).
#   start-etcd      start etcd (without waiting for the job: members wait for each other) and wait
#                   until the local member answers healthy (a quorum formed).
#   start-api       put the parked manifests back, start the kubelet, wait for the local /readyz.
#   resume-backups  start the backup timer again.
# Every step is idempotent: a step that already happened is skipped with a message, so ha-restore
# can be re-run from the start after a failure. Exit 0 done, 1 failed, 2 usage.
set -euo pipefail

STEP=${1:-}
SYSTEMCTL=${SYSTEMCTL:-systemctl}
SBIN=${HA_SBIN:-/usr/local/sbin}
MANIFEST_DIR=${MANIFEST_DIR:-/etc/kubernetes/manifests}
PARKED_DIR=${PARKED_DIR:-/etc/kubernetes/manifests.ha-restore}
PKI_DIR=${PKI_DIR:-/etc/kubernetes/pki}
API_PORT=${API_PORT:-6443}
ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-2379}
ETCD_UNIT_FILE=${ETCD_UNIT_FILE:-/etc/systemd/system/etcd.service}
STOP_TIMEOUT_SECONDS=${STOP_TIMEOUT_SECONDS:-180}
START_TIMEOUT_SECONDS=${START_TIMEOUT_SECONDS:-600}
ETCDCTL=${ETCDCTL:-etcdctl}
command -v "$ETCDCTL" >/dev/null 2>&1 || ETCDCTL=/usr/local/bin/etcdctl

log() {
  logger -t ha-restore-node -- "$STEP: $*" 2>/dev/null || true
  echo "ha-restore-node $STEP: $*" >&2
}
die() {
  log "ERROR: $*"
  exit 1
}

# listening PORT: something accepts connections on 127.0.0.1:PORT.
listening() {
  timeout 3 bash -c ": </dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every second.
wait_until() {
  local limit=$1 what=$2
  local deadline=$((SECONDS + limit))
  shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what after ${limit}s"
    sleep 1
  done
}

not_listening() { ! listening "$1"; }

etcd_healthy() {
  ETCDCTL_API=3 "$ETCDCTL" --endpoints "https://127.0.0.1:$ETCD_CLIENT_PORT" --cacert "$PKI_DIR/etcd/ca.crt" \
    --cert "$PKI_DIR/etcd/healthcheck-client.crt" --key "$PKI_DIR/etcd/healthcheck-client.key" \
    --dial-timeout=2s --command-timeout=5s endpoint health >/dev/null 2>&1
}

api_ready() {
  [ "$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null)" = 200 ]
}

member_only() {
  [ -e "$ETCD_UNIT_FILE" ] || { log "ERROR: no $ETCD_UNIT_FILE: this node is not an etcd member"; exit 2; }
}

case "$STEP" in
  stop-api)
    if [ ! -d "$MANIFEST_DIR" ] && [ ! -d "$PARKED_DIR" ]; then
      log "ERROR: neither $MANIFEST_DIR nor $PARKED_DIR: this node runs no API server"
      exit 2
    fi
    mkdir -p "$PARKED_DIR"
    chmod 0700 "$PARKED_DIR"
    parked=0
    for f in "$MANIFEST_DIR"/*.yaml; do
      [ -e "$f" ] || continue
      mv -f "$f" "$PARKED_DIR/"
      parked=$((parked + 1))
      log "parked ${f##*/} in $PARKED_DIR"
    done
    [ "$parked" -gt 0 ] || log "no manifest left in $MANIFEST_DIR (parked before)"
    if listening "$API_PORT" && ! $SYSTEMCTL is-active --quiet kubelet.service; then
      log "the API server still answers and the kubelet is stopped: starting the kubelet so that it stops the parked pods"
      $SYSTEMCTL start kubelet.service
    fi
    wait_until "$STOP_TIMEOUT_SECONDS" "the API server still listens on port $API_PORT" not_listening "$API_PORT"
    $SYSTEMCTL stop kubelet.service
    log "API server, controller-manager and scheduler stopped; kubelet stopped"
    ;;
  stop-etcd)
    member_only
    # Stopping the timer alone leaves a run in progress, whose Requires= would start etcd again.
    $SYSTEMCTL stop ha-etcd-backup.timer ha-etcd-backup.service 2>/dev/null || log "no backup timer here"
    $SYSTEMCTL stop etcd.service
    wait_until "$STOP_TIMEOUT_SECONDS" "etcd still listens on port $ETCD_CLIENT_PORT" not_listening "$ETCD_CLIENT_PORT"
    log "backups and etcd stopped"
    ;;
  restore)
    member_only
    : "${SNAPSHOT_URL:?}" "${SNAPSHOT_SHA256:?}" "${RESTORE_TOKEN:?}"
    if listening "$ETCD_CLIENT_PORT"; then
      die "etcd listens on port $ETCD_CLIENT_PORT: run stop-etcd first"
    fi
    STOP_ETCD=true "$SBIN/ha-etcd-restore" url
    ;;
  start-etcd)
    member_only
    $SYSTEMCTL start --no-block etcd.service
    log "etcd started; waiting until this member answers healthy (the other members start now too)"
    wait_until "$START_TIMEOUT_SECONDS" "etcd is not healthy" etcd_healthy
    log "etcd healthy"
    ;;
  start-api)
    [ -d "$PARKED_DIR" ] || [ -d "$MANIFEST_DIR" ] || { log "ERROR: this node runs no API server"; exit 2; }
    mkdir -p "$MANIFEST_DIR"
    for f in "$PARKED_DIR"/*.yaml; do
      [ -e "$f" ] || continue
      name=${f##*/}
      if [ -e "$MANIFEST_DIR/$name" ]; then
        cmp -s "$f" "$MANIFEST_DIR/$name" || die "$MANIFEST_DIR/$name differs from the parked $f: keep one, then re-run"
        rm -f "$f"
      else
        mv "$f" "$MANIFEST_DIR/$name"
      fi
      log "restored $name"
    done
    rmdir "$PARKED_DIR" 2>/dev/null || true
    $SYSTEMCTL start kubelet.service
    wait_until "$START_TIMEOUT_SECONDS" "the API server is not ready" api_ready
    log "API server ready"
    ;;
  resume-backups)
    member_only
    if [ -e "${ETCD_UNIT_FILE%/*}/ha-etcd-backup.timer" ]; then
      $SYSTEMCTL start ha-etcd-backup.timer
      log "backup timer started"
    else
      log "no backup timer here"
    fi
    ;;
  *)
    echo "usage: ha-restore-node stop-api|stop-etcd|restore|start-etcd|start-api|resume-backups" >&2
    exit 2
    ;;
esac
