#!/usr/bin/env bash
# counter.sh FILE [N]: atomically add N (default 1) to the number stored in FILE, a file on a
# zkfs mount, and print the new value. Safe against any number of concurrent writers on any
# number of mounts: the write goes through /zk/.version/<V>/<path>, a compare-and-set that
# succeeds only if the znode's dataVersion is still V; on a conflict (ESTALE) it retries.
#
#   examples/counter.sh /zk/jobs/next-id
set -u

file=${1:?usage: counter.sh FILE [N]}
step=${2:-1}
mnt=$(stat -c %m -- "$file") || exit 1
real=$(realpath -- "$file") || exit 1
rel=${real#"$mnt"}

for _ in $(seq 1 1000); do
	# the version first, then the data: if the data is newer than the version, the
	# compare-and-set below fails and we retry
	v=$(getfattr --absolute-names --only-values -n user.zk.dataVersion -- "$file") || exit 1
	cur=$(cat -- "$file") || exit 1
	next=$(( ${cur:-0} + step ))
	if printf '%s' "$next" 2>/dev/null > "$mnt/.version/$v$rel"; then
		echo "$next"
		exit 0
	fi
done
echo "counter.sh: $file: too much contention" >&2
exit 1
