#!/usr/bin/env bash
# timeout: 120
# Four-letter words: every word in a known server state (one session with an ephemeral and
# watches), stmk/gtmk, telnet close, and a server whose whitelist is "ruok, stat ,conf"
# (refusal messages, srvr always allowed). Apache ZooKeeper 3.8 is the reference; ours must
# give the same normalised answers, word by word.
set -u
. "$(dirname "$0")/lib.sh"
PORT_BASE=${IT_PORT_BASE:-24050}

run_kind() {
	local kind=$1 port=$2 rport=$3 rc=0
	start_server "$kind" "$port" "$IT_TMP/$kind" || { fail "$kind server did not start"; return 1; }
	start_server "$kind" "$rport" "$IT_TMP/$kind-r" '4lw.commands.whitelist=ruok, stat ,conf' ||
		{ fail "$kind server (restricted whitelist) did not start"; return 1; }
	it_run timeout 60 "$KAZOO_PY" "$IT_DIR/probes.py" 4lw "$port" > "$IT_TMP/$kind.raw" 2> "$IT_TMP/$kind.err" || rc=1
	it_run timeout 60 "$KAZOO_PY" "$IT_DIR/probes.py" 4lw-restricted "$rport" > "$IT_TMP/$kind-r.raw" 2>> "$IT_TMP/$kind.err" || rc=1
	stop_server "$IT_TMP/$kind"
	stop_server "$IT_TMP/$kind-r"
	normalise --4lw < "$IT_TMP/$kind.raw" > "$IT_TMP/$kind.txt"
	normalise --4lw < "$IT_TMP/$kind-r.raw" > "$IT_TMP/$kind-r.txt"
	if [ $rc -ne 0 ]; then
		fail "probes against $kind exited with an error:"
		tail -5 "$IT_TMP/$kind.err" | sed 's/^/    /'
	fi
	return 0
}

run_kind apache "$PORT_BASE" $((PORT_BASE + 1))
check_expected 4lw "$IT_TMP/apache.txt"
check_expected 4lw-restricted "$IT_TMP/apache-r.txt"
if have_ours; then
	run_kind ours $((PORT_BASE + 2)) $((PORT_BASE + 3))
	compare_sections 4lw "$IT_TMP/apache.txt" "$IT_TMP/ours.txt"
	compare_sections 4lw-restricted "$IT_TMP/apache-r.txt" "$IT_TMP/ours-r.txt"
else
	fail "bin/zkensemble missing"
fi
finish
