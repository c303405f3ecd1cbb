#!/usr/bin/env bash
# ha-kube-configure: runs after the slot claim and the certificate fetch. Writes the static pod
# manifests with this node's slot IP, the secrets-encryption configuration (creating the cluster's
# key on first boot, first writer wins), and starts the kubelet.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
STATE_DIR=${STATE_DIR:-/run/ha-control-plane}
# shellcheck source=/dev/null
. "$STATE_DIR/slot.env"
: "${SLOT_IP:?SLOT_IP missing: has ha-claim-slot run?}" "${ENCRYPTION_KEY_SECRET:?ENCRYPTION_KEY_SECRET missing}"
TEMPLATE_DIR=${TEMPLATE_DIR:-/etc/ha-control-plane/manifests}
MANIFEST_DIR=${MANIFEST_DIR:-/etc/kubernetes/manifests}
KUBECONFIG_TEMPLATE_DIR=${KUBECONFIG_TEMPLATE_DIR:-/etc/ha-control-plane/kubeconfigs}
KUBE_DIR=${KUBE_DIR:-/etc/kubernetes}
PKI_DIR=${PKI_DIR:-/etc/kubernetes/pki}
ENCRYPTION_CONFIG=${ENCRYPTION_CONFIG:-/etc/kubernetes/encryption-config.yaml}
START_KUBELET=${START_KUBELET:-true}
# A fixed token makes the first write idempotent: a second node's different value is refused.
INITIAL_TOKEN=ha-control-plane-initial-encryption-key-v1

log() {
  logger -t ha-kube-configure -- "$*" 2>/dev/null || true
  echo "ha-kube-configure: $*" >&2
}

read_key() {
  aws secretsmanager get-secret-value --secret-id "$ENCRYPTION_KEY_SECRET" --query SecretString --output text 2>/dev/null
}

if ! key=$(read_key); then
  log "no secrets-encryption key yet: creating one"
  candidate=$(head -c 32 /dev/urandom | base64)
  if ! aws secretsmanager put-secret-value --secret-id "$ENCRYPTION_KEY_SECRET" --secret-string "$candidate" \
    --client-request-token "$INITIAL_TOKEN" >/dev/null 2>&1; then
    log "another API server created the key first"
  fi
  key=$(read_key)
fi
if ! printf '%s' "$key" | base64 -d 2>/dev/null | wc -c | grep -qx 32; then
  log "ERROR: the secrets-encryption key in $ENCRYPTION_KEY_SECRET is not 32 base64 bytes"
  exit 1
fi

umask 077
mkdir -p "$MANIFEST_DIR" "$(dirname "$ENCRYPTION_CONFIG")"
cat >"$ENCRYPTION_CONFIG.tmp" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - secretbox:
          keys:
            - name: key1
              secret: $key
      - identity: {}
EOF
mv "$ENCRYPTION_CONFIG.tmp" "$ENCRYPTION_CONFIG"

# Component kubeconfigs embed their certificates (kubeadm's form), so the scheduler's pod mounts no
# PKI directory. Certificates come from the node's secret, so user data carries only templates.
for template in "$KUBECONFIG_TEMPLATE_DIR"/*.conf; do
  [ -e "$template" ] || continue
  target="$KUBE_DIR/$(basename "$template")"
  cp "$template" "$target.tmp"
  while read -r name; do
    if [ ! -s "$PKI_DIR/$name" ]; then
      log "ERROR: $PKI_DIR/$name is missing, cannot write $target: has ha-fetch-secrets run?"
      rm -f "$target.tmp"
      exit 1
    fi
    sed -i "s|@@PKI_BASE64:$name@@|$(base64 -w0 "$PKI_DIR/$name")|g" "$target.tmp"
  done < <(grep -o '@@PKI_BASE64:[A-Za-z0-9._-]*@@' "$template" | sed 's/^@@PKI_BASE64:\(.*\)@@$/\1/' | sort -u)
  if grep -q '@@PKI_BASE64:' "$target.tmp"; then
    log "ERROR: $template has a malformed PKI marker"
    rm -f "$target.tmp"
    exit 1
  fi
  chmod 0600 "$target.tmp"
  mv "$target.tmp" "$target"
done

for template in "$TEMPLATE_DIR"/*.yaml; do
  target="$MANIFEST_DIR/$(basename "$template")"
  sed "s/@@SLOT_IP@@/$SLOT_IP/g" "$template" >"$target.tmp"
  chmod 0600 "$target.tmp"
  mv "$target.tmp" "$target"
done
log "manifests written for $SLOT_NAME ($SLOT_IP)"

if [ "$START_KUBELET" = "true" ]; then
  systemctl enable --now kubelet
fi
