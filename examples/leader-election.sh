#!/usr/bin/env bash
# leader-election.sh MNT ELECTION ID [-- COMMAND [ARG...]]
#
# Joins the election ELECTION as candidate ID and waits until it is elected; then prints
# "ID: leader" and leads until killed (or, with COMMAND, runs COMMAND and steps down when it
# exits). When a leader dies, even by kill -9, the next candidate in line takes over.
#
#   examples/leader-election.sh /zk scheduler "$HOSTNAME" -- ./run-cron-jobs.sh
#   cat /zk/elections/scheduler/*          # the candidates, in line
#
# The same recipe as lock.sh: every candidate holds an ephemeral-sequential file in
# /elections/ELECTION, the lowest sequence number leads, every other waits for the file just
# before its own to disappear.
set -euo pipefail

usage() {
	echo "usage: leader-election.sh MNT ELECTION ID [-- COMMAND [ARG...]]" >&2
	exit 2
}
[ $# -ge 3 ] || usage
mnt=$1 election=$2 id=$3
shift 3
if [ $# -gt 0 ]; then
	if [ "$1" != -- ] || [ $# -lt 2 ]; then usage; fi
	shift
fi
dir=$mnt/elections/$election
mkdir -p -- "$dir"
shopt -s nullglob # an empty directory gives an empty list, not a literal '*'

# Our candidacy: it lasts exactly as long as fd 3 is open in this process.
exec 3> "$mnt/.ephemeral-sequential/elections/$election/n-"
me=$(getfattr --absolute-names --only-values -n user.zk.path -- "/proc/$$/fd/3")
me=${me##*/}
# Our ID as the file's data, so that `cat` shows who is in line (published while fd 3 stays open).
echo "$id" >&3
echo "$id: candidate $me"

while :; do
	# the greatest name below ours (names are zero-padded numbers); none: we lead
	pred=
	for f in "$dir"/n-*; do
		t=${f##*/}
		if [[ $t < $me && $t > $pred ]]; then pred=$t; fi
	done
	[ -z "$pred" ] && break
	echo "$id: waiting for $pred"
	# `3>&-`: if this script is killed while inotifywait waits, the orphaned inotifywait must
	# not keep our candidacy alive (it would block every candidate behind us).
	if ! inotifywait -qq -e delete_self -- "$dir/$pred" 3>&- 2>/dev/null; then
		if [ -e "$dir/$pred" ]; then
			echo "leader-election.sh: cannot watch $dir/$pred" >&2
			exit 1
		fi
	fi
done

echo "$id: leader"
if [ $# -gt 0 ]; then
	status=0
	"$@" 3>&- || status=$?
	echo "$id: stepping down"
	exit "$status"
fi
# Lead until killed. If our own file goes away (someone deleted it, or the session expired),
# we are no longer the leader and must stop acting as one.
inotifywait -qq -e delete_self -- "$dir/$me" 3>&- 2>/dev/null || true
echo "$id: lost leadership ($me is gone)" >&2
exit 1
