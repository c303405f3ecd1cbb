#!/usr/bin/env bash
# ha-fetch-bundle: fetch this node's bootstrap bundle (the scripts, units and configuration that
# are the same for every node of its role) from S3, check it against the SHA-256 in the user data,
# and only then extract it into /. cloud-init runs it first in runcmd as
# `ha-fetch-bundle || exit 1`: on any failure nothing is extracted, the runcmd script stops, and
# no unit is enabled or started. Runs once per instance (runcmd); files persist on the root disk.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
BUNDLE_ROOT=${BUNDLE_ROOT:-/}
BUNDLE_DIR=${BUNDLE_DIR:-/var/lib/ha-control-plane/bundle}
FETCH_ATTEMPTS=${FETCH_ATTEMPTS:-10}

log() {
  logger -t ha-fetch-bundle -- "$*" 2>/dev/null || true
  echo "ha-fetch-bundle: $*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

bucket=${HA_BUNDLE_BUCKET:-}
key=${HA_BUNDLE_KEY:-}
sha=${HA_BUNDLE_SHA256:-}
[[ $bucket =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "HA_BUNDLE_BUCKET ${bucket@Q} is not an S3 bucket name"
[[ $sha =~ ^[0-9a-f]{64}$ ]] || die "HA_BUNDLE_SHA256 ${sha@Q} is not a SHA-256 in hex"
key_re='^([A-Za-z0-9_.-]+/)*bundles/[a-z0-9-]+/[0-9a-f]{64}\.tar\.gz$'
[[ $key =~ $key_re && $key == *"/$sha.tar.gz" ]] ||
  die "HA_BUNDLE_KEY ${key@Q} is not <prefix>bundles/<role>/$sha.tar.gz"

if [ -z "${AWS_DEFAULT_REGION:-}" ]; then
  imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
  [[ $imds =~ ^http://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?/?$ ]] || die "refusing AWS_EC2_METADATA_SERVICE_ENDPOINT ${imds@Q}: not http://host[:port]"
  imds=${imds%/}
  token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/latest/api/token")
  AWS_DEFAULT_REGION=$(curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/placement/region")
  [[ $AWS_DEFAULT_REGION =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "refusing region ${AWS_DEFAULT_REGION@Q} from the instance metadata"
  export AWS_DEFAULT_REGION
fi

if ! command -v aws >/dev/null 2>&1; then
  log "installing the AWS CLI"
  if command -v snap >/dev/null 2>&1; then
    snap install aws-cli --classic
  else
    apt-get install -y awscli
  fi
fi

umask 077
mkdir -p "$BUNDLE_DIR"
file="$BUNDLE_DIR/$sha.tar.gz"
rm -f "$file" "$file.part"
attempt=1
until aws s3api get-object --bucket "$bucket" --key "$key" "$file.part" >/dev/null; do
  [ "$attempt" -lt "$FETCH_ATTEMPTS" ] || die "could not download s3://$bucket/$key after $attempt attempts; nothing extracted"
  log "downloading s3://$bucket/$key failed (attempt $attempt); retrying"
  attempt=$((attempt + 1))
  sleep 6
done
if ! (cd "$BUNDLE_DIR" && printf '%s  %s\n' "$sha" "$sha.tar.gz.part" | sha256sum -c --status); then
  got=$(sha256sum "$file.part" | cut -d' ' -f1)
  rm -f "$file.part"
  die "bootstrap bundle s3://$bucket/$key has SHA-256 $got, user data expects $sha: refusing it; nothing extracted, no unit started"
fi
mv "$file.part" "$file"
tar -xzf "$file" -C "$BUNDLE_ROOT" --no-same-owner --no-overwrite-dir || die "extracting $file into $BUNDLE_ROOT failed"
log "extracted bootstrap bundle $sha ($(tar -tzf "$file" | wc -l) files)"
