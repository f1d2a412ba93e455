#!/usr/bin/env bash
# timeout: 150
# Our side of Zab against Apache ZooKeeper 3.8: tests/integration/zab_observer.c joins a
# three-server Apache ensemble's leader as an observer on the quorum port (our QuorumPacket
# codec, snapshot stream reader, txn decoder and data tree), syncs, and then applies the
# committed txns the leader sends (INFORM). Its replica must equal the leader's tree as
# kazoo reads it: data, versions, cversion, aversion, czxid/mzxid/pzxid, ephemeral owners.
. "$(dirname "$0")/lib.sh"
base=21380	# quorum ports base+1.., election ports base+11.., client ports base+21..
have_ours || finish
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -I"$TOP/common" -I"$TOP/ensemble" \
	-o "$IT_TMP/zab_observer" "$IT_DIR/zab_observer.c" "$TOP/build/libensemble.a" \
	"$TOP/build/libzkcommon.a" -luv -lcrypto -lz -lpthread || { fail "build zab_observer"; finish; }

for i in 1 2 3; do
	dir=$IT_TMP/s$i
	mkdir -p "$dir/data"
	echo "$i" > "$dir/data/myid"
	cat > "$dir/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$((base + 20 + i))
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
server.1=127.0.0.1:$((base + 1)):$((base + 11))
server.2=127.0.0.1:$((base + 2)):$((base + 12))
server.3=127.0.0.1:$((base + 3)):$((base + 13))
server.4=127.0.0.1:$((base + 4)):$((base + 14)):observer
CFG
	(cd "$dir" && exec java -cp "$ZK_CLASSPATH" org.apache.zookeeper.server.quorum.QuorumPeerMain \
		"$dir/zoo.cfg") > "$dir/server.log" 2>&1 &
	IT_PIDS+=($!)
done

leader=
for _ in $(seq 1 300); do
	for i in 1 2 3; do
		[ "$(fourlw $((base + 20 + i)) srvr | sed -n 's/^Mode: //p')" = leader ] && leader=$i
	done
	[ -n "$leader" ] && break
	sleep 0.1
done
[ -n "$leader" ] && pass "Apache ensemble up, server $leader leads" || { fail "no Apache leader"; finish; }
lport=$((base + 20 + leader))
any=$((base + 20 + (leader % 3) + 1))	# a follower: writes go through the ensemble

# kz PORT PYTHON: runs PYTHON with `zk` connected (auth digest u:p) to 127.0.0.1:PORT.
kz() {
	timeout 60 "$KAZOO_PY" -c "
import sys
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl
zk = KazooClient(hosts='127.0.0.1:$1', auth_data=[('digest', 'u:p')])
zk.start()
$2
zk.stop()
"
}

# The leader's tree as kazoo reads it, one sorted line per znode (zab_observer's format).
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

# observer_dump FILE: asks the observer for its tree and waits for it.
observer_dump() {
	local n
	rm -f "$IT_TMP/odump"
	kill -USR1 "$opid"
	for n in $(seq 1 50); do
		[ -f "$IT_TMP/odump" ] && break
		sleep 0.1
	done
	sort "$IT_TMP/odump" > "$1" 2>/dev/null
}

# compare LABEL: observer and leader agree (the observer gets a moment to apply the last
# INFORMs; kazoo's own session does not touch the tree).
compare() {
	local n
	for n in 1 2 3 4 5; do
		leader_dump "$IT_TMP/leader.dump"
		observer_dump "$IT_TMP/obs.dump"
		if [ -s "$IT_TMP/leader.dump" ] && cmp -s "$IT_TMP/leader.dump" "$IT_TMP/obs.dump"; then
			pass "$1: the observer's replica equals the leader's tree ($(wc -l < "$IT_TMP/obs.dump") znodes)"
			return
		fi
		sleep 0.5
	done
	fail "$1: replica and leader differ:"
	diff "$IT_TMP/obs.dump" "$IT_TMP/leader.dump" | head -10 | sed 's/^/    /'
}

# History before the observer joins: it arrives in the sync (a snapshot stream).
kz "$any" "
zk.create('/a', b'hello')
zk.create('/a/b', b'x' * 300)
for i in range(5):
    zk.create('/a/s-', b'', sequence=True)
zk.set('/a', b'world')
zk.delete('/a/s-0000000002')
zk.create('/keep', b'k', ephemeral=True)
import time
" || fail "writes before the observer joined"

start_observer() {
	"$IT_TMP/zab_observer" "127.0.0.1:$((base + leader))" 4 "$IT_TMP/odump" > "$IT_TMP/obs.out" 2>&1 &
	opid=$!
	IT_PIDS+=($opid)
	local n
	for n in $(seq 1 100); do
		grep -q '^UPTODATE' "$IT_TMP/obs.out" && return 0
		sleep 0.1
	done
	return 1
}
if start_observer; then
	pass "the observer synced: $(grep -E '^(SNAP|DIFF|snapshot stream|UPTODATE)' "$IT_TMP/obs.out" | tr '\n' ';')"
else
	fail "the observer did not sync: $(tr '\n' ';' < "$IT_TMP/obs.out")"
	finish
fi
compare "after the sync"

# Every kind of txn after the sync arrives as INFORM and applies the same way.
kz "$any" "
zk.create('/c', b'after')
zk.create('/c/e', b'1', ephemeral=True)
zk.create('/c/p', b'', sequence=True, ephemeral=True)
zk.set('/a/b', b'y')
t = zk.transaction()
t.create('/m1', b'm')
t.set_data('/c', b'multi')
t.check('/a', 1)
t.commit()
t = zk.transaction()
t.create('/m2', b'never')
t.check('/a', 99)
t.commit()
zk.delete('/a/b')
zk.set('/a', b'again')
zk.set('/m1', b'm2')
zk.set_acls('/c', [make_digest_acl('u', 'p', all=True)])
try:
    zk.create('/a', b'exists')
except Exception:
    pass
" || fail "writes after the sync"
n=$(grep -c '^inform' "$IT_TMP/obs.out")
[ "$n" -ge 8 ] && pass "the observer applied $n committed txns (INFORM), sessions and multis included" ||
	fail "only $n INFORMs: $(tail -5 "$IT_TMP/obs.out" | tr '\n' ';')"
compare "after INFORMs of creates, ephemerals, sequentials, setData, multi (ok and failed), delete, setACL"

# The session that owned /c/e and /c/p closed: its ephemerals went with it everywhere.
grep -q ' type -11$' "$IT_TMP/obs.out" && pass "closeSession reached the observer" ||
	fail "no closeSession INFORM"

# A second observer run, now with a longer history: the sync again gives the same tree.
kill -TERM "$opid" 2>/dev/null; wait "$opid" 2>/dev/null
if start_observer; then
	compare "a fresh observer after more history"
else
	fail "the second observer did not sync: $(tr '\n' ';' < "$IT_TMP/obs.out")"
fi
grep -q '^error' "$IT_TMP/obs.out" && fail "observer error: $(grep '^error' "$IT_TMP/obs.out")"
finish
