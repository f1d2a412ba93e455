# Shared helpers for the differential compatibility tests (sourced, never run).
#
#   start_server apache|ours PORT DIR [extra ...]   start a standalone server in DIR, wait for srvr
#   stop_server DIR                                  stop the server started in DIR
#   fourlw PORT WORD                                 print a four-letter word's answer
#   have_ours                                        0 if bin/zkensemble exists (else says so)
#   compare_sections NAME FILE_APACHE FILE_OURS      one check per "## " section of a transcript
#   compare_lines NAME FILE_APACHE FILE_OURS         one check per line of a transcript
#   check_expected NAME FILE                          Apache's transcript vs the recorded one
#   pass / fail MSG, finish                          counting and the closing "N passed, N failed"
#
# Extra start_server arguments: "key=value" lines go to zoo.cfg; "-Dkey=value" words are JVM
# system properties: passed to java for Apache (as zkServer.sh does with SERVER_JVMFLAGS), and
# written to zoo.cfg as "key=value" for ours (zkensemble reads the same keys in zoo.cfg).
#
# Everything a script starts is killed by an EXIT trap; IT_TIMEOUT (seconds, default 150) is a
# watchdog for the whole script. Temporary files live under one mktemp dir, removed at exit
# unless KEEP_TMP=1.

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$IT_DIR/../.." && pwd)
KAZOO_PY=/usr/bin/python3	# Debian's python3 with python3-kazoo (not the python3 on PATH)
ZKCLI=/usr/share/zookeeper/bin/zkCli.sh
# Debian's zkEnv.sh classpath: zookeeper.jar pulls its dependencies through its manifest, and
# without a log4j binding slf4j falls back to the no-op logger, so the server stays quiet.
ZK_CLASSPATH=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar
OURS_BIN=${ZK_OURS_BIN:-$TOP/bin/zkensemble}	# test_sanitizers.sh points it at a sanitized build
EXPECTED_DIR=$IT_DIR/expected

IT_PASS=0
IT_FAIL=0
IT_TMP=$(mktemp -d /tmp/zkit.XXXXXX)
IT_PIDS=()

pass() { IT_PASS=$((IT_PASS + 1)); echo "ok: $*"; }
fail() { IT_FAIL=$((IT_FAIL + 1)); echo "FAIL: $*"; }

finish() {
	echo "$IT_PASS passed, $IT_FAIL failed"
	[ "$IT_FAIL" -eq 0 ]
	exit $?
}

it_cleanup() {
	local pid
	for pid in "${IT_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${IT_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	[ -n "${IT_WATCHDOG:-}" ] && kill "$IT_WATCHDOG" 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "kept $IT_TMP"
	else
		rm -rf "$IT_TMP"
	fi
}
trap it_cleanup EXIT
trap 'echo "FAIL: interrupted"; [ -n "${IT_CHILD:-}" ] && kill -TERM "$IT_CHILD" 2>/dev/null; exit 1' INT TERM

# it_run CMD...: runs a client in the background and waits for it, so that the watchdog's TERM
# is handled at once (bash runs traps only after a foreground command ends).
it_run() {
	"$@" &
	IT_CHILD=$!
	wait "$IT_CHILD"
	local rc=$?
	IT_CHILD=
	return $rc
}

# The watchdog sends TERM to the script; the TERM trap exits and the EXIT trap cleans up.
# Its sleep does not hold the script's stdout open, so a pipe reader is not kept waiting.
(
	trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
	sleep "${IT_TIMEOUT:-150}" > /dev/null 2>&1 < /dev/null &
	sleeper=$!
	wait "$sleeper"
	echo "FAIL: $(basename "$0") timed out after ${IT_TIMEOUT:-150} s"
	kill -TERM $$
) &
IT_WATCHDOG=$!

# IT_OURS_KIND=apache runs Apache in place of ours: a self-test of the harness (every check must
# pass, since both sides are the reference).
IT_OURS_KIND=${IT_OURS_KIND:-ours}

have_ours() {
	if [ "$IT_OURS_KIND" = apache ] || [ -x "$OURS_BIN" ]; then
		return 0
	fi
	echo "bin/zkensemble missing: only Apache ZooKeeper was run (make bin/zkensemble)"
	return 1
}

# fourlw PORT WORD: the raw answer (no newline added), empty if the connection failed.
fourlw() {
	timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 || exit 1; printf %s "$1" >&3; cat <&3' \
		"$1" "$2" 2>/dev/null
}

# start_server KIND PORT DIR [extra...]: writes DIR/zoo.cfg, starts, waits for a serving srvr.
start_server() {
	local kind=$1 port=$2 dir=$3 jvm=() line key pid
	shift 3
	[ "$kind" = ours ] && kind=$IT_OURS_KIND
	mkdir -p "$dir/data"
	{
		echo "tickTime=${IT_TICK:-2000}"
		echo "dataDir=$dir/data"
		echo "clientPort=$port"
		echo "clientPortAddress=127.0.0.1"
		echo "maxClientCnxns=0"
		echo "admin.enableServer=false"
		echo "4lw.commands.whitelist=*"
	} > "$dir/zoo.cfg.base"
	: > "$dir/zoo.cfg.extra"
	for line in "$@"; do
		case $line in
		-D*)
			if [ "$kind" = apache ]; then
				jvm+=("$line")
			else
				echo "${line#-D}" >> "$dir/zoo.cfg.extra"
			fi ;;
		*) echo "$line" >> "$dir/zoo.cfg.extra" ;;
		esac
	done
	# An extra line replaces a base line with the same key (no duplicate keys in the file).
	while IFS= read -r line; do
		key=${line%%=*}
		grep -q "^$key=" "$dir/zoo.cfg.extra" || echo "$line"
	done < "$dir/zoo.cfg.base" > "$dir/zoo.cfg"
	cat "$dir/zoo.cfg.extra" >> "$dir/zoo.cfg"
	case $kind in
	apache)
		# 4lw.commands.whitelist comes from zoo.cfg (Apache turns unknown keys into properties).
		(cd "$dir" && exec java -cp "$ZK_CLASSPATH" \
			"${jvm[@]}" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg") \
			> "$dir/server.log" 2>&1 &
		pid=$! ;;
	ours)
		(cd "$dir" && exec env -u SERVER_JVMFLAGS -u JVMFLAGS "$OURS_BIN" "$dir/zoo.cfg") \
			> "$dir/server.log" 2>&1 &
		pid=$! ;;
	*) echo "start_server: unknown kind '$kind'" >&2; return 1 ;;
	esac
	IT_PIDS+=("$pid")
	echo "$pid" > "$dir/pid"
	local i
	for i in $(seq 1 200); do
		if fourlw "$port" srvr | grep -q '^Mode: '; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "start_server: $kind on port $port did not answer srvr; its log:" >&2
	tail -20 "$dir/server.log" >&2
	return 1
}

# quorum_cfg DIR MYID CLIENT_PORT SERVER_LINE...: a quorum member's zoo.cfg (short ticks for
# tests) and its myid.
quorum_cfg() {
	local dir=$1 id=$2 port=$3
	shift 3
	mkdir -p "$dir/data"
	echo "$id" > "$dir/data/myid"
	{
		echo "tickTime=500"
		echo "initLimit=10"
		echo "syncLimit=5"
		echo "dataDir=$dir/data"
		echo "clientPort=$port"
		echo "clientPortAddress=127.0.0.1"
		echo "admin.enableServer=false"
		echo "4lw.commands.whitelist=*"
		printf '%s\n' "$@"
	} > "$dir/zoo.cfg"
}

# ensemble_cfg DIR MYID CLIENT_PORT QBASE EBASE N [OBSERVER_ID...]: quorum_cfg for servers
# 1..N on 127.0.0.1, server i on quorum port QBASE+i and election port EBASE+i.
ensemble_cfg() {
	local dir=$1 id=$2 port=$3 qb=$4 eb=$5 n=$6 i o x lines=()
	shift 6
	for i in $(seq 1 "$n"); do
		o=
		for x in "$@"; do [ "$x" = "$i" ] && o=:observer; done
		lines+=("server.$i=127.0.0.1:$((qb + i)):$((eb + i))$o")
	done
	quorum_cfg "$dir" "$id" "$port" "${lines[@]}"
}

# stop_server DIR: stops the server; one that had already exited is a failure (a crash), with
# the end of its log.
stop_server() {
	local dir=$1 pid p keep=()
	pid=$(cat "$dir/pid" 2>/dev/null) || return 0
	# Forget it first: the EXIT trap must not signal a pid that may be reused later.
	for p in "${IT_PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	IT_PIDS=("${keep[@]}")
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null
		fail "the server in ${dir##*/} exited before it was stopped (status $?); end of its log:"
		tail -15 "$dir/server.log" | sed 's/^/    /'
		rm -f "$dir/pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$dir/pid"
	return 0
}

# The one place where legitimate differences between servers are normalised away (see the
# comments in normalise.py); every transcript goes through it before it is compared.
normalise() {
	"$KAZOO_PY" "$IT_DIR/normalise.py" "$@"
}

# check_expected NAME FILE: Apache's normalised transcript must equal the recorded one in
# expected/NAME.txt (that catches nondeterminism in a transcript, and documents it).
# UPDATE_EXPECTED=1 rewrites the recording.
check_expected() {
	local name=$1 file=$2 exp=$EXPECTED_DIR/$1.txt
	if [ "${UPDATE_EXPECTED:-0}" = 1 ] || [ ! -f "$exp" ]; then
		if [ "$IT_FAIL" -ne 0 ]; then
			fail "$name: not recording Apache's transcript after a failure"
			return
		fi
		mkdir -p "$EXPECTED_DIR"
		cp "$file" "$exp"
		pass "$name: recorded Apache transcript in ${exp#$TOP/}"
		return
	fi
	if diff -u "$exp" "$file" > "$IT_TMP/$name.expdiff"; then
		pass "$name: Apache transcript matches ${exp#$TOP/} ($(wc -l < "$file") lines)"
	else
		fail "$name: Apache transcript differs from ${exp#$TOP/}:"
		sed 's/^/    /' "$IT_TMP/$name.expdiff" | head -60
	fi
}

# compare_sections NAME A B: split both transcripts on lines starting with "## " and count one
# check per section; a section missing on one side is a failure.
compare_sections() {
	local name=$1 a=$2 b=$3 sec d
	mkdir -p "$IT_TMP/sec.$name/a" "$IT_TMP/sec.$name/b"
	awk -v d="$IT_TMP/sec.$name/a" '/^## /{n++; f=sprintf("%s/%03d", d, n); print > (f ".title")} {if (!n) {f=d "/000"}; print >> f}' "$a"
	awk -v d="$IT_TMP/sec.$name/b" '/^## /{n++; f=sprintf("%s/%03d", d, n); print > (f ".title")} {if (!n) {f=d "/000"}; print >> f}' "$b"
	for sec in $(cd "$IT_TMP/sec.$name/a" && ls | grep -v title; cd "$IT_TMP/sec.$name/b" && ls | grep -v title); do
		echo "$sec"
	done | sort -u > "$IT_TMP/sec.$name/list"
	while read -r sec; do
		local title
		title=$(cat "$IT_TMP/sec.$name/a/$sec.title" "$IT_TMP/sec.$name/b/$sec.title" 2>/dev/null | head -1)
		title=${title#\#\# }
		[ -n "$title" ] || title="preamble"
		touch "$IT_TMP/sec.$name/a/$sec" "$IT_TMP/sec.$name/b/$sec"
		if d=$(diff -u --label apache --label ours "$IT_TMP/sec.$name/a/$sec" "$IT_TMP/sec.$name/b/$sec"); then
			pass "$name: $title"
		else
			fail "$name: $title differs (- apache, + ours):"
			sed 's/^/    /' <<< "$d" | head -60
		fi
	done < "$IT_TMP/sec.$name/list"
}

# compare_lines NAME A B: line i of A against line i of B, one check per line (probe results).
compare_lines() {
	local name=$1 a=$2 b=$3
	"$KAZOO_PY" - "$a" "$b" > "$IT_TMP/$name.cmp" <<'PY'
import sys
a = open(sys.argv[1]).read().splitlines()
b = open(sys.argv[2]).read().splitlines()
for i in range(max(len(a), len(b))):
    la = a[i] if i < len(a) else None
    lb = b[i] if i < len(b) else None
    if la == lb:
        print('P ' + la)
    else:
        print('F apache: ' + (la if la is not None else '<missing>'))
        print('F   ours: ' + (lb if lb is not None else '<missing>'))
PY
	local nfail npass
	npass=$(grep -c '^P ' "$IT_TMP/$name.cmp")
	nfail=$(grep -c '^F apache' "$IT_TMP/$name.cmp")
	IT_PASS=$((IT_PASS + npass))
	IT_FAIL=$((IT_FAIL + nfail))
	sed -n 's/^P /ok: '"$name"': /p; s/^F /FAIL: '"$name"': /p' "$IT_TMP/$name.cmp"
}
