#!/usr/bin/env bash
# ha-roll-etcd: roll etcd members onto their current launch template, one at a time, from an
# operator's machine (AWS CLI and credentials). For each member group: start an instance refresh,
# wait until it succeeds, then wait until every member reports the full member count healthy
# (metric EtcdHealthyMembers) for two consecutive minutes begun after the replacement, before
# touching the next member. A member keeps its interface and data volume, so it restarts with its
# data: quorum is never at risk.
#   ha-roll-etcd <cluster> <member-group>...     (groups in order, e.g. prod-etcd-0 prod-etcd-1 …)
set -euo pipefail

CLUSTER=${1:?usage: ha-roll-etcd <cluster> <member-group>...}
shift
[ "$#" -gt 0 ] || { echo "ha-roll-etcd: name the member groups" >&2; exit 2; }
GROUPS_TO_ROLL=("$@")
MEMBERS=${MEMBERS:-$#}
NAMESPACE=${METRIC_NAMESPACE:-HaControlPlane}
POLL_SECONDS=${POLL_SECONDS:-20}
REFRESH_TIMEOUT_SECONDS=${REFRESH_TIMEOUT_SECONDS:-2400}
HEALTH_TIMEOUT_SECONDS=${HEALTH_TIMEOUT_SECONDS:-900}

log() { echo "ha-roll-etcd: $*" >&2; }

member_of() {
  echo "etcd-${1##*-etcd-}"
}

# Datapoints count from SINCE on (epoch seconds, a whole minute): after a refresh, only minutes that
# began after the replacement, so the replaced member's datapoints from before it stopped never pass
# for its health (CloudWatch rounds a start time down to its minute).
SINCE=0
healthy_everywhere() {
  local end start slot value group now from
  now=$(date +%s)
  from=$((now - 180))
  [ "$from" -ge "$SINCE" ] || from=$SINCE
  end=$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)
  start=$(date -u -d "@$from" +%Y-%m-%dT%H:%M:%SZ)
  for group in "${GROUPS_TO_ROLL[@]}"; do
    slot=$(member_of "$group")
    value=$(aws cloudwatch get-metric-statistics --namespace "$NAMESPACE" --metric-name EtcdHealthyMembers \
      --dimensions "Name=Cluster,Value=$CLUSTER" "Name=Slot,Value=$slot" --start-time "$start" --end-time "$end" \
      --period 60 --statistics Minimum --query 'sort_by(Datapoints,&Timestamp)[-2:].Minimum' --output text)
    # Two datapoints, both at the full member count.
    if [ "$(echo "$value" | wc -w)" -lt 2 ] || echo "$value" | tr -s '[:space:]' '\n' | grep -v '^$' | grep -v "^$MEMBERS\(\.0\)\?$" >/dev/null; then
      log "$slot sees healthy members: ${value:-none} (want $MEMBERS twice)"
      return 1
    fi
  done
}

for group in "${GROUPS_TO_ROLL[@]}"; do
  log "checking the cluster is healthy before $group"
  deadline=$(($(date +%s) + HEALTH_TIMEOUT_SECONDS))
  until healthy_everywhere; do
    [ "$(date +%s)" -lt "$deadline" ] || { log "ERROR: cluster not healthy; not rolling $group"; exit 1; }
    sleep "$POLL_SECONDS"
  done
  log "refreshing $group"
  id=$(aws autoscaling start-instance-refresh --auto-scaling-group-name "$group" \
    --preferences '{"MinHealthyPercentage":0,"MaxHealthyPercentage":100,"SkipMatching":true}' --query InstanceRefreshId --output text)
  deadline=$(($(date +%s) + REFRESH_TIMEOUT_SECONDS))
  while :; do
    status=$(aws autoscaling describe-instance-refreshes --auto-scaling-group-name "$group" --instance-refresh-ids "$id" \
      --query 'InstanceRefreshes[0].Status' --output text)
    case "$status" in
      Successful) break ;;
      Failed | Cancelled | RollbackSuccessful | RollbackFailed) log "ERROR: refresh of $group ended $status"; exit 1 ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] || { log "ERROR: refresh of $group still $status"; exit 1; }
    sleep "$POLL_SECONDS"
  done
  log "$group replaced; waiting for every member to see $MEMBERS healthy members"
  SINCE=$((($(date +%s) + 59) / 60 * 60))
done
deadline=$(($(date +%s) + HEALTH_TIMEOUT_SECONDS))
until healthy_everywhere; do
  [ "$(date +%s)" -lt "$deadline" ] || { log "ERROR: cluster not healthy after the roll"; exit 1; }
  sleep "$POLL_SECONDS"
done
log "all ${#GROUPS_TO_ROLL[@]} members rolled"
