#!/usr/bin/env bash
# ha-kube-install: install containerd and a pinned kubelet, with the kernel settings the kubelet
# requires. The kubelet comes from the signed Kubernetes package repository (pkgs.k8s.io, or a
# mirror: K8S_APT_REPO) or, with a binary mirror (HA_KUBE_BINARY_URL_TEMPLATE), as files checked
# against pinned SHA-256s by ha-kube-binaries (kubelet, kubeadm, kubectl into HA_KUBE_BIN_DIR);
# containerd then comes from the OS repository unless the image has it. HA_SANDBOX_IMAGE: the pause
# image containerd runs pods with (a registry mirror's). Idempotent: a node that already runs the
# pinned version changes nothing.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
: "${KUBERNETES_VERSION:?KUBERNETES_VERSION missing}"
K8S_APT_REPO=${K8S_APT_REPO:-https://pkgs.k8s.io/core:/stable:/v${KUBERNETES_VERSION%.*}/deb/}
KEYRING=/etc/apt/keyrings/kubernetes-apt-keyring.gpg

log() {
  logger -t ha-kube-install -- "$*" 2>/dev/null || true
  echo "ha-kube-install: $*" >&2
}

FROM_FILES=${HA_KUBE_BINARY_URL_TEMPLATE:+yes}
BINARIES=${HA_KUBE_BINARIES:-/usr/local/sbin/ha-kube-binaries}
if [ -n "${HA_SANDBOX_IMAGE:-}" ] && ! [[ $HA_SANDBOX_IMAGE =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9._-]+)*:[A-Za-z0-9._-]+$ ]]; then
  log "ERROR: refusing HA_SANDBOX_IMAGE ${HA_SANDBOX_IMAGE@Q}"
  exit 1
fi

if [ -n "$FROM_FILES" ]; then
  kubelet=${HA_KUBE_BIN_DIR:-/usr/local/bin}/kubelet
else
  kubelet=$(command -v kubelet || true)
fi
if [ -n "$kubelet" ] && [ -x "$kubelet" ] && "$kubelet" --version | grep -x "Kubernetes v$KUBERNETES_VERSION" >/dev/null && command -v containerd >/dev/null 2>&1; then
  # From files: the checksums are checked again (a replaced file is fetched anew).
  if [ -n "$FROM_FILES" ]; then "$BINARIES"; fi
  log "kubelet $KUBERNETES_VERSION already installed"
  exit 0
fi

# Kernel settings: the kubelet runs with protectKernelDefaults and refuses to start without them.
cat >/etc/modules-load.d/kubernetes.conf <<'EOF'
overlay
br_netfilter
EOF
modprobe overlay
modprobe br_netfilter
cat >/etc/sysctl.d/90-kubernetes.conf <<'EOF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
vm.overcommit_memory = 1
vm.panic_on_oom = 0
kernel.panic = 10
kernel.panic_on_oops = 1
kernel.keys.root_maxkeys = 1000000
kernel.keys.root_maxbytes = 25000000
EOF
sysctl --system >/dev/null
swapoff -a

export DEBIAN_FRONTEND=noninteractive
# Packages must not start their services from here: kubelet.service requires and follows this unit,
# so a start job issued by the kubelet package's maintainer script would wait for this very unit to
# finish, forever. policy-rc.d (exit 101: action forbidden) makes deb-systemd-invoke and
# invoke-rc.d skip every start; containerd is restarted explicitly below and the kubelet is started
# by systemd once ha-kube-configure is done. An existing policy-rc.d is restored on exit.
POLICY=/usr/sbin/policy-rc.d
if [ -e "$POLICY" ]; then mv "$POLICY" "$POLICY.ha-kube-install"; fi
restore_policy() {
  rm -f "$POLICY"
  if [ -e "$POLICY.ha-kube-install" ]; then mv "$POLICY.ha-kube-install" "$POLICY"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$POLICY"
chmod 0755 "$POLICY"
if [ -n "$FROM_FILES" ]; then
  # Nothing from the Kubernetes repository; containerd from the OS repository (or the image).
  if ! command -v containerd >/dev/null 2>&1; then
    apt-get update -q
    apt-get install -y -q containerd
  fi
else
  apt-get update -q
  apt-get install -y -q apt-transport-https ca-certificates curl gpg containerd
fi
mkdir -p /etc/containerd /etc/apt/keyrings
containerd config default | sed -e 's/SystemdCgroup = false/SystemdCgroup = true/' \
  -e "${HA_SANDBOX_IMAGE:+s#^\\( *sandbox_image = \\).*#\\1\"$HA_SANDBOX_IMAGE\"#}" >/etc/containerd/config.toml
systemctl restart containerd

if [ -n "$FROM_FILES" ]; then
  "$BINARIES"
  log "installed kubelet $KUBERNETES_VERSION from the binary mirror, and containerd"
  exit 0
fi

# Packages are verified against the repository's signing key by apt.
curl -fsSL --retry 5 "${K8S_APT_REPO}Release.key" | gpg --dearmor --yes -o "$KEYRING"
echo "deb [signed-by=$KEYRING] $K8S_APT_REPO /" >/etc/apt/sources.list.d/kubernetes.list
apt-get update -q
revision=$(apt-cache madison kubelet | awk -v v="$KUBERNETES_VERSION" '$3 ~ "^"v"-" && !found { print $3; found = 1 }')
if [ -z "$revision" ]; then
  log "ERROR: kubelet $KUBERNETES_VERSION is not in $K8S_APT_REPO"
  exit 1
fi
apt-get install -y -q --allow-change-held-packages "kubelet=$revision" "cri-tools"
apt-mark hold kubelet
log "installed kubelet $revision and containerd"
