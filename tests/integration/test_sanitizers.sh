#!/usr/bin/env bash
# timeout: 600
# The integration suites that stress the connection and request paths, run again against a
# zkensemble built with AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer: any
# report (a bad access, undefined behaviour, or memory still held at a clean exit) fails.
# The servers write reports to files under this test's directory (ASAN_OPTIONS log_path).
. "$(dirname "$0")/lib.sh"
bin=$IT_TMP/zkensemble-asan
# One compiler run over the sources: the Makefile's build directory stays untouched.
if ! cc -std=gnu11 -D_GNU_SOURCE -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-I"$TOP/common" -I"$TOP/ensemble" "$TOP"/common/*.c "$TOP"/ensemble/*.c -o "$bin" \
	-luv -lcrypto -lz -lpthread 2> "$IT_TMP/build.log"; then
	fail "sanitized build: $(tail -3 "$IT_TMP/build.log")"
	finish
fi
pass "zkensemble built with -fsanitize=address,undefined"
mkdir -p "$IT_TMP/reports"
export ZK_OURS_BIN=$bin
export ASAN_OPTIONS="detect_leaks=1:log_path=$IT_TMP/reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$IT_TMP/reports/ubsan"
for t in test_hostile test_partial_frame test_pipeline test_diff_kazoo test_4lw; do
	if timeout 300 bash "$IT_DIR/$t.sh" > "$IT_TMP/$t.log" 2>&1; then
		pass "$t passes against the sanitized server"
	else
		fail "$t against the sanitized server: $(grep -E 'FAIL|failed' "$IT_TMP/$t.log" | head -3)"
	fi
done
reports=$(ls "$IT_TMP/reports" 2>/dev/null)
if [ -z "$reports" ]; then
	pass "no sanitizer reports"
else
	for r in $reports; do
		fail "sanitizer report $r: $(grep -m1 -E 'ERROR|runtime error' "$IT_TMP/reports/$r")"
		sed -n '1,30p' "$IT_TMP/reports/$r" >&2
	done
fi
finish
