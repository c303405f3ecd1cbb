#!/usr/bin/env bash
# ha-claim-slot: give this node the identity of the slot it fills. Safe to run at every boot.
#  1. attach the slot's fixed-IP network interface (keep one already attached to this instance;
#     otherwise take a free one in this zone, retrying on races until a deadline). A slot interface
#     carries the slot tag and is never device index 0: the instance's own primary interface is not
#     a slot, whatever tags it has;
#  2. own the slot interface's configuration: cloud-init's hotplug handler is switched off before
#     the attach (it would configure the NIC by DHCP with its own policy tables 100 + device index),
#     systemd-networkd keeps routes and rules it did not create, and on netplan systems a netplan
#     file declares the slot NIC (address, routes with metric 10, the policy rule: Ubuntu 24.04
#     and Debian 12's official cloud images, both netplan with networkd); elsewhere (ifupdown, e.g.
#     a Debian root built by debootstrap) the same is done with ip alone, again at every boot;
#  3. route new connections from the slot IP (etcd peers check the source address against the
#     certificate's IP SANs) while replies for the primary address (load balancer health checks,
#     Session Manager) still leave through the primary interface (table $ROUTE_TABLE_PRIMARY);
#  4. attach the data volume (etcd), create a filesystem only when it has none, mount it 0700;
#  5. write the claimed identity to $STATE_DIR/slot.env for the services that start after it. Every
#     value read from tags or metadata is checked against its exact form first, and the file is
#     parsed by its readers, never sourced: a tag is not a way to run commands as root.
set -euo pipefail
# A check failing inside $(...) must stop the boot, not yield an empty value.
shopt -s inherit_errexit

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# node.env is rendered by the deployer into user data (quoted), not read from tags.
# shellcheck source=/dev/null
. "$ENV_FILE"
: "${CLUSTER_NAME:?CLUSTER_NAME missing}" "${NODE_ROLE:?NODE_ROLE missing}"
SLOT_NAME=${SLOT_NAME:-}
DATA_VOLUME=${DATA_VOLUME:-none}
DATA_MOUNT=${DATA_MOUNT:-/var/lib/etcd}
STATE_DIR=${STATE_DIR:-/run/ha-control-plane}
CLAIM_TIMEOUT_SECONDS=${CLAIM_TIMEOUT_SECONDS:-900}
# Far from cloud-init's policy tables (100 + device index) and the reserved 253-255.
ROUTE_TABLE_PRIMARY=${ROUTE_TABLE_PRIMARY:-1000}
SYSFS_NET=${SYSFS_NET:-/sys/class/net}
DISK_BY_ID=${DISK_BY_ID:-/dev/disk/by-id}
NETPLAN_DIR=${NETPLAN_DIR:-/etc/netplan}
NETWORKD_CONF_DIR=${NETWORKD_CONF_DIR:-/etc/systemd/networkd.conf.d}
CLOUD_CFG_DIR=${CLOUD_CFG_DIR:-/etc/cloud/cloud.cfg.d}
IMDS_ENDPOINT=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
TAG=ha-control-plane

log() {
  logger -t ha-claim-slot -- "$*" 2>/dev/null || true
  echo "ha-claim-slot: $*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

# valid KIND VALUE: true when VALUE has the exact form of KIND.
valid() {
  local kind=$1 v=$2 octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
  case "$kind" in
    slot) [[ $v =~ ^[a-z][a-z0-9-]{0,61}[a-z0-9]$ ]] ;;
    ip) [[ $v =~ ^$octet\.$octet\.$octet\.$octet$ ]] ;;
    cidr) [[ $v =~ ^$octet\.$octet\.$octet\.$octet/(3[0-2]|[12]?[0-9])$ ]] ;;
    eni) [[ $v =~ ^eni-[0-9a-f]{8,17}$ ]] ;;
    vol) [[ $v =~ ^vol-[0-9a-f]{8,17}$ ]] ;;
    instance) [[ $v =~ ^i-[0-9a-f]{8,17}$ ]] ;;
    zone) [[ $v =~ ^[a-z]{2}(-[a-z0-9]+)+[a-z]$ ]] ;;
    region) [[ $v =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] ;;
    mac) [[ $v =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]] ;;
    ifname) [[ $v =~ ^[A-Za-z0-9_.-]{1,15}$ ]] ;;
    path) [[ $v =~ ^/[A-Za-z0-9_./-]*$ ]] ;;
    endpoint) [[ $v =~ ^http://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?/?$ ]] ;;
    *) return 1 ;;
  esac
}

# checked KIND WHAT VALUE: prints VALUE when it has the form of KIND, else stops the boot.
checked() {
  valid "$1" "$3" || die "refusing $2 ${3@Q}: not a valid $1"
  printf '%s\n' "$3"
}

checked endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT "$IMDS_ENDPOINT" >/dev/null
IMDS_ENDPOINT=${IMDS_ENDPOINT%/}
if [ -n "$SLOT_NAME" ]; then
  checked slot SLOT_NAME "$SLOT_NAME" >/dev/null
fi

imds() {
  local token
  token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS_ENDPOINT/latest/api/token")
  curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" "$IMDS_ENDPOINT/latest/meta-data/$1"
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

# Prints "<eni-id> <ip> <slot>" of the first slot interface matching the slot filters plus "$@", or
# nothing. Only interfaces carrying the slot tag count, and never one at device index 0 (an
# instance's primary interface), whatever other tags it has. Values are checked before use.
find_interface() {
  local filters=("Name=tag:$TAG/cluster,Values=$CLUSTER_NAME" "Name=tag:$TAG/role,Values=$NODE_ROLE" "Name=availability-zone,Values=$AZ")
  if [ -n "$SLOT_NAME" ]; then
    filters+=("Name=tag:$TAG/slot,Values=$SLOT_NAME")
  else
    filters+=("Name=tag-key,Values=$TAG/slot")
  fi
  local line eni ip slot
  line=$(aws ec2 describe-network-interfaces --filters "${filters[@]}" "$@" \
    --query "NetworkInterfaces[?Attachment.DeviceIndex != \`0\`].[NetworkInterfaceId,PrivateIpAddress,TagSet[?Key=='$TAG/slot'].Value | [0]]" \
    --output text | awk 'NR == 1')
  [ -n "$line" ] || return 0
  IFS=$'\t' read -r eni ip slot <<<"$line"
  checked eni "interface id" "$eni" >/dev/null
  checked ip "address of $eni" "$ip" >/dev/null
  checked slot "slot name of $eni" "$slot" >/dev/null
  [ -z "$SLOT_NAME" ] || [ "$slot" = "$SLOT_NAME" ] || die "$eni is tagged for slot ${slot@Q}, not $SLOT_NAME"
  echo "$eni $ip $slot"
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

# put FILE MODE TEXT: writes TEXT to FILE when it differs; true when it did.
put() {
  [ "$(cat "$1" 2>/dev/null)" != "$3" ] || return 1
  mkdir -p "${1%/*}"
  printf '%s\n' "$3" >"$1.tmp"
  chmod "$2" "$1.tmp"
  mv -f "$1.tmp" "$1"
}

# Before the slot NIC is attached: cloud-init must not configure it when it appears (its hotplug
# handler would run DHCP on it and add policy tables 100 + device index), and systemd-networkd must
# keep the routes and rules this script adds on the primary interface.
own_slot_networking() {
  [ ! -d "${CLOUD_CFG_DIR%/*}" ] || put "$CLOUD_CFG_DIR/90-ha-control-plane-slot.cfg" 0644 'updates: {network: {when: [boot-new-instance]}}' || true
  if [ -d "${NETWORKD_CONF_DIR%/*}" ] && put "$NETWORKD_CONF_DIR/60-ha-control-plane.conf" 0644 $'[Network]\nManageForeignRoutes=no\nManageForeignRoutingPolicyRules=no' &&
    command -v systemctl >/dev/null && systemctl is-active --quiet systemd-networkd.service; then
    systemctl restart systemd-networkd.service
  fi
}

# write_netplan MAC IP PREFIX CIDR GW PRIMARY_IP: declares the slot NIC to netplan (Ubuntu), so
# systemd-networkd owns its address and routes instead of leaving them to cloud-init or DHCP.
write_netplan() {
  if put "$NETPLAN_DIR/90-ha-control-plane-slot.yaml" 0600 "network:
  version: 2
  ethernets:
    ha-slot:
      match: {macaddress: \"$1\"}
      dhcp4: false
      dhcp6: false
      accept-ra: false
      link-local: []
      addresses: [\"$2/$3\"]
      routes:
        - {to: \"$4\", scope: link, from: \"$2\", metric: 10}
        - {to: default, via: \"$5\", from: \"$2\", metric: 10}
      routing-policy:
        - {from: \"$6\", table: $ROUTE_TABLE_PRIMARY, priority: 100}"; then
    netplan apply
  fi
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
  local eni=$1 ip=$2 mac iface primary_if primary_ip primary_metric gw cidr prefix i
  mac=$(checked mac "MAC of $eni" "$(aws ec2 describe-network-interfaces --network-interface-ids "$eni" --query 'NetworkInterfaces[0].MacAddress' --output text)")
  iface=""
  for i in $(seq 1 60); do
    if iface=$(interface_by_mac "$mac"); then
      break
    fi
    [ "$i" -eq 60 ] && die "interface with MAC $mac did not appear"
    sleep 2
  done
  primary_ip=$(checked ip local-ipv4 "$(imds local-ipv4)")
  primary_if=$(ip -4 -o addr show | awk -v ip="$primary_ip" '!found { split($4, a, "/"); if (a[1] == ip) { print $2; found = 1 } }')
  checked ifname interface "$iface" >/dev/null
  checked ifname interface "$primary_if" >/dev/null
  cidr=$(checked cidr subnet-ipv4-cidr-block "$(imds "network/interfaces/macs/$mac/subnet-ipv4-cidr-block")")
  prefix=${cidr#*/}
  gw=$(ip -4 route show default dev "$primary_if" | awk 'NR == 1 { print $3 }')
  [ -n "$gw" ] || die "no default gateway on $primary_if"
  checked ip "default gateway" "$gw" >/dev/null
  if command -v netplan >/dev/null 2>&1 && [ -d "$NETPLAN_DIR" ]; then
    write_netplan "$mac" "$ip" "$prefix" "$cidr" "$gw" "$primary_ip"
  fi
  # The same with ip, at every boot: on systems without netplan (ifupdown) this is the
  # configuration; with netplan it takes effect before networkd has applied the file.
  ip link set dev "$iface" up
  ip addr replace "$ip/$prefix" dev "$iface"
  # New connections leave from the slot address (metric 10). A primary default route at metric 0
  # (Debian's dhclient; networkd uses 100) would win: move it behind, at 100.
  primary_metric=$(ip -4 route show default dev "$primary_if" | awk 'NR == 1 { m = 0; for (i = 1; i < NF; i++) if ($i == "metric") m = $(i + 1); print m }')
  if [ "${primary_metric:-0}" -le 10 ]; then
    ip route replace default via "$gw" dev "$primary_if" metric 100
    ip route del default via "$gw" dev "$primary_if" metric "${primary_metric:-0}"
  fi
  # The same for the primary's route to the subnet (the kernel's prefix route, metric 0): a peer in
  # the node's own subnet (two etcd members of one zone) would otherwise be reached from the primary
  # address, and etcd refuses a peer whose certificate does not name the address it comes from.
  subnet_metric=$(ip -4 route show "$cidr" dev "$primary_if" | awk 'NR == 1 { m = 0; for (i = 1; i < NF; i++) if ($i == "metric") m = $(i + 1); print m }')
  if [ -n "$subnet_metric" ] && [ "$subnet_metric" -le 10 ]; then
    ip route replace "$cidr" dev "$primary_if" src "$primary_ip" metric 100
    ip route del "$cidr" dev "$primary_if" metric "$subnet_metric"
  fi
  ip route replace "$cidr" dev "$iface" src "$ip" metric 10
  ip route replace default via "$gw" dev "$iface" src "$ip" metric 10
  # ...while replies for connections made to the primary address stay on the primary interface.
  ip route replace "$cidr" dev "$primary_if" src "$primary_ip" table "$ROUTE_TABLE_PRIMARY"
  ip route replace default via "$gw" dev "$primary_if" table "$ROUTE_TABLE_PRIMARY"
  if ! ip rule show | grep -F "from $primary_ip lookup $ROUTE_TABLE_PRIMARY" >/dev/null; then
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
INSTANCE_ID=$(checked instance instance-id "$(imds instance-id)")
AZ=$(checked zone availability-zone "$(imds placement/availability-zone)")
AWS_DEFAULT_REGION=$(checked region region "$(imds placement/region)")
export AWS_DEFAULT_REGION

own_slot_networking
claimed=$(claim_interface)
read -r SLOT_ENI SLOT_IP claimed_slot <<<"$claimed"
SLOT_NAME=$(checked slot "slot name" "$claimed_slot")
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
    volume=$(checked vol "data volume id" "$volume")
    claim_volume "$volume"
    ;;
  vol-*)
    checked vol DATA_VOLUME "$DATA_VOLUME" >/dev/null
    claim_volume "$DATA_VOLUME"
    ;;
  *) die "DATA_VOLUME must be none, by-slot or a volume id, not $DATA_VOLUME" ;;
esac
[ -z "$DATA_DEVICE" ] || checked path "data device" "$DATA_DEVICE" >/dev/null

# Readers parse this file (KEY='value', values of the forms checked above); they never source it.
mkdir -p "$STATE_DIR"
umask 022
cat >"$STATE_DIR/slot.env.tmp" <<EOF
SLOT_NAME='$SLOT_NAME'
SLOT_IP='$SLOT_IP'
SLOT_ENI='$SLOT_ENI'
SLOT_INTERFACE='$SLOT_INTERFACE'
DATA_DEVICE='$DATA_DEVICE'
EOF
mv "$STATE_DIR/slot.env.tmp" "$STATE_DIR/slot.env"
log "slot $SLOT_NAME ready"
