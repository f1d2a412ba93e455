#!/usr/bin/env bash
# timeout: 600
# Durability: kill -9 of zkensemble in the middle of a write storm loses no acknowledged
# write (20 rounds, 4 writer sessions, kill after a random 0.3-1.5 s), and a live session's
# ephemeral survives a restart when the client comes back with its session id.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/integration
port=${KILL9_PORT:-21301}
rounds=${KILL9_ROUNDS:-20}
work=$(mktemp -d /tmp/zk-kill9.XXXXXX)
pid=
pass=0 fail=0
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/zoo.cfg" <<CFG
tickTime=2000
dataDir=$work/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
CFG

start() {
	"$top/bin/zkensemble" "$work/zoo.cfg" >> "$work/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 200); do
		printf ruok | nc -q 1 127.0.0.1 "$port" 2>/dev/null | grep -q imok && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "zkensemble did not start"; tail -20 "$work/server.log"; return 1
}

ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

start || exit 1
total=0
for r in $(seq 1 "$rounds"); do
	/usr/bin/python3 "$here/kill9_writer.py" storm "127.0.0.1:$port" 4 "$work/acked" "$r" \
		> "$work/writer.log" 2>&1 &
	wpid=$!
	sleep "$(awk -v s="$RANDOM" 'BEGIN {srand(s); printf "%.2f", 0.3 + rand() * 1.2}')"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	wait "$wpid"
	start || { bad "round $r: restart after kill -9"; break; }
	out=$(/usr/bin/python3 "$here/kill9_writer.py" check "127.0.0.1:$port" "$work"/acked.* 2>&1)
	if grep -q "lost=0" <<< "$out"; then
		ok "round $r: $(tail -1 <<< "$out")"
	else
		bad "round $r: $(tail -3 <<< "$out")"
	fi
done

# A live session's ephemeral survives a restart: the client reconnects with its session id.
export EPH_FLAG=$work/eph.ready EPH_GO=$work/eph.go
/usr/bin/python3 - "$port" "$pid" <<'PY' > "$work/eph.log" 2>&1 &
import os, signal, subprocess, sys, time
from kazoo.client import KazooClient
port = sys.argv[1]
zk = KazooClient(hosts="127.0.0.1:%s" % port, timeout=30)
zk.start(timeout=10)
zk.create("/eph-survivor", b"alive", ephemeral=True)
sid = zk.client_id[0]
print("created", hex(sid), flush=True)
open(os.environ.get("EPH_FLAG", "/dev/null"), "w").write("ready")
# The test restarts the server now; kazoo reconnects with the same session.
deadline = time.time() + 30
while time.time() < deadline:
    if os.path.exists(os.environ["EPH_GO"]):
        break
    time.sleep(0.05)
time.sleep(0.5)
for _ in range(100):
    try:
        if zk.connected and zk.exists("/eph-survivor") and zk.client_id[0] == sid:
            print("SURVIVED", hex(sid))
            break
    except Exception as e:
        pass
    time.sleep(0.1)
else:
    print("GONE")
zk.stop(); zk.close()
PY
EPH_PID=$!
for _ in $(seq 1 100); do grep -q created "$work/eph.log" 2>/dev/null && break; sleep 0.1; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
sleep 1
start
touch "$work/eph.go"
wait "$EPH_PID"
if grep -q SURVIVED "$work/eph.log"; then
	ok "ephemeral of a live session survives kill -9 and restart"
else
	bad "ephemeral after restart: $(cat "$work/eph.log")"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
