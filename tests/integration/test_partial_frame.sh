#!/usr/bin/env bash
# timeout: 120
# Backpressure with a half-received frame: a client pipelines getData requests whose 1 MB
# replies exceed the per-connection output limit, so the server stops reading with the last
# request only partly received, then drains the replies slowly. The server must answer every
# complete request, wait for the rest of the partial one, answer it too, and stay up (it
# used to recurse between parsing and resuming until the stack overflowed).
. "$(dirname "$0")/lib.sh"
port=21341
have_ours || finish
start_server ours "$port" "$IT_TMP/srv" || { fail "start"; finish; }
out=$(IT_DIR="$IT_DIR" timeout 90 "$KAZOO_PY" - "$port" <<'PY' 2>&1
import os, sys, time
sys.path.insert(0, os.environ['IT_DIR'])
import zkraw
from zkraw import jint, rint, create_body, path_watch_body
port = int(sys.argv[1])
c = zkraw.session(port)
_, _, err, _, _ = c.request('create', create_body('/big', b'x' * 1000000))
assert err == 0, err
frames = b''
for xid in range(100, 109):
    payload = jint(xid) + jint(zkraw.OPS['getData']) + path_watch_body('/big')
    frames += jint(len(payload)) + payload
cut = len(frames) - 7            # the 9th request arrives without its last 7 bytes
c.sock.sendall(frames[:cut])
time.sleep(0.5)                  # the server fills its output and stops reading
c.sock.settimeout(20)
got = []
for i in range(8):
    r = c.recv_frame()
    xid, o = rint(r, 0)
    o += 8
    err, o = rint(r, o)
    got.append((xid, err, len(r)))
    time.sleep(0.05)             # drain slowly
c.sock.sendall(frames[cut:])
r = c.recv_frame()
xid, o = rint(r, 0)
o += 8
err, o = rint(r, o)
got.append((xid, err, len(r)))
ok = [g[0] for g in got] == list(range(100, 109)) and all(g[1] == 0 and g[2] > 1000000 for g in got)
print("ok" if ok else "bad %r" % (got,))
PY
)
[ "$out" = ok ] && pass "9 pipelined 1 MB getData with a partial last frame all answered in order" ||
	fail "pipelined getData: $out"
[ "$(fourlw "$port" ruok)" = imok ] && pass "server still up" || fail "server died"
stop_server "$IT_TMP/srv"
finish
