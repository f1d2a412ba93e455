#!/usr/bin/env bash
# service-register.sh MNT SERVICE NAME HOST:PORT [-- COMMAND [ARG...]]
#
# Registers NAME as a member of SERVICE: the ephemeral znode /services/SERVICE/NAME holding
# "HOST:PORT", on the zkfs mount MNT. The registration lives exactly as long as the open file
# that created it, so it disappears by itself when the process dies, even by kill -9 or a
# crashed machine (after the session timeout): nobody has to clean up stale entries.
#
# Without COMMAND this script stays registered until it is killed. With COMMAND, it becomes
# COMMAND (same pid) and the registration lives while the command lives.
#
#   examples/service-register.sh /zk web "$HOSTNAME" 10.0.0.5:8080 -- ./server --port 8080
#   examples/service-discover.sh /zk web      # on any machine: who is up, and changes
set -euo pipefail

usage() {
	echo "usage: service-register.sh MNT SERVICE NAME HOST:PORT [-- COMMAND [ARG...]]" >&2
	exit 2
}
[ $# -ge 4 ] || usage
mnt=$1 service=$2 name=$3 addr=$4
shift 4
if [ $# -gt 0 ]; then
	if [ "$1" != -- ] || [ $# -lt 2 ]; then usage; fi
	shift
fi

# Ephemeral znodes cannot have children, so the service directory is a plain (persistent) one.
mkdir -p -- "$mnt/services/$service"

# noclobber makes the open O_EXCL: a NAME that is already registered (by a live process, or
# by a dead one whose session has not expired yet) is refused instead of silently shared.
set -o noclobber
# Opening under .ephemeral/ creates the ephemeral znode; it is deleted when the last copy of
# fd 3 is closed, i.e. when every process that holds it has exited.
exec 3> "$mnt/.ephemeral/services/$service/$name"
# A write on a handle that stays open is published without waiting for close.
echo "$addr" >&3
echo "registered $service/$name = $addr (pid $$)" >&2

# exec keeps fd 3 and the pid: whoever kills this pid (or the command's own exit) ends the
# registration. A command that forks children passes fd 3 on to them, and they keep the
# registration alive too; a child that must not do so is started with `3>&-`.
if [ $# -gt 0 ]; then
	exec "$@"
fi
exec sleep infinity
