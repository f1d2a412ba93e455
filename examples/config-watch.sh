#!/usr/bin/env bash
# config-watch.sh FILE [-- HOOK [ARG...]]
#
# Configuration distribution: prints FILE (a file on a zkfs mount) and prints it again every
# time anyone changes it, from any machine, until killed. After each print it runs HOOK, if
# given, with the new content on its standard input: that is the reload step.
#
#   examples/config-watch.sh /zk/config/nginx.conf -- sh -c 'cat > /etc/nginx/nginx.conf &&
#       nginx -s reload'
#   echo 'worker_processes 4;' > /zk/config/nginx.conf       # anywhere: every watcher reloads
#
# Each print starts with a "# FILE version N" line (N is the znode's dataVersion), or
# "# FILE deleted" when the file is gone (the watch goes on and picks up its re-creation).
set -euo pipefail

usage() {
	echo "usage: config-watch.sh FILE [-- HOOK [ARG...]]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
file=$1
shift
if [ $# -gt 0 ]; then
	if [ "$1" != -- ] || [ $# -lt 2 ]; then usage; fi
	shift
fi
dir=$(dirname -- "$file")

# Prints the file (and runs the hook) when it has changed since the last print. One change
# can make several events (modify, close_write, attrib), so "changed" means: the znode's mZxid,
# the id of the transaction that last wrote it, is not the one we printed.
last=
show() {
	local zxid version content
	if ! zxid=$(getfattr --absolute-names --only-values -n user.zk.mZxid -- "$file" 2>/dev/null); then
		[ "$last" = deleted ] || echo "# $file deleted"
		last=deleted
		return 0
	fi
	[ "$zxid" = "$last" ] && return 0
	# the version before the data: if the data is newer, its own event prints it again
	version=$(getfattr --absolute-names --only-values -n user.zk.dataVersion -- "$file" 2>/dev/null) || return 0
	content=$(cat -- "$file" 2>/dev/null) || return 0
	last=$zxid
	echo "# $file version $version"
	printf '%s\n' "$content"
	if [ $# -gt 0 ]; then
		printf '%s\n' "$content" | "$@" || echo "config-watch.sh: hook failed: $*" >&2
	fi
	return 0
}

while :; do
	# Watch the file itself; while it does not exist, watch its directory for its creation.
	if [ -e "$file" ]; then
		target=$file what=modify,close_write,attrib,delete_self,move_self
	else
		target=$dir what=create,moved_to
	fi
	# Watch first, read second, so that a change made while we read is not lost: it waits in
	# the watch's queue. inotifywait says "Watches established." (on stderr) once it is ready.
	exec {events}< <(exec inotifywait -m -e "$what" --format '%e %f' -- "$target" 2>&1)
	watcher=$!
	trap 'kill "$watcher" 2>/dev/null' EXIT
	ready=0
	while read -r line <&"$events"; do
		if [ "$line" = "Watches established." ]; then
			ready=1
			break
		fi
	done
	[ "$ready" = 1 ] || { echo "config-watch.sh: cannot watch $target" >&2; exit 1; }

	show "$@"
	while read -r line <&"$events"; do
		show "$@"
		# A replaced file (mv, sed -i, an editor's save) is a new inode, a deleted one is gone,
		# and a created one needs its own watch: start over on the path.
		case $line in
		*DELETE_SELF* | *MOVE_SELF* | CREATE* | MOVED_TO*) break ;;
		esac
	done
	kill "$watcher" 2>/dev/null || true
	wait "$watcher" 2>/dev/null || true
	exec {events}<&-
done
