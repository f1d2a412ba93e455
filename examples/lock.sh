#!/usr/bin/env bash
# lock.sh MNT NAME -- COMMAND [ARG...]
#
# Runs COMMAND while holding the lock NAME: among all the shells, on all the machines that mount
# the same ZooKeeper ensemble, at most one runs under NAME at a time; the others wait in line,
# first come first served. Exits with COMMAND's status. Like flock(1), but cluster-wide.
#
#   examples/lock.sh /zk nightly-backup -- ./backup.sh
#
# ZooKeeper's lock recipe, with files: each contender creates an ephemeral-sequential file in
# /locks/NAME and holds it open; the lowest sequence number holds the lock; every other one waits
# for the file just before its own to disappear (not for the holder's: when the holder leaves,
# only its successor wakes up). A contender that dies, even by kill -9, loses its file with its
# last open fd, so a crashed holder never keeps the lock.
set -euo pipefail

usage() {
	echo "usage: lock.sh MNT NAME -- COMMAND [ARG...]" >&2
	exit 2
}
if [ $# -lt 4 ] || [ "$3" != -- ]; then usage; fi
mnt=$1 name=$2
shift 3
dir=$mnt/locks/$name
mkdir -p -- "$dir"
shopt -s nullglob # an empty directory gives an empty list, not a literal '*'

# Take a ticket. The file's real name (lock-0000000007) is chosen by ZooKeeper; zkfs tells it
# through the open handle.
exec 3> "$mnt/.ephemeral-sequential/locks/$name/lock-"
me=$(getfattr --absolute-names --only-values -n user.zk.path -- "/proc/$$/fd/3")
me=${me##*/}

while :; do
	# Sequence numbers are zero-padded, so names compare like numbers. The greatest name below
	# ours is the one we wait for; none means we hold the lock.
	pred=
	for f in "$dir"/lock-*; do
		t=${f##*/}
		if [[ $t < $me && $t > $pred ]]; then pred=$t; fi
	done
	[ -z "$pred" ] && break
	# Watching a file that is already gone fails at once, so a deletion between the listing and here
	# is not missed: we just look again. `3>&-`: a child that inherits our ticket keeps it
	# alive, and an inotifywait left waiting after this script is killed would then hold
	# up everyone behind us.
	if ! inotifywait -qq -e delete_self -- "$dir/$pred" 3>&- 2>/dev/null; then
		if [ -e "$dir/$pred" ]; then
			echo "lock.sh: cannot watch $dir/$pred" >&2
			exit 1
		fi
	fi
done

# Holding the lock. The command runs without fd 3 for the same reason: should it leave a
# daemon behind, the lock must still be released when this script ends.
status=0
"$@" 3>&- || status=$?
# Exiting closes fd 3: zkfs deletes our ticket and the next in line goes.
exit "$status"
