#!/usr/bin/env bash
# setup-test-env: provide every real program the test tiers run, offline, pinned, cached by version
# outside the repository (so a clean clone - CI's - reuses the cache).
#
#   bash scripts/setup-test-env.sh            # everything (idempotent; a warm cache costs seconds)
#   bash scripts/setup-test-env.sh --print-env # only print the environment the tests read
#   bash scripts/setup-test-env.sh etcd kubernetes   # only the named components
#
# Components (each cached in $HA_CP_CACHE/<name>-<version>/ with a `.complete` marker written last;
# a directory without the marker is a half-built cache from an interrupted run and is rebuilt):
#   apt         Debian packages: shellcheck, cloud-init, openssl, iproute2, netplan.io, e2fsprogs, haproxy, systemd-container,
#               debootstrap, socat (the last four for the control-plane and boot tiers), containerd (the
#               CRI runtime of the control-plane tier's joining worker; Debian 12's 1.6 with runc)
#   etcd        etcd, etcdctl, etcdutl 3.5.21 built with `go build` from the Go module proxy
#   kubernetes  kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubeadm, kubectl
#               1.33.5 built from k8s.io/kubernetes (staging modules replaced by their v0.33.5 releases)
#   kubernetes-upgrade
#               the same six programs of 1.34.2 (the next minor) built the same way, for the control-plane
#               tier's upgrade scenario
#   pause       the pause program of kubernetes 1.33.5 (build/pause/linux/pause.c, gcc -static) for the
#               boot tier's locally built pause image
#   moto        a virtualenv with moto[server] (the AWS API emulator) and the AWS CLI, from PyPI
#   providers   a terraform filesystem mirror: hashicorp/aws 5.100.0 from the machine image; tls and
#               kubernetes when they can be built (see test/README.md: the Go module proxy refuses them)
#   tls-standin the hashicorp/tls 4.1.0 stand-in built from test/providers/tls (the proxy refuses the
#               real module), cached by a hash of its source tree as a one-provider filesystem mirror
#   kubernetes-standin
#               the hashicorp/kubernetes 2.38.0 stand-in (plans and applies) built from test/providers/kubernetes
#               (the proxy refuses the real module), cached the same way
#   plan-mirror the mirror the plan and apply tiers use: aws + both stand-ins
#   host-limits the kernel's per-user inotify limits, raised (never lowered) to what the control-plane
#               and boot tiers need: fs.inotify.max_user_instances 8192, max_user_watches 524288. Every
#               kubelet, kube-apiserver, containerd and container systemd holds inotify instances, all
#               charged to root (nspawn containers share the host's user namespace); the default 128
#               runs out with a boot-tier cluster beside a control-plane tier one, and a kubelet that
#               cannot get one exits 1 ("Failed to start cAdvisor" err="inotify_init: too many open
#               files"), as kind and k3d document for nodes in containers. Not cached: a sysctl.
#   node-rootfs a Debian 12 (bookworm) root filesystem for the boot tier's systemd-nspawn nodes, built
#               with debootstrap and apt from deb.debian.org (systemd, cloud-init, the AWS CLI and what
#               the node scripts call), cached by a key of its package list and build function
#
# Failures name the component, version and command. Build times are appended to
# $HA_CP_CACHE/build-times.tsv.
set -euo pipefail

HA_CP_CACHE=${HA_CP_CACHE:-/var/cache/cdktf-ha-control-plane}
ETCD_VERSION=3.5.21
KUBERNETES_VERSION=1.33.5
# The next minor: the control-plane tier upgrades the API servers of KUBERNETES_VERSION to it
# (test/controlplane/upgrade.cp.test.ts).
KUBERNETES_UPGRADE_VERSION=1.34.2
MOTO_VERSION=5.1.22
AWSCLI_VERSION=1.42.25
AWS_PROVIDER_VERSION=5.100.0
AWS_PROVIDER_IMAGE_MIRROR=${AWS_PROVIDER_IMAGE_MIRROR:-/opt/tf-plugins}
TLS_PROVIDER_VERSION=4.1.0
KUBERNETES_PROVIDER_VERSION=2.38.0
export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local

ETCD_DIR=$HA_CP_CACHE/etcd-$ETCD_VERSION
# kube_dir VERSION: a Kubernetes release's cache directory.
kube_dir() { printf '%s/kubernetes-%s' "$HA_CP_CACHE" "$1"; }
KUBE_DIR=$(kube_dir "$KUBERNETES_VERSION")
KUBE_UPGRADE_DIR=$(kube_dir "$KUBERNETES_UPGRADE_VERSION")
PAUSE_DIR=$HA_CP_CACHE/pause-kubernetes-$KUBERNETES_VERSION
MOTO_DIR=$HA_CP_CACHE/moto-$MOTO_VERSION-awscli-$AWSCLI_VERSION
MIRROR_DIR=$HA_CP_CACHE/tf-mirror-aws-$AWS_PROVIDER_VERSION
TLS_STANDIN_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/test/providers/tls
KUBERNETES_STANDIN_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/test/providers/kubernetes

# source_hash DIR: a hash of a stand-in's source tree (Go sources, go.mod/go.sum and the embedded
# schema.json), so an edit to the provider's source is a new cache entry, never a stale binary.
source_hash() {
  (cd "$1" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name schema.json \) | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
}

# tls_standin_dir / kubernetes_standin_dir: each stand-in's cache directory, named by its source hash.
tls_standin_dir() {
  printf '%s/tls-standin-%s-%s' "$HA_CP_CACHE" "$TLS_PROVIDER_VERSION" "$(source_hash "$TLS_STANDIN_SRC")"
}
kubernetes_standin_dir() {
  printf '%s/kubernetes-standin-%s-%s' "$HA_CP_CACHE" "$KUBERNETES_PROVIDER_VERSION" "$(source_hash "$KUBERNETES_STANDIN_SRC")"
}

# plan_mirror_dir: the mirror the plan and apply tiers use: hashicorp/aws from the image and both
# stand-ins, keyed by all three (a new stand-in build is a new mirror).
plan_mirror_dir() {
  local key
  key=$(printf '%s\n%s\n' "$(basename "$(tls_standin_dir)")" "$(basename "$(kubernetes_standin_dir)")" | sha256sum | cut -c1-12)
  printf '%s/tf-mirror-aws-%s-standins-%s' "$HA_CP_CACHE" "$AWS_PROVIDER_VERSION" "$key"
}

# The boot tier's node image: what a Debian 12 AMI has (systemd, cloud-init, ifupdown, chrony,
# openssh) plus what lib/bootstrap/scripts/*.sh call (curl, iproute2, e2fsprogs, python3, openssl,
# kmod, gpg) and what an API-server node installs from apt on an AMI (containerd, iptables,
# conntrack, socat), since a node in the tier has no route to the public mirrors. The AWS CLI is
# the moto virtualenv's version (awscli 1.x from PyPI, in /opt/aws-cli): Debian 12's awscli 2.9
# predates AWS_ENDPOINT_URL, which points a node at the emulator.
NODE_ROOTFS_SUITE=bookworm
NODE_ROOTFS_MIRROR=${NODE_ROOTFS_MIRROR:-http://deb.debian.org/debian}
NODE_ROOTFS_PACKAGES=(systemd systemd-sysv dbus cloud-init ifupdown isc-dhcp-client netbase chrony openssh-server sudo
  curl ca-certificates iproute2 e2fsprogs python3 python3-venv openssl jq kmod gnupg procps less util-linux
  containerd runc iptables conntrack socat ethtool)

# node_rootfs_dir: the rootfs cache directory, keyed by the package list and the text of the
# function that builds it (a change to either is a new image, never a stale one).
node_rootfs_dir() {
  local sum
  sum=$({ printf '%s\n' "$NODE_ROOTFS_SUITE" "$AWSCLI_VERSION" "${NODE_ROOTFS_PACKAGES[@]}"; declare -f setup_node_rootfs; } | sha256sum | cut -c1-12)
  printf '%s/node-rootfs-%s-%s' "$HA_CP_CACHE" "$NODE_ROOTFS_SUITE" "$sum"
}

print_env() {
  cat <<EOF
export HA_CP_CACHE=$HA_CP_CACHE
export HA_CP_ETCD_BIN=$ETCD_DIR/bin
export HA_CP_KUBE_BIN=$KUBE_DIR/bin
export HA_CP_KUBE_UPGRADE_BIN=$KUBE_UPGRADE_DIR/bin
export HA_CP_PAUSE_BIN=$PAUSE_DIR/bin
export HA_CP_MOTO_VENV=$MOTO_DIR
export HA_CP_TF_MIRROR=$MIRROR_DIR
export HA_CP_TLS_MIRROR=$(tls_standin_dir)
export HA_CP_KUBERNETES_MIRROR=$(kubernetes_standin_dir)
export HA_CP_PLAN_MIRROR=$(plan_mirror_dir)
export HA_CP_NODE_ROOTFS=$(node_rootfs_dir)
EOF
}

log() { printf '== setup: %s\n' "$*" >&2; }
die() { printf 'setup-test-env: FAILED: %s\n' "$*" >&2; exit 1; }

# run COMPONENT VERSION -- command...: run a build step; on failure name what failed.
run() {
  local component=$1 version=$2; shift 3
  if ! "$@"; then
    die "$component $version: command failed: $*"
  fi
}

complete() { [ -f "$1/.complete" ]; }

# umount_under DIR: unmounts whatever a build left mounted below DIR (debootstrap mounts /proc and
# /sys in its target): a later `rm -rf` must never walk into a mounted file system.
umount_under() {
  findmnt -rn -o TARGET | awk -v d="$1/" 'index($0, d) == 1' | sort -r | while read -r m; do umount -l "$m" || true; done
}

# begin DIR: start (or restart) a build into DIR.tmp; a half-built DIR is removed.
begin() {
  local dir=$1
  umount_under "$dir"
  umount_under "$dir.tmp"
  if [ -d "$dir" ] && ! complete "$dir"; then
    log "half-built cache $dir (no .complete marker): rebuilding"
    rm -rf --one-file-system "$dir"
  fi
  rm -rf --one-file-system "$dir.tmp"
  mkdir -p "$dir.tmp"
}

# finish DIR NAME VERSION START: mark DIR.tmp complete and move it into place atomically.
finish() {
  local dir=$1 name=$2 version=$3 start=$4 secs
  secs=$(( $(date +%s) - start ))
  date -u +%FT%TZ > "$dir.tmp/.complete"
  mv "$dir.tmp" "$dir"
  printf '%s\t%s\t%s\t%ss\n' "$(date -u +%FT%TZ)" "$name" "$version" "$secs" >> "$HA_CP_CACHE/build-times.tsv"
  log "$name $version built in ${secs}s"
}

# The inotify limits (see host-limits above); the tiers' checks refuse to run below them.
INOTIFY_MIN_INSTANCES=8192
INOTIFY_MIN_WATCHES=524288
setup_host_limits() {
  local key min cur
  for key in max_user_instances:$INOTIFY_MIN_INSTANCES max_user_watches:$INOTIFY_MIN_WATCHES; do
    min=${key#*:} key=fs.inotify.${key%%:*}
    cur=$(sysctl -n "$key") || die "host-limits: cannot read $key"
    if [ "$cur" -lt "$min" ]; then
      sysctl -qw "$key=$min" || die "host-limits: cannot raise $key from $cur to $min (run as root, with /proc/sys writable)"
      log "host-limits: $key $cur -> $min"
    fi
  done
}

setup_apt() {
  local pkgs=(shellcheck cloud-init openssl iproute2 haproxy systemd-container debootstrap python3-venv ca-certificates netplan.io e2fsprogs libfaketime socat containerd docker-registry gcc libc6-dev)
  local need=() p
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  if [ "${#need[@]}" -gt 0 ]; then
    log "apt: installing ${need[*]}"
    local aptlog=$HA_CP_CACHE/apt-install.log
    if ! { apt-get update -qq && env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$aptlog" 2>&1; then
      tail -n 30 "$aptlog" >&2
      die "apt ${need[*]}: apt-get install failed (log: $aptlog)"
    fi
  fi
  # haproxy's, containerd's and docker-registry's packages start system services; the tests start their own.
  systemctl disable --now haproxy >/dev/null 2>&1 || true
  systemctl disable --now containerd >/dev/null 2>&1 || true
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
}

setup_etcd() {
  if complete "$ETCD_DIR"; then return; fi
  local start; start=$(date +%s)
  log "etcd $ETCD_VERSION: building from the Go module proxy (cold: a few minutes)"
  begin "$ETCD_DIR"
  local src=$ETCD_DIR.tmp/src
  mkdir -p "$src/etcd" "$src/etcdctl" "$src/etcdutl" "$ETCD_DIR.tmp/bin"
  cat > "$src/go.mod" <<EOF
module hacp.local/etcd-build

go 1.23
EOF
  cat > "$src/etcd/main.go" <<'EOF'
// Command etcd: the etcd server, as the upstream main (go.etcd.io/etcd/v3) calls it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  cat > "$src/etcdctl/main.go" <<'EOF'
// Command etcdctl: the v3 etcdctl, as the upstream main calls it.
package main

import "go.etcd.io/etcd/etcdctl/v3/ctlv3"

func main() { ctlv3.MustStart() }
EOF
  cat > "$src/etcdutl/main.go" <<'EOF'
// Command etcdutl: the upstream etcdutl command tree.
package main

import (
	"os"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/etcdutl/v3/etcdutl"
)

func main() {
	root := &cobra.Command{Use: "etcdutl", Short: "An administrative command line tool for etcd3."}
	root.PersistentFlags().StringVarP(&etcdutl.OutputFormat, "write-out", "w", "simple", "set the output format (fields, json, protobuf, simple, table)")
	root.AddCommand(
		etcdutl.NewBackupCommand(),
		etcdutl.NewDefragCommand(),
		etcdutl.NewSnapshotCommand(),
		etcdutl.NewVersionCommand(),
	)
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
EOF
  (
    cd "$src"
    run etcd "$ETCD_VERSION" -- go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@v$ETCD_VERSION" "go.etcd.io/etcd/etcdutl/v3@v$ETCD_VERSION"
    run etcd "$ETCD_VERSION" -- go mod tidy
    for b in etcd etcdctl etcdutl; do
      run etcd "$ETCD_VERSION" -- env CGO_ENABLED=0 go build -trimpath -o "$ETCD_DIR.tmp/bin/$b" "./$b"
    done
  )
  "$ETCD_DIR.tmp/bin/etcd" --version | grep -q "etcd Version: $ETCD_VERSION" || die "etcd $ETCD_VERSION: built binary reports another version"
  rm -rf "$src"
  finish "$ETCD_DIR" etcd "$ETCD_VERSION" "$start"
}

# build_kubernetes VERSION: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubeadm and
# kubectl of VERSION built from k8s.io/kubernetes@vVERSION into $HA_CP_CACHE/kubernetes-VERSION/bin: the
# default release (KUBERNETES_VERSION) and the control-plane tier's upgrade target
# (KUBERNETES_UPGRADE_VERSION) are built by this one function.
build_kubernetes() {
  local version=$1 dir; dir=$(kube_dir "$1")
  if complete "$dir"; then return; fi
  local start; start=$(date +%s)
  log "kubernetes $version: building from the Go module proxy (cold: 20-40 minutes on 2 cores)"
  begin "$dir"
  local src=$dir.tmp/src staging=v0${version#1}
  mkdir -p "$src" "$dir.tmp/bin"
  (
    cd "$src"
    printf 'module hacp.local/kubernetes-build\n\ngo 1.24\n' > go.mod
    run kubernetes "$version" -- go mod download -json "k8s.io/kubernetes@v$version" > download.json
    local gomod
    gomod=$(python3 -c 'import json,sys; print(json.load(open("download.json"))["GoMod"])')
    # Every staging module k8s.io/kubernetes replaces with ./staging/src/... is replaced here by its
    # published release of the same minor (k8s.io/X v0.33.5 for 1.33.5).
    {
      printf 'require k8s.io/kubernetes v%s\n' "$version"
      grep -E '^\s*k8s.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
    } >> go.mod
    grep -q '^replace k8s.io/api ' go.mod || die "kubernetes $version: no staging replacements found in $gomod"
    cat > tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubectl/pkg/cmd"
)
EOF
    run kubernetes "$version" -- go mod tidy
    local ldflags pkg
    ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $pkg.gitVersion=v$version -X $pkg.gitMajor=${version%%.*}"
      ldflags+=" -X $pkg.gitMinor=$(echo "$version" | cut -d. -f2) -X $pkg.gitTreeState=clean"
      ldflags+=" -X $pkg.buildDate=2025-09-10T00:00:00Z -X $pkg.gitCommit=v$version-from-module-proxy"
    done
    for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubeadm kubectl; do
      local bstart; bstart=$(date +%s)
      run kubernetes "$version" -- env CGO_ENABLED=0 go build -trimpath -tags tools -ldflags "$ldflags" -o "$dir.tmp/bin/$b" "k8s.io/kubernetes/cmd/$b"
      log "kubernetes $version: $b built in $(( $(date +%s) - bstart ))s"
    done
  )
  "$dir.tmp/bin/kube-apiserver" --version | grep -qx "Kubernetes v$version" || die "kubernetes $version: kube-apiserver reports another version"
  rm -rf "$src"
  finish "$dir" kubernetes "$version" "$start"
}

setup_kubernetes() { build_kubernetes "$KUBERNETES_VERSION"; }

# setup_kubernetes_upgrade: the release the control-plane tier's upgrade scenario
# (test/controlplane/upgrade.cp.test.ts) replaces the API servers of KUBERNETES_VERSION with.
setup_kubernetes_upgrade() { build_kubernetes "$KUBERNETES_UPGRADE_VERSION"; }

setup_moto() {
  if complete "$MOTO_DIR"; then return; fi
  local start; start=$(date +%s)
  log "moto $MOTO_VERSION + awscli $AWSCLI_VERSION: virtualenv from PyPI"
  begin "$MOTO_DIR"
  rm -rf "$MOTO_DIR.tmp"
  run moto "$MOTO_VERSION" -- python3 -m venv "$MOTO_DIR.tmp"
  run moto "$MOTO_VERSION" -- "$MOTO_DIR.tmp/bin/pip" install -q --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "awscli==$AWSCLI_VERSION"
  "$MOTO_DIR.tmp/bin/moto_server" --help >/dev/null || die "moto $MOTO_VERSION: moto_server does not run"
  # The venv's scripts name their interpreter by absolute path: rewrite them for the final location.
  grep -rlI "$MOTO_DIR.tmp" "$MOTO_DIR.tmp/bin" | xargs -r sed -i "s#$MOTO_DIR.tmp#$MOTO_DIR#g"
  finish "$MOTO_DIR" moto "$MOTO_VERSION" "$start"
}

setup_providers() {
  if complete "$MIRROR_DIR"; then return; fi
  local start; start=$(date +%s)
  begin "$MIRROR_DIR"
  local rel=registry.terraform.io/hashicorp/aws/$AWS_PROVIDER_VERSION/linux_amd64
  local bin=$AWS_PROVIDER_IMAGE_MIRROR/$rel/terraform-provider-aws_v${AWS_PROVIDER_VERSION}_x5
  [ -x "$bin" ] || die "providers: hashicorp/aws $AWS_PROVIDER_VERSION not found at $bin (the machine image ships it)"
  mkdir -p "$MIRROR_DIR.tmp/$rel"
  ln -s "$bin" "$MIRROR_DIR.tmp/$rel/"
  finish "$MIRROR_DIR" providers "aws-$AWS_PROVIDER_VERSION" "$start"
}

# build_standin NAME PROVIDER VERSION SRC DIR: go-builds the stand-in provider in SRC into DIR's
# mirror layout as registry.terraform.io/hashicorp/PROVIDER VERSION, and checks it starts as a plugin.
build_standin() {
  local name=$1 provider=$2 version=$3 src=$4 dir=$5
  if complete "$dir"; then return; fi
  local start; start=$(date +%s)
  log "$name $version: building test/providers/${src##*/} from the Go module proxy (cold: 2-4 minutes on 2 cores)"
  begin "$dir"
  local rel=registry.terraform.io/hashicorp/$provider/$version/linux_amd64
  local bin=$dir.tmp/$rel/terraform-provider-${provider}_v$version
  mkdir -p "$dir.tmp/$rel"
  # -mod=readonly: the committed go.sum is the pin; a dependency it lacks fails the build.
  ( cd "$src" && run "$name" "$version" -- env CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -o "$bin" . )
  # Run without terraform's handshake a plugin refuses to start and says so.
  local banner; banner=$("$bin" 2>&1 || true)
  [[ $banner == *"This binary is a plugin"* ]] || die "$name $version: $bin does not run as a terraform plugin: $banner"
  finish "$dir" "$name" "$version" "$start"
}

setup_tls_standin() {
  build_standin tls-standin tls "$TLS_PROVIDER_VERSION" "$TLS_STANDIN_SRC" "$(tls_standin_dir)"
}

# setup_kubernetes_standin: test/providers/kubernetes, a stand-in (plan and apply) for hashicorp/kubernetes
# 2.38.0 (schema.json from the cdktf bindings; a unit test checks it is fresh: this runs before npm ci).
setup_kubernetes_standin() {
  build_standin kubernetes-standin kubernetes "$KUBERNETES_PROVIDER_VERSION" "$KUBERNETES_STANDIN_SRC" "$(kubernetes_standin_dir)"
}

setup_plan_mirror() {
  local dir tls k8s; dir=$(plan_mirror_dir); tls=$(tls_standin_dir); k8s=$(kubernetes_standin_dir)
  if complete "$dir"; then return; fi
  complete "$MIRROR_DIR" || die "plan-mirror: run the providers component first"
  complete "$tls" || die "plan-mirror: run the tls-standin component first"
  complete "$k8s" || die "plan-mirror: run the kubernetes-standin component first"
  local start; start=$(date +%s)
  begin "$dir"
  # Real directories down to <os_arch>/, the binaries linked: terraform does not walk symlinked
  # directories of a filesystem mirror.
  local aws_rel=registry.terraform.io/hashicorp/aws/$AWS_PROVIDER_VERSION/linux_amd64
  local tls_rel=registry.terraform.io/hashicorp/tls/$TLS_PROVIDER_VERSION/linux_amd64
  local k8s_rel=registry.terraform.io/hashicorp/kubernetes/$KUBERNETES_PROVIDER_VERSION/linux_amd64
  mkdir -p "$dir.tmp/$aws_rel" "$dir.tmp/$tls_rel" "$dir.tmp/$k8s_rel"
  ln -s "$(readlink -f "$MIRROR_DIR/$aws_rel/terraform-provider-aws_v${AWS_PROVIDER_VERSION}_x5")" "$dir.tmp/$aws_rel/"
  ln -s "$tls/$tls_rel/terraform-provider-tls_v$TLS_PROVIDER_VERSION" "$dir.tmp/$tls_rel/"
  ln -s "$k8s/$k8s_rel/terraform-provider-kubernetes_v$KUBERNETES_PROVIDER_VERSION" "$dir.tmp/$k8s_rel/"
  finish "$dir" plan-mirror "aws-$AWS_PROVIDER_VERSION+$(basename "$tls")+$(basename "$k8s")" "$start"
}

# The pause container's program for the boot tier's local registry: pause.c from the Kubernetes
# source of KUBERNETES_VERSION (build/pause/linux), compiled as its Makefile does (-Os -static).
setup_pause() {
  if complete "$PAUSE_DIR"; then return; fi
  local start; start=$(date +%s)
  begin "$PAUSE_DIR"
  local src=$PAUSE_DIR.tmp/src dir
  mkdir -p "$src" "$PAUSE_DIR.tmp/bin"
  printf 'module hacp.local/pause-build\n\ngo 1.24\n' > "$src/go.mod"
  dir=$(cd "$src" && go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') ||
    die "pause: go mod download k8s.io/kubernetes@v$KUBERNETES_VERSION failed"
  [ -f "$dir/build/pause/linux/pause.c" ] || die "pause: no build/pause/linux/pause.c in $dir"
  run pause "$KUBERNETES_VERSION" -- gcc -Os -Wall -Werror -static -DVERSION="v$KUBERNETES_VERSION" -o "$PAUSE_DIR.tmp/bin/pause" "$dir/build/pause/linux/pause.c"
  "$PAUSE_DIR.tmp/bin/pause" -v >/dev/null || die "pause: the built program does not run"
  rm -rf "$src"
  finish "$PAUSE_DIR" pause "kubernetes-$KUBERNETES_VERSION" "$start"
}

setup_node_rootfs() {
  local dir; dir=$(node_rootfs_dir)
  if complete "$dir"; then return; fi
  command -v debootstrap >/dev/null || die "node-rootfs: debootstrap missing (run the apt component first)"
  local start; start=$(date +%s)
  log "node-rootfs $NODE_ROOTFS_SUITE: debootstrap from $NODE_ROOTFS_MIRROR (cold: several minutes)"
  begin "$dir"
  local root=$dir.tmp/rootfs dlog=$dir.tmp/build.log
  if ! debootstrap --variant=minbase "$NODE_ROOTFS_SUITE" "$root" "$NODE_ROOTFS_MIRROR" >"$dlog" 2>&1; then
    umount_under "$dir.tmp"
    tail -n 30 "$dlog" >&2
    die "node-rootfs $NODE_ROOTFS_SUITE: debootstrap failed (log: $dlog)"
  fi
  umount_under "$dir.tmp"
  # apt (not debootstrap's --include) resolves virtual packages; no service starts in the chroot;
  # /proc is mounted in a private mount namespace that ends with the command.
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # pip verifies PyPI with the build machine's CA bundle (it may trust an egress proxy's CA); the
  # copy leaves the image afterwards.
  cp /etc/ssl/certs/ca-certificates.crt "$root/root/build-ca.crt"
  if ! AWSCLI_VERSION=$AWSCLI_VERSION unshare --mount --propagation private bash -c '
      mount -t proc proc "$1/proc" &&
      chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${@:2}" &&
      chroot "$1" python3 -m venv /opt/aws-cli &&
      env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PIP_CERT=/root/build-ca.crt \
        chroot "$1" /opt/aws-cli/bin/pip install -q --disable-pip-version-check "awscli==$AWSCLI_VERSION"' \
      bash "$root" "${NODE_ROOTFS_PACKAGES[@]}" >>"$dlog" 2>&1; then
    umount_under "$dir.tmp"
    rm -f "$root/root/build-ca.crt"
    tail -n 30 "$dlog" >&2
    die "node-rootfs $NODE_ROOTFS_SUITE: apt-get install / pip install in the image failed (log: $dlog)"
  fi
  rm -f "$root/root/build-ca.crt"
  ln -sf /opt/aws-cli/bin/aws "$root/usr/local/bin/aws"
  rm -f "$root/usr/sbin/policy-rc.d"
  : > "$root/etc/resolv.conf"
  # Every container gets its own machine id at boot (an empty file: systemd writes a transient one).
  : > "$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  # NoCloud only: the harness writes the seed; no probing for other clouds' metadata.
  printf 'datasource_list: [ NoCloud, None ]\n' > "$root/etc/cloud/cloud.cfg.d/90-ha-boot-tier.cfg"
  # Nothing at boot may reach for a network the nodes do not have (apt's daily timers, man-db).
  local u
  for u in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer; do
    rm -f "$root/etc/systemd/system/timers.target.wants/$u"
  done
  # containerd is started by the API-server node's install script.
  rm -f "$root/etc/systemd/system/multi-user.target.wants/containerd.service"
  printf 'auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n' > "$root/etc/network/interfaces"
  chroot "$root" apt-get clean
  chroot "$root" dpkg-query -W -f '${Package}\t${Version}\n' > "$dir.tmp/packages.tsv"
  local p
  for p in cloud-init aws systemctl curl jq ip mkfs.ext4 chronyc python3 openssl containerd; do
    chroot "$root" sh -c "command -v $p" >/dev/null || die "node-rootfs: $p missing from the image"
  done
  [ "$(chroot "$root" aws --version 2>&1 | cut -d' ' -f1)" = "aws-cli/$AWSCLI_VERSION" ] || die "node-rootfs: the image's aws is not awscli $AWSCLI_VERSION"
  rm -f "$dlog"
  finish "$dir" node-rootfs "$NODE_ROOTFS_SUITE-${dir##*-}" "$start"
}

main() {
  if [ "${1:-}" = "--print-env" ]; then print_env; return; fi
  mkdir -p "$HA_CP_CACHE"
  command -v go >/dev/null || die "go is not on PATH (the machine image ships Go)"
  local components=("$@")
  [ "${#components[@]}" -gt 0 ] || components=(host-limits apt providers tls-standin kubernetes-standin plan-mirror moto etcd kubernetes kubernetes-upgrade pause node-rootfs)
  local c
  for c in "${components[@]}"; do
    case "$c" in
      host-limits) setup_host_limits ;;
      apt) setup_apt ;;
      etcd) setup_etcd ;;
      kubernetes) setup_kubernetes ;;
      kubernetes-upgrade) setup_kubernetes_upgrade ;;
      pause) setup_pause ;;
      moto) setup_moto ;;
      providers) setup_providers ;;
      tls-standin) setup_tls_standin ;;
      kubernetes-standin) setup_kubernetes_standin ;;
      plan-mirror) setup_plan_mirror ;;
      node-rootfs) setup_node_rootfs ;;
      *) die "unknown component '$c' (host-limits, apt, providers, tls-standin, kubernetes-standin, plan-mirror, moto, etcd, kubernetes, kubernetes-upgrade, pause, node-rootfs)" ;;
    esac
  done
  print_env
}

main "$@"
