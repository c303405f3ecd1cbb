#!/usr/bin/env bash
# ha-publish-metrics: publish this node's health to CloudWatch every minute (systemd timer):
#   ClockOffsetMilliseconds  |chrony's system clock offset| (all nodes)
#   CertificateDaysLeft      days until the earliest certificate under PKI_DIR expires (all nodes)
#   EtcdHealthyMembers       members answering /health, seen from this member (etcd members)
#   EtcdLeaderChanges        leader changes seen since the last run (etcd members)
#   EtcdDbSizePercentOfQuota backend size against the quota (etcd members)
# Dimensions: Cluster and Slot. Failures to measure publish nothing, which alarms treat as missing.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
STATE_DIR=${STATE_DIR:-/run/ha-control-plane}
# read_slot_env FILE: sets the variables ha-claim-slot wrote to FILE without running it (the values
# come from tags); refuses an unknown key or a value not of its exact form.
# ha-include: read-slot-env.sh
read_slot_env "$STATE_DIR/slot.env"
# The AWS CLI's region, from the instance metadata when unset.
# ha-include: imds-region.sh
imds_region
: "${CLUSTER_NAME:?}" "${SLOT_NAME:?}"
NAMESPACE=${METRIC_NAMESPACE:-HaControlPlane}
PKI_DIR=${PKI_DIR:-/etc/kubernetes/pki}
RUNS_ETCD=${RUNS_ETCD:-false}
ETCDCTL=${ETCDCTL:-etcdctl}
ETCD_ENDPOINT=${ETCD_ENDPOINT:-https://127.0.0.1:2379}
ETCD_METRICS_URL=${ETCD_METRICS_URL:-http://127.0.0.1:2381/metrics}
ETCD_QUOTA_BYTES=${ETCD_QUOTA_BYTES:-2147483648}
LEADER_STATE=${LEADER_STATE:-$STATE_DIR/etcd-leader-changes}

metrics=()
add() {
  metrics+=("{\"MetricName\":\"$1\",\"Value\":$2,\"Unit\":\"$3\",\"Dimensions\":[{\"Name\":\"Cluster\",\"Value\":\"$CLUSTER_NAME\"},{\"Name\":\"Slot\",\"Value\":\"$SLOT_NAME\"}]}")
}

if offset=$(chronyc -c tracking 2>/dev/null | awk -F, '{ v = $5; if (v < 0) v = -v; printf "%.3f", v * 1000 }') && [ -n "$offset" ]; then
  add ClockOffsetMilliseconds "$offset" Milliseconds
fi

now=$(date +%s)
min_days=""
for cert in "$PKI_DIR"/*.crt "$PKI_DIR"/etcd/*.crt; do
  [ -e "$cert" ] || continue
  end=$(openssl x509 -enddate -noout -in "$cert" | cut -d= -f2)
  days=$(( ($(date -d "$end" +%s) - now) / 86400 ))
  if [ -z "$min_days" ] || [ "$days" -lt "$min_days" ]; then
    min_days=$days
  fi
done
if [ -n "$min_days" ]; then
  add CertificateDaysLeft "$min_days" Count
fi

if [ "$RUNS_ETCD" = "true" ]; then
  tls=(--cacert "$PKI_DIR/etcd/ca.crt" --cert "$PKI_DIR/etcd/healthcheck-client.crt" --key "$PKI_DIR/etcd/healthcheck-client.key")
  healthy=$(ETCDCTL_API=3 "$ETCDCTL" "${tls[@]}" --endpoints "$ETCD_ENDPOINT" --command-timeout=5s endpoint health --cluster 2>&1 | grep -c 'is healthy' || true)
  add EtcdHealthyMembers "$healthy" Count
  if scrape=$(curl -fsS --max-time 5 "$ETCD_METRICS_URL"); then
    changes=$(echo "$scrape" | awk '/^etcd_server_leader_changes_seen_total / { print $2 }')
    db=$(echo "$scrape" | awk '/^etcd_mvcc_db_total_size_in_bytes / { print $2 }')
    if [ -n "$changes" ]; then
      previous=$(cat "$LEADER_STATE" 2>/dev/null || echo "$changes")
      echo "$changes" >"$LEADER_STATE"
      add EtcdLeaderChanges "$(awk -v a="$changes" -v b="$previous" 'BEGIN { d = a - b; if (d < 0) d = a; print d }')" Count
    fi
    if [ -n "$db" ]; then
      add EtcdDbSizePercentOfQuota "$(awk -v d="$db" -v q="$ETCD_QUOTA_BYTES" 'BEGIN { printf "%.2f", d * 100 / q }')" Percent
    fi
  fi
fi

if [ "${#metrics[@]}" -eq 0 ]; then
  exit 0
fi
payload="[$(IFS=,; echo "${metrics[*]}")]"
aws cloudwatch put-metric-data --namespace "$NAMESPACE" --metric-data "$payload"
