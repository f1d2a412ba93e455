#!/usr/bin/env bash
# timeout: 150
# zkCli.sh (Apache ZooKeeper 3.8's Java client, Debian) driven through stdin with
# zkcli_commands.txt: create -s -e -c -t, get -s -w, ls -s -w -R, set -v, stat, delete -v,
# deleteall, getAcl, setAcl, addauth, sync, whoami, getAllChildrenNumber, getEphemerals,
# addWatch, removewatches. Apache ZooKeeper 3.8 is the reference; ours must print the same
# normalised transcript, section by section.
set -u
. "$(dirname "$0")/lib.sh"
PORT_BASE=${IT_PORT_BASE:-24020}

run_kind() {
	local kind=$1 port=$2
	start_server "$kind" "$port" "$IT_TMP/$kind" -Dzookeeper.extendedTypesEnabled=true || {
		fail "$kind server did not start"; return 1; }
	it_run timeout 120 "$KAZOO_PY" "$IT_DIR/zkcli_driver.py" "$port" "$IT_DIR/zkcli_commands.txt" \
		> "$IT_TMP/$kind.raw" 2> "$IT_TMP/$kind.err"
	local rc=$?
	stop_server "$IT_TMP/$kind"
	normalise --zkcli < "$IT_TMP/$kind.raw" > "$IT_TMP/$kind.txt"
	if [ $rc -ne 0 ]; then
		fail "zkCli driver against $kind exited with an error:"
		tail -5 "$IT_TMP/$kind.err" | sed 's/^/    /'
	fi
	return 0
}

run_kind apache "$PORT_BASE"
check_expected zkcli "$IT_TMP/apache.txt"
if have_ours; then
	run_kind ours $((PORT_BASE + 1))
	compare_sections zkcli "$IT_TMP/apache.txt" "$IT_TMP/ours.txt"
else
	fail "bin/zkensemble missing"
fi
finish
