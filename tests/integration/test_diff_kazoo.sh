#!/usr/bin/env bash
# timeout: 150
# kazoo (Debian python3-kazoo 2.8) transcript: every client operation, ACLs, watches (one-shot
# and persistent), multi, containers, sessions and expiry; then the TTL section on servers with
# extended types enabled; then the whole tree before and after a restart. Apache ZooKeeper 3.8 is the reference; ours must print the same
# normalised transcript, section by section.
set -u
. "$(dirname "$0")/lib.sh"
PORT_BASE=${IT_PORT_BASE:-24010}
export IT_STATE_DIR=$IT_TMP
export IT_TICK=1000	# session expiry in the transcript takes 2-3 s instead of 4-6 s
# Containers and TTL nodes are reaped every checkIntervalMs (default 60 s).
# super:secret is a superuser (digest of "super:secret").
SUPER=$("$KAZOO_PY" -c 'import hashlib,base64; print(base64.b64encode(hashlib.sha1(b"super:secret").digest()).decode())')
COMMON=(-Dznode.container.checkIntervalMs=1000
	"-Dzookeeper.DigestAuthenticationProvider.superDigest=super:$SUPER")
EXT=(-Dzookeeper.extendedTypesEnabled=true)

run_kind() {
	local kind=$1 port=$2 xport=$3
	start_server "$kind" "$port" "$IT_TMP/$kind" "${COMMON[@]}" || return 1
	start_server "$kind" "$xport" "$IT_TMP/$kind-ext" "${COMMON[@]}" "${EXT[@]}" || return 1
	it_run timeout 90 "$KAZOO_PY" "$IT_DIR/kazoo_client.py" "$port" > "$IT_TMP/$kind.raw" 2> "$IT_TMP/$kind.err"
	local rc=$?
	it_run timeout 30 "$KAZOO_PY" "$IT_DIR/kazoo_client.py" "$xport" --ttl >> "$IT_TMP/$kind.raw" 2>> "$IT_TMP/$kind.err"
	[ $? -eq 0 ] || rc=1
	stop_server "$IT_TMP/$kind-ext"
	# Recovery: the whole tree before and after a restart on the same data directory.
	it_run timeout 30 "$KAZOO_PY" "$IT_DIR/kazoo_client.py" "$port" --dump "before restart" >> "$IT_TMP/$kind.raw" 2>> "$IT_TMP/$kind.err"
	[ $? -eq 0 ] || rc=1
	stop_server "$IT_TMP/$kind"
	if start_server "$kind" "$port" "$IT_TMP/$kind" "${COMMON[@]}"; then
		it_run timeout 30 "$KAZOO_PY" "$IT_DIR/kazoo_client.py" "$port" --dump "after restart" >> "$IT_TMP/$kind.raw" 2>> "$IT_TMP/$kind.err"
		[ $? -eq 0 ] || rc=1
		stop_server "$IT_TMP/$kind"
	else
		fail "$kind did not restart on its data directory"
	fi
	normalise < "$IT_TMP/$kind.raw" > "$IT_TMP/$kind.txt"
	if [ $rc -ne 0 ]; then
		fail "kazoo client against $kind exited with an error:"
		tail -5 "$IT_TMP/$kind.raw" "$IT_TMP/$kind.err" | sed 's/^/    /'
	fi
	return 0
}

run_kind apache "$PORT_BASE" $((PORT_BASE + 1))
check_expected kazoo "$IT_TMP/apache.txt"
if have_ours; then
	run_kind ours $((PORT_BASE + 2)) $((PORT_BASE + 3))
	compare_sections kazoo "$IT_TMP/apache.txt" "$IT_TMP/ours.txt"
else
	fail "bin/zkensemble missing"
fi
finish
