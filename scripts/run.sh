#!/usr/bin/env bash
# make run: a one-server ensemble with its data under ./data, zkfs mounted at ./zk
# (MNT=/somewhere to choose, PORT= for the client port, default 2181). Stays in the
# foreground; Ctrl-C unmounts and stops everything cleanly.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
port=${PORT:-2181}
mnt=${MNT:-$top/zk}
data=${DATA:-$top/data}
mkdir -p "$data/conf" "$data/zk" "$mnt"
mnt=$(cd "$mnt" && pwd)
cfg=$data/conf/zoo.cfg
if [ ! -f "$cfg" ]; then
	cat > "$cfg" <<CFG
# written by make run; edit freely
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$data/zk
clientPort=$port
clientPortAddress=127.0.0.1
4lw.commands.whitelist=*
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
CFG
fi

srv_pid=
cleanup() {
	trap - INT TERM EXIT
	echo
	if mountpoint -q "$mnt" 2>/dev/null; then
		echo "unmounting $mnt"
		fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
	fi
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		echo "stopping zkensemble"
		kill -TERM "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	echo "stopped; data kept in $data"
}
# Ctrl-C is the normal way to stop: exit 0 then, so make does not report an error.
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

if mountpoint -q "$mnt"; then
	echo "$mnt is already a mount point; unmount it first (fusermount3 -u $mnt) or pick MNT=" >&2
	exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	echo "port $port is in use; stop what listens there or pick PORT=" >&2
	exit 1
fi

bin/zkensemble "$cfg" 2> "$data/zkensemble.log" &
srv_pid=$!
for _ in $(seq 1 100); do
	if [ "$(printf srvr | nc -q 1 127.0.0.1 "$port" 2>/dev/null | grep -c Mode)" = 1 ]; then
		break
	fi
	kill -0 "$srv_pid" 2>/dev/null || { cat "$data/zkensemble.log" >&2; exit 1; }
	sleep 0.1
done

if [ -x bin/zkfs ]; then
	bin/zkfs "127.0.0.1:$port" "$mnt" -o timeout=10 2> "$data/zkfs.log"
	mounted=1
else
	mounted=0
fi

cat <<MSG
zkensemble is serving on 127.0.0.1:$port (data in $data, log in $data/zkensemble.log)
MSG
if [ "$mounted" = 1 ]; then
cat <<MSG
zkfs is mounted at $mnt. In another shell, try:

  cd $mnt
  mkdir -p services/web && ls -la
  echo 'max_conns=100' > config && cat config
  getfattr -d -m '^user\.zk\.' config          # the znode's stat
  exec 3> .ephemeral/services/web/\$HOSTNAME     # register while fd 3 stays open
  ls services/web; exec 3>&-; ls services/web
  inotifywait -m -r $mnt &                       # watches, as inotify events
  /usr/share/zookeeper/bin/zkCli.sh -server 127.0.0.1:$port set /config hi

MSG
else
	echo "(bin/zkfs is not built, so nothing is mounted)"
fi
echo "Ctrl-C to unmount and stop."
wait "$srv_pid"
