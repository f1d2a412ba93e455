#!/usr/bin/env bash
# service-discover.sh [-1] MNT SERVICE
#
# Prints the live members of SERVICE (registered with service-register.sh on any machine) as
# "NAME HOST:PORT" lines under a "# SERVICE: N member(s)" header, and prints the list again
# every time it changes, until killed. With -1 it prints the list once and exits.
#
#   examples/service-discover.sh /zk web | while read -r name addr; do ...; done
#   examples/service-discover.sh -1 /zk web
#
# It is only ls and cat on /services/SERVICE; the changes come from inotifywait, which zkfs
# feeds with the changes other ZooKeeper clients make.
set -euo pipefail

usage() {
	echo "usage: service-discover.sh [-1] MNT SERVICE" >&2
	exit 2
}
once=0
if [ "${1:-}" = -1 ]; then
	once=1
	shift
fi
[ $# -eq 2 ] || usage
dir=$1/services/$2
service=$2
mkdir -p -- "$dir"

# One "NAME HOST:PORT" line per member. A member whose data is still empty has created its
# znode but not written its address yet: its write comes with an event of its own.
members() {
	local f addr
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		addr=$(cat -- "$f" 2>/dev/null) || continue # left between the glob and cat
		[ -n "$addr" ] && echo "${f##*/} $addr"
	done
	return 0
}

show() {
	local n=0
	[ -n "$1" ] && n=$(printf '%s\n' "$1" | wc -l)
	echo "# $service: $n member(s)"
	[ -n "$1" ] && printf '%s\n' "$1"
	return 0
}

if [ "$once" = 1 ]; then
	show "$(members)"
	exit 0
fi

# Watch first, list second: a change made while we list is queued in the watch, not lost.
# Names appear (create, moved_to), go (delete, moved_from) and get their data (close_write).
exec {events}< <(exec inotifywait -m -e create,delete,moved_to,moved_from,close_write,modify \
	--format '%e %f' -- "$dir" 2>&1)
watcher=$!
trap 'kill "$watcher" 2>/dev/null' EXIT
while read -r line <&"$events"; do
	[ "$line" = "Watches established." ] && break
done
[ "${line:-}" = "Watches established." ] || { echo "service-discover.sh: cannot watch $dir" >&2; exit 1; }

last="(nothing yet)"
while :; do
	now=$(members)
	# one change makes several events (create, then modify): print only what is new
	if [ "$now" != "$last" ]; then
		show "$now"
		last=$now
	fi
	read -r line <&"$events" || { echo "service-discover.sh: watch on $dir ended" >&2; exit 1; }
done
