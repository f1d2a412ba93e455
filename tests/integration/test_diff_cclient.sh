#!/usr/bin/env bash
# timeout: 120
# The ZooKeeper C client (Debian libzookeeper-mt 3.8): cclient.c, built here, prints a
# transcript of create/create2/container/TTL, get/set/exists/delete with versions, children,
# ACLs and auth, sync, multi, watches (same and second session), removeWatches and session
# close. Apache ZooKeeper 3.8 is the reference; ours must print the same normalised
# transcript, section by section.
set -u
. "$(dirname "$0")/lib.sh"
PORT_BASE=${IT_PORT_BASE:-24030}

if ! cc -std=gnu11 -Wall -Wextra -Wno-unused-parameter -O1 -o "$IT_TMP/cclient" \
	"$IT_DIR/cclient.c" -lzookeeper_mt 2> "$IT_TMP/cc.log"; then
	fail "cclient.c does not build (libzookeeper-mt-dev installed?):"
	sed 's/^/    /' "$IT_TMP/cc.log"
	finish
fi
pass "cclient.c builds with -lzookeeper_mt"

run_kind() {
	local kind=$1 port=$2
	start_server "$kind" "$port" "$IT_TMP/$kind" || { fail "$kind server did not start"; return 1; }
	it_run timeout 60 "$IT_TMP/cclient" "127.0.0.1:$port" > "$IT_TMP/$kind.raw" 2> "$IT_TMP/$kind.err"
	local rc=$?
	stop_server "$IT_TMP/$kind"
	normalise < "$IT_TMP/$kind.raw" > "$IT_TMP/$kind.txt"
	if [ $rc -ne 0 ]; then
		fail "cclient against $kind exited with status $rc:"
		tail -5 "$IT_TMP/$kind.raw" "$IT_TMP/$kind.err" | sed 's/^/    /'
	fi
	return 0
}

run_kind apache "$PORT_BASE"
check_expected cclient "$IT_TMP/apache.txt"
if have_ours; then
	run_kind ours $((PORT_BASE + 1))
	compare_sections cclient "$IT_TMP/apache.txt" "$IT_TMP/ours.txt"
else
	fail "bin/zkensemble missing"
fi
finish
