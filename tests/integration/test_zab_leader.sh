#!/usr/bin/env bash
# timeout: 150
# Apache ZooKeeper 3.8 servers follow our leader: ours (server 3, through the test driver
# tests/integration/fle_peer.c in "lead" mode: ensemble/election.c, qcnx.c and leader.c)
# wins the election against two Apache servers, they sync with it on its quorum port, log
# and ACK its proposals, apply its commits, and their clients (sessions forwarded to our
# leader) read what it wrote. A follower that restarts rejoins and syncs by DIFF. A
# commit needs a quorum: with both Apache servers down nothing commits, and our leader
# steps down within syncLimit ticks.
. "$(dirname "$0")/lib.sh"
base=21460	# quorum ports base+1.., election ports base+11.., client ports base+21..
have_ours || finish
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -I"$TOP/common" -I"$TOP/ensemble" -o "$IT_TMP/fle_peer" \
	"$IT_DIR/fle_peer.c" "$TOP/build/libensemble.a" "$TOP/build/libzkcommon.a" \
	-luv -lcrypto -lz -lpthread || { fail "build fle_peer"; finish; }

cfg() { ensemble_cfg "$IT_TMP/s$1" "$1" $((base + 20 + $1)) "$base" $((base + 10)) 3; }

apache() {
	local dir=$IT_TMP/s$1
	[ -f "$dir/zoo.cfg" ] || cfg "$1"
	(cd "$dir" && exec java -cp "$ZK_CLASSPATH" org.apache.zookeeper.server.quorum.QuorumPeerMain \
		"$dir/zoo.cfg") > "$dir/server.log" 2>&1 &
	echo $! > "$dir/pid"
	IT_PIDS+=($!)
}

stop_apache() { kill -TERM "$(cat "$IT_TMP/s$1/pid")" 2>/dev/null; wait "$(cat "$IT_TMP/s$1/pid")" 2>/dev/null; }
mode() { fourlw $((base + 20 + $1)) srvr | sed -n 's/^Mode: //p'; }
zxid() { fourlw $((base + 20 + $1)) srvr | sed -n 's/^Zxid: //p'; }
commits() { grep -c '^commit' "$IT_TMP/s3/out"; }

# waitfor SECS COMMAND...: polls COMMAND every 0.1 s.
waitfor() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

cfg 3
"$IT_TMP/fle_peer" "$IT_TMP/s3/zoo.cfg" 0 0 lead > "$IT_TMP/s3/out" 2> "$IT_TMP/s3/err" &
lpid=$!
IT_PIDS+=($lpid)
apache 1
apache 2
if waitfor 30 grep -q '^established epoch 1' "$IT_TMP/s3/out"; then
	pass "ours won the election and established epoch 1"
else
	fail "ours did not establish: $(tr '\n' ';' < "$IT_TMP/s3/out") $(tail -2 "$IT_TMP/s3/err")"
	finish
fi
following() { [ "$(mode 1)" = follower ] && [ "$(mode 2)" = follower ]; }
waitfor 30 following && pass "both Apache servers follow our leader" ||
	fail "Apache modes: '$(mode 1)', '$(mode 2)'"
# The epoch files: ours (ensemble/epochs.c) and the Apache followers' hold the same bytes.
same_epochs() {
	local f i
	for f in acceptedEpoch currentEpoch; do
		for i in 1 2; do
			cmp -s "$IT_TMP/s3/data/version-2/$f" "$IT_TMP/s$i/data/version-2/$f" || return 1
		done
	done
	[ "$(cat "$IT_TMP/s3/data/version-2/currentEpoch")" = 1 ]
}
waitfor 10 same_epochs && pass "acceptedEpoch and currentEpoch: ours and Apache's are byte for byte \"1\"" ||
	fail "epoch files differ: $(head -c 20 "$IT_TMP"/s*/data/version-2/*Epoch | tr '\n' ' ')"

# zab_read PORT N: through an Apache follower, /zab1../zabN exist with data v<i> and czxid
# 0x1_0000_0000 + i (our proposals, in order).
zab_read() {
	timeout 60 "$KAZOO_PY" -c "
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts='127.0.0.1:$1', timeout=5)
zk.start(timeout=20)
n = 0
for c in zk.get_children('/'):
    if c.startswith('zab'):
        d, st = zk.get('/' + c)
        i = int(c[3:])
        assert d == b'v%d' % i, (c, d)
        assert st.czxid == (1 << 32) + i, (c, hex(st.czxid))
        n += 1
zk.stop()
print(n)
"
}

at_least() { [ "$(commits)" -ge "$1" ]; }
zxids_are() { [ "$(zxid 1)" = "$1" ] && [ "$(zxid 2)" = "$1" ]; }

kill -USR1 $lpid
waitfor 20 at_least 10 && pass "10 proposals committed (quorum of ACKs)" ||
	fail "only $(commits) commits"
waitfor 20 zxids_are 0x10000000a && pass "both followers applied them: zxid 0x10000000a" ||
	fail "follower zxids '$(zxid 1)', '$(zxid 2)'"
for i in 1 2; do
	n=$(zab_read $((base + 20 + i)) 2>"$IT_TMP/read$i.err")
	[ "$n" = 10 ] && pass "a client of Apache server $i reads our 10 znodes (session through our leader)" ||
		fail "client of server $i read '$n': $(tail -2 "$IT_TMP/read$i.err")"
done

# A client of server 1 (hosts "1,2" in that order) keeps its session when server 1 goes:
# server 2 asks our leader (REVALIDATE), which knows the session.
"$KAZOO_PY" - $((base + 21)) $((base + 22)) "$IT_TMP/moved" > "$IT_TMP/move.out" 2>&1 <<'PY' &
import os, sys, time
from kazoo.client import KazooClient
zk = KazooClient(hosts='127.0.0.1:%s,127.0.0.1:%s' % (sys.argv[1], sys.argv[2]),
                 randomize_hosts=False, timeout=6)
zk.start(timeout=20)
sid = zk.client_id[0]
print('session %x' % sid, flush=True)
deadline = time.time() + 60
while not os.path.exists(sys.argv[3]) and time.time() < deadline:
    time.sleep(0.1)
time.sleep(1)
while time.time() < deadline:
    try:
        zk.get_children('/')
        break
    except Exception:
        time.sleep(0.2)
print('same session' if zk.client_id[0] == sid else 'new session %x' % zk.client_id[0], flush=True)
zk.stop()
PY
mover=$!
waitfor 20 grep -q '^session' "$IT_TMP/move.out" || fail "the moving client did not connect: $(cat "$IT_TMP/move.out")"
msid=$(sed -n 's/^session //p' "$IT_TMP/move.out")
waitfor 10 grep -q "^touch 0x$msid " "$IT_TMP/s3/out" &&
	pass "the Apache follower reports the client's session in its PINGs to our leader" ||
	fail "no touch of session $msid: $(grep '^touch' "$IT_TMP/s3/out" | tr '\n' ';')"

# One Apache follower down: the leader and the other are still a quorum.
stop_apache 1
touch "$IT_TMP/moved"
wait $mover
grep -q '^same session' "$IT_TMP/move.out" && grep -q 'revalidate .*: valid' "$IT_TMP/s3/out" &&
	pass "a client moved from server 1 to server 2 kept its session (revalidated by our leader)" ||
	fail "the moving client: $(tr '\n' ';' < "$IT_TMP/move.out") leader: $(grep revalidate "$IT_TMP/s3/out" | tr '\n' ';')"
before=$(commits)
kill -USR1 $lpid
waitfor 20 at_least $((before + 10)) && pass "with one follower down, 10 more commit" ||
	fail "commits stuck at $(commits) with one follower"

# It comes back: it finds our leader through the others' election answers, syncs (a DIFF
# from the committed log) and its clients read everything.
apache 1
waitfor 40 following && pass "Apache server 1 rejoined as a follower of ours" ||
	fail "server 1 says '$(mode 1)'"
n=$(zab_read $((base + 21)) 2>"$IT_TMP/read1b.err")
[ "$n" = 20 ] && pass "a client of the rejoined server reads all 20 znodes" ||
	fail "rejoined server: read '$n': $(tail -2 "$IT_TMP/read1b.err")"

# Both down: no quorum, nothing commits, and within syncLimit ticks (2.5 s) the leader
# gives up, as Apache's does ("Not sufficient followers synced").
stop_apache 1
stop_apache 2
before=$(commits)
kill -USR1 $lpid
sleep 1
[ "$(commits)" = "$before" ] && pass "with both followers down, nothing commits" ||
	fail "$(( $(commits) - before )) commits without a quorum"
waitfor 10 grep -q '^lost leadership: not sufficient followers' "$IT_TMP/s3/out" &&
	pass "our leader stepped down without a quorum" || fail "our leader did not step down"
finish
