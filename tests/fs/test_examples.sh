#!/usr/bin/env bash
# Runs the shell examples in examples/ for real, on four zkfs mounts of one server (M1..M4, four
# ZooKeeper sessions, as on four machines), and on one mount shared by several shells (as on
# one machine):
#   service-register/-discover  two services found, a kill -9'd one gone within 2 s
#   config-watch                a change made by another client (kazoo) printed within 2 s
#   lock                        4 concurrent holders increment a counter: exact total, no overlap
#   leader-election             the next candidate leads within 2 s of a kill -9 of the leader
#   queue                       3 consumers take 30 items exactly once
# The "own mount" / "same mount" checks are the case of several shells on one machine: there
# the other side's change is made by this zkfs itself (a create through .ephemeral/ or
# .sequential/, the delete of an ephemeral when its fd closes, a write through .data/), and
# must reach inotify watchers of the real path all the same.
# timeout: 180
. "$(dirname "$0")/lib.sh"

EX=$TOP/examples
fs_start_backend $(( ${FS_PORT_BASE:-23100} + 20 )) || exit 1
M1=$FS_TMP/m1 M2=$FS_TMP/m2 M3=$FS_TMP/m3 M4=$FS_TMP/m4
for m in "$M1" "$M2" "$M3" "$M4"; do
	check "mount $(basename "$m")" fs_mount "$m"
done
[ "$FS_FAIL" = 0 ] || finish

# Every example runs in its own process group (setsid), so that cleanup also gets what a
# kill -9'd script leaves behind (an orphaned inotifywait, a sleep).
EX_GROUPS=()
ex_cleanup() {
	local g
	for g in "${EX_GROUPS[@]}"; do
		kill -KILL -- "-$g" 2>/dev/null
	done
}
trap 'ex_cleanup; fs_cleanup' EXIT

# bg LOG CMD...: starts CMD in its own process group with its output in LOG; sets BG_PID.
bg() {
	local log=$1
	shift
	setsid "$@" > "$log" 2>&1 < /dev/null &
	BG_PID=$!
	EX_GROUPS+=("$BG_PID")
	disown "$BG_PID" # no "Killed" notices: the kill -9s are on purpose
}

# The last "# SERVICE: N member(s)" block of a service-discover.sh log, one line.
last_members() {
	awk '/^# / { block = "" ; next } { block = block (block == "" ? "" : " ") $0 } END { print block }' "$1"
}
members_are() { [ "$(last_members "$1")" = "$2" ]; }
ended() { ! kill -0 "$1" 2>/dev/null; }
no_children() { [ -z "$(zkop children "$1")" ]; }

# --- service registration and discovery -------------------------------------------------------
# Discoverers on the mount where "a" registers (M1) and on one where nothing registers (M3).
bg "$FS_TMP/disc1.log" "$EX/service-discover.sh" "$M1" web
bg "$FS_TMP/disc3.log" "$EX/service-discover.sh" "$M3" web
wait_for 5 grep -q '^# web: 0' "$FS_TMP/disc1.log"
wait_for 5 grep -q '^# web: 0' "$FS_TMP/disc3.log"
bg "$FS_TMP/reg-a.log" "$EX/service-register.sh" "$M1" web a 127.0.0.1:8001
REG_A=$BG_PID
check "discover on another mount sees a within 2 s" \
	wait_for 2 members_are "$FS_TMP/disc3.log" "a 127.0.0.1:8001"
check "discover on the registering mount sees a within 2 s" \
	wait_for 2 members_are "$FS_TMP/disc1.log" "a 127.0.0.1:8001"
bg "$FS_TMP/reg-b.log" "$EX/service-register.sh" "$M2" web b 127.0.0.1:8002
REG_B=$BG_PID
check "discover sees both services" \
	wait_for 2 members_are "$FS_TMP/disc3.log" "a 127.0.0.1:8001 b 127.0.0.1:8002"
expect_eq "service-discover.sh -1 lists both" \
	"$(printf '# web: 2 member(s)\na 127.0.0.1:8001\nb 127.0.0.1:8002')" \
	"$("$EX/service-discover.sh" -1 "$M4" web)"
out=$("$EX/service-register.sh" "$M4" web a 10.0.0.1:1 2>&1) && rc=0 || rc=$?
check "a second registration of a taken name is refused" test "$rc" -ne 0
# bash's noclobber refuses an existing regular file itself ("cannot overwrite existing
# file") before opening; a name that appears in between gets O_EXCL's EEXIST from zkfs.
check "... as an existing name ($out)" grep -qE 'File exists|cannot overwrite existing file' <<< "$out"
expect_eq "the first registration is untouched" "127.0.0.1:8001" "$(zkop get /services/web/a)"

kill -KILL "$REG_A"
check "kill -9 of a's holder: gone from discover on another mount within 2 s" \
	wait_for 2 members_are "$FS_TMP/disc3.log" "b 127.0.0.1:8002"
check "kill -9 of a's holder: gone from discover on its own mount within 2 s" \
	wait_for 2 members_are "$FS_TMP/disc1.log" "b 127.0.0.1:8002"
check "kill -9 of a's holder: the znode is gone" not zkop exists /services/web/a
check "b stays registered" zkop exists /services/web/b
# the same name again on the same mount, as a restarted service does
bg "$FS_TMP/reg-a2.log" "$EX/service-register.sh" "$M1" web a 127.0.0.1:8003
REG_A2=$BG_PID
check "a name registered again reads back on another mount" \
	wait_for 2 grep -qsx 127.0.0.1:8003 "$M3/services/web/a"
check "a name registered again reads back on its own mount" \
	wait_for 2 grep -qsx 127.0.0.1:8003 "$M1/services/web/a"
kill -TERM "$REG_A2"
kill -TERM "$REG_B"
check "kill of b's holder: discover shows no member within 2 s" \
	wait_for 2 members_are "$FS_TMP/disc3.log" ""

# --- configuration distribution -----------------------------------------------------------------
mkdir -p "$M2/config"
echo 'threads=1' > "$M2/config/app.conf"
HOOK_OUT=$FS_TMP/hook.out
bg "$FS_TMP/cw.log" "$EX/config-watch.sh" "$M1/config/app.conf" -- sh -c "cat > '$HOOK_OUT'"
check "config-watch prints the config" wait_for 5 grep -qx 'threads=1' "$FS_TMP/cw.log"
zkop set /config/app.conf 'threads=2'
check "config-watch prints a remote change (kazoo) within 2 s" \
	wait_for 2 grep -qx 'threads=2' "$FS_TMP/cw.log"
check "the reload hook gets the new config" wait_for 2 grep -qx 'threads=2' "$HOOK_OUT"
sed -i 's/threads=2/threads=3/' "$M2/config/app.conf"
check "config-watch follows a replace by rename (sed -i) on another mount within 2 s" \
	wait_for 2 grep -qx 'threads=3' "$FS_TMP/cw.log"
echo 'threads=4' > "$M1/config/app.conf"
check "config-watch sees a change on its own mount within 2 s" \
	wait_for 2 grep -qx 'threads=4' "$FS_TMP/cw.log"
zkop set /config/app.conf 'threads=5'
check "config-watch still follows remote changes after a rename" \
	wait_for 2 grep -qx 'threads=5' "$FS_TMP/cw.log"
expect_eq "one print per change" "5" "$(grep -c '^# ' "$FS_TMP/cw.log")"
echo 'threads=6' > "$M1/.data/config/app.conf"
check "config-watch sees a write through .data/ on its own mount within 2 s" \
	wait_for 2 grep -qx 'threads=6' "$FS_TMP/cw.log"

# --- lock ---------------------------------------------------------------------------------------
# holders MOUNT... : one shell per MOUNT, each taking the lock ROUNDS times to add 1 to /counter
# (read, pause, write: lost updates if two ever overlap); the critical section also makes a
# local directory, which fails if another holder is inside.
ROUNDS=8
holders() {
	local m pids=() i=0
	echo 0 > "$M1/counter"
	rm -rf "$FS_TMP/inside" "$FS_TMP/overlaps"
	for m in "$@"; do
		i=$((i + 1))
		bg "$FS_TMP/holder$i.log" bash -c '
			for r in $(seq 1 "$2"); do
				"$3/lock.sh" "$1" counter -- bash -c "
					mkdir \"$4/inside\" 2>/dev/null || echo overlap >> \"$4/overlaps\"
					v=\$(cat \"$1/counter\")
					sleep 0.02
					echo \$((v + 1)) > \"$1/counter\"
					rmdir \"$4/inside\""
			done' holder "$m" "$ROUNDS" "$EX" "$FS_TMP"
		pids+=("$BG_PID")
	done
	# the 32 rounds take a few seconds; much more means the holders are stuck
	wait_for 12 bash -c 'for p; do ! kill -0 "$p" 2>/dev/null || exit 1; done' _ "${pids[@]}"
	local done_ok=$?
	for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	return "$done_ok"
}

check "lock: 4 holders on 4 mounts finish" holders "$M1" "$M2" "$M3" "$M4"
expect_eq "lock: 4 holders on 4 mounts: exact total" "$((4 * ROUNDS))" "$(zkop get /counter)"
check "lock: 4 holders on 4 mounts: never two inside" test ! -e "$FS_TMP/overlaps"

check "lock: 4 holders sharing one mount finish" holders "$M2" "$M2" "$M2" "$M2"
expect_eq "lock: 4 holders sharing one mount: exact total" "$((4 * ROUNDS))" "$(zkop get /counter)"
check "lock: 4 holders sharing one mount: never two inside" test ! -e "$FS_TMP/overlaps"
check "lock: no ticket left behind" wait_for 3 no_children /locks/counter

# --- leader election ----------------------------------------------------------------------------
# c1 (M1) leads; c2 (M2), c3 (M3) and c4 (M3) wait in line.
bg "$FS_TMP/c1.log" "$EX/leader-election.sh" "$M1" sched c1
C1=$BG_PID
check "the first candidate leads" wait_for 5 grep -qx 'c1: leader' "$FS_TMP/c1.log"
for c in 2 3 4; do
	m=$M3
	[ "$c" = 2 ] && m=$M2
	bg "$FS_TMP/c$c.log" "$EX/leader-election.sh" "$m" sched "c$c"
	CAND[c]=$BG_PID
	wait_for 5 grep -q "^c$c: waiting" "$FS_TMP/c$c.log"
done
sleep 0.5
check "followers do not lead while the leader lives" \
	not grep -q 'leader$' "$FS_TMP/c2.log" "$FS_TMP/c3.log" "$FS_TMP/c4.log"
expect_eq "the candidates' files hold their ids" "c1 c2 c3 c4" \
	"$(cat "$M4"/elections/sched/* | tr '\n' ' ' | sed 's/ $//')"
kill -KILL "$C1"
check "kill -9 of the leader: the next candidate (another mount) leads within 2 s" \
	wait_for 2 grep -qx 'c2: leader' "$FS_TMP/c2.log"
check "... and only that one" not grep -q 'leader$' "$FS_TMP/c3.log" "$FS_TMP/c4.log"
# another client deletes the leader's file: the leader steps down, the next one leads
zkop delete "/elections/sched/$(zkop children /elections/sched | awk '{print $1}')"
check "a leader whose file is deleted steps down within 2 s" wait_for 2 ended "${CAND[2]}"
check "... and the next candidate leads within 2 s" wait_for 2 grep -qx 'c3: leader' "$FS_TMP/c3.log"
kill -KILL "${CAND[3]}"
check "kill -9 of the leader: the next candidate (same mount) leads within 2 s" \
	wait_for 2 grep -qx 'c4: leader' "$FS_TMP/c4.log"
kill -TERM "${CAND[4]}"
check "no candidate file left behind" wait_for 3 no_children /elections/sched

# --- queue --------------------------------------------------------------------------------------
# Three consumers (M1, M2, M3) wait on an empty queue; a producer (M4) puts 30 items, then one
# "stop" per consumer.
for i in 1 2 3; do
	bg "$FS_TMP/consumer$i.log" bash -c '
		while item=$("$1/queue.sh" "$2" jobs take); do
			[ "$item" = stop ] && exit 0
			echo "$item"
		done
		exit 1' consumer "$EX" "$FS_TMP/m$i"
	CONSUMERS[i]=$BG_PID
done
sleep 1
for n in $(seq 1 30); do
	"$EX/queue.sh" "$M4" jobs put "job $n"
done
for i in 1 2 3; do
	"$EX/queue.sh" "$M4" jobs put stop
done
check "queue: the 3 consumers get the 3 stops within 10 s" \
	wait_for 10 bash -c 'for p; do ! kill -0 "$p" 2>/dev/null || exit 1; done' _ "${CONSUMERS[@]}"
expect_eq "queue: 30 items taken exactly once" "$(seq 1 30 | sed 's/^/job /')" \
	"$(cat "$FS_TMP"/consumer[123].log | sort -k2n)"
expect_eq "queue: empty afterwards" "" "$(zkop children /queues/jobs)"

# A take and a put on the same mount (as two shells on one machine).
bg "$FS_TMP/take-same.log" "$EX/queue.sh" "$M1" jobs take
sleep 1
"$EX/queue.sh" "$M1" jobs put local
check "queue: a take wakes up for a put on its own mount within 2 s" \
	wait_for 2 grep -qx local "$FS_TMP/take-same.log"

finish
