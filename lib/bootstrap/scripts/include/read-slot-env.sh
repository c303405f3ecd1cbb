# read_slot_env FILE: sets the variables ha-claim-slot wrote to FILE (KEY='value' lines) without running
# it: the values come from tags, so each known key must match its exact form and an unknown key is
# refused. Inlined into each node script by nodeScript() (lib/bootstrap/node-user-data.ts) at the
# line `# ha-include: read-slot-env.sh`.
read_slot_env() {
  local k v
  while IFS='=' read -r k v; do
    v=${v#\'} v=${v%\'}
    case $k in
      SLOT_NAME) [[ $v =~ ^[a-z][a-z0-9-]{0,61}[a-z0-9]$ ]] ;;
      SLOT_IP) [[ $v =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] ;;
      SLOT_ENI) [[ $v =~ ^(eni-[0-9a-f]{8,17})?$ ]] ;;
      SLOT_INTERFACE) [[ $v =~ ^[A-Za-z0-9_.-]{0,15}$ ]] ;;
      DATA_DEVICE) [[ $v =~ ^(/[A-Za-z0-9_./-]*)?$ ]] ;;
      '') [ -z "$v" ] ;;
      *) false ;;
    esac || { echo "refusing $1: ${k@Q}=${v@Q}" >&2; return 1; }
    [ -z "$k" ] || printf -v "$k" %s "$v"
  done <"$1"
}
