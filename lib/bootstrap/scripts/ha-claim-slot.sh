#!/usr/bin/env bash
# ha-claim-slot: give this node the identity of the slot it fills. Safe to run at every boot.
#  1. attach the slot's fixed-IP network interface (keep one already attached to this instance;
#     otherwise take a free one in this zone, retrying on races until a deadline);
#  2. route new connections from the slot IP (etcd peers check the source address against the
#     certificate's IP SANs) while replies for the primary address (load balancer health checks,
#     Session Manager) still leave through the primary interface;
#  3. attach the data volume (etcd), create a filesystem only when it has none, mount it 0700;
#  4. write the claimed identity to $STATE_DIR/slot.env for the services that start after it.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
: "${CLUSTER_NAME:?CLUSTER_NAME missing}" "${NODE_ROLE:?NODE_ROLE missing}"
SLOT_NAME=${SLOT_NAME:-}
DATA_VOLUME=${DATA_VOLUME:-none}
DATA_MOUNT=${DATA_MOUNT:-/var/lib/etcd}
STATE_DIR=${STATE_DIR:-/run/ha-control-plane}
CLAIM_TIMEOUT_SECONDS=${CLAIM_TIMEOUT_SECONDS:-900}
ROUTE_TABLE_PRIMARY=${ROUTE_TABLE_PRIMARY:-101}
SYSFS_NET=${SYSFS_NET:-/sys/class/net}
DISK_BY_ID=${DISK_BY_ID:-/dev/disk/by-id}
TAG=ha-control-plane

log() {
  logger -t ha-claim-slot -- "$*" 2>/dev/null || true
  echo "ha-claim-slot: $*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

imds() {
  local token
  token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
  curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}

ensure_aws_cli() {
  if command -v aws >/dev/null 2>&1; then
    return 0
  fi
  log "installing the AWS CLI"
  if command -v snap >/dev/null 2>&1; then
    snap install aws-cli --classic
  else
    apt-get install -y awscli
  fi
}

# Prints "<eni-id> <ip>" of the first interface matching the slot filters plus "$@", or nothing.
find_interface() {
  local filters=("Name=tag:$TAG/cluster,Values=$CLUSTER_NAME" "Name=tag:$TAG/role,Values=$NODE_ROLE" "Name=availability-zone,Values=$AZ")
  if [ -n "$SLOT_NAME" ]; then
    filters+=("Name=tag:$TAG/slot,Values=$SLOT_NAME")
  fi
  aws ec2 describe-network-interfaces --filters "${filters[@]}" "$@" \
    --query 'NetworkInterfaces[].[NetworkInterfaceId,PrivateIpAddress]' --output text | awk 'NF == 2 { print $1, $2; exit }'
}

claim_interface() {
  local deadline found eni
  deadline=$(($(date +%s) + CLAIM_TIMEOUT_SECONDS))
  while :; do
    found=$(find_interface "Name=attachment.instance-id,Values=$INSTANCE_ID")
    if [ -n "$found" ]; then
      echo "$found"
      return 0
    fi
    found=$(find_interface "Name=status,Values=available")
    if [ -n "$found" ]; then
      eni=${found%% *}
      log "attaching $eni"
      if aws ec2 attach-network-interface --network-interface-id "$eni" --instance-id "$INSTANCE_ID" --device-index 1 >/dev/null; then
        continue
      fi
      log "attaching $eni failed (another node may have taken it); retrying"
    else
      log "no free $NODE_ROLE interface in $AZ yet (the replaced node may still be detaching)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "no $NODE_ROLE interface could be claimed in $AZ within $CLAIM_TIMEOUT_SECONDS s"
    fi
    sleep $((5 + RANDOM % 10))
  done
}

interface_by_mac() {
  local mac=$1 dev
  for dev in "$SYSFS_NET"/*; do
    if [ "$(cat "$dev/address" 2>/dev/null)" = "$mac" ]; then
      basename "$dev"
      return 0
    fi
  done
  return 1
}

configure_routes() {
  local eni=$1 ip=$2 mac iface primary_if primary_ip gw cidr prefix i
  mac=$(aws ec2 describe-network-interfaces --network-interface-ids "$eni" --query 'NetworkInterfaces[0].MacAddress' --output text)
  iface=""
  for i in $(seq 1 60); do
    if iface=$(interface_by_mac "$mac"); then
      break
    fi
    [ "$i" -eq 60 ] && die "interface with MAC $mac did not appear"
    sleep 2
  done
  primary_ip=$(imds local-ipv4)
  primary_if=$(ip -4 -o addr show | awk -v ip="$primary_ip" '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }')
  cidr=$(imds "network/interfaces/macs/$mac/subnet-ipv4-cidr-block")
  prefix=${cidr#*/}
  gw=$(ip -4 route show default dev "$primary_if" | awk '{ print $3; exit }')
  [ -n "$gw" ] || die "no default gateway on $primary_if"
  ip link set dev "$iface" up
  ip addr replace "$ip/$prefix" dev "$iface"
  # New connections leave from the slot address...
  ip route replace "$cidr" dev "$iface" src "$ip" metric 10
  ip route replace default via "$gw" dev "$iface" src "$ip" metric 10
  # ...while replies for connections made to the primary address stay on the primary interface.
  ip route replace "$cidr" dev "$primary_if" src "$primary_ip" table "$ROUTE_TABLE_PRIMARY"
  ip route replace default via "$gw" dev "$primary_if" table "$ROUTE_TABLE_PRIMARY"
  if ! ip rule show | grep -q "from $primary_ip lookup $ROUTE_TABLE_PRIMARY"; then
    ip rule add from "$primary_ip" lookup "$ROUTE_TABLE_PRIMARY" priority 100
  fi
  SLOT_INTERFACE=$iface
}

volume_device() {
  local id=$1 dev
  local by_id=$DISK_BY_ID/nvme-Amazon_Elastic_Block_Store_${id/-/}
  for dev in "$by_id" /dev/xvdf /dev/sdf; do
    if [ -e "$dev" ]; then
      readlink -f "$dev"
      return 0
    fi
  done
  return 1
}

claim_volume() {
  local id=$1 attached state dev fs_type i
  attached=$(aws ec2 describe-volumes --volume-ids "$id" --query 'Volumes[0].Attachments[0].InstanceId' --output text)
  if [ "$attached" != "$INSTANCE_ID" ]; then
    for i in $(seq 1 90); do
      state=$(aws ec2 describe-volumes --volume-ids "$id" --query 'Volumes[0].State' --output text)
      [ "$state" = "available" ] && break
      [ "$i" -eq 90 ] && die "volume $id still $state: is the replaced node still running?"
      log "waiting for volume $id to be released ($state)"
      sleep 10
    done
    aws ec2 attach-volume --volume-id "$id" --instance-id "$INSTANCE_ID" --device /dev/sdf >/dev/null
  fi
  dev=""
  for i in $(seq 1 60); do
    if dev=$(volume_device "$id"); then
      break
    fi
    [ "$i" -eq 60 ] && die "device of volume $id did not appear"
    sleep 2
  done
  # Never format a volume that already holds a filesystem: it is the member's data.
  fs_type=$(blkid -p -s TYPE -o value "$dev" || true)
  if [ -z "$fs_type" ]; then
    log "volume $id is blank: creating a filesystem"
    mkfs.ext4 -q -L etcd-data "$dev"
  fi
  mkdir -p "$DATA_MOUNT"
  if ! mountpoint -q "$DATA_MOUNT"; then
    mount -o noatime "$dev" "$DATA_MOUNT"
  fi
  chmod 0700 "$DATA_MOUNT"
  DATA_DEVICE=$dev
}

ensure_aws_cli
INSTANCE_ID=$(imds instance-id)
AZ=$(imds placement/availability-zone)
AWS_DEFAULT_REGION=$(imds placement/region)
export AWS_DEFAULT_REGION

claimed=$(claim_interface)
SLOT_ENI=${claimed%% *}
SLOT_IP=${claimed##* }
if [ -z "$SLOT_NAME" ]; then
  SLOT_NAME=$(aws ec2 describe-network-interfaces --network-interface-ids "$SLOT_ENI" \
    --query "NetworkInterfaces[0].TagSet[?Key=='$TAG/slot'].Value | [0]" --output text)
fi
log "claimed slot $SLOT_NAME: $SLOT_ENI ($SLOT_IP)"
SLOT_INTERFACE=""
configure_routes "$SLOT_ENI" "$SLOT_IP"

DATA_DEVICE=""
case "$DATA_VOLUME" in
  none) ;;
  by-slot)
    volume=$(aws ec2 describe-volumes --filters "Name=tag:$TAG/cluster,Values=$CLUSTER_NAME" "Name=tag:$TAG/slot,Values=$SLOT_NAME" \
      "Name=tag:$TAG/purpose,Values=etcd-data" --query 'Volumes[0].VolumeId' --output text)
    if [ -z "$volume" ] || [ "$volume" = "None" ]; then
      die "no data volume tagged for slot $SLOT_NAME"
    fi
    claim_volume "$volume"
    ;;
  vol-*) claim_volume "$DATA_VOLUME" ;;
  *) die "DATA_VOLUME must be none, by-slot or a volume id, not $DATA_VOLUME" ;;
esac

mkdir -p "$STATE_DIR"
umask 022
cat >"$STATE_DIR/slot.env.tmp" <<EOF
SLOT_NAME=$SLOT_NAME
SLOT_IP=$SLOT_IP
SLOT_ENI=$SLOT_ENI
SLOT_INTERFACE=$SLOT_INTERFACE
DATA_DEVICE=$DATA_DEVICE
EOF
mv "$STATE_DIR/slot.env.tmp" "$STATE_DIR/slot.env"
log "slot $SLOT_NAME ready"
