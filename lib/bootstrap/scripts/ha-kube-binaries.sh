#!/usr/bin/env bash
# ha-kube-binaries: install kubelet, kubeadm and kubectl of KUBERNETES_VERSION from the binary
# mirror (HA_KUBE_BINARY_URL_TEMPLATE: https:// or s3://, placeholders {version} {arch} {file}).
# Every file is checked against its pinned SHA-256 (HA_KUBE_SHA256_<ARCH>_<FILE>) before anything
# is installed: one mismatch and nothing is. Idempotent: files already installed with the pinned
# checksums are not fetched again. Run by ha-kube-install when the mirror is set.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
: "${KUBERNETES_VERSION:?KUBERNETES_VERSION missing}" "${HA_KUBE_BINARY_URL_TEMPLATE:?HA_KUBE_BINARY_URL_TEMPLATE missing}"
BIN_DIR=${HA_KUBE_BIN_DIR:-/usr/local/bin}
FILES=(kubelet kubeadm kubectl)

log() {
  logger -t ha-kube-binaries -- "$*" 2>/dev/null || true
  echo "ha-kube-binaries: $*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

[[ $KUBERNETES_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "refusing KUBERNETES_VERSION ${KUBERNETES_VERSION@Q}"
template=$HA_KUBE_BINARY_URL_TEMPLATE
[[ $template =~ ^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?/|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/)[^[:space:]\"\'\\\`\$]*$ ]] ||
  die "refusing mirror URL template ${template@Q}: not https:// or s3://"

arch=${HA_KUBE_ARCH:-$(uname -m)}
case "$arch" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "no Kubernetes binaries for architecture $arch" ;;
esac

declare -A expected
for f in "${FILES[@]}"; do
  var=HA_KUBE_SHA256_${arch^^}_${f^^}
  sum=${!var:-}
  [[ $sum =~ ^[0-9a-f]{64}$ ]] || die "no SHA-256 pinned for $f on $arch ($var=${sum@Q}): refusing to install an unchecked file"
  expected[$f]=$sum
done

installed_ok() {
  local f
  for f in "${FILES[@]}"; do
    [ -x "$BIN_DIR/$f" ] || return 1
    [ "$(sha256sum "$BIN_DIR/$f" | awk '{ print $1 }')" = "${expected[$f]}" ] || return 1
  done
}
if installed_ok; then
  log "kubelet, kubeadm and kubectl $KUBERNETES_VERSION ($arch) already installed with the pinned checksums"
  exit 0
fi

# S3 needs a region: the instance's, from the metadata service (IMDSv2), unless set.
s3_region() {
  [ -z "${AWS_DEFAULT_REGION:-}" ] || return 0
  local imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254} token
  [[ $imds =~ ^http://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?/?$ ]] || die "refusing AWS_EC2_METADATA_SERVICE_ENDPOINT ${imds@Q}"
  imds=${imds%/}
  token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/latest/api/token")
  AWS_DEFAULT_REGION=$(curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/placement/region")
  [[ $AWS_DEFAULT_REGION =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "refusing region ${AWS_DEFAULT_REGION@Q} from the instance metadata"
  export AWS_DEFAULT_REGION
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "${FILES[@]}"; do
  url=${template//"{version}"/$KUBERNETES_VERSION}
  url=${url//"{arch}"/$arch}
  url=${url//"{file}"/$f}
  case "$url" in
    s3://*)
      s3_region
      aws s3 cp --only-show-errors "$url" "$tmp/$f" || die "cannot download $url"
      ;;
    *)
      # --proto =https: a redirect to plain http is refused too.
      curl -fsSL --proto '=https' --retry 5 --retry-delay 2 --connect-timeout 10 -o "$tmp/$f" "$url" || die "cannot download $url"
      ;;
  esac
  actual=$(sha256sum "$tmp/$f" | awk '{ print $1 }')
  [ "$actual" = "${expected[$f]}" ] || die "checksum mismatch for $url: got $actual, pinned ${expected[$f]}; nothing installed"
done

# The checksums may be pinned for another release than KUBERNETES_VERSION: ask the kubelet before
# anything is installed.
chmod 0755 "$tmp/kubelet"
reported=$("$tmp/kubelet" --version 2>/dev/null || true)
[ "$reported" = "Kubernetes v$KUBERNETES_VERSION" ] || die "the pinned kubelet reports ${reported@Q}, not Kubernetes v$KUBERNETES_VERSION; nothing installed"

mkdir -p "$BIN_DIR"
for f in "${FILES[@]}"; do
  install -m 0755 "$tmp/$f" "$BIN_DIR/.$f.new"
  mv -f "$BIN_DIR/.$f.new" "$BIN_DIR/$f"
done
log "installed kubelet, kubeadm and kubectl $KUBERNETES_VERSION ($arch) into $BIN_DIR from ${template%%\{*}…"
