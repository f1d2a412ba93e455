#!/usr/bin/env bash
# timeout: 120
# Hostile and malformed input on the client port (probes.py hostile): garbage before the
# ConnectRequest, absurd and negative frame lengths, frames cut short, frames shorter than a
# RequestHeader, unknown opcodes, malformed bodies, invalid paths, odd xids, pipelining, auth
# failures and ConnectRequest variants; then maxClientCnxns=2 and session timeout bounds on a
# second server. After each probe a well-behaved session on the same
# server must still work and a new connection must get "imok". Apache ZooKeeper 3.8 is the
# reference; ours must give the same observations, line by line.
# Not sent to either server: a top-level check (opcode 13), which Apache 3.8.0 logs as a txn
# without replying and then cannot restart from (client-protocol.md §5).
set -u
. "$(dirname "$0")/lib.sh"
PORT_BASE=${IT_PORT_BASE:-24060}

run_kind() {
	local kind=$1 port=$2 lport=$3 rc=0
	start_server "$kind" "$port" "$IT_TMP/$kind" || { fail "$kind server did not start"; return 1; }
	it_run timeout 90 "$KAZOO_PY" "$IT_DIR/probes.py" hostile "$port" > "$IT_TMP/$kind.txt" 2> "$IT_TMP/$kind.err" || rc=1
	# Limits: maxClientCnxns and the session timeout bounds.
	if start_server "$kind" "$lport" "$IT_TMP/$kind-l" maxClientCnxns=2 minSessionTimeout=5000 \
		maxSessionTimeout=8000; then
		it_run timeout 60 "$KAZOO_PY" "$IT_DIR/probes.py" limits "$lport" >> "$IT_TMP/$kind.txt" 2>> "$IT_TMP/$kind.err" || rc=1
		stop_server "$IT_TMP/$kind-l"
	else
		fail "$kind server with maxClientCnxns=2 did not start"
	fi
	if fourlw "$port" srvr | grep -q '^Mode: standalone'; then
		pass "$kind still answers srvr after the probes"
	else
		fail "$kind does not answer srvr after the probes"
	fi
	# stop_server fails (with the end of the log) if the server died during the probes.
	stop_server "$IT_TMP/$kind"
	if [ $rc -ne 0 ]; then
		fail "probes against $kind exited with an error:"
		tail -5 "$IT_TMP/$kind.err" | sed 's/^/    /'
	fi
	return 0
}

run_kind apache "$PORT_BASE" $((PORT_BASE + 2))
check_expected hostile "$IT_TMP/apache.txt"
if have_ours; then
	run_kind ours $((PORT_BASE + 1)) $((PORT_BASE + 3))
	compare_lines hostile "$IT_TMP/apache.txt" "$IT_TMP/ours.txt"
else
	fail "bin/zkensemble missing"
fi
finish
