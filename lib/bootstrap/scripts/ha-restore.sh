#!/usr/bin/env bash
# ha-restore: restore the whole control plane from ONE etcd snapshot, from an operator's machine (AWS
# CLI, and credentials that may read the backup bucket: EtcdBackups.restoreStatements, suspend the
# groups' processes and send SSM commands to the nodes). The `restore_command` output fills in the
# arguments.
#   ha-restore <cluster> <s3://bucket/prefix> <latest|key under the prefix> <api-group> [<etcd-group>...]
#   (no etcd groups: stacked etcd, the API servers are the members)
# 1. pins the snapshot once: "latest" is the newest LastModified under the prefix (every member's
#    prefix), resolved here and never again; its SHA-256 (object metadata "sha256") is required;
# 2. suspends the groups' processes that would launch, terminate or replace nodes mid-restore
#    (a stopped API server fails its health check: Auto Scaling would replace every one);
# 3. on the nodes, through SSM Run Command (AWS-RunShellScript), one step on every node before the
#    next: stop the API servers (static pod manifests parked, kubelet stopped), stop the backup
#    timers and etcd, restore every member from the pinned snapshot (a presigned URL valid for
#    URL_EXPIRES_SECONDS, checked against the SHA-256; revision bumped, see ha-etcd-restore), start
#    etcd on every member and wait for a healthy quorum, start the API servers and wait for /readyz,
#    start the backup timers;
# 4. resumes the processes.
# Safe to re-run after a failure: the pin and the restore token are kept in STATE_FILE (default
# ./ha-restore-<cluster>.state) and every node step is idempotent; a run that fails leaves the
# processes suspended (resuming them with the API servers down would replace every server) and
# says how to re-run or resume. Exit 0 restored, 1 failed, 2 usage.
set -euo pipefail

usage() {
  echo "usage: ha-restore <cluster> <s3://bucket/prefix> <latest|snapshot key> <api-group> [<etcd-group>...]" >&2
  exit 2
}
[ "$#" -ge 4 ] || usage
CLUSTER=$1 TARGET=$2 SNAPSHOT=$3 API_GROUP=$4
shift 4
ETCD_GROUPS=("$@")
POLL_SECONDS=${POLL_SECONDS:-5}
STEP_TIMEOUT_SECONDS=${STEP_TIMEOUT_SECONDS:-1800}
URL_EXPIRES_SECONDS=${URL_EXPIRES_SECONDS:-3600}
NODE_COMMAND=${NODE_COMMAND:-/usr/local/sbin/ha-restore-node}
STATE_FILE=${STATE_FILE:-./ha-restore-$CLUSTER.state}
# What Auto Scaling must not do while the API servers and etcd are down (AddToLoadBalancer stays:
# instances stay registered with the target groups).
PROCESSES=(Launch Terminate HealthCheck ReplaceUnhealthy AZRebalance AlarmNotification ScheduledActions InstanceRefresh)

log() { echo "ha-restore: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

[[ $CLUSTER =~ ^[a-z][a-z0-9-]{0,39}$ ]] || usage
[[ $TARGET =~ ^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/.*)?$ ]] || usage
BUCKET=${BASH_REMATCH[1]}
PREFIX=${BASH_REMATCH[2]#/}
PREFIX=${PREFIX%/}${PREFIX:+/}
[[ $SNAPSHOT =~ ^[A-Za-z0-9._/-]{1,512}$ ]] || usage
for g in "$API_GROUP" "${ETCD_GROUPS[@]}"; do
  [[ $g =~ ^[A-Za-z0-9._-]{1,255}$ ]] || usage
done
[[ $POLL_SECONDS =~ ^[0-9]+$ && $STEP_TIMEOUT_SECONDS =~ ^[1-9][0-9]*$ && $URL_EXPIRES_SECONDS =~ ^[1-9][0-9]*$ ]] || usage
GROUPS_ALL=("$API_GROUP" "${ETCD_GROUPS[@]}")
started=$(date +%s)

resume_hint() {
  log "the Auto Scaling processes of ${GROUPS_ALL[*]} stay SUSPENDED: fix the cause and re-run the same command"
  log "(it continues with the same snapshot and token from $STATE_FILE), or resume them by hand once every API server is ready:"
  for g in "${GROUPS_ALL[@]}"; do
    log "  aws autoscaling resume-processes --auto-scaling-group-name $g --scaling-processes ${PROCESSES[*]}"
  done
}

# --- 1. the pin: one snapshot (key, version, SHA-256) and one restore token for every member -----
# state FIELD: a field of STATE_FILE (KEY=value lines, read, never sourced; each value checked).
state() {
  sed -n "s/^$1=//p" "$STATE_FILE" | sed -n 1p
}
if [ -e "$STATE_FILE" ]; then
  key=$(state KEY) sha=$(state SHA256) token=$(state TOKEN) version=$(state VERSION)
  [[ $key =~ ^[A-Za-z0-9._/-]{1,1024}$ && $sha =~ ^[0-9a-f]{64}$ && $token =~ ^restore-[0-9]{8}T[0-9]{6}Z$ && $version =~ ^[A-Za-z0-9._-]{0,1024}$ ]] ||
    die "$STATE_FILE is not a restore state file of ha-restore; move it away to start over"
  [ "$(state TARGET)" = "$TARGET" ] || die "$STATE_FILE pins a snapshot of $(state TARGET), not $TARGET; move it away to start over"
  if [ "$SNAPSHOT" != latest ] && [ "$PREFIX$SNAPSHOT" != "$key" ]; then
    die "$STATE_FILE pins $key from an earlier run; re-run with it (or latest), or move the file away to start over"
  fi
  log "continuing the restore $token pinned to s3://$BUCKET/$key (from $STATE_FILE)"
else
  if [ "$SNAPSHOT" = latest ]; then
    key=$(aws s3api list-objects-v2 --bucket "$BUCKET" --prefix "$PREFIX" --output json | python3 -c '
import json, sys
from datetime import datetime
text = sys.stdin.read().strip()
objs = [o for o in (json.loads(text).get("Contents") or []) if o["Key"].endswith(".db")] if text else []
if objs:
    print(max(objs, key=lambda o: datetime.fromisoformat(o["LastModified"].replace("Z", "+00:00")))["Key"])')
    [ -n "$key" ] || die "no snapshot (*.db) under $TARGET"
  else
    key=$PREFIX$SNAPSHOT
  fi
  head=$(aws s3api head-object --bucket "$BUCKET" --key "$key" --output json) || die "cannot read s3://$BUCKET/$key"
  read -r version sha modified < <(printf '%s' "$head" | python3 -c '
import json, re, sys
h = json.load(sys.stdin)
v = h.get("Metadata", {}).get("sha256", "")
print(h.get("VersionId") or "-", v if re.fullmatch("[0-9a-f]{64}", v) else "-", h.get("LastModified", "-").replace(" ", "_"))')
  [ "$sha" != - ] || die "s3://$BUCKET/$key has no recorded SHA-256 (metadata sha256): refusing it"
  [ "$version" != - ] || version=
  token="restore-$(date -u +%Y%m%dT%H%M%SZ)"
  umask 077
  printf 'TARGET=%s\nKEY=%s\nVERSION=%s\nSHA256=%s\nTOKEN=%s\n' "$TARGET" "$key" "$version" "$sha" "$token" >"$STATE_FILE.tmp"
  mv "$STATE_FILE.tmp" "$STATE_FILE"
  log "pinned s3://$BUCKET/$key (version ${version:-none}, last modified $modified, SHA-256 $sha) for every member; token $token"
fi
# A presigned URL has no version: the SHA-256 check on every member ties it to the pinned bytes.
url=$(aws s3 presign "s3://$BUCKET/$key" --expires-in "$URL_EXPIRES_SECONDS")
[[ $url =~ ^https?://[^[:space:]\'\"]+$ ]] || die "aws s3 presign returned no URL"

# --- 2. no replacement while nodes are down ------------------------------------------------------
for g in "${GROUPS_ALL[@]}"; do
  aws autoscaling suspend-processes --auto-scaling-group-name "$g" --scaling-processes "${PROCESSES[@]}" || die "cannot suspend the processes of $g"
done
log "suspended ${PROCESSES[*]} on ${GROUPS_ALL[*]}"
on_exit() {
  local code=$?
  [ "$code" -eq 0 ] || resume_hint
}
trap on_exit EXIT

# in_service GROUP: the group's instance ids, every one InService (anything else: die).
in_service() {
  local rows id state out=()
  rows=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$1" \
    --query 'AutoScalingGroups[0].Instances[].[InstanceId,LifecycleState]' --output text) || die "cannot describe $1"
  while read -r id state; do
    [ -n "$id" ] || continue
    [[ $id =~ ^i-[0-9a-f]{8,17}$ ]] || die "$1: not an instance id: $id"
    [ "$state" = InService ] || die "$1: $id is $state; wait until every instance is InService, then re-run"
    out+=("$id")
  done <<<"$rows"
  [ "${#out[@]}" -gt 0 ] || die "$1 has no instance"
  echo "${out[*]}"
}
# in_service runs in a command substitution, where its die ends only that subshell: the assignment
# carries its status (set -e), a `read <<<"$(in_service …)"` would go on with no instance at all.
nodes=$(in_service "$API_GROUP")
read -ra API_NODES <<<"$nodes"
MEMBERS=()
if [ "${#ETCD_GROUPS[@]}" -eq 0 ]; then
  MEMBERS=("${API_NODES[@]}")
else
  for g in "${ETCD_GROUPS[@]}"; do
    nodes=$(in_service "$g")
    read -ra ids <<<"$nodes"
    [ "${#ids[@]}" -eq 1 ] || die "$g has ${#ids[@]} instances; a member group has one"
    MEMBERS+=("${ids[0]}")
  done
fi
log "API servers: ${API_NODES[*]}; etcd members: ${MEMBERS[*]}"

# --- 3. the node steps ---------------------------------------------------------------------------
# step NAME ENV INSTANCE...: runs `ha-restore-node NAME` on every INSTANCE (with ENV lines exported)
# and waits until each invocation succeeded.
step() {
  local name=$1 env=$2 t0 input id status ids=() pending deadline
  shift 2
  t0=$(date +%s)
  input=$(mktemp)
  # The command travels in a file (--cli-input-json): the presigned URL is on no command line here.
  python3 - "$name" "$env" "$NODE_COMMAND" "$CLUSTER" "$STEP_TIMEOUT_SECONDS" "$@" >"$input" <<'EOF'
import json, sys
name, env, node_command, cluster, timeout, *instances = sys.argv[1:]
commands = ["set -eu"] + [f"export {line}" for line in env.splitlines() if line] + [f"{node_command} {name}"]
print(json.dumps({
    "DocumentName": "AWS-RunShellScript",
    "InstanceIds": instances,
    "Comment": f"ha-restore {cluster}: {name}",
    "TimeoutSeconds": 600,
    "Parameters": {"commands": commands, "executionTimeout": [timeout]},
}))
EOF
  id=$(aws ssm send-command --cli-input-json "file://$input" --query Command.CommandId --output text) || { rm -f "$input"; die "$name: send-command failed"; }
  rm -f "$input"
  [[ $id =~ ^[0-9a-f-]{36}$ ]] || die "$name: send-command returned no command id"
  log "$name on $* (command $id)"
  deadline=$(($(date +%s) + STEP_TIMEOUT_SECONDS + 120))
  ids=("$@")
  while :; do
    pending=()
    for instance in "${ids[@]}"; do
      # Right after send-command an invocation may not exist yet (InvocationDoesNotExist).
      status=$(aws ssm get-command-invocation --command-id "$id" --instance-id "$instance" --query Status --output text 2>/dev/null) || status=Pending
      case "$status" in
        Success) ;;
        Pending | InProgress | Delayed) pending+=("$instance") ;;
        *)
          log "$name on $instance ended $status; its output:"
          aws ssm get-command-invocation --command-id "$id" --instance-id "$instance" \
            --query '[StandardOutputContent,StandardErrorContent]' --output text >&2 || true
          die "$name failed on $instance"
          ;;
      esac
    done
    [ "${#pending[@]}" -gt 0 ] || break
    [ "$(date +%s)" -lt "$deadline" ] || die "$name still running on ${pending[*]} after ${STEP_TIMEOUT_SECONDS}s"
    ids=("${pending[@]}")
    sleep "$POLL_SECONDS"
  done
  log "$name done on every node in $(($(date +%s) - t0)) s"
}

step stop-api "" "${API_NODES[@]}"
down=$(date +%s)
step stop-etcd "" "${MEMBERS[@]}"
step restore "SNAPSHOT_URL='$url'
SNAPSHOT_SHA256=$sha
RESTORE_TOKEN=$token" "${MEMBERS[@]}"
step start-etcd "" "${MEMBERS[@]}"
step start-api "" "${API_NODES[@]}"
up=$(date +%s)
step resume-backups "" "${MEMBERS[@]}"

# --- 4. back to normal ---------------------------------------------------------------------------
for g in "${GROUPS_ALL[@]}"; do
  aws autoscaling resume-processes --auto-scaling-group-name "$g" --scaling-processes "${PROCESSES[@]}" || die "cannot resume the processes of $g"
done
trap - EXIT
rm -f "$STATE_FILE"
log "restored s3://$BUCKET/$key (token $token): API down $((up - down)) s, whole restore $((up - started)) s; processes resumed"
log "Secrets decrypt only with the encryption key versions of the snapshot's time (README: Disaster recovery)"
