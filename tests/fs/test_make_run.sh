#!/usr/bin/env bash
# timeout: 120
# make run's script: starts a one-server ensemble with its data under DATA, mounts zkfs at
# MNT, serves through the mount, and on a stop signal unmounts and stops everything.
# (Ctrl-C in a terminal takes the same path; a background job here cannot receive SIGINT,
# so the test sends TERM.)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/zk-makerun.XXXXXX)
port=21410
pass=0 fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
cleanup() {
	[ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null
	sleep 0.5
	mountpoint -q "$work/zk" && fusermount3 -u "$work/zk"
	pkill -f "$work" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

MNT=$work/zk DATA=$work/data PORT=$port setsid "$top/scripts/run.sh" > "$work/out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	grep -q "Ctrl-C" "$work/out" 2>/dev/null && break
	sleep 0.1
done
if mountpoint -q "$work/zk"; then ok "zkfs mounted at MNT"; else bad "not mounted: $(cat "$work/out")"; fi
grep -q "zkensemble is serving on 127.0.0.1:$port" "$work/out" && ok "prints where it serves" || bad "no serving line"
grep -q "In another shell, try" "$work/out" && ok "prints what to try" || bad "no hints"
echo hello > "$work/zk/greeting" 2>/dev/null
if [ "$(cat "$work/zk/greeting" 2>/dev/null)" = hello ]; then ok "echo/cat through the mount"; else bad "echo/cat"; fi
got=$(/usr/bin/python3 -c "
from kazoo.client import KazooClient
zk = KazooClient(hosts='127.0.0.1:$port'); zk.start(timeout=5)
print(zk.get('/greeting')[0].decode().strip()); zk.stop()" 2>/dev/null)
[ "$got" = hello ] && ok "the znode is visible to kazoo" || bad "kazoo saw '$got'"
[ -f "$work/data/zk/version-2/snapshot.0" ] && ok "data lives under DATA" || bad "no snapshot under DATA"
kill -TERM "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then bad "run.sh still running after TERM"; else ok "run.sh exits on a stop signal"; fi
wait "$pid"; rc=$?
[ "$rc" = 0 ] && ok "exit status 0" || bad "exit status $rc"
if mountpoint -q "$work/zk"; then bad "still mounted after stop"; else ok "unmounted on stop"; fi
sleep 0.5
if pgrep -f "$work" > /dev/null; then bad "processes left: $(pgrep -fa "$work")"; else ok "no zkensemble or zkfs left running"; fi
grep -q "stopped; data kept" "$work/out" && ok "says it stopped" || bad "no stop message"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
