#!/usr/bin/env bash
# timeout: 400
#
# Storage interop with Apache ZooKeeper 3.8 (program level: storage_* in a small C
# program, tests/integration/snapdump.c, no zkensemble server needed).
#
#  (a) Apache writes, we read: Apache runs standalone on a fresh dataDir (snapCount=100,
#      so it takes fuzzy snapshots and rolls logs; restarted once in the middle), kazoo and
#      zkCli.sh make every kind of change, kazoo dumps the tree; Apache stops; snapdump
#      loads the dataDir with storage_load() and must print the same tree.
#  (b) We write, Apache reads: snapdump writes a dataDir with storage_* (snapshot in the
#      middle, txns of every kind after it, digests stamped by our datatree); Apache starts
#      on it and kazoo must see exactly the tree snapdump printed, with no digest
#      mismatch in Apache's log. Apache's own startup snapshot of that data must load
#      back with storage_load() to the same tree.
#
# Ports: STORAGE_INTEROP_PORT (default 22010) and the next one.
set -euo pipefail
cd "$(dirname "$0")/../.."

port_a=${STORAGE_INTEROP_PORT:-22010}
port_b=$((port_a + 1))
py=/usr/bin/python3
zk_cp=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar
work=$(mktemp -d /tmp/storage_interop.XXXXXX)
zk_pid=
pass=0
fail=0

cleanup() {
	if [[ -n $zk_pid ]]; then
		kill -9 "$zk_pid" 2>/dev/null || true
		wait "$zk_pid" 2>/dev/null || true
	fi
	if ((fail == 0)); then rm -rf "$work"; else echo "kept $work for inspection"; fi
}
trap cleanup EXIT

# Runs a command with its stdout in a file (so check's own output stays out of it).
to() {	# file, command...
	local out=$1
	shift
	"$@" >"$out"
}

check() {	# name, command...
	local name=$1
	shift
	if "$@"; then
		echo "ok: $name"
		pass=$((pass + 1))
	else
		echo "FAIL: $name"
		fail=$((fail + 1))
	fi
}

# ---- build the helper ---------------------------------------------------------------
make -s build/libensemble.a build/libzkcommon.a
gcc -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Icommon -Iensemble -o "$work/snapdump" \
	tests/integration/snapdump.c build/libensemble.a build/libzkcommon.a \
	-luv -lcrypto -lz -lpthread

# ---- Apache ZooKeeper ---------------------------------------------------------------
start_zk() {	# dataDir port log
	local dir=$1 port=$2 log=$3 i
	cat >"$work/zoo_$port.cfg" <<EOF
tickTime=2000
dataDir=$dir
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
snapCount=100
maxSessionTimeout=60000
EOF
	# Debian's classpath plus a log4j binding ('/usr/share/java/*' picks slf4j-nop and
	# Apache would log nothing, which would make the log checks below vacuous).
	java -cp "$zk_cp" -Dzookeeper.root.logger=INFO,CONSOLE \
		-Dzookeeper.4lw.commands.whitelist=* -Dzookeeper.extendedTypesEnabled=true \
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$work/zoo_$port.cfg" \
		>>"$log" 2>&1 &
	zk_pid=$!
	for i in $(seq 1 150); do
		# srvr, not ruok: ruok answers before the database is loaded, and the digest
		# checks below need Apache to have read the whole log.
		# with a timeout: once in a while Apache, just started, accepts the probe and never
		# answers or closes it, and a bare cat waited for the test's watchdog
		if [[ $(timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 && echo srvr >&3 && cat <&3' \
			"$port" 2>/dev/null) == *"Mode: "* ]]; then
			return 0
		fi
		kill -0 "$zk_pid" 2>/dev/null || break
		sleep 0.2
	done
	echo "Apache ZooKeeper did not start on port $port; log:"
	tail -30 "$log"
	exit 1
}

stop_zk() {
	kill -TERM "$zk_pid"
	wait "$zk_pid" 2>/dev/null || true
	zk_pid=
}

zkcli() {	# port, command words...
	local port=$1
	shift
	timeout 60 /usr/share/zookeeper/bin/zkCli.sh -server 127.0.0.1:"$port" "$@" \
		>>"$work/zkcli.log" 2>&1
}

# ---- the kazoo side: workload and dump (same line format as snapdump) ----------------
cat >"$work/kz.py" <<'EOF'
import os, sys, zlib
from kazoo.client import KazooClient
from kazoo.security import ACL, Id, make_digest_acl, Permissions

def line(zk, path):
    data, st = zk.get(path)
    if data is None:
        d = "null"
    elif len(data) <= 48:
        d = data.hex()
    else:
        d = "len=%d,crc32=%08x" % (len(data), zlib.crc32(data) & 0xffffffff)
    acls, _ = zk.get_acls(path)
    acl = ",".join("%d:%s:%s" % (a.perms, a.id.scheme, a.id.id) for a in acls)
    return "|".join(str(x) for x in (path, d, st.czxid, st.mzxid, st.ctime, st.mtime,
        st.version, st.cversion, st.aversion, st.ephemeralOwner, st.dataLength,
        st.numChildren, st.pzxid, acl))

def dump(zk, out):
    paths = []
    def walk(p):
        paths.append(p)
        for c in zk.get_children(p):
            walk((p if p != "/" else "") + "/" + c)
    walk("/")
    with open(out, "w") as f:
        for p in sorted(paths):
            f.write(line(zk, p) + "\n")

def phase1(zk):
    zk.create("/a", b"hello")
    zk.create("/a/b", b"")
    zk.create("/a/b/c", b"x")
    zk.delete("/a/b/c")
    for i in range(3):
        zk.create("/seq/s-", b"q", sequence=True, makepath=True)
    zk.create("/acl", b"secret", acl=[make_digest_acl("user", "pass", all=True),
                                      ACL(Permissions.READ, Id("world", "anyone"))])
    zk.set("/a", b"hello2")
    zk.set("/a", b"hello3")
    zk.set_acls("/a/b", [ACL(Permissions.READ | Permissions.WRITE, Id("world", "anyone"))])
    zk.create("/bin", bytes(range(256)) * 20)
    zk.create("/big", b"z" * 500000)
    for i in range(400):
        zk.create("/bulk/n%04d" % i, b"%d" % i, makepath=True)

def phase2(zk):
    t = zk.transaction()
    t.create("/m1", b"1")
    t.set_data("/a", b"multi")
    t.check("/a/b", 0)
    t.commit()
    t = zk.transaction()          # fails: nothing of it applies
    t.create("/m2", b"2")
    t.check("/a", 999)
    t.commit()
    try:
        zk.create("/a", b"dup")   # an error txn in the log
    except Exception:
        pass
    for i in range(0, 400, 3):
        zk.delete("/bulk/n%04d" % i)
    for i in range(400, 700):
        zk.create("/bulk/n%04d" % i, b"%d" % i)
        if i % 7 == 0:
            zk.set("/bulk/n%04d" % i, b"changed")
    zk.create("/eph", b"e", ephemeral=True)
    zk.create("/eph-seq-", b"", ephemeral=True, sequence=True)

cmd, hosts = sys.argv[1], sys.argv[2]
zk = KazooClient(hosts=hosts, timeout=30)
zk.start(timeout=30)
zk.add_auth("digest", "user:pass")
if cmd == "phase1":
    phase1(zk)
    zk.stop()
elif cmd == "phase2":
    phase2(zk)
    dump(zk, sys.argv[3])
    # Leave without closing the session: its ephemerals stay, as after a server stop.
    sys.stdout.flush()
    os._exit(0)
else:
    dump(zk, sys.argv[3])
    zk.stop()
EOF

# ---- (a) Apache writes, we read ----------------------------------------------------
mkdir -p "$work/a"
start_zk "$work/a" "$port_a" "$work/zk_a.log"
$py "$work/kz.py" phase1 127.0.0.1:"$port_a"
zkcli "$port_a" create /nulldata
zkcli "$port_a" create -c /cont
zkcli "$port_a" create /cont/child kid
zkcli "$port_a" create -t 600000 /ttl ttl
stop_zk
# Restart in the middle: Apache loads, snapshots, and starts a new log.
start_zk "$work/a" "$port_a" "$work/zk_a.log"
$py "$work/kz.py" phase2 127.0.0.1:"$port_a" "$work/a.apache"
stop_zk
echo "Apache wrote: $(cd "$work/a/version-2" && ls | tr '\n' ' ')"
cp -a "$work/a" "$work/a.copy"
check "storage_load reads Apache's dataDir" \
	to "$work/a.ours" "$work/snapdump" dump "$work/a.copy" 2>"$work/a.err"
cat "$work/a.err"
check "tree loaded from Apache's files equals what kazoo saw ($(wc -l <"$work/a.apache") nodes)" \
	diff -u "$work/a.apache" "$work/a.ours"
check "our replay of Apache's log agrees with every txn digest (no warnings)" \
	bash -c "! grep -E 'WARN|ERROR' '$work/a.err'"
check "the dump has null data" grep -q '^/nulldata|null|' "$work/a.ours"
check "the dump has the container and the TTL node" \
	bash -c "grep -q '^/cont/child|' '$work/a.ours' && grep -q '^/ttl|' '$work/a.ours'"
check "ephemeral owner is a session id" grep -qE '^/eph\|.*\|[1-9][0-9]{15,}\|' "$work/a.ours"
check "Apache's log has more than one file" \
	test "$(ls "$work/a/version-2" | grep -c '^log\.')" -ge 2

# ---- (b) we write, Apache reads ----------------------------------------------------
"$work/snapdump" write "$work/b" >"$work/b.expect" 2>"$work/b.err"
cat "$work/b.err"
echo "we wrote: $(cd "$work/b/version-2" && ls | tr '\n' ' ')"
start_zk "$work/b" "$port_b" "$work/zk_b.log"
$py "$work/kz.py" dump 127.0.0.1:"$port_b" "$work/b.apache"
stop_zk
check "Apache loads our snapshot + log to the tree we wrote ($(wc -l <"$work/b.expect") nodes)" \
	diff -u "$work/b.expect" "$work/b.apache"
check "Apache logged its snapshot digest check" \
	grep -q "The digest in the snapshot has digest version of 2" "$work/zk_b.log"
check "Apache found no digest mismatch in our log and snapshot" \
	bash -c "! grep -iE 'digest.*(mismatch|not match)|mismatch.*digest' '$work/zk_b.log'"
# ("Error closing a command socket" is Apache racing our srvr probe's close, not the files)
check "Apache reported no error loading our files" \
	bash -c "! grep -E ' (ERROR|FATAL) ' '$work/zk_b.log' | grep -viE 'admin|jmx|command socket' | grep -q ."
echo "after Apache's start: $(cd "$work/b/version-2" && ls | tr '\n' ' ')"
check "storage_load reads Apache's snapshot of our data" \
	to "$work/b.ours" "$work/snapdump" dump "$work/b" 2>"$work/b.err2"
cat "$work/b.err2"
check "no warnings loading Apache's snapshot of our data" \
	bash -c "! grep -E 'WARN|ERROR' '$work/b.err2'"
check "and it is still the same tree" diff -u "$work/b.expect" "$work/b.ours"

# ---- (c) the digest check above is not vacuous --------------------------------------
SNAPDUMP_BAD_DIGEST=1 "$work/snapdump" write "$work/c" >/dev/null 2>&1
start_zk "$work/c" "$port_b" "$work/zk_c.log"
stop_zk
check "a wrong txn digest is reported by Apache (the check sees mismatches)" \
	grep -q "Digests are not matching" "$work/zk_c.log"

if ((fail > 0)); then
	for f in zk_a.log zk_b.log; do
		echo "---- $f (errors) ----"
		grep -E ' (ERROR|WARN) ' "$work/$f" | tail -20 || true
	done
fi
echo "$pass passed, $fail failed"
((fail == 0))
