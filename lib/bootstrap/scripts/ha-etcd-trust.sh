#!/usr/bin/env bash
# ha-etcd-trust: etcd 3.5 reads its trusted CA file only at start, so a CA added or removed (staged
# CA rotation) restarts the member, once every member answers healthy; otherwise exit 1 and the next
# refresh retries (the recorded set still differs).
#   --record (etcd.service ExecStartPre)   --restart-if-changed (ha-refresh-secrets drop-in)
set -euo pipefail

MODE=${1:-}
case "$MODE" in
  --record | --restart-if-changed) ;;
  *) echo "usage: ha-etcd-trust --record|--restart-if-changed" >&2; exit 2 ;;
esac
ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
PKI_DIR=${PKI_DIR:-/etc/kubernetes/pki}
STATE_FILE=${ETCD_TRUST_STATE_FILE:-/var/lib/ha-control-plane/etcd-trust.sha256}
HEALTH_TRIES=${ETCD_TRUST_HEALTH_TRIES:-60}
JITTER_SECONDS=${ETCD_TRUST_JITTER_SECONDS:-30}
[[ $HEALTH_TRIES =~ ^[1-9][0-9]{0,3}$ ]] || { echo "ha-etcd-trust: ETCD_TRUST_HEALTH_TRIES is not a count: ${HEALTH_TRIES@Q}" >&2; exit 2; }
[[ $JITTER_SECONDS =~ ^[0-9]{1,4}$ ]] || { echo "ha-etcd-trust: ETCD_TRUST_JITTER_SECONDS is not seconds: ${JITTER_SECONDS@Q}" >&2; exit 2; }

log() {
  logger -t ha-etcd-trust -- "$*" 2>/dev/null || true
  echo "ha-etcd-trust: $*" >&2
}

# The set of CA certificates in etcd/ca.crt, order-free (a rotation reorders the bundle).
trust_hash() {
  PKI_FILE="$PKI_DIR/etcd/ca.crt" python3 -c 'import hashlib,os,re
blocks = re.findall(r"-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----", open(os.environ["PKI_FILE"]).read())
if not blocks: raise SystemExit("no certificate in " + os.environ["PKI_FILE"])
print(hashlib.sha256(" ".join(sorted(hashlib.sha256("".join(b.split()).encode()).hexdigest() for b in blocks)).encode()).hexdigest())'
}

if [ "$MODE" = --record ]; then
  mkdir -p "$(dirname "$STATE_FILE")"
  trust_hash >"$STATE_FILE.tmp"
  mv "$STATE_FILE.tmp" "$STATE_FILE"
  exit 0
fi

if [ ! -s "$STATE_FILE" ]; then
  log "etcd has not recorded what it trusts (not started on this node yet): nothing to do"
  exit 0
fi
want=$(trust_hash)
if [ "$want" = "$(cat "$STATE_FILE")" ]; then
  exit 0
fi
: "${HA_ETCD_ENDPOINTS:?HA_ETCD_ENDPOINTS missing}"
[[ $HA_ETCD_ENDPOINTS =~ ^https://[A-Za-z0-9.:-]+(,https://[A-Za-z0-9.:-]+)*$ ]] || { log "refusing HA_ETCD_ENDPOINTS ${HA_ETCD_ENDPOINTS@Q}"; exit 2; }
log "the etcd trust bundle changed since etcd started: restarting it once every member is healthy"
# Refreshes of several members may coincide: spread them before looking.
[ "$JITTER_SECONDS" -eq 0 ] || sleep $((RANDOM % (JITTER_SECONDS + 1)))
etcdctl=${HA_ETCD_BIN_DIR:-/usr/local/bin}/etcdctl
LOCAL_ENDPOINT=${ETCD_TRUST_LOCAL_ENDPOINT:-https://127.0.0.1:2379}
[[ $LOCAL_ENDPOINT =~ ^https://[A-Za-z0-9.:-]+$ ]] || { log "refusing ETCD_TRUST_LOCAL_ENDPOINT ${LOCAL_ENDPOINT@Q}"; exit 2; }
healthy=0
for ((i = 1; i <= HEALTH_TRIES; i++)); do
  if "$etcdctl" --endpoints "$HA_ETCD_ENDPOINTS" --cacert "$PKI_DIR/etcd/ca.crt" --cert "$PKI_DIR/etcd/healthcheck-client.crt" \
    --key "$PKI_DIR/etcd/healthcheck-client.key" --dial-timeout 2s --command-timeout 5s endpoint health >/dev/null 2>&1; then
    healthy=1
    break
  fi
  sleep 5
done
if [ "$healthy" -ne 1 ]; then
  log "ERROR: not every member is healthy after $HEALTH_TRIES checks: etcd not restarted (the next refresh retries)"
  exit 1
fi
# The leader hands leadership to a healthy peer first (while every member serves): its own stop
# would transfer it too, but mid-shutdown, failing the requests then in flight. It prefers a peer
# whose etcd already trusts exactly this node's new bundle (it restarted with it earlier in this
# rotation, so leadership does not move again when that peer's turn would come), the lowest member
# id among them; else the peer with the lowest member id. What a peer trusts is read from its TLS
# handshake: the client CA names it sends in its CertificateRequest (Go's crypto/tls sends the
# subjects of etcd's --trusted-ca-file), compared with the subjects of the bundle's certificates;
# a peer that does not answer is not preferred.
ctl() {
  "$etcdctl" --cacert "$PKI_DIR/etcd/ca.crt" --cert "$PKI_DIR/etcd/healthcheck-client.crt" \
    --key "$PKI_DIR/etcd/healthcheck-client.key" --dial-timeout 2s --command-timeout 10s "$@"
}
if transferee=$(ctl --endpoints "$LOCAL_ENDPOINT" endpoint status -w json | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["Status"]["header"]
print("%x" % s["member_id"])
' 2>/dev/null) && status=$(ctl --endpoints "$HA_ETCD_ENDPOINTS" endpoint status -w json 2>/dev/null); then
  target=$(SELF=$transferee PKI_DIR=$PKI_DIR python3 -c '
import json, os, re, subprocess, sys, urllib.parse
entries = json.load(sys.stdin)
st = [e["Status"] for e in entries]
me = int(os.environ["SELF"], 16)
if not st or st[0]["leader"] != me:
    raise SystemExit(0)
pki = os.environ["PKI_DIR"] + "/etcd/"
def run(argv, stdin=None):
    return subprocess.run(argv, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
def bundle():
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", open(pki + "ca.crt").read(), re.S)
    names = []
    for pem in pems:
        r = run(["openssl", "x509", "-noout", "-subject"], pem)
        if r.returncode != 0 or not r.stdout.startswith("subject="):
            return None
        names.append(r.stdout.strip()[len("subject="):].strip())
    return sorted(names) or None
def trusted(endpoint):
    try:
        u = urllib.parse.urlsplit(endpoint)
        r = run(["openssl", "s_client", "-connect", u.netloc, "-CAfile", pki + "ca.crt",
                 "-cert", pki + "healthcheck-client.crt", "-key", pki + "healthcheck-client.key"])
        lines = r.stdout.splitlines()
        i = lines.index("Acceptable client certificate CA names")
    except Exception:
        return None
    names = []
    for line in lines[i + 1:]:
        if line.startswith("---") or re.match(r"^[A-Za-z ]+: ", line):
            break
        names.append(line.strip())
    return sorted(names)
peers = sorted((e["Status"]["header"]["member_id"], e["Endpoint"]) for e in entries if e["Status"]["header"]["member_id"] != me)
if not peers:
    raise SystemExit(0)
try:
    want = bundle()
except Exception:
    want = None
ready = [i for i, ep in peers if want is not None and trusted(ep) == want]
if ready:
    print("%x trusting the new bundle already" % ready[0])
else:
    print("%x lowest member id" % peers[0][0])
' <<<"$status") || target=""
  if [ -n "$target" ]; then
    if ctl --endpoints "$LOCAL_ENDPOINT" move-leader "${target%% *}" >/dev/null 2>&1; then
      log "leadership moved to $target before the restart"
      sleep 2
    else
      log "could not move leadership to ${target%% *}; restarting anyway (etcd transfers it on stop)"
    fi
  fi
fi
# --no-block: this script also runs as etcd.service's ExecStartPre (--record); a blocking job on the unit
# from its own start would deadlock. The next member waits for this one to be healthy again.
systemctl restart --no-block etcd.service
log "etcd restart queued: it starts with the new trust bundle"
