#!/usr/bin/env bash
# ha-fetch-secrets: write this node's certificates and keys from its own Secrets Manager secret.
# Runs after ha-claim-slot at boot and hourly from a timer, so certificates re-issued by a deploy
# inside their renewal window reach the node. Files change only when their content does; every file
# is 0600 root (CIS 1.1.19-1.1.21). Exit status 0; prints the names of changed files.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
STATE_DIR=${STATE_DIR:-/run/ha-control-plane}
# read_slot_env FILE: sets the variables ha-claim-slot wrote to FILE without running it (the values
# come from tags); refuses an unknown key or a value not of its exact form.
# ha-include: read-slot-env.sh
read_slot_env "$STATE_DIR/slot.env"
: "${SECRET_PREFIX:?SECRET_PREFIX missing}" "${SLOT_NAME:?SLOT_NAME missing: has ha-claim-slot run?}"
PKI_DIR=${PKI_DIR:-/etc/kubernetes/pki}

log() {
  logger -t ha-fetch-secrets -- "$*" 2>/dev/null || true
  echo "ha-fetch-secrets: $*" >&2
}

if [ -z "${AWS_DEFAULT_REGION:-}" ]; then
  imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
  if ! [[ $imds =~ ^http://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?/?$ ]]; then
    log "refusing AWS_EC2_METADATA_SERVICE_ENDPOINT ${imds@Q}: not http://host[:port]"
    exit 1
  fi
  imds=${imds%/}
  token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/latest/api/token")
  AWS_DEFAULT_REGION=$(curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/placement/region")
  if ! [[ $AWS_DEFAULT_REGION =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]]; then
    log "refusing region ${AWS_DEFAULT_REGION@Q} from the instance metadata"
    exit 1
  fi
  export AWS_DEFAULT_REGION
fi

secret_id="$SECRET_PREFIX/$SLOT_NAME"
# A secret that cannot be read (denied, scheduled for deletion, missing, its key unusable) stops the
# unit before any file is written: what Requires= this unit (etcd, the API server) never starts.
if ! json=$(aws secretsmanager get-secret-value --secret-id "$secret_id" --query SecretString --output text); then
  log "ERROR: cannot read secret $secret_id (the AWS CLI's error is above): no certificate written"
  exit 1
fi
umask 077
mkdir -p "$PKI_DIR"
chmod 0700 "$PKI_DIR"
changed=$(printf '%s' "$json" | python3 -c '
import json, os, sys
root = os.path.realpath(sys.argv[1])
files = json.load(sys.stdin)["files"]
changed = []
for name, content in sorted(files.items()):
    path = os.path.realpath(os.path.join(root, name))
    if not path.startswith(root + os.sep):
        sys.exit("refusing to write outside %s: %s" % (root, name))
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        with open(path) as f:
            if f.read() == content:
                continue
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    changed.append(name)
print("\n".join(changed))
' "$PKI_DIR")
if [ -n "$changed" ]; then
  log "updated from $secret_id: $(echo "$changed" | tr '\n' ' ')"
  echo "$changed"
else
  log "certificates of $SLOT_NAME unchanged"
fi
