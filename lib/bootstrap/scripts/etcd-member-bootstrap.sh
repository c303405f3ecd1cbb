#!/usr/bin/env bash
# ha-etcd-bootstrap (etcd.service ExecStartPre): decide how this member starts; writes $HA_ETCD_CONFIG.
#  - data dir holds a member: start from it, unless the others answer as a healthy cluster whose
#    member list has no started entry with this peer URL (it was removed: etcd would exit "member
#    has already been removed" on every restart): move the data dir aside (kept) and rejoin as below;
#    a member still listed as a learner (its node died before the promotion) finishes the learner
#    phase below first;
#  - empty, the others answer as a healthy cluster: replace. Remove the old entry (same name or peer
#    URL), `member add --learner`, one change at a time, retrying strict-reconfig-check refusals.
#    A pending (added, never started) entry is reused. Then the learner phase: etcd runs from this
#    script with its client listener narrowed to 127.0.0.1 (peers reach it as usual) until the
#    leader finds it in sync and it is promoted (bounded retries), then it is stopped and the
#    running config (`existing`, full client listener) written. A learner answers linearizable reads
#    and writes with "rpc not supported for learner" (etcd-io/etcd#12789), and the API servers'
#    --etcd-servers name every slot address: a learner listening there fails the requests the
#    client balances to it, so a member is reachable at its slot address only once it votes;
#  - empty, no other member answers: first bootstrap, start as `new`;
#  - empty, members answer without quorum: never found a new cluster over it; wait, then fail.
# `ha-etcd-bootstrap promote`: promotes this member if it is a learner (for operators; the learner
# phase does it at start). A learner cannot vote, so a new member that never catches up (bad
# certificate, slow disk) leaves the quorum arithmetic of the others unchanged.
# Talks TLS to the others with the healthcheck client certificate.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
STATE_DIR=${STATE_DIR:-/run/ha-control-plane}
# shellcheck source=/dev/null
. "$ENV_FILE"
# read_slot_env FILE: sets the variables ha-claim-slot wrote to FILE without running it (the values
# come from tags); refuses an unknown key or a value not of its exact form.
# ha-include: read-slot-env.sh
if [ -r "$STATE_DIR/slot.env" ]; then
  read_slot_env "$STATE_DIR/slot.env"
fi
MEMBER=${HA_ETCD_MEMBER:-${SLOT_NAME:-}}
: "${MEMBER:?no member name: set HA_ETCD_MEMBER or run ha-claim-slot first}" "${HA_ETCD_ENDPOINTS:?HA_ETCD_ENDPOINTS missing}"
PKI_DIR=${PKI_DIR:-/etc/kubernetes/pki}
BASE=${HA_ETCD_CONFIG_BASE:-${HA_ETCD_CONFIG_DIR:-/etc/ha-control-plane/etcd}/$MEMBER.yaml}
CONFIG=${HA_ETCD_CONFIG:-/etc/etcd/etcd.yaml}
ETCDCTL=${HA_ETCDCTL:-${HA_ETCD_BIN_DIR:-/usr/local/bin}/etcdctl}
CACERT=${HA_ETCD_CACERT:-$PKI_DIR/etcd/ca.crt}
CERT=${HA_ETCD_CERT:-$PKI_DIR/etcd/healthcheck-client.crt}
KEY=${HA_ETCD_KEY:-$PKI_DIR/etcd/healthcheck-client.key}
DIAL_TIMEOUT=${HA_ETCD_DIAL_TIMEOUT:-2s}
COMMAND_TIMEOUT=${HA_ETCD_COMMAND_TIMEOUT:-5s}
RECONFIG_TIMEOUT=${HA_ETCD_RECONFIG_TIMEOUT:-300}
QUORUM_WAIT=${HA_ETCD_QUORUM_WAIT:-300}
ETCD_BIN=${HA_ETCD_BINARY:-${HA_ETCD_BIN_DIR:-/usr/local/bin}/etcd}
# etcd's own log during the learner phase (the journal gets its tail if the phase fails).
LEARNER_LOG=${HA_ETCD_LEARNER_LOG:-$STATE_DIR/etcd-learner.log}

log() {
  logger -t ha-etcd-bootstrap -- "$*" 2>/dev/null || true
  echo "ha-etcd-bootstrap: $*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

# A top-level scalar of the rendered config (single line, maybe quoted).
setting() {
  sed -n "s/^$1: *//p" "$BASE" | sed -n 1p | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/"
}

ctl() {
  local endpoints=$1
  shift
  "$ETCDCTL" --endpoints="$endpoints" --cacert="$CACERT" --cert="$CERT" --key="$KEY" \
    --dial-timeout="$DIAL_TIMEOUT" --command-timeout="$COMMAND_TIMEOUT" "$@"
}

# write_config STATE [INITIAL_CLUSTER [learner]]: the rendered config with the bootstrap keys set,
# 0600. `learner`: the client listener only on 127.0.0.1 (the client port of the slot address).
write_config() {
  mkdir -p "$(dirname "$CONFIG")"
  (
    umask 077
    awk -v state="$1" -v cluster="${2:-}" -v learner="${3:-}" -v port="${CLIENT_URL##*:}" '
      /^initial-cluster-state:/ { print "initial-cluster-state: " state; next }
      /^initial-cluster:/ && cluster != "" { print "initial-cluster: \"" cluster "\""; next }
      /^listen-client-urls:/ && learner != "" { print "listen-client-urls: https://127.0.0.1:" port; next }
      { print }' "$BASE" >"$CONFIG.tmp"
  )
  mv "$CONFIG.tmp" "$CONFIG"
}

[ -r "$BASE" ] || die "no etcd config for member $MEMBER at $BASE"
[ "$(setting name)" = "$MEMBER" ] || die "$BASE configures $(setting name), not $MEMBER"
DATA_DIR=$(setting data-dir)
PEER_URL=$(setting initial-advertise-peer-urls)
CLIENT_URL=$(setting advertise-client-urls)
if [ -z "$DATA_DIR" ] || [ -z "$PEER_URL" ]; then
  die "$BASE lacks data-dir or initial-advertise-peer-urls"
fi
mkdir -p "$DATA_DIR"
chmod 0700 "$DATA_DIR"

others=()
IFS=, read -ra all <<<"$HA_ETCD_ENDPOINTS"
for ep in "${all[@]}"; do
  [ "$ep" = "$CLIENT_URL" ] || others+=("$ep")
done

# "healthy <url>" (serves a quorum read) or "answering <url>" (a running member: status needs no
# quorum, unlike member list, which 3.5 serves linearizably).
probe_one() {
  if ctl "$1" endpoint status >/dev/null 2>&1; then
    if ctl "$1" endpoint health >/dev/null 2>&1; then
      echo "healthy $1"
    else
      echo "answering $1"
    fi
  fi
}

# Sets `answering` and `healthy` among the other members, probed in parallel.
probe() {
  local results kind ep
  results=$(
    for ep in "${others[@]}"; do
      probe_one "$ep" &
    done
    wait
  )
  answering=()
  healthy=()
  while read -r kind ep; do
    case "$kind" in
      healthy) healthy+=("$ep") answering+=("$ep") ;;
      answering) answering+=("$ep") ;;
    esac
  done <<<"$results"
}

# Retries refusals that change nothing; the list is read again before every change.
refused() {
  if ! grep -qiE 'unhealthy cluster|not enough started members|too soon|timed out|deadline exceeded|leader changed|no leader|unavailable|too many requests|too many learner|in sync with leader' <<<"$1"; then
    die "$2 failed: $1"
  fi
  [ "$SECONDS" -lt "$deadline" ] || die "$2 still refused after ${RECONFIG_TIMEOUT}s: $1"
  log "$2 refused for now ($(tail -n 1 <<<"$1")); retrying in ${delay}s"
  sleep "$delay"
  delay=$((delay * 2 > 8 ? 8 : delay * 2))
}

healthy_csv() {
  local IFS=,
  echo "${healthy[*]}"
}
# Fields of `member list -w simple`: ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS, IS LEARNER.
# started_self LIST: the ID and learner flag of the started entry with this peer URL (the slot's
# address is unique: no other machine can hold it).
started_self() {
  awk -F', ' -v peer="$PEER_URL" '$2 == "started" && index("," $4 ",", "," peer ",") { print $1, $6; exit }' <<<"$1"
}

# promote_self: promotes this member's learner entry once the leader finds it in sync (bounded
# retries); returns when the entry is a voter. During the learner phase it also waits for etcd to
# publish its entry (`started`) and fails when that etcd exits.
promote_self() {
  local endpoints list id learner out
  endpoints=$(healthy_csv)
  deadline=$((SECONDS + RECONFIG_TIMEOUT)) delay=1
  while :; do
    if [ -n "${learner_pid:-}" ] && ! kill -0 "$learner_pid" 2>/dev/null; then
      learner_pid=
      die "etcd exited during the learner phase; its last lines: $(tail -n 5 "$LEARNER_LOG" 2>/dev/null | tr '\n' ' ')"
    fi
    if ! list=$(ctl "$endpoints" member list -w simple 2>&1); then
      refused "$list" "member list"
      continue
    fi
    id='' learner=''
    read -r id learner <<<"$(started_self "$list")" || true
    if [ -z "$id" ]; then
      [ -n "${learner_pid:-}" ] || die "promote: $PEER_URL is not a started member"
      [ "$SECONDS" -lt "$deadline" ] || die "the learner $MEMBER did not join the cluster within ${RECONFIG_TIMEOUT}s; its last lines: $(tail -n 5 "$LEARNER_LOG" 2>/dev/null | tr '\n' ' ')"
      sleep 1
      continue
    fi
    [ "$learner" = true ] || return 0
    log "promoting learner $id ($MEMBER)"
    out=$(ctl "$endpoints" member promote "$id" 2>&1) || refused "$out" "member promote $id"
  done
}

stop_learner() {
  [ -n "${learner_pid:-}" ] || return 0
  kill -TERM "$learner_pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$learner_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$learner_pid" 2>/dev/null || true
  wait "$learner_pid" 2>/dev/null || true
  learner_pid=
}

# learner_phase STATE [INITIAL_CLUSTER]: runs etcd as a learner reachable by clients on 127.0.0.1
# only, promotes it, stops it; then writes the running config.
learner_phase() {
  write_config "$1" "${2:-}" learner
  mkdir -p "$(dirname "$LEARNER_LOG")"
  log "starting $MEMBER as a learner, clients on 127.0.0.1 only until it is promoted (etcd log: $LEARNER_LOG)"
  trap stop_learner EXIT
  "$ETCD_BIN" --config-file "$CONFIG" >"$LEARNER_LOG" 2>&1 &
  learner_pid=$!
  promote_self
  stop_learner
  trap - EXIT
  log "$MEMBER is a voter: it starts with its client listener on $CLIENT_URL"
  write_config "$1" "${2:-}"
}

probe
if [ "${1:-}" = promote ]; then
  [ ${#others[@]} -gt 0 ] || exit 0
  [ ${#healthy[@]} -gt 0 ] || die "promote: no healthy member to ask"
  promote_self
  exit 0
fi
if [ -d "$DATA_DIR/member" ]; then
  # Moved aside only on a definite answer from a healthy cluster; otherwise (cold start of every
  # member, no quorum yet) the data is the cluster's and etcd starts from it.
  self='' listed=''
  if [ ${#healthy[@]} -gt 0 ] && list=$(ctl "$(healthy_csv)" member list -w simple 2>/dev/null); then
    listed=yes self=$(started_self "$list")
  fi
  if [ -z "$listed" ] || [ -n "$self" ]; then
    log "$DATA_DIR holds member data: starting $MEMBER from it"
    if [ "${self##* }" = true ]; then
      learner_phase "$(setting initial-cluster-state)"
    else
      write_config "$(setting initial-cluster-state)"
    fi
    exit 0
  fi
  aside="$DATA_DIR.removed-$(date -u +%Y%m%dT%H%M%SZ)"
  log "$PEER_URL is not a started member of the cluster (removed): moving $DATA_DIR aside to $aside; rejoining as a new member"
  mv "$DATA_DIR" "$aside"
  mkdir -m 0700 "$DATA_DIR"
fi
if [ ${#healthy[@]} -eq 0 ] && [ ${#answering[@]} -gt 0 ]; then
  deadline=$((SECONDS + QUORUM_WAIT))
  while [ ${#healthy[@]} -eq 0 ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "members answer (${answering[*]:-none now}) but have no quorum after ${QUORUM_WAIT}s: refusing to bootstrap a new cluster over an existing one (if quorum is lost for good, restore every member from a snapshot)"
    fi
    log "members answer but have no quorum yet; waiting"
    sleep 5
    probe
  done
fi

if [ ${#healthy[@]} -eq 0 ]; then
  log "no other member answers: $MEMBER founds the cluster (initial-cluster-state new)"
  write_config new
  exit 0
fi

endpoints=$(healthy_csv)
deadline=$((SECONDS + RECONFIG_TIMEOUT)) delay=1
while :; do
  if ! list=$(ctl "$endpoints" member list -w simple 2>&1); then
    refused "$list" "member list"
    continue
  fi
  old=$(awk -F', ' -v name="$MEMBER" -v peer="$PEER_URL" \
    '$2 == "started" && ($3 == name || index("," $4 ",", "," peer ",")) { print $1; exit }' <<<"$list")
  if [ -n "$old" ]; then
    log "removing the old entry $old of $MEMBER"
    out=$(ctl "$endpoints" member remove "$old" 2>&1) || refused "$out" "member remove $old"
    continue
  fi
  if awk -F', ' -v peer="$PEER_URL" '$2 == "unstarted" && index("," $4 ",", "," peer ",") { found = 1 } END { exit !found }' <<<"$list"; then
    break
  fi
  log "adding $MEMBER ($PEER_URL) as a learner"
  out=$(ctl "$endpoints" member add "$MEMBER" --peer-urls="$PEER_URL" --learner 2>&1) || refused "$out" "member add $MEMBER"
done

# initial-cluster from the member list: this member's pending entry gets its name.
cluster=$(awk -F', ' -v name="$MEMBER" -v peer="$PEER_URL" '
  NF >= 4 {
    n = $3
    if (n == "") n = index("," $4 ",", "," peer ",") ? name : $1
    k = split($4, urls, ",")
    for (i = 1; i <= k; i++) out = out (out == "" ? "" : ",") n "=" urls[i]
  }
  END { print out }' <<<"$list")
log "joining as $MEMBER (initial-cluster-state existing, initial-cluster $cluster)"
learner_phase existing "$cluster"
