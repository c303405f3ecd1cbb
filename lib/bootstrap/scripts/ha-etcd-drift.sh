#!/usr/bin/env bash
# ha-etcd-drift: report etcd members that do not run their group's current launch template version,
# from an operator's machine (AWS CLI and credentials). etcd launch template changes roll nothing
# on their own (ha-roll-etcd does, one member at a time); until then a member that AWS replaces for
# any other reason silently picks up the new version. Run it after every deploy that changed an etcd
# template, and before ha-roll-etcd.
#   ha-etcd-drift <member-group>...     (e.g. prod-etcd-0 prod-etcd-1 prod-etcd-2)
# Prints one line per member: group, instance, running version, current version, state.
# Exit 0: every member runs its current version; 1: drift or a missing member; 2: usage or AWS error.
set -euo pipefail

[ "$#" -gt 0 ] || { echo "usage: ha-etcd-drift <member-group>..." >&2; exit 2; }

fail() { echo "ha-etcd-drift: $*" >&2; exit 2; }

drift=0
printf '%s\t%s\t%s\t%s\t%s\n' GROUP INSTANCE RUNNING CURRENT STATE
for group in "$@"; do
  [[ $group =~ ^[A-Za-z0-9._-]{1,255}$ ]] || fail "not an Auto Scaling group name: $group"
  spec=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$group" \
    --query 'AutoScalingGroups[0].LaunchTemplate.[LaunchTemplateId,Version]' --output text) || fail "cannot describe $group"
  read -r template version <<<"$spec"
  [[ $template =~ ^lt-[0-9a-f]{8,17}$ ]] || fail "$group: no launch template (got '$spec'; is the group name right?)"
  case "$version" in
    \$Default | None) field=DefaultVersionNumber ;;
    \$Latest) field=LatestVersionNumber ;;
    *) field= ;;
  esac
  if [ -n "$field" ]; then
    current=$(aws ec2 describe-launch-templates --launch-template-ids "$template" \
      --query "LaunchTemplates[0].$field" --output text) || fail "cannot describe $template"
  else
    current=$version
  fi
  [[ $current =~ ^[1-9][0-9]{0,8}$ ]] || fail "$group: current version of $template is not a number: $current"
  members=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$group" \
    --query 'AutoScalingGroups[0].Instances[].[InstanceId,LaunchTemplate.Version,LifecycleState]' --output text) || fail "cannot list the instances of $group"
  if [ -z "$members" ]; then
    printf '%s\t%s\t%s\t%s\t%s\n' "$group" - - "$current" MISSING
    drift=1
    continue
  fi
  while read -r instance running state; do
    [[ $instance =~ ^i-[0-9a-f]{8,17}$ ]] || fail "$group: not an instance id: $instance"
    [[ $running =~ ^[1-9][0-9]{0,8}$ ]] || fail "$group: $instance runs launch template version '$running'"
    [[ $state =~ ^[A-Za-z:]{1,40}$ ]] || fail "$group: $instance is in an unknown state"
    if [ "$running" != "$current" ]; then
      printf '%s\t%s\t%s\t%s\t%s\n' "$group" "$instance" "$running" "$current" "DRIFT ($state)"
      drift=1
    else
      printf '%s\t%s\t%s\t%s\t%s\n' "$group" "$instance" "$running" "$current" "current ($state)"
    fi
  done <<<"$members"
done
exit "$drift"
