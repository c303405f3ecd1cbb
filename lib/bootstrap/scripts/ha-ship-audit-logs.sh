#!/usr/bin/env bash
# ha-ship-audit-logs: send kube-apiserver audit events that are new since the last run to CloudWatch
# Logs (systemd timer, every minute), into AUDIT_LOG_GROUP's stream named after this node's slot.
# Reads only complete lines, follows kube-apiserver's rotation (audit.log renamed to
# audit-<time>.log), and advances its cursor only after CloudWatch accepted a batch, so an outage
# delays events rather than losing them (as long as the rotated files are still kept).
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/ha-control-plane/node.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
STATE_DIR=${STATE_DIR:-/run/ha-control-plane}
# read_slot_env FILE: sets the variables ha-claim-slot wrote to FILE without running it (the values
# come from tags); refuses an unknown key or a value not of its exact form.
# ha-include: read-slot-env.sh
read_slot_env "$STATE_DIR/slot.env"
# The AWS CLI's region, from the instance metadata when unset.
# ha-include: imds-region.sh
imds_region
: "${AUDIT_LOG_GROUP:?}" "${SLOT_NAME:?}"
AUDIT_LOG_DIR=${AUDIT_LOG_DIR:-/var/log/kubernetes/audit}
CURSOR=${AUDIT_CURSOR:-/var/lib/ha-control-plane/audit-cursor.json}
mkdir -p "$(dirname "$CURSOR")"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Batches within PutLogEvents' limits (10,000 events, 1,048,576 bytes counting 26 per event, 24
# hours), each with the cursor to keep once it is accepted.
python3 - "$AUDIT_LOG_DIR" "$CURSOR" "$work" <<'PY'
import datetime, glob, json, os, sys, time

log_dir, cursor_path, work = sys.argv[1:4]
MAX_EVENTS, MAX_BYTES, OVERHEAD, MAX_MESSAGE = 10000, 1000000, 26, 250000
DAY_MS = 23 * 3600 * 1000
try:
    with open(cursor_path) as f:
        cursor = json.load(f)
except FileNotFoundError:
    cursor = None

def files():
    found = [p for p in glob.glob(os.path.join(log_dir, "audit-*.log")) + [os.path.join(log_dir, "audit.log")] if os.path.isfile(p)]
    return sorted(found, key=lambda p: (os.stat(p).st_mtime_ns, p.endswith("/audit.log")))

def timestamp(line, floor):
    try:
        stamp = json.loads(line).get("stageTimestamp") or json.loads(line).get("requestReceivedTimestamp")
        ms = int(datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except Exception:
        ms = int(time.time() * 1000)
    return max(ms, floor)  # CloudWatch takes a batch in chronological order

ordered = files()
start, offset = 0, 0
if cursor is not None:
    inodes = [os.stat(p).st_ino for p in ordered]
    if cursor["inode"] in inodes:
        start = inodes.index(cursor["inode"])
        offset = cursor["offset"] if cursor["offset"] <= os.stat(ordered[start]).st_size else 0
    else:  # the file we were reading is gone: take up every file written since
        start = next((i for i, p in enumerate(ordered) if os.stat(p).st_mtime_ns >= cursor["mtime_ns"]), len(ordered))

batches, events, size, floor, first = [], [], 0, 0, None
def flush(state):
    global events, size, first
    if events:
        batches.append((events, state))
    events, size, first = [], 0, None

for path in ordered[start:]:
    st = os.stat(path)
    with open(path, "rb") as f:
        f.seek(offset if path == ordered[start] else 0)
        pos = f.tell()
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # written half-way: next run
            pos += len(raw)
            text = raw.decode("utf-8", "replace").rstrip("\n")
            if not text:
                continue
            if len(text.encode()) > MAX_MESSAGE:
                text = text.encode()[:MAX_MESSAGE].decode("utf-8", "ignore") + " [truncated by ha-ship-audit-logs]"
            ts = timestamp(text, floor)
            cost = len(text.encode()) + OVERHEAD
            if events and (len(events) >= MAX_EVENTS or size + cost > MAX_BYTES or ts - first > DAY_MS):
                flush(last_state)
            events.append({"timestamp": ts, "message": text})
            size += cost
            floor = ts
            first = first if first is not None else ts
            last_state = {"inode": st.st_ino, "offset": pos, "mtime_ns": st.st_mtime_ns}
    offset = 0
if events:
    flush(last_state)
for i, (evs, state) in enumerate(batches):
    with open(os.path.join(work, "batch-%06d.json" % i), "w") as f:
        json.dump(evs, f)
    with open(os.path.join(work, "cursor-%06d.json" % i), "w") as f:
        json.dump(state, f)
PY

shipped=0
for batch in "$work"/batch-*.json; do
  [ -e "$batch" ] || break
  aws logs put-log-events --log-group-name "$AUDIT_LOG_GROUP" --log-stream-name "$SLOT_NAME" \
    --log-events "file://$batch" --output json >"$work/response.json"
  mv "$work/cursor-${batch##*/batch-}" "$CURSOR"
  shipped=$((shipped + 1))
done
echo "shipped $shipped batch(es) of audit events to $AUDIT_LOG_GROUP/$SLOT_NAME"
