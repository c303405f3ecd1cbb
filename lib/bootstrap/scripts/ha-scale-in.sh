#!/usr/bin/env bash
# ha-scale-in: shrink the API server group by removing the servers of the HIGHEST slots, from an
# operator's machine (AWS CLI and credentials), before the deploy that lowers apiServerCount. Left
# to itself, Auto Scaling would pick servers by its termination policy, regardless of slot: a
# survivor could hold a slot that the deploy then deletes (its interface, certificates and secret),
# while a freed low slot stays empty.
#   ha-scale-in <cluster> <api-server-group> <new-count>
# 1. finds, for every slot apiserver-<i> with i >= new-count, the instance its interface is attached to;
# 2. lowers the group's minimum to new-count (the maximum stays until the deploy);
# 3. terminates those instances one at a time, highest slot first, decrementing the desired
#    capacity, and waits until each has left the group (the load balancer drains it first: the
#    group's deregistration delay and the API server's shutdown delay apply as in any replacement).
# Then deploy with apiServerCount = new-count: the group's size matches, and the removed slots'
# interfaces are detached, so Terraform deletes them. Exit 0 when done, 1 on failure, 2 on bad usage.
set -euo pipefail

usage() { echo "usage: ha-scale-in <cluster> <api-server-group> <new-count>" >&2; exit 2; }
[ "$#" -eq 3 ] || usage
CLUSTER=$1 GROUP=$2 TARGET=$3
POLL_SECONDS=${POLL_SECONDS:-10}
TIMEOUT_SECONDS=${TIMEOUT_SECONDS:-900}
TAG=ha-control-plane

log() { echo "ha-scale-in: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $CLUSTER =~ ^[a-z][a-z0-9-]{0,39}$ ]] || usage
[[ $GROUP =~ ^[A-Za-z0-9._-]{1,255}$ ]] || usage
[[ $TARGET =~ ^[1-9][0-9]?$ ]] || usage

read -r desired minimum maximum <<<"$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$GROUP" \
  --query 'AutoScalingGroups[0].[DesiredCapacity,MinSize,MaxSize]' --output text)"
[[ $desired =~ ^[0-9]+$ && $minimum =~ ^[0-9]+$ && $maximum =~ ^[0-9]+$ ]] || die "no group $GROUP"
[ "$TARGET" -lt "$desired" ] || die "$GROUP has $desired servers; $TARGET is not fewer"
[ "$TARGET" -ge 2 ] || log "WARNING: $TARGET API server(s) is not highly available"

members=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$GROUP" \
  --query 'AutoScalingGroups[0].Instances[].InstanceId' --output text)

# The instances holding the slots that go, highest slot first.
victims=()
for ((slot = desired - 1; slot >= TARGET; slot--)); do
  name="apiserver-$slot"
  holder=$(aws ec2 describe-network-interfaces \
    --filters "Name=tag:$TAG/cluster,Values=$CLUSTER" "Name=tag:$TAG/slot,Values=$name" \
    --query 'NetworkInterfaces[0].Attachment.InstanceId' --output text)
  if [ "$holder" = None ] || [ -z "$holder" ]; then
    log "$name: interface not attached (no server holds it)"
    continue
  fi
  [[ $holder =~ ^i-[0-9a-f]{8,17}$ ]] || die "$name: interface attached to '$holder'"
  grep -qw -- "$holder" <<<"$members" || die "$name is held by $holder, which is not in $GROUP"
  victims+=("$holder:$name")
done
# Every slot below TARGET must be held by a server that stays, or the group would end short.
remaining=$((desired - ${#victims[@]}))
[ "$remaining" -ge "$TARGET" ] || die "only $remaining servers would remain for $TARGET slots"
if [ "$remaining" -gt "$TARGET" ]; then
  die "$((remaining - TARGET)) server(s) hold no slot of apiserver-$TARGET and up (still booting?); retry when every server holds its slot"
fi

log "lowering the minimum of $GROUP from $minimum to $TARGET"
aws autoscaling update-auto-scaling-group --auto-scaling-group-name "$GROUP" --min-size "$TARGET"

for entry in "${victims[@]}"; do
  instance=${entry%%:*} name=${entry#*:}
  log "terminating $instance ($name)"
  aws autoscaling terminate-instance-in-auto-scaling-group --instance-id "$instance" --should-decrement-desired-capacity >/dev/null
  deadline=$(($(date +%s) + TIMEOUT_SECONDS))
  while aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$GROUP" \
    --query 'AutoScalingGroups[0].Instances[].InstanceId' --output text | grep -w -- "$instance" >/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || die "$instance has not left $GROUP"
    sleep "$POLL_SECONDS"
  done
done
log "$GROUP now has $TARGET servers (slots apiserver-0 … apiserver-$((TARGET - 1))); deploy with apiServerCount: $TARGET"
