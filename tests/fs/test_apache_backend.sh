#!/usr/bin/env bash
# timeout: 400
# zkfs is a client of any ZooKeeper server: the same filesystem suites, with Apache
# ZooKeeper 3.8 (Debian's package) as the backend instead of zkensemble.
set -u
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0
for t in basic xattr views inotify inotify_oneshot newfile failures; do
	out=$(ZKFS_BACKEND=apache timeout 300 "$here/test_$t.sh" 2>&1)
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<< "$out" | tail -1)
	p=$(awk '{print $1}' <<< "$line"); f=$(awk '{print $3}' <<< "$line")
	if [ -z "$line" ] || [ "$rc" -ne 0 ]; then
		echo "FAIL: test_$t against Apache (exit $rc):"
		grep -E '^(FAIL|not ok)' <<< "$out" | sed 's/^/    /' | head -20
		pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
		[ "${f:-0}" = 0 ] && fail=$((fail + 1))
	else
		echo "ok: test_$t against Apache: $line"
		pass=$((pass + p)); fail=$((fail + f))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
