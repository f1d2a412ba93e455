#!/usr/bin/env bash
# New files through the mount: the create of a file opened for writing waits for its first
# write and carries the data (one txn, dataVersion 0, never seen empty), yet touch, ": >",
# a handle kept open, O_EXCL, a concurrent creator, rm/mv/getfattr of a file not created
# yet and a parent that vanished all behave as an immediate create would.
# timeout: 240
. "$(dirname "$0")/lib.sh"

fs_start_backend $(( ${FS_PORT_BASE:-23100} + 6 )) || exit 1
M=$FS_TMP/mnt
check "mount" fs_mount "$M"
mkdir "$M/n"

# echo > new file: created with its data, one version
echo x > "$M/n/a"
expect_eq "echo > new file: the data" "x" "$(zkop get /n/a)"
expect_eq "echo > new file: created with its data (dataVersion 0)" "0" "$(zkop version /n/a)"
expect_eq "... and read back through the mount" "x" "$(cat "$M/n/a")"
printf 'abc' > "$M/n/b"
expect_eq "printf without newline: one version" "abc 0" "$(zkop get /n/b) $(zkop version /n/b)"

# a watcher of the directory sees one create and the data at once
LOG=$FS_TMP/events
inotifywait -m -q -e create,modify --format '%e %f' "$M/n" > "$LOG" 2>&1 &
FS_PIDS+=("$!")
sleep 0.5
echo y > "$M/n/c"
sleep 0.5
expect_eq "local create is one IN_CREATE" "1" "$(grep -c '^CREATE c$' "$LOG")"

# touch and ": >" of a new file make an empty znode that exists when they return
touch "$M/n/t"
check "touch: the node exists when touch returns" zkop exists /n/t
expect_eq "touch: empty data" "" "$(zkop get /n/t)"
: > "$M/n/e"
check ": > new file: the node exists when the redirection is closed" zkop exists /n/e
expect_eq ": > new file: empty" "" "$(zkop get /n/e)"

# creat() + close() with nothing written (Python's open(f, "w").close(), one close): the
# node exists when close returns, empty; so does a dup'd copy closed second, not first
# (20 times, asked over a session opened beforehand: a create left to RELEASE, which the
# kernel sends after close returns, loses that race now and then)
/usr/bin/python3 - "$M/n" "$FS_SERVER" > "$FS_TMP/creat.out" 2>&1 <<'PY'
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[2], timeout=10)
zk.start(timeout=15)
missing = 0
for i in range(20):
    open("%s/p%d" % (sys.argv[1], i), "w").close()
    if zk.exists("/n/p%d" % i) is None:
        missing += 1
print("missing", missing)
zk.stop()
PY
expect_eq "creat + close: the node exists when close returns (20 files)" "missing 0" \
	"$(grep '^missing' "$FS_TMP/creat.out")"
expect_eq "creat + close: empty" "" "$(zkop get /n/p0)"
/usr/bin/python3 - "$M/n/q" "$FS_SERVER" <<'PY'
import os, subprocess, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
fd2 = os.dup(fd)
os.close(fd)   # another descriptor still holds it: a write may follow, as in bash's "> f"
os.write(fd2, b"via the copy")
os.close(fd2)
PY
expect_eq "close of one copy, write through the other: one version with the data" \
	"via the copy 0" "$(zkop get /n/q) $(zkop version /n/q)"

# a handle kept open without writes: the node appears within 200 ms, the write later
exec 3> "$M/n/k"
check "kept-open new file is created within 1 s" wait_for 1 zkop exists /n/k
echo later >&3
exec 3>&-
expect_eq "... and its later write is published" "later" "$(zkop get /n/k)"

# O_EXCL (noclobber): EEXIST at open for an existing node, a create-only otherwise
out=$( (set -o noclobber; echo z > "$M/n/a") 2>&1)
check "noclobber on an existing file fails" bash -c "echo '$out' | grep -q 'exist'"
check "O_EXCL open of an existing file: EEXIST" /usr/bin/python3 -c "
import errno, os, sys
try:
    os.open('$M/n/a', os.O_WRONLY | os.O_CREAT | os.O_EXCL)
except OSError as e:
    sys.exit(e.errno != errno.EEXIST)
sys.exit(1)"
expect_eq "... and changed nothing" "x" "$(zkop get /n/a)"
(set -o noclobber; echo fresh > "$M/n/x")
expect_eq "noclobber creates a new file" "fresh" "$(zkop get /n/x)"

# another client creates the name between our open and our write: the write wins
exec 4> "$M/n/race"
zkop create /n/race other
echo mine >&4
exec 4>&-
expect_eq "concurrent creator: our write overwrites" "mine" "$(zkop get /n/race)"
expect_eq "... read back" "mine" "$(cat "$M/n/race")"

# operations on a new file whose create is still pending create it first
exec 5> "$M/n/p1"
v=$(getfattr --absolute-names --only-values -n user.zk.dataVersion "$M/n/p1" 2>&1)
expect_eq "getfattr of a pending new file" "0" "$v"
exec 5>&-
exec 5> "$M/n/p2"
check "rm of a pending new file" rm "$M/n/p2"
exec 5>&-
sleep 0.4
check "... leaves no node" not zkop exists /n/p2
exec 5> "$M/n/p3"
check "mv of a pending new file" mv "$M/n/p3" "$M/n/p3moved"
exec 5>&-
check "... the node moved" zkop exists /n/p3moved
check "... and the old name is gone" not zkop exists /n/p3

# the parent disappears between open and write: the write fails
mkdir "$M/n/gone"
exec 6> "$M/n/gone/f"
zkop delete /n/gone
out=$( { echo data >&6; } 2>&1)
exec 6>&-
check "parent deleted before the write: write fails (ENOENT)" \
	bash -c "echo '$out' | grep -q 'No such file'"
check "... and nothing was created" not zkop exists /n/gone/f

# a new file under an ephemeral node: EPERM at open, as ZooKeeper refuses it
mkfifo "$FS_TMP/hold"
zkop ecreate /n/eph < "$FS_TMP/hold" &
holder=$!
FS_PIDS+=("$holder")
exec 9> "$FS_TMP/hold"
wait_for 5 zkop exists /n/eph
out=$( { echo q > "$M/n/eph/child"; } 2>&1)
check "new file under an ephemeral: fails at open" bash -c "echo '$out' | grep -qi 'not permitted\|not a directory'"
exec 9>&-
wait "$holder"
finish
