#!/usr/bin/env bash
# timeout: 180
# A client that pipelines thousands of requests on one connection (Apache's C client, up to
# 2000 outstanding) is served to the end: the server pauses reading at its per-connection
# limit and resumes with the requests it had already buffered. Then the tree survives a
# restart with every create.
. "$(dirname "$0")/lib.sh"
port=21321
have_ours || finish
cc -O2 -o "$IT_TMP/zkload" "$TOP/bench/zkload.c" -lzookeeper_mt -lpthread || { fail "build zkload"; finish; }
start_server ours "$port" "$IT_TMP/srv" || { fail "start"; finish; }
if timeout 120 "$IT_TMP/zkload" fill "127.0.0.1:$port" 30000 /fill 2> "$IT_TMP/fill.err"; then
	pass "30000 pipelined creates on one connection complete"
else
	fail "pipelined creates stalled or failed: $(tail -3 "$IT_TMP/fill.err")"
fi
n=$(timeout 30 "$IT_TMP/zkload" count "127.0.0.1:$port" /fill 2>/dev/null)
[ "$n" = 30000 ] && pass "all 30000 znodes are there" || fail "found '$n' znodes"
timeout 60 "$IT_TMP/zkload" write "127.0.0.1:$port" 16 2 /w > "$IT_TMP/write.out" 2>&1 &&
	pass "16 concurrent writers: $(cat "$IT_TMP/write.out")" || fail "concurrent writers: $(cat "$IT_TMP/write.out")"
stop_server "$IT_TMP/srv"
start_server ours "$port" "$IT_TMP/srv" || { fail "restart"; finish; }
n=$(timeout 30 "$IT_TMP/zkload" count "127.0.0.1:$port" /fill 2>/dev/null)
[ "$n" = 30000 ] && pass "all 30000 znodes after a restart" || fail "after restart: '$n' znodes"
finish
