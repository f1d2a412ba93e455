#!/usr/bin/env bash
# timeout: 150
# go-zookeeper (Debian golang-github-samuel-go-zookeeper-dev, no readOnly byte in its
# ConnectRequest): goclient.go, built here with Debian's go in GOPATH mode, prints a transcript
# of Create/Get/Set/Exists(W)/Children(W)/Delete/ACLs/AddAuth/Sync/Multi and the fired watch
# events. Apache ZooKeeper 3.8 is the reference; ours must print the same normalised
# transcript, section by section.
set -u
. "$(dirname "$0")/lib.sh"
PORT_BASE=${IT_PORT_BASE:-24040}

mkdir -p "$IT_TMP/gocache" "$IT_TMP/gobuild"
if ! (cd "$IT_TMP/gobuild" && env GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= \
	GOCACHE="$IT_TMP/gocache" timeout 120 go build -o "$IT_TMP/goclient" "$IT_DIR/goclient.go") \
	> "$IT_TMP/go.log" 2>&1; then
	fail "goclient.go does not build (golang-go and golang-github-samuel-go-zookeeper-dev installed?):"
	sed 's/^/    /' "$IT_TMP/go.log"
	finish
fi
pass "goclient.go builds against go-zookeeper"

run_kind() {
	local kind=$1 port=$2
	start_server "$kind" "$port" "$IT_TMP/$kind" || { fail "$kind server did not start"; return 1; }
	it_run timeout 60 "$IT_TMP/goclient" "127.0.0.1:$port" > "$IT_TMP/$kind.raw" 2> "$IT_TMP/$kind.err"
	local rc=$?
	stop_server "$IT_TMP/$kind"
	normalise < "$IT_TMP/$kind.raw" > "$IT_TMP/$kind.txt"
	if [ $rc -ne 0 ]; then
		fail "goclient against $kind exited with status $rc:"
		tail -5 "$IT_TMP/$kind.raw" "$IT_TMP/$kind.err" | sed 's/^/    /'
	fi
	return 0
}

run_kind apache "$PORT_BASE"
check_expected go "$IT_TMP/apache.txt"
if have_ours; then
	run_kind ours $((PORT_BASE + 1))
	compare_sections go "$IT_TMP/apache.txt" "$IT_TMP/ours.txt"
else
	fail "bin/zkensemble missing"
fi
finish
