#!/usr/bin/env bash
# timeout: 150
# Our side of Zab against Apache ZooKeeper 3.8 (ensemble/learner.c and qpkt.c, run by the
# test driver tests/integration/zab_learner.c until zkensemble runs Zab itself). Two Apache
# servers and two of ours: server 3 joins the Apache leader as a voting follower, server 4
# as an observer. Both sync (snapshot stream), apply what is committed (COMMIT after their
# ACK, INFORM), and their replicas must equal the leader's tree as kazoo reads it (data,
# versions, cversion, aversion, czxid/mzxid/pzxid, ephemeral owners). Then the Apache
# follower stops: writes still commit, because our follower's ACKs make the quorum; when
# ours stops too, the leader loses its quorum.
. "$(dirname "$0")/lib.sh"
base=21420	# quorum ports base+1.., election ports base+11.., client ports base+21..
have_ours || finish
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -I"$TOP/common" -I"$TOP/ensemble" \
	-o "$IT_TMP/zab_learner" "$IT_DIR/zab_learner.c" "$TOP/build/libensemble.a" \
	"$TOP/build/libzkcommon.a" -luv -lcrypto -lz -lpthread || { fail "build zab_learner"; finish; }

for i in 1 2; do
	dir=$IT_TMP/s$i
	ensemble_cfg "$dir" "$i" $((base + 20 + i)) "$base" $((base + 10)) 4 4
	(cd "$dir" && exec java -cp "$ZK_CLASSPATH" org.apache.zookeeper.server.quorum.QuorumPeerMain \
		"$dir/zoo.cfg") > "$dir/server.log" 2>&1 &
	echo $! > "$dir/pid"
	IT_PIDS+=($!)
done

mode() { fourlw $((base + 20 + $1)) srvr | sed -n 's/^Mode: //p'; }
leader=
for _ in $(seq 1 300); do
	for i in 1 2; do
		[ "$(mode $i)" = leader ] && leader=$i
	done
	[ -n "$leader" ] && break
	sleep 0.1
done
[ -n "$leader" ] && pass "Apache servers 1 and 2 up, server $leader leads" || { fail "no Apache leader"; finish; }
other=$((3 - leader))
lport=$((base + 20 + leader))

# kz PORT PYTHON: runs PYTHON with `zk` connected (auth digest u:p) to 127.0.0.1:PORT.
kz() {
	timeout 60 "$KAZOO_PY" -c "
import sys
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl
zk = KazooClient(hosts='127.0.0.1:$1', auth_data=[('digest', 'u:p')], timeout=5)
zk.start()
$2
zk.stop()
"
}

# The leader's tree as kazoo reads it, one sorted line per znode (zab_learner's format).
leader_dump() {
	kz "$lport" "
out = []
def walk(p):
    data, st = zk.get(p)
    out.append('%s %d %d %d %d %d %d %d %d %s' % (p, st.czxid, st.mzxid, st.pzxid, st.version,
        st.cversion, st.aversion, st.ephemeralOwner, st.numChildren, (data or b'').hex()))
    for c in zk.get_children(p):
        walk((p if p != '/' else '') + '/' + c)
walk('/')
print('\n'.join(sorted(out)))
" > "$1"
}

# learner_dump SID FILE: asks our learner SID for its tree and waits for it.
learner_dump() {
	local n
	rm -f "$IT_TMP/dump$1"
	kill -USR1 "$(cat "$IT_TMP/l$1.pid")"
	for n in $(seq 1 50); do
		[ -f "$IT_TMP/dump$1" ] && break
		sleep 0.1
	done
	sort "$IT_TMP/dump$1" > "$2" 2>/dev/null
}

# compare SID LABEL: our learner SID and the leader agree (it gets a moment for the last
# commits; kazoo's own session does not touch the tree).
compare() {
	local n
	for n in 1 2 3 4 5; do
		leader_dump "$IT_TMP/leader.dump"
		learner_dump "$1" "$IT_TMP/ours.dump"
		if [ -s "$IT_TMP/leader.dump" ] && cmp -s "$IT_TMP/leader.dump" "$IT_TMP/ours.dump"; then
			pass "$2: ours ($1) equals the leader's tree ($(wc -l < "$IT_TMP/ours.dump") znodes)"
			return
		fi
		sleep 0.5
	done
	fail "$2: ours ($1) and the leader differ:"
	diff "$IT_TMP/ours.dump" "$IT_TMP/leader.dump" | head -10 | sed 's/^/    /'
}

# start_learner ROLE SID: joins the leader, waits for UPTODATE.
start_learner() {
	"$IT_TMP/zab_learner" "$1" "127.0.0.1:$((base + leader))" "$2" "$IT_TMP/dump$2" \
		> "$IT_TMP/l$2.out" 2>&1 &
	echo $! > "$IT_TMP/l$2.pid"
	IT_PIDS+=($!)
	local n
	for n in $(seq 1 100); do
		grep -q '^UPTODATE' "$IT_TMP/l$2.out" && return 0
		grep -q '^error' "$IT_TMP/l$2.out" && break
		sleep 0.1
	done
	return 1
}

# History before ours join: it comes with the sync.
kz "$lport" "
zk.create('/a', b'hello')
zk.create('/a/b', b'x' * 300)
for i in range(5):
    zk.create('/a/s-', b'', sequence=True)
zk.set('/a', b'world')
zk.delete('/a/s-0000000002')
" || fail "writes before ours joined"

for r in "follower 3" "observer 4"; do
	set -- $r
	if start_learner "$1" "$2"; then
		pass "our $1 synced: $(grep -E '^(SNAP|DIFF|TRUNC|UPTODATE)' "$IT_TMP/l$2.out" | tr '\n' ';')"
	else
		fail "our $1 did not sync: $(tr '\n' ';' < "$IT_TMP/l$2.out")"
		finish
	fi
done
compare 3 "after the sync"
compare 4 "after the sync"

# Every kind of txn after the sync: PROPOSAL/ACK/COMMIT to the follower, INFORM to the
# observer.
writes() {
	kz "$1" "
zk.create('/c$2', b'after')
zk.create('/c$2/e', b'1', ephemeral=True)
zk.create('/c$2/p', b'', sequence=True, ephemeral=True)
zk.set('/a/b', b'y$2')
t = zk.transaction()
t.create('/m$2', b'm')
t.set_data('/c$2', b'multi')
t.commit()
t = zk.transaction()
t.create('/never$2', b'never')
t.check('/a', 99)
t.commit()
zk.set('/a', b'again$2')
zk.set_acls('/c$2', [make_digest_acl('u', 'p', all=True)])
try:
    zk.create('/a', b'exists')
except Exception:
    pass
"
}
writes "$lport" 1 || fail "writes after the sync"
n=$(grep -c '^apply' "$IT_TMP/l3.out")
[ "$n" -ge 8 ] && pass "our follower applied $n committed txns" || fail "our follower applied only $n txns"
compare 3 "after creates, ephemerals, sequentials, setData, multis (ok and failed), setACL"
compare 4 "the same through INFORM"

# The Apache follower stops: the leader and our follower are the quorum now.
kill -TERM "$(cat "$IT_TMP/s$other/pid")"
wait "$(cat "$IT_TMP/s$other/pid")" 2>/dev/null
if writes "$lport" 2 > "$IT_TMP/w2.out" 2>&1; then
	pass "with the Apache follower gone, writes commit on our follower's ACKs"
else
	fail "writes failed with only our follower: $(tail -3 "$IT_TMP/w2.out")"
fi
compare 3 "the quorum of leader and ours"
compare 4 "the observer alongside"

# Without our follower there is no quorum: the leader stops serving.
kill -TERM "$(cat "$IT_TMP/l3.pid")"
gone=0
for _ in $(seq 1 100); do
	[ "$(mode "$leader")" = leader ] || { gone=1; break; }
	sleep 0.1
done
[ "$gone" = 1 ] && pass "without our follower's ACKs the leader loses its quorum" ||
	fail "the leader still leads without a quorum"
grep -h '^error' "$IT_TMP"/l*.out && fail "an error in our learners"
finish
