#!/usr/bin/env bash
# ha-etcd-install: install the pinned etcd release (etcd, etcdctl and, from 3.5, etcdutl) from its
# release archive. The archive is checked against the pinned SHA-256 before anything is unpacked; a
# mirror (air-gapped installs) is tried before the upstream URL when set. Idempotent: nothing is
# downloaded when the pinned version is installed.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
: "${HA_ETCD_VERSION:?HA_ETCD_VERSION missing}" "${HA_ETCD_URLS:?HA_ETCD_URLS missing}"
BIN_DIR=${HA_ETCD_BIN_DIR:-/usr/local/bin}

log() {
  logger -t ha-etcd-install -- "$*" 2>/dev/null || true
  echo "ha-etcd-install: $*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

# etcd runs as its own system user (CIS 1.1.12); the unit gives it its data directory.
u=${HA_ETCD_USER:-etcd}
getent passwd "$u" >/dev/null || useradd -rUM -d /var/lib/etcd -s /usr/sbin/nologin "$u" || die "cannot create user $u"

installed_version() {
  "$BIN_DIR/etcd" --version 2>/dev/null | awk '/^etcd Version:/ && !found { print $3; found = 1 }' || true
}

if [ "$(installed_version)" = "$HA_ETCD_VERSION" ] && [ -x "$BIN_DIR/etcdctl" ]; then
  log "etcd $HA_ETCD_VERSION already installed"
  exit 0
fi

arch=${HA_ETCD_ARCH:-$(uname -m)}
case "$arch" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "no etcd release for architecture $arch" ;;
esac
if [ "$arch" = amd64 ]; then
  expected=${HA_ETCD_SHA256_AMD64:-}
else
  expected=${HA_ETCD_SHA256_ARM64:-}
fi
[ -n "$expected" ] || die "no SHA-256 pinned for etcd $HA_ETCD_VERSION on $arch"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
archive=$tmp/etcd.tar.gz
verified=""
for template in $HA_ETCD_URLS; do
  url=${template//"{version}"/$HA_ETCD_VERSION}
  url=${url//"{arch}"/$arch}
  # A redirect may only lead to HTTPS: a mirror (or anyone on the path) cannot send the node to http.
  if ! curl -fsSL --proto-redir '=https' --retry 5 --retry-delay 2 --connect-timeout 10 -o "$archive" "$url"; then
    log "cannot download $url"
    continue
  fi
  actual=$(sha256sum "$archive" | awk '{ print $1 }')
  if [ "$actual" = "$expected" ]; then
    verified=$url
    break
  fi
  log "checksum mismatch for $url: got $actual, pinned $expected"
done
[ -n "$verified" ] || die "no verified etcd $HA_ETCD_VERSION archive from: $HA_ETCD_URLS"

mkdir "$tmp/x"
tar -xzf "$archive" -C "$tmp/x" --strip-components=1 --no-same-owner
mkdir -p "$BIN_DIR"
for bin in etcd etcdctl etcdutl; do
  if [ -f "$tmp/x/$bin" ]; then
    install -m 0755 "$tmp/x/$bin" "$BIN_DIR/$bin"
  fi
done
[ "$(installed_version)" = "$HA_ETCD_VERSION" ] || die "installed etcd reports $(installed_version), not $HA_ETCD_VERSION"
log "installed etcd $HA_ETCD_VERSION ($arch) from $verified"
