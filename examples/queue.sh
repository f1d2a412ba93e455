#!/usr/bin/env bash
# queue.sh MNT QUEUE put DATA...     add one item (DATA, joined by spaces) at the tail
# queue.sh MNT QUEUE take            wait for an item, remove the oldest, print its data
#
# A work queue for any number of producers and consumers on any number of machines: every
# item is taken by exactly one consumer, oldest first.
#
#   examples/queue.sh /zk jobs put resize /img/42.png
#   while job=$(examples/queue.sh /zk jobs take); do run $job; done
#
# Items are sequential files in /queues/QUEUE (item-0000000000, item-0000000001, ...): ZooKeeper
# numbers them in the order they arrive. To take one, a consumer reads the lowest and deletes it;
# ZooKeeper lets exactly one delete succeed, so a failed rm means another consumer got it
# first, and we try the next one.
set -euo pipefail

usage() {
	echo "usage: queue.sh MNT QUEUE put DATA... | queue.sh MNT QUEUE take" >&2
	exit 2
}
[ $# -ge 3 ] || usage
mnt=$1 queue=$2 op=$3
shift 3
dir=$mnt/queues/$queue
mkdir -p -- "$dir"
shopt -s nullglob # an empty queue gives an empty list, not a literal '*'

if [ "$op" = put ]; then
	[ $# -ge 1 ] || usage
	# One write, so the item's data arrives in one piece. The data is never empty (printf
	# adds a newline): see take.
	printf '%s\n' "$*" > "$mnt/.sequential/queues/$queue/item-"
	exit 0
fi
if [ "$op" != take ] || [ $# -ne 0 ]; then usage; fi

# Tries to take the oldest item that is ready; prints it and succeeds, or fails if none is.
try_take() {
	local f item version data
	# globs are sorted, and sequence numbers zero-padded: oldest first
	for f in "$dir"/item-*; do
		item=${f##*/}
		# A sequential file is created before its data is written (the name must exist
		# to be written to), so an item whose dataVersion is still 0 is being put right
		# now: skip it, its write comes with an event. The version is read before the data:
		# version 1 or more means the data we read next is the item's.
		version=$(getfattr --absolute-names --only-values -n user.zk.dataVersion \
			-- "$dir/$item" 2>/dev/null) || continue # taken since we listed
		[ "$version" != 0 ] || continue
		data=$(cat -- "$dir/$item" 2>/dev/null) || continue
		# not rm -f, which reports success for a file that is already gone
		if rm -- "$dir/$item" 2>/dev/null; then
			printf '%s\n' "$data"
			return 0
		fi
		# somebody else deleted it first: it is theirs
	done
	return 1
}

# Watch first, look second: an item put while we look is queued in the watch, not lost.
# An item shows up as a create, and its data as a close_write.
exec {events}< <(exec inotifywait -m -e create,moved_to,close_write,modify --format '%e %f' \
	-- "$dir" 2>&1)
watcher=$!
trap 'kill "$watcher" 2>/dev/null' EXIT
ready=0
while read -r line <&"$events"; do
	if [ "$line" = "Watches established." ]; then
		ready=1
		break
	fi
done
[ "$ready" = 1 ] || { echo "queue.sh: cannot watch $dir" >&2; exit 1; }

until try_take; do
	read -r line <&"$events" || { echo "queue.sh: watch on $dir ended" >&2; exit 1; }
done
