# Shared helpers for the zkfs tests (sourced, never run).
#
#   fs_start_backend PORT         start a standalone server on 127.0.0.1:PORT (ZKFS_BACKEND:
#                                 apache | ours; default ours when bin/zkensemble exists and
#                                 answers, else apache); sets FS_SERVER=127.0.0.1:PORT
#   fs_stop_backend               stop it (kill -9 when KILL=1)
#   fs_mount MNT [zkfs args...]   mount FS_SERVER on MNT (created under $FS_TMP), wait for it
#   fs_umount MNT                 fusermount3 -u; returns its status
#   zkop OP PATH [DATA]           another client (kazoo): set, create, ecreate, delete, get,
#                                 version, exists, children
#   check NAME CMD...             one check: passes when CMD exits 0 (not CMD: when it fails)
#   expect_eq NAME WANT GOT       one check: passes when the strings are equal
#   finish                        prints "N passed, N failed" and exits non-zero on failures
#
# Ports come from FS_PORT_BASE (default 23100) plus a per-script offset. Everything a script
# starts (servers, mounts, background shells) is cleaned up by an EXIT trap; FS_TIMEOUT
# (seconds, default 240) is a watchdog for the whole script.

FS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$FS_DIR/../.." && pwd)
ZKFS=$TOP/bin/zkfs
OURS_BIN=$TOP/bin/zkensemble
KAZOO_PY=/usr/bin/python3
ZK_CLASSPATH=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar

FS_PASS=0
FS_FAIL=0
FS_TMP=$(mktemp -d /tmp/zkfs-test.XXXXXX)
FS_PIDS=()
FS_MOUNTS=()
FS_SERVER_PID=

pass() { FS_PASS=$((FS_PASS + 1)); echo "ok: $*"; }
fail() { FS_FAIL=$((FS_FAIL + 1)); echo "FAIL: $*"; }

check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# not CMD...: succeeds when CMD fails.
not() {
	! "$@"
}

# gone PID: succeeds when the process has ended.
gone() {
	! kill -0 "$1" 2>/dev/null
}

expect_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1: want '$2', got '$3'"
	fi
}

finish() {
	echo "$FS_PASS passed, $FS_FAIL failed"
	[ "$FS_FAIL" -eq 0 ]
	exit $?
}

fs_cleanup() {
	local m pid
	for m in "${FS_MOUNTS[@]}"; do
		if grep -q " $m fuse" /proc/mounts; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null
		fi
	done
	for pid in "${FS_PIDS[@]}" $FS_SERVER_PID; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${FS_PIDS[@]}" $FS_SERVER_PID; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	done
	# zkfs daemons of this script that are still alive (their mounts are gone by now)
	pkill_own_zkfs
	# the watchdog's sleep would keep our stdout open (and a pipe reading it) to its end
	if [ -n "${FS_WATCHDOG:-}" ]; then
		pkill -P "$FS_WATCHDOG" sleep 2>/dev/null
		kill "$FS_WATCHDOG" 2>/dev/null
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "kept $FS_TMP"
	else
		rm -rf "$FS_TMP"
	fi
}

# Kills only the zkfs processes whose mountpoint is under this script's temp dir.
pkill_own_zkfs() {
	local pid
	for pid in $(pgrep -x zkfs 2>/dev/null); do
		if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "$FS_TMP"; then
			kill -TERM "$pid" 2>/dev/null
		fi
	done
}

trap fs_cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM
(sleep "${FS_TIMEOUT:-240}"; echo "FAIL: $(basename "$0") timed out after ${FS_TIMEOUT:-240} s" >&2
 kill -TERM $$) 2>/dev/null &
FS_WATCHDOG=$!

fourlw() {
	timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 || exit 1; printf %s "$1" >&3; cat <&3' \
		"$1" "$2" 2>/dev/null
}

fs_wait_serving() {
	local port=$1 i
	for i in $(seq 1 100); do
		if fourlw "$port" srvr | grep -q '^Mode'; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# Starts the chosen backend; ZKFS_BACKEND=ours without a working binary is a failure.
fs_start_backend() {
	local port=$1 kind=${ZKFS_BACKEND:-} dir
	dir=$FS_TMP/server-$port
	mkdir -p "$dir/data"
	cat > "$dir/zoo.cfg" <<CFG
tickTime=${FS_TICK:-2000}
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
CFG
	if [ -z "$kind" ]; then
		kind=apache
		if [ -x "$OURS_BIN" ]; then
			kind=ours
		fi
	fi
	if [ "$kind" = ours ]; then
		"$OURS_BIN" "$dir/zoo.cfg" > "$dir/log" 2>&1 &
		FS_SERVER_PID=$!
		if ! fs_wait_serving "$port"; then
			kill -KILL "$FS_SERVER_PID" 2>/dev/null
			FS_SERVER_PID=
			if [ -n "${ZKFS_BACKEND:-}" ]; then
				echo "bin/zkensemble did not start on port $port"
				return 1
			fi
			echo "bin/zkensemble does not answer: falling back to Apache ZooKeeper"
			kind=apache
		fi
	fi
	if [ "$kind" = apache ]; then
		java -cp "$ZK_CLASSPATH" -Dzookeeper.4lw.commands.whitelist='*' \
			org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
			> "$dir/log" 2>&1 &
		FS_SERVER_PID=$!
		fs_wait_serving "$port" || { echo "Apache ZooKeeper did not start"; return 1; }
	fi
	FS_BACKEND=$kind
	FS_SERVER_DIR=$dir
	FS_PORT=$port
	FS_SERVER=127.0.0.1:$port
	echo "backend: $kind on $FS_SERVER"
}

fs_stop_backend() {
	[ -n "$FS_SERVER_PID" ] || return 0
	kill "-${1:-TERM}" "$FS_SERVER_PID" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$FS_SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$FS_SERVER_PID" 2>/dev/null
	wait "$FS_SERVER_PID" 2>/dev/null
	FS_SERVER_PID=
}

# Restarts the backend on the same port and data directory.
fs_restart_backend() {
	fs_stop_backend
	if [ "$FS_BACKEND" = ours ]; then
		"$OURS_BIN" "$FS_SERVER_DIR/zoo.cfg" >> "$FS_SERVER_DIR/log" 2>&1 &
	else
		java -cp "$ZK_CLASSPATH" -Dzookeeper.4lw.commands.whitelist='*' \
			org.apache.zookeeper.server.quorum.QuorumPeerMain "$FS_SERVER_DIR/zoo.cfg" \
			>> "$FS_SERVER_DIR/log" 2>&1 &
	fi
	FS_SERVER_PID=$!
	fs_wait_serving "$FS_PORT"
}

# fs_mount MNT [args...]: MNT is a path; extra args go to zkfs (e.g. -o timeout=3).
fs_mount() {
	local mnt=$1
	shift
	mkdir -p "$mnt"
	FS_MOUNTS+=("$mnt")
	timeout 30 "$ZKFS" "$FS_SERVER" "$mnt" "$@" || return 1
	grep -q " $mnt fuse" /proc/mounts
}

fs_umount() {
	fusermount3 -u "$1"
}

# The pid of the zkfs serving MNT.
fs_zkfs_pid() {
	local pid
	for pid in $(pgrep -x zkfs); do
		if tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q " $1\( \|$\)"; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

zkop() {
	timeout 30 "$KAZOO_PY" "$FS_DIR/zkop.py" "$FS_SERVER" "$@"
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s.
wait_for() {
	local t=$1 i
	shift
	for i in $(seq 1 $((t * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
