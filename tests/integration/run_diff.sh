#!/usr/bin/env bash
# Runs the differential compatibility suite (every test_diff_*.sh, test_4lw.sh,
# test_hostile.sh) one after the other and prints the summed "N passed, N failed".
# Each script also runs alone. IT_OURS_KIND=apache runs Apache on both sides (a self-test).
set -u
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0 rc=0
for t in test_diff_kazoo.sh test_diff_zkcli.sh test_diff_cclient.sh test_diff_go.sh \
	test_4lw.sh test_hostile.sh; do
	echo "=== $t"
	out=$("$here/$t" 2>&1) || rc=1
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
	if [ -z "$line" ]; then
		echo "FAIL: $t printed no closing count"
		fail=$((fail + 1))
		rc=1
		continue
	fi
	pass=$((pass + ${line%% passed*}))
	f=${line#*passed, }
	fail=$((fail + ${f%% failed*}))
done
echo "$pass passed, $fail failed"
[ $rc -eq 0 ] && [ $fail -eq 0 ]
