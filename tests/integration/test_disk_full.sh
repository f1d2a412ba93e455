#!/usr/bin/env bash
# timeout: 240
# A full disk fails writes with an error to the client, leaves no corrupt file, keeps reads
# and other sessions working, and writes resume once space returns (also across a restart).
# The dataDir is a small tmpfs of its own (we are root), so nothing else fills up.
. "$(dirname "$0")/lib.sh"
port=21311
have_ours || finish
disk=$IT_TMP/disk
mkdir -p "$disk"
mount -t tmpfs -o size=6m tmpfs "$disk" || { fail "cannot mount a tmpfs (need root)"; finish; }
trap 'umount -l "$disk" 2>/dev/null; it_cleanup' EXIT
mkdir -p "$disk/srv"
start_server ours "$port" "$disk/srv" preAllocSize=16 snapCount=1000000 || { fail "start"; finish; }

cat > "$IT_TMP/full.py" <<'PY'
import sys, subprocess
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry
from kazoo.exceptions import SystemErrorException, ConnectionLoss
port, disk, step = sys.argv[1], sys.argv[2], sys.argv[3]
zk = KazooClient(hosts="127.0.0.1:" + port, timeout=10,
                 command_retry=KazooRetry(max_tries=0))
zk.start(timeout=10)
if step == "fill":
    zk.create("/before", b"kept")
    # Fill the disk, leaving nothing: the next log writes must fail.
    subprocess.run(["dd", "if=/dev/zero", "of=%s/filler" % disk, "bs=64k"],
                   stderr=subprocess.DEVNULL)
    failed = 0
    for i in range(20):
        try:
            zk.create("/big%d" % i, b"x" * 200000)
        except (SystemErrorException, ConnectionLoss) as e:
            failed += 1
            print("write %d failed: %s" % (i, type(e).__name__))
    print("failed=%d" % failed)
    print("read:", zk.get("/before")[0].decode())
elif step == "resume":
    zk.create("/after", b"resumed")
    print("created /after")
else:
    print("before:", zk.get("/before")[0].decode())
    print("after:", zk.get("/after")[0].decode())
    print("bigs:", sorted(c for c in zk.get_children("/") if c.startswith("big")))
zk.stop(); zk.close()
PY

out=$(timeout 60 "$KAZOO_PY" "$IT_TMP/full.py" "$port" "$disk" fill 2>&1)
echo "$out" | sed 's/^/    /'
if grep -q "failed=[1-9]" <<< "$out"; then pass "writes on a full disk fail with an error"; else fail "writes on a full disk did not fail"; fi
if grep -q "read: kept" <<< "$out"; then pass "reads keep working on a full disk"; else fail "read on a full disk"; fi
if [ "$(fourlw "$port" ruok)" = imok ]; then pass "server stays up on a full disk"; else fail "server died on a full disk"; fi
rm -f "$disk/filler"
out=$(timeout 60 "$KAZOO_PY" "$IT_TMP/full.py" "$port" "$disk" resume 2>&1)
if grep -q "created /after" <<< "$out"; then pass "writes resume when space returns"; else fail "writes after space returned: $out"; fi
stop_server "$disk/srv"
start_server ours "$port" "$disk/srv" preAllocSize=16 snapCount=1000000 || { fail "restart after disk full"; finish; }
out=$(timeout 60 "$KAZOO_PY" "$IT_TMP/full.py" "$port" "$disk" check 2>&1)
echo "$out" | sed 's/^/    /'
if grep -q "before: kept" <<< "$out" && grep -q "after: resumed" <<< "$out"; then
	pass "restart after a full disk loads every acknowledged write"
else
	fail "restart after a full disk: $out"
fi
finish
