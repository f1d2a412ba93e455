#!/usr/bin/env bash
# Runs every test and prints one summary line "N passed, N failed" (called by `make test`
# after the build).
#
#   unit tests     every executable build/tests/test_* (cmocka); counts come from cmocka's
#                  "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" lines
#   scripts        every executable tests/{integration,fs,sim}/test_*.sh; each counts as one
#                  test, unless it prints its own "N passed, N failed" line (the last one wins)
#
# Each runs under a timeout (600 s, or "# timeout: N" in a script's first 10 lines), with its
# output in build/test-logs/<dir>_<name>.log, shown (indented) when it fails.
#
#   TESTS=pattern   run only tests whose name (unit/test_config, integration/test_kill9, ...)
#                   contains one of the blank- or comma-separated patterns (globs allowed)
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

logdir=build/test-logs
mkdir -p "$logdir"
default_timeout=600
total_pass=0
total_fail=0
failed_names=()

selected() {
	local name=$1 pat
	[[ -z ${TESTS:-} ]] && return 0
	for pat in ${TESTS//,/ }; do
		# shellcheck disable=SC2053
		[[ $name == *$pat* ]] && return 0
	done
	return 1
}

declared_timeout() {
	local t
	t=$(head -n 10 "$1" | sed -n 's/^#[[:space:]]*timeout:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
	echo "${t:-$default_timeout}"
}

# Shows the tail of a failed test's log, indented so that none of its lines reads as a summary.
show_log() {
	local log=$1 lines
	lines=$(wc -l <"$log")
	if [[ ! -s $log ]]; then
		echo "    (no output)"
		return
	fi
	if ((lines > 80)); then
		echo "    ... (${lines} lines; the last 80 follow; full log: $log)"
	fi
	tail -n 80 "$log" | sed 's/^/    | /'
}

# record NAME PASSED FAILED STATUS SECONDS LOG [NOTE]
record() {
	local name=$1 p=$2 f=$3 rc=$4 secs=$5 log=$6 note=${7:-}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if ((f == 0)); then
		printf 'PASS  %-40s %4d ok  %5ss\n' "$name" "$p" "$secs"
	else
		failed_names+=("$name")
		printf 'FAIL  %-40s %4d ok, %d failed  %5ss  exit %s%s\n' "$name" "$p" "$f" "$secs" "$rc" \
			"${note:+ ($note)}"
		show_log "$log"
	fi
}

# run_one NAME LOG TIMEOUT CMD...: sets rc and secs.
run_one() {
	local log=$2 limit=$3 start
	shift 3
	start=$(date +%s.%N)
	timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
}

# ---- unit tests ------------------------------------------------------------------------
for bin in build/tests/test_*; do
	[[ -f $bin && -x $bin ]] || continue
	case $bin in *.d | *.o) continue ;; esac
	name=unit/$(basename "$bin")
	selected "$name" || continue
	log=$logdir/unit_$(basename "$bin").log
	run_one "$name" "$log" "$default_timeout" "$bin"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$log" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	note=
	if ((rc == 124 || rc == 137)); then
		note="timed out after ${default_timeout}s"
		f=$((f + 1))
	elif ((rc != 0 && f == 0)); then
		# Crashed, or exited non-zero without cmocka's failure line.
		note="no cmocka failure line"
		f=1
	elif ((rc == 0 && p == 0 && f == 0)); then
		note="no cmocka summary"
		f=1
	fi
	record "$name" "$p" "$f" "$rc" "$secs" "$log" "$note"
done

# ---- scripts ---------------------------------------------------------------------------
for dir in integration fs sim; do
	for script in tests/$dir/test_*.sh; do
		[[ -f $script ]] || continue
		name=$dir/$(basename "$script" .sh)
		selected "$name" || continue
		if [[ ! -x $script ]]; then
			# a test that silently never runs is worse than a failing one
			echo "FAIL  $name (not executable: chmod +x it)"
			total_fail=$((total_fail + 1))
			continue
		fi
		log=$logdir/${dir}_$(basename "$script" .sh).log
		limit=$(declared_timeout "$script")
		run_one "$name" "$log" "$limit" "$script"
		counts=$(grep -E '^[[:space:]]*[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
		note=
		if [[ -n $counts ]]; then
			read -r p _ f _ <<<"${counts//,/}"
			if ((rc != 0 && f == 0)); then
				f=1
			fi
		elif ((rc == 0)); then
			p=1 f=0
		else
			p=0 f=1
		fi
		if ((rc == 124 || rc == 137)); then
			note="timed out after ${limit}s"
		fi
		record "$name" "$p" "$f" "$rc" "$secs" "$log" "$note"
	done
done

if ((${#failed_names[@]})); then
	echo "failed: ${failed_names[*]}"
fi
echo "$total_pass passed, $total_fail failed"
((total_fail == 0))
