#!/usr/bin/env bash
# timeout: 150
# Leader election over the real election port (ensemble/election.c on ensemble/qcnx.c, run
# by tests/integration/fle_peer.c until zkensemble runs elections itself):
#  - three of ours elect the best vote (sid 3 with equal databases, sid 1 with the newest);
#  - a restarted server rejoins the leader, and garbage on the port changes nothing;
#  - mixed with Apache ZooKeeper 3.8: ours takes part in an election with two Apache
#    servers (Apache's own Zab then runs between them), joins their ensemble later, and
#    gets their votes when its database is the newest.
. "$(dirname "$0")/lib.sh"
base=21360	# election ports base+1.., quorum ports base+11.., client ports base+21..
have_ours || finish
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -I"$TOP/common" -I"$TOP/ensemble" -o "$IT_TMP/fle_peer" \
	"$IT_DIR/fle_peer.c" "$TOP/build/libensemble.a" "$TOP/build/libzkcommon.a" \
	-luv -lcrypto -lz -lpthread || { fail "build fle_peer"; finish; }

# cfg I: zoo.cfg of server I in a three-server ensemble.
cfg() { ensemble_cfg "$IT_TMP/s$1" "$1" $((base + 20 + $1)) $((base + 10)) "$base" 3; }

# peer I [ZXID EPOCH]: starts fle_peer as server I.
peer() {
	local i=$1 dir=$IT_TMP/s$1
	cfg "$i"
	: > "$dir/out"
	"$IT_TMP/fle_peer" "$dir/zoo.cfg" "${2:-0}" "${3:-0}" > "$dir/out" 2> "$dir/err" &
	echo $! > "$dir/pid"
	IT_PIDS+=($!)
}

apache() {
	local i=$1 dir=$IT_TMP/s$1
	cfg "$i"
	(cd "$dir" && exec java -cp "$ZK_CLASSPATH" org.apache.zookeeper.server.quorum.QuorumPeerMain \
		"$dir/zoo.cfg") > "$dir/server.log" 2>&1 &
	echo $! > "$dir/pid"
	IT_PIDS+=($!)
}

stop() { kill -TERM "$(cat "$IT_TMP/s$1/pid")" 2>/dev/null; wait "$(cat "$IT_TMP/s$1/pid")" 2>/dev/null; }

# decided I WHAT [SECS]: waits for server I's decision line to read WHAT.
decided() {
	local i=$1 want=$2 n
	for n in $(seq 1 $((${3:-10} * 10))); do
		grep -q "^decided $want " "$IT_TMP/s$i/out" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "    server $i: $(tr '\n' ';' < "$IT_TMP/s$i/out"); $(tail -2 "$IT_TMP/s$i/err" | tr '\n' ';')"
	return 1
}

mode() { fourlw $((base + 20 + $1)) srvr | sed -n 's/^Mode: //p'; }

# waitmode I MODE: Apache server I reports Mode: MODE within 30 s.
waitmode() {
	local n
	for n in $(seq 1 300); do
		[ "$(mode "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "    server $1 reports mode '$(mode "$1")'"
	return 1
}

# Three of ours, equal databases: the largest sid leads.
peer 1; peer 2; peer 3
decided 3 "leading leader 3" && pass "equal votes: server 3 leads" || fail "server 3 did not lead"
decided 1 "following leader 3" && decided 2 "following leader 3" &&
	pass "servers 1 and 2 follow 3" || fail "servers 1 and 2 do not follow 3"

# A server restarts (a fresh round counter): it learns the leader from the others' answers.
stop 1
peer 1
decided 1 "following leader 3" && pass "a restarted server rejoins leader 3" ||
	fail "the restarted server did not rejoin"

# Garbage on the election port: a pre-3.5 bare sid followed by junk, a bad initial message,
# an oversized frame. The connection goes, the server stays and still answers.
printf 'garbage\000\001\002 more garbage' | timeout 5 nc -q1 127.0.0.1 $((base + 3)) > /dev/null 2>&1
printf '\377\377\377\377\377\377\000\000\000\000\000\000\000\000\000\011\177\377\377\377' |
	timeout 5 nc -q1 127.0.0.1 $((base + 3)) > /dev/null 2>&1
printf '\377\377\377\377\377\377\000\000\000\000\000\000\000\000\000\011\000\000\000\003a:1\177\000\000\000' |
	timeout 5 nc -q1 127.0.0.1 $((base + 3)) > /dev/null 2>&1
sleep 0.5
if kill -0 "$(cat "$IT_TMP/s3/pid")" 2>/dev/null && grep -q "closing" "$IT_TMP/s3/err"; then
	pass "garbage on the election port closes that connection only ($(grep -c closing "$IT_TMP/s3/err") warnings)"
else
	fail "server 3 after garbage: $(tail -3 "$IT_TMP/s3/err")"
fi
stop 2
peer 2
decided 2 "following leader 3" && pass "after the garbage, a restarted server still rejoins leader 3" ||
	fail "no rejoin after the garbage"
stop 1; stop 2; stop 3

# The newest database wins over the larger sid: (epoch 2, zxid 0x200000005) at server 1.
peer 1 200000005 2; peer 2 200000004 2; peer 3 100000009 1
decided 1 "leading leader 1" && decided 2 "following leader 1" && decided 3 "following leader 1" &&
	pass "the most up-to-date server (1) leads, not the largest sid" || fail "wrong leader for unequal databases"
stop 1; stop 2; stop 3

# Mixed with Apache 3.8: ours is server 1 (an empty database), Apache servers 2 and 3.
rm -rf "$IT_TMP/s1" "$IT_TMP/s2" "$IT_TMP/s3"
peer 1
apache 2
apache 3
if waitmode 3 leader && waitmode 2 follower; then
	pass "Apache servers 2 and 3 elect 3 with ours taking part"
else
	fail "the mixed ensemble did not settle; Apache 3 says '$(mode 3)', 2 says '$(mode 2)'"
fi
decided 1 "following leader 3" 30 && pass "ours decided: following Apache's leader 3" ||
	fail "ours did not follow Apache's leader"
# Ours restarts and joins the running Apache ensemble.
stop 1
peer 1
decided 1 "following leader 3" 30 && pass "ours rejoins the running Apache ensemble" ||
	fail "ours did not rejoin the Apache ensemble"
[ "$(mode 3)" = leader ] && [ "$(mode 2)" = follower ] &&
	pass "Apache's ensemble is undisturbed by ours" || fail "Apache's modes changed: 3 '$(mode 3)', 2 '$(mode 2)'"
stop 1; stop 2; stop 3

# Ours has the newest database: the Apache servers must read our notifications and vote for
# us, or we could not decide to lead. (They then find no Zab leader on our quorum port and
# go back to looking; that part is not built yet.)
rm -rf "$IT_TMP/s1" "$IT_TMP/s2" "$IT_TMP/s3"
peer 1 100000001 1
apache 2
apache 3
decided 1 "leading leader 1" 30 && pass "Apache servers 2 and 3 voted for ours: it leads" ||
	fail "ours did not get Apache's votes"
finish
