#!/usr/bin/env bash
# timeout: 200
#
# Operations: scripts/zkensemble.sh start/status/stop/restart as an operator uses
# zkServer.sh (pid file, refusing a second start, status from srvr, stop waiting for the
# process), `zkensemble --help/--version`, and `zkensemble purge` on a real dataDir: the
# newest N snapshots and the logs they need stay, older ones go, and a restart afterwards
# still has every znode.
# Ports: SCRIPTS_PORT (default 21351).
. "$(dirname "$0")/lib.sh"
have_ours || exit 1

port=${SCRIPTS_PORT:-21351}
S=$TOP/scripts/zkensemble.sh
D=$IT_TMP/srv
mkdir -p "$D/data"
cat > "$D/zoo.cfg" <<EOF
tickTime=2000
dataDir=$D/data
clientPort=$port
clientPortAddress=127.0.0.1
snapCount=200
4lw.commands.whitelist=*
EOF

check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
not_ok() { ! "$@" > /dev/null 2>&1; }
children() { # PATH: the number of children, asked with kazoo
	"$KAZOO_PY" - "127.0.0.1:$port" "$1" <<'PY'
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=15)
print(len(zk.get_children(sys.argv[2])))
zk.stop()
PY
}
cleanup_scripts() { "$S" stop "$D/zoo.cfg" > /dev/null 2>&1; }
trap 'cleanup_scripts; it_cleanup' EXIT

out=$("$OURS_BIN" --help)
check "--help prints the usage and exits 0" grep -q "zkensemble purge" <<< "$out"
check "--version" bash -c "'$OURS_BIN' --version | grep -q '^zkensemble '"
check "no argument: usage on stderr, exit 2" bash -c "'$OURS_BIN' 2>&1 | grep -q usage; [ \${PIPESTATUS[0]} -eq 2 ]"

check "status before start fails" not_ok "$S" status "$D/zoo.cfg"
out=$("$S" start "$D/zoo.cfg" 2>&1)
check "start: STARTED" grep -q STARTED <<< "$out"
check "the pid file names a live zkensemble" \
	bash -c "kill -0 \$(cat '$D/data/zookeeper_server.pid') && grep -q zkensemble /proc/\$(cat '$D/data/zookeeper_server.pid')/cmdline"
out=$("$S" status "$D/zoo.cfg" 2>&1)
check "status: Mode: standalone" grep -q "Mode: standalone" <<< "$out"
out=$("$S" start "$D/zoo.cfg" 2>&1)
check "a second start is refused" grep -q "already running" <<< "$out"

# Enough txns for several snapshots (snapCount=200) and logs. In six rounds with a pause
# between them: a snapshot that comes due while the last one is being written is skipped,
# so one fast burst can leave only a few; each round starts with none in progress.
check "the C client makes 3000 znodes" \
	bash -c "cc -O2 -o '$IT_TMP/zkload' '$TOP/bench/zkload.c' -lzookeeper_mt -lpthread &&
		for r in 1 2 3 4 5 6; do '$IT_TMP/zkload' fill 127.0.0.1:$port 500 /p\$r > /dev/null || exit 1; sleep 0.3; done"
pid=$(cat "$D/data/zookeeper_server.pid")
out=$("$S" stop "$D/zoo.cfg" 2>&1)
check "stop: STOPPED" grep -q STOPPED <<< "$out"
check "the process has exited when stop returns" not_ok kill -0 "$pid"
check "the pid file is gone" not_ok test -e "$D/data/zookeeper_server.pid"
check "status after stop fails" not_ok "$S" status "$D/zoo.cfg"

v=$D/data/version-2
nsnap=$(ls "$v" | grep -c '^snapshot\.')
nlog=$(ls "$v" | grep -c '^log\.')
check "several snapshots ($nsnap) and logs ($nlog) were written" test "$nsnap" -ge 5 -a "$nlog" -ge 5
check "purge refuses a count below 3" not_ok "$OURS_BIN" purge "$D/data" -n 2
check "purge -n 3" "$OURS_BIN" purge "$D/data" -n 3
expect=$(ls "$v" | grep '^snapshot\.' | sed 's/snapshot\.//' | while read -r z; do printf '%d\n' "0x$z"; done | sort -n | tail -3 | head -1)
check "three snapshots are left" test "$(ls "$v" | grep -c '^snapshot\.')" -eq 3
# the oldest kept snapshot needs the log holding its zxid: no log left may start above it
# unless an older one covering it was kept too
first_log=$(ls "$v" | grep '^log\.' | sed 's/log\.//' | while read -r z; do printf '%d\n' "0x$z"; done | sort -n | head -1)
check "the logs the oldest kept snapshot needs are kept" test "$first_log" -le "$expect"
check "older logs are gone" test "$(ls "$v" | grep -c '^log\.')" -lt "$nlog"

out=$("$S" restart "$D/zoo.cfg" 2>&1)
check "restart: STARTED" grep -q STARTED <<< "$out"
expect_n=0
for r in 1 2 3 4 5 6; do
	expect_n=$((expect_n + $(children /p$r)))
done
check "after purge and restart every znode is there ($expect_n of 3000)" test "$expect_n" = 3000
check "stop again" "$S" stop "$D/zoo.cfg"
finish
