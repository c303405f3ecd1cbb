#!/usr/bin/env bash
# ha-kube-configure: runs after the slot claim and the certificate fetch. Writes the static pod
# manifests with this node's slot IP, the secrets-encryption configuration (creating the cluster's
# key on first boot, first writer wins). It does not start the kubelet: kubelet.service requires
# and follows this unit, so a start job issued from here would wait for this very unit to finish.
#
# --refresh-kubeconfigs (after each certificate refresh, from ha-refresh-secrets.service): only the
# component kubeconfigs and the manifests, nothing from Secrets Manager. Controller-manager,
# scheduler and kubelet read their embedded client certificates only at start: a renewed
# certificate rewrites their kubeconfig, which changes the kubeconfig hash in the controller-manager
# and scheduler manifests (the kubelet restarts those pods) and try-restarts the kubelet (its pods
# keep running). The API server and etcd reload their certificate files themselves, but not their
# CA files: a CA added or removed by a staged CA rotation changes the trust hash in every manifest
# naming that bundle (the kubelet restarts the API server; etcd has ha-etcd-trust).
set -euo pipefail

REFRESH=0
case "${1:-}" in
  "") ;;
  --refresh-kubeconfigs) REFRESH=1 ;;
  *) echo "usage: ha-kube-configure [--refresh-kubeconfigs]" >&2; exit 2 ;;
esac

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
STATE_DIR=${STATE_DIR:-/run/ha-control-plane}
# read_slot_env FILE: sets the variables ha-claim-slot wrote to FILE without running it (the values
# come from tags); refuses an unknown key or a value not of its exact form.
# ha-include: read-slot-env.sh
read_slot_env "$STATE_DIR/slot.env"
: "${SLOT_IP:?SLOT_IP missing: has ha-claim-slot run?}" "${ENCRYPTION_KEY_SECRET:?ENCRYPTION_KEY_SECRET missing}"
TEMPLATE_DIR=${TEMPLATE_DIR:-/etc/ha-control-plane/manifests}
MANIFEST_DIR=${MANIFEST_DIR:-/etc/kubernetes/manifests}
KUBECONFIG_TEMPLATE_DIR=${KUBECONFIG_TEMPLATE_DIR:-/etc/ha-control-plane/kubeconfigs}
KUBE_DIR=${KUBE_DIR:-/etc/kubernetes}
PKI_DIR=${PKI_DIR:-/etc/kubernetes/pki}
ENCRYPTION_CONFIG=${ENCRYPTION_CONFIG:-/etc/kubernetes/encryption-config.yaml}
# A fixed token makes the first write idempotent: a second node's different value is refused.
INITIAL_TOKEN=ha-control-plane-initial-encryption-key-v1

log() {
  logger -t ha-kube-configure -- "$*" 2>/dev/null || true
  echo "ha-kube-configure: $*" >&2
}
# The AWS CLI's region, from the instance metadata when unset.
# ha-include: imds-region.sh
[ "$REFRESH" -eq 1 ] || imds_region

# Every certificate and key the manifests (under the pods' /etc/kubernetes/pki, mounted from
# PKI_DIR) and the kubeconfig templates name must be in place before anything is written: manifests
# without their certificates only make the API server crash-loop.
missing=0
for template in "$TEMPLATE_DIR"/*.yaml "$KUBECONFIG_TEMPLATE_DIR"/*.conf; do
  [ -e "$template" ] || continue
  while read -r name; do
    file="$PKI_DIR/$name"
    if [ ! -f "$file" ] || [ ! -s "$file" ] || ! head -c 1 "$file" >/dev/null 2>&1; then
      log "ERROR: $file is missing, empty or unreadable ($(basename "$template") needs it): has ha-fetch-secrets written this node's certificates?"
      missing=1
    fi
  done < <({ grep -oE '/etc/kubernetes/pki/[A-Za-z0-9._/-]+' "$template" | sed 's|^/etc/kubernetes/pki/||' || true
    grep -oE '@@PKI_BASE64:[A-Za-z0-9._-]+@@' "$template" | sed 's/^@@PKI_BASE64:\(.*\)@@$/\1/' || true; } | sort -u)
done
if [ "$missing" -ne 0 ]; then
  log "ERROR: not writing the static pod manifests"
  exit 1
fi

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --- boot only: the secrets-encryption configuration (block not indented: it holds a here-document)
if [ "$REFRESH" -eq 0 ]; then
# The secrets-encryption key. Only ResourceNotFoundException means "no key yet"; any other failure
# (throttling, AccessDenied, network) is retried with bounded backoff and then fails this unit:
# creating a key because a read failed would split the cluster between two keys.
KEY_RETRIES=${KEY_RETRIES:-6}
KEY_RETRY_BASE_SECONDS=${KEY_RETRY_BASE_SECONDS:-2}
# Staging label an operator gives the next key before it becomes AWSCURRENT (decrypt-only until then).
NEXT_KEY_STAGE=HA_NEXT
errfile="$work/aws.err"
: >"$work/ids"

# aws_error_code: the error code the last AWS CLI call named on stderr, empty when none.
aws_error_code() {
  sed -nE 's/.*An error occurred \(([A-Za-z]+)\).*/\1/p' "$errfile" | sed -n 1p
}

# with_retries WHAT CMD...: runs CMD until it succeeds; returns 3 at once on ResourceNotFoundException,
# 4 on ResourceExistsException, and 1 after KEY_RETRIES failures of any other kind.
with_retries() {
  local what=$1 attempt=1 code delay
  shift
  while :; do
    if "$@" 2>"$errfile"; then return 0; fi
    code=$(aws_error_code)
    case "$code" in
      ResourceNotFoundException) return 3 ;;
      ResourceExistsException) return 4 ;;
    esac
    if [ "$attempt" -ge "$KEY_RETRIES" ]; then
      log "ERROR: $what failed $attempt times (${code:-no error code}): $(tr '\n' ' ' <"$errfile")"
      return 1
    fi
    delay=$((KEY_RETRY_BASE_SECONDS * (1 << (attempt - 1))))
    log "$what failed (${code:-no error code}); retrying in ${delay}s ($attempt/$KEY_RETRIES)"
    sleep "$delay"
    attempt=$((attempt + 1))
  done
}

# read_version STAGE: writes "<VersionId><TAB><value>" of the version labelled STAGE to $work/STAGE.
read_version() {
  with_retries "reading $ENCRYPTION_KEY_SECRET ($1)" \
    aws secretsmanager get-secret-value --secret-id "$ENCRYPTION_KEY_SECRET" --version-stage "$1" \
    --query '[VersionId,SecretString]' --output text >"$work/$1"
}

rc=0
read_version AWSCURRENT || rc=$?
if [ "$rc" -eq 3 ]; then
  log "no secrets-encryption key yet: creating one"
  (umask 077 && head -c 32 /dev/urandom | base64 -w0 >"$work/candidate")
  # The value goes through a 0600 file, not the command line. The fixed token makes the first write
  # idempotent: a second node's different value is refused (ResourceExistsException).
  rc=0
  with_retries "writing $ENCRYPTION_KEY_SECRET" \
    aws secretsmanager put-secret-value --secret-id "$ENCRYPTION_KEY_SECRET" --secret-string "file://$work/candidate" \
    --client-request-token "$INITIAL_TOKEN" --output text --query VersionId >/dev/null || rc=$?
  case "$rc" in
    0) ;;
    4) log "another API server created the key first" ;;
    *) log "ERROR: could not create the secrets-encryption key"; exit 1 ;;
  esac
  rc=0
  read_version AWSCURRENT || rc=$?
fi
if [ "$rc" -ne 0 ]; then
  log "ERROR: no secrets-encryption key from $ENCRYPTION_KEY_SECRET (status $rc); not writing the configuration"
  exit 1
fi

# key_entry STAGE: prints the EncryptionConfiguration key for the version labelled STAGE, after
# checking what AWS returned (a version id and 32 base64-encoded bytes).
key_entry() {
  local line id value name
  line=$(cat "$work/$1")
  id=${line%%$'\t'*} value=${line#*$'\t'}
  if ! [[ $id =~ ^[A-Za-z0-9-]{1,64}$ ]] || ! [[ $value =~ ^[A-Za-z0-9+/]{43}=$ ]] || [ "$(printf '%s' "$value" | base64 -d 2>/dev/null | wc -c)" -ne 32 ]; then
    log "ERROR: the $1 secrets-encryption key in $ENCRYPTION_KEY_SECRET is not 32 base64-encoded bytes with a version id"
    return 1
  fi
  # The name is stored with every encrypted object, so it must never change for a key: the first
  # key keeps the name it always had.
  if [ "$id" = "$INITIAL_TOKEN" ]; then name=key1; else name="key-$id"; fi
  printf '            - name: %s\n              secret: %s\n' "$name" "$value"
  printf '%s\n' "$id" >>"$work/ids"
}

# The current key encrypts; a next key (labelled HA_NEXT) and the previous one (AWSPREVIOUS) only
# decrypt, so a rotation never leaves a server unable to read what another one wrote.
key_entry AWSCURRENT >"$work/keys"
for stage in "$NEXT_KEY_STAGE" AWSPREVIOUS; do
  rc=0
  read_version "$stage" || rc=$?
  case "$rc" in
    0)
      id=$(cut -f1 "$work/$stage")
      if ! grep -qxF -- "$id" "$work/ids"; then key_entry "$stage" >>"$work/keys"; fi
      ;;
    3) ;;
    *) log "ERROR: could not read the $stage secrets-encryption key"; exit 1 ;;
  esac
done

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
$(cat "$work/keys")
      - identity: {}
EOF
mv "$ENCRYPTION_CONFIG.tmp" "$ENCRYPTION_CONFIG"
fi
# --- end of the boot-only block
mkdir -p "$MANIFEST_DIR" "$KUBE_DIR"

# Component kubeconfigs embed their certificates (kubeadm's form), so the scheduler's pod mounts no
# PKI directory. Certificates come from the node's secret, so user data carries only templates.
for template in "$KUBECONFIG_TEMPLATE_DIR"/*.conf; do
  [ -e "$template" ] || continue
  target="$KUBE_DIR/$(basename "$template")"
  cp "$template" "$target.tmp"
  # Every file a marker names was checked above (present, non-empty, readable); a marker of another
  # form is left in place and refused below.
  while read -r name; do
    # Keys go file to file: an argument would show in /proc/<pid>/cmdline to every local user.
    PKI_FILE="$PKI_DIR/$name" MARKER="@@PKI_BASE64:$name@@" python3 -c 'import base64,os,sys
v = base64.b64encode(open(os.environ["PKI_FILE"], "rb").read()).decode()
t = open(sys.argv[1]).read().replace(os.environ["MARKER"], v)
open(sys.argv[1], "w").write(t)' "$target.tmp"
  done < <({ grep -oE '@@PKI_BASE64:[A-Za-z0-9._-]+@@' "$template" || true; } | sed 's/^@@PKI_BASE64:\(.*\)@@$/\1/' | sort -u)
  if grep -q '@@PKI_BASE64:' "$target.tmp"; then
    log "ERROR: $template has a malformed PKI marker"
    rm -f "$target.tmp"
    exit 1
  fi
  chmod 0600 "$target.tmp"
  if [ -f "$target" ] && cmp -s "$target.tmp" "$target"; then
    rm -f "$target.tmp"
  else
    mv "$target.tmp" "$target"
    log "wrote $target"
    basename "$target" >>"$work/kubeconfigs-changed"
  fi
done

# kubeconfig_hash MANIFEST_TEMPLATE: SHA-256 over the kubeconfigs (/etc/kubernetes/*.conf) it names.
kubeconfig_hash() {
  local name
  { grep -oE '/etc/kubernetes/[A-Za-z0-9._-]+\.conf' "$1" || true; } | sort -u | while read -r name; do
    sha256sum <"$KUBE_DIR/$(basename "$name")"
  done | sha256sum | cut -d' ' -f1
}

# trust_hash MANIFEST_TEMPLATE: SHA-256 over the set of CA certificates in the trust bundles it names
# (sorted, so reordering a bundle changes nothing): a CA added or removed restarts the pod, whose
# etcd and kubelet clients read their CAs only at start.
trust_hash() {
  { grep -oE '/etc/kubernetes/pki/(ca|front-proxy-ca|etcd/ca)\.crt' "$1" || true; } | sort -u | while read -r name; do
    PKI_FILE="$PKI_DIR/${name#/etc/kubernetes/pki/}" python3 -c 'import hashlib,os,re
blocks = re.findall(r"-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----", open(os.environ["PKI_FILE"]).read())
print(os.environ["PKI_FILE"].rsplit("/pki/", 1)[-1], " ".join(sorted(hashlib.sha256("".join(b.split()).encode()).hexdigest() for b in blocks)))'
  done | sha256sum | cut -d' ' -f1
}

# A manifest is rewritten only when its content changes: the kubelet restarts a static pod exactly
# when its manifest changes.
for template in "$TEMPLATE_DIR"/*.yaml; do
  target="$MANIFEST_DIR/$(basename "$template")"
  hash=$(kubeconfig_hash "$template")
  trust=$(trust_hash "$template")
  sed -e "s/@@SLOT_IP@@/$SLOT_IP/g" -e "s/@@KUBECONFIG_SHA256@@/$hash/g" -e "s/@@TRUST_SHA256@@/$trust/g" "$template" >"$target.tmp"
  chmod 0600 "$target.tmp"
  if [ -f "$target" ] && cmp -s "$target.tmp" "$target"; then
    rm -f "$target.tmp"
  else
    mv "$target.tmp" "$target"
    [ "$REFRESH" -eq 0 ] || log "rewrote $target: a kubeconfig or the set of trusted CAs it names changed, the kubelet restarts the pod"
  fi
done
if [ "$REFRESH" -eq 1 ]; then
  if grep -qxF kubelet.conf "$work/kubeconfigs-changed" 2>/dev/null; then
    # Not from the boot run: kubelet.service follows that one (a start job would deadlock).
    systemctl try-restart --no-block kubelet.service
    log "kubelet.conf changed: kubelet restarting (its pods keep running)"
  fi
  log "kubeconfigs and manifests refreshed for $SLOT_NAME"
else
  log "manifests written for $SLOT_NAME ($SLOT_IP)"
fi
