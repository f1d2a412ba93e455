#!/usr/bin/env bash
# Builds and runs the libFuzzer targets with ASan+UBSan (clang). FUZZ_SECONDS per target
# (default 60). Seeds live in fuzz/corpus/<target>/ and grow as the fuzzer finds paths.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
out=build/fuzz
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE -Icommon -Iensemble"
clang $flags -o "$out/fuzz_request" fuzz/fuzz_request.c common/zkproto.c common/buf.c
clang $flags -o "$out/fuzz_txn" fuzz/fuzz_txn.c ensemble/txn.c common/zkproto.c common/buf.c
clang $flags -o "$out/fuzz_election" fuzz/fuzz_election.c ensemble/election.c common/buf.c
clang $flags -o "$out/fuzz_qpkt" fuzz/fuzz_qpkt.c ensemble/qpkt.c common/buf.c
# The learner parses snapshot streams into trees: it takes the whole of ensemble/ but the
# server's I/O.
clang $flags -o "$out/fuzz_learner" fuzz/fuzz_learner.c \
	$(ls ensemble/*.c | grep -v -e main.c -e server.c -e server_write.c -e qcnx.c -e fourlw.c) common/*.c \
	-luv -lcrypto -lz -lpthread
# A seed for the learner: a whole sync as a leader sends it (LEADERINFO, DIFF, a proposal
# and its commit, NEWLEADER, UPTODATE, PING), so that the fuzzer starts past discovery.
mkdir -p fuzz/corpus/fuzz_learner
printf '%b' \
	'\x00\x00\x00\x11\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x01\x00\x00\xff\xff\xff\xff' \
	'\x00\x00\x00\x0d\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff' \
	'\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x03abc\xff\xff\xff\xff' \
	'\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff' \
	'\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff' \
	'\x00\x00\x00\x0c\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff' \
	'\x00\x00\x00\x05\x00\x00\x00\x01\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff' \
	> fuzz/corpus/fuzz_learner/seed-sync
clang $flags -o "$out/fuzz_leader" fuzz/fuzz_leader.c ensemble/leader.c ensemble/qpkt.c common/buf.c
for t in fuzz_request fuzz_txn fuzz_election fuzz_qpkt fuzz_learner fuzz_leader; do
	mkdir -p "fuzz/corpus/$t"
	echo "== $t for ${secs}s"
	rc=0
	"$out/$t" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=1024 -print_final_stats=1 \
		"fuzz/corpus/$t" > "$out/$t.log" 2>&1 || rc=$?
	grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|DONE' "$out/$t.log" || true
	if [ "$rc" -ne 0 ]; then
		tail -40 "$out/$t.log"
		echo "$t: fuzzer failed (exit $rc); the crashing input is in the current directory"
		exit 1
	fi
done
