# imds_region: exports AWS_DEFAULT_REGION read from the instance metadata (IMDSv2) when it is unset.
# The AWS CLI v2 finds the region there by itself, v1 does not ("You must specify a region"), and
# either may be installed (Debian's awscli, the snap, a pip install). The value is checked against
# a region's exact form before use. Inlined by nodeScript() at the line `# ha-include: imds-region.sh`.
imds_region() {
  [ -z "${AWS_DEFAULT_REGION:-}" ] || return 0
  local imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254} token region
  if ! [[ $imds =~ ^http://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?/?$ ]]; then
    echo "refusing AWS_EC2_METADATA_SERVICE_ENDPOINT ${imds@Q}: not http://host[:port]" >&2
    return 1
  fi
  imds=${imds%/}
  token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/latest/api/token") || return 1
  region=$(curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/placement/region") || return 1
  if ! [[ $region =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]]; then
    echo "refusing region ${region@Q} from the instance metadata" >&2
    return 1
  fi
  AWS_DEFAULT_REGION=$region
  export AWS_DEFAULT_REGION
}
