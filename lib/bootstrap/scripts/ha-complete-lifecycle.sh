#!/usr/bin/env bash
# ha-complete-lifecycle: let a launching API server into service only once it serves. The Auto
# Scaling group holds every new instance in Pending:Wait (launch lifecycle hook, default result
# ABANDON); this waits until the local kube-apiserver's /readyz passes READYZ_PASSES times in a
# row and then completes the hook with CONTINUE. If /readyz never passes before the deadline
# (LAUNCH_READY_DEADLINE_SECONDS after boot), it completes nothing and exits non-zero: the hook
# times out, the instance is abandoned (terminated) and an instance refresh stops instead of
# taking down the next server.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
IMDS_ENDPOINT=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
READYZ_URL=${READYZ_URL:-https://127.0.0.1:6443/readyz}
READYZ_CA=${READYZ_CA:-${PKI_DIR:-/etc/kubernetes/pki}/ca.crt}
READYZ_INTERVAL_SECONDS=${READYZ_INTERVAL_SECONDS:-5}
READYZ_PASSES=${READYZ_PASSES:-3}
UPTIME_FILE=${UPTIME_FILE:-/proc/uptime}

log() {
  logger -t ha-complete-lifecycle -- "$*" 2>/dev/null || true
  echo "ha-complete-lifecycle: $*" >&2
}
die() {
  log "ERROR: $*"
  exit 1
}

# checked KIND NAME VALUE: stops unless VALUE has the exact form of KIND (values from node.env and
# IMDS are used as arguments only, never run).
checked() {
  local ok
  case $1 in
    hook) [[ $3 =~ ^[A-Za-z0-9/_-]{1,255}$ ]] ;;
    group) [[ $3 =~ ^[A-Za-z0-9._/-]{1,255}$ ]] ;;
    instance) [[ $3 =~ ^i-[0-9a-f]{8,17}$ ]] ;;
    region) [[ $3 =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] ;;
    seconds) [[ $3 =~ ^[0-9]{1,5}$ ]] ;;
    endpoint) [[ $3 =~ ^http://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?/?$ ]] ;;
    url) [[ $3 =~ ^https://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?/[a-z]+$ ]] ;;
    *) false ;;
  esac && ok=1 || ok=0
  [ "$ok" = 1 ] || die "refusing $2=${3@Q}: not a valid $1"
}

checked hook LAUNCH_HOOK_NAME "${LAUNCH_HOOK_NAME:-}"
checked group LAUNCH_HOOK_GROUP "${LAUNCH_HOOK_GROUP:-}"
checked seconds LAUNCH_READY_DEADLINE_SECONDS "${LAUNCH_READY_DEADLINE_SECONDS:-}"
checked seconds READYZ_INTERVAL_SECONDS "$READYZ_INTERVAL_SECONDS"
checked seconds READYZ_PASSES "$READYZ_PASSES"
checked endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT "$IMDS_ENDPOINT"
checked url READYZ_URL "$READYZ_URL"
IMDS_ENDPOINT=${IMDS_ENDPOINT%/}

imds() {
  local token
  token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS_ENDPOINT/latest/api/token")
  curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" "$IMDS_ENDPOINT/latest/meta-data/$1"
}

INSTANCE_ID=$(imds instance-id) || die "cannot read the instance id from IMDS"
checked instance instance-id "$INSTANCE_ID"
region=$(imds placement/region) || die "cannot read the region from IMDS"
checked region placement/region "$region"
export AWS_DEFAULT_REGION=$region

# The deadline counts from boot: installing and starting the control plane used part of it.
read -r up _ <"$UPTIME_FILE" || up=""
up=${up%%.*}
[[ $up =~ ^[0-9]+$ ]] || die "cannot read the uptime from $UPTIME_FILE"
end=$((SECONDS + LAUNCH_READY_DEADLINE_SECONDS - up))

passes=0
while [ "$passes" -lt "$READYZ_PASSES" ]; do
  if [ "$SECONDS" -ge "$end" ]; then
    die "$READYZ_URL did not pass $READYZ_PASSES times in a row within ${LAUNCH_READY_DEADLINE_SECONDS}s of boot: not completing the launch hook; Auto Scaling abandons this instance when the hook times out"
  fi
  if curl -fsS --max-time 5 --cacert "$READYZ_CA" -o /dev/null "$READYZ_URL" 2>/dev/null; then
    passes=$((passes + 1))
  else
    passes=0
  fi
  [ "$passes" -ge "$READYZ_PASSES" ] || sleep "$READYZ_INTERVAL_SECONDS"
done
log "$READYZ_URL passed $READYZ_PASSES times in a row: completing $LAUNCH_HOOK_NAME with CONTINUE for $INSTANCE_ID"

attempt=0
while :; do
  if out=$(aws autoscaling complete-lifecycle-action --lifecycle-hook-name "$LAUNCH_HOOK_NAME" --auto-scaling-group-name "$LAUNCH_HOOK_GROUP" \
    --instance-id "$INSTANCE_ID" --lifecycle-action-result CONTINUE 2>&1); then
    log "launch hook completed: $INSTANCE_ID goes into service"
    exit 0
  fi
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 5 ] || [ "$SECONDS" -ge "$end" ]; then
    die "complete-lifecycle-action failed $attempt times: $out"
  fi
  log "complete-lifecycle-action failed (attempt $attempt), retrying: $out"
  sleep $((attempt * 2))
done
