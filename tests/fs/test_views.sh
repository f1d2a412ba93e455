#!/usr/bin/env bash
# zkfs views at the mount root: .data/ (data of any node as a file; .data/<dir>/.data for a node
# with children), .ephemeral/ (a znode
# living as long as the open file description), .sequential/ and .ephemeral-sequential/
# (real name through user.zk.path), .version/<N>/ (compare-and-set, ESTALE on conflict),
# and examples/counter.sh with 4 concurrent loops reaching an exact total.
# timeout: 300
. "$(dirname "$0")/lib.sh"

fs_start_backend $(( ${FS_PORT_BASE:-23100} + 2 )) || exit 1
M=$FS_TMP/mnt
check "mount" fs_mount "$M"

# .data: a mkdir'd (null data) leaf can be written as a file
mkdir "$M/nd"
echo payload > "$M/.data/nd"
expect_eq ".data writes a directory's data" "payload" "$(zkop get /nd)"
expect_eq ".data reads it back" "payload" "$(cat "$M/.data/nd")"
check "views are not listed" bash -c "! ls -a '$M' | grep -q '^\.'[a-z]"

# .data/<path>/.data: the own data of a znode that has children, as a plain file
zkop create /svc svcdata
zkop create /svc/a adata
check ".data/<dir> is a directory" test -d "$M/.data/svc"
check ".data/<dir>/.data is a regular file" test -f "$M/.data/svc/.data"
expect_eq "cat .data/<dir>/.data reads the node's own data" "svcdata" "$(cat "$M/.data/svc/.data")"
check "the hidden entry is not listed" bash -c "! ls -a '$M/.data/svc' | grep -qx '\.data'"
expect_eq "the children are listed" "a" "$(ls "$M/.data/svc")"
v0=$(zkop version /svc)
echo newdata > "$M/.data/svc/.data"
expect_eq "echo > .data/<dir>/.data sets the node's data" "newdata" "$(zkop get /svc)"
expect_eq "... as exactly one new version" "$((v0 + 1))" "$(zkop version /svc)"
expect_eq "the child is untouched" "adata" "$(zkop get /svc/a)"
echo more >> "$M/.data/svc/.data"
expect_eq ">> appends to the node's data" "newdata
more" "$(zkop get /svc)"
expect_eq "user.zk.dataVersion of .data/<dir>/.data is the node's" "$(zkop version /svc)" \
	"$(getfattr --absolute-names --only-values -n user.zk.dataVersion "$M/.data/svc/.data")"
expect_eq "user.zk.numChildren of .data/<dir>/.data is the node's" "1" \
	"$(getfattr --absolute-names --only-values -n user.zk.numChildren "$M/.data/svc/.data")"
expect_eq "user.zk.path of .data/<dir>/.data is the node" "/svc" \
	"$(getfattr --absolute-names --only-values -n user.zk.path "$M/.data/svc/.data")"
ino_dir=$(stat -c %i "$M/.data/svc")
ino_self=$(stat -c %i "$M/.data/svc/.data")
ino_plain=$(stat -c %i "$M/svc")
check "the hidden entry has an inode number of its own" \
	test "$ino_self" != "$ino_dir" -a "$ino_self" != "$ino_plain" -a "$ino_dir" != "$ino_plain"
VLOG=$FS_TMP/data-events
inotifywait -m -q -e modify --format '%e' "$M/.data/svc/.data" > "$VLOG" 2>&1 &
FS_PIDS+=("$!")
sleep 0.5
zkop set /svc remote
check "a remote set: IN_MODIFY on .data/<dir>/.data within 1 s" wait_for 1 grep -q MODIFY "$VLOG"
expect_eq "a remote set is read through .data/<dir>/.data" "remote" "$(cat "$M/.data/svc/.data")"
# our own write through it is not replayed on top of the kernel's events: the same count as
# the same write to a plain file (an O_TRUNC open and a write make two)
PLOG=$FS_TMP/plain-events
inotifywait -m -q -e modify --format '%e' "$M/svc/a" > "$PLOG" 2>&1 &
FS_PIDS+=("$!")
sleep 0.5
: > "$VLOG"
printf own > "$M/.data/svc/.data"
printf own > "$M/svc/a"
sleep 0.5
expect_eq "our own write through it is not replayed on top" "$(grep -c MODIFY "$PLOG")" \
	"$(grep -c MODIFY "$VLOG")"
zkop set /svc/a adata
zkop set /svc remote
expect_eq ".data/.data is the root's data" "$(zkop get /)" "$(cat "$M/.data/.data")"
check "rm of the hidden entry is refused" not rm -f "$M/.data/svc/.data"
check "... and deletes nothing" zkop exists /svc
check "a leaf is still a plain file in .data/" test -f "$M/.data/svc/a"
expect_eq "... with its data" "adata" "$(cat "$M/.data/svc/a")"
# a real child named .data: the hidden entry wins inside .data/, the plain tree shows the child
zkop create /svc/.data childdata
expect_eq "inside .data/ the hidden entry wins over a child named .data" "remote" \
	"$(cat "$M/.data/svc/.data")"
expect_eq "the child named .data is read through the plain tree" "childdata" "$(cat "$M/svc/.data")"
echo c2 > "$M/svc/.data"
expect_eq "... and written through it" "c2" "$(zkop get /svc/.data)"
expect_eq "writing the child left the node's data alone" "remote" "$(zkop get /svc)"

# .ephemeral: lives as long as the open file description
mkdir -p "$M/services/web"
exec 3> "$M/.ephemeral/services/web/host1"
echo addr1 >&3
expect_eq "ephemeral data is published while the handle stays open" "addr1" "$(zkop get /services/web/host1)"
check "ephemeral is visible in the tree" test -f "$M/services/web/host1"
owner=$(getfattr --absolute-names --only-values -n user.zk.ephemeralOwner "$M/services/web/host1")
check "ephemeral has an owner session" test "$owner" != "0x0"
exec 3>&-
check "ephemeral is deleted after close" wait_for 3 not zkop exists /services/web/host1

# kill -9 of the holder deletes it too
bash -c "exec 3> '$M/.ephemeral/services/web/host2'; echo x >&3; sleep 60" &
holder=$!
FS_PIDS+=("$holder")
check "ephemeral exists while its holder lives" wait_for 5 zkop exists /services/web/host2
kill -9 "$holder"
wait "$holder" 2>/dev/null
check "ephemeral disappears when the holder is killed -9" wait_for 3 not zkop exists /services/web/host2

# a child process that inherits the fd keeps it alive
bash -c "exec 3> '$M/.ephemeral/services/web/host3'; (sleep 1.5) & exec 3>&-; wait" &
inh=$!
sleep 0.8
check "inherited fd keeps the ephemeral alive" zkop exists /services/web/host3
wait "$inh"
check "released when the last holder closes" wait_for 3 not zkop exists /services/web/host3

# .sequential: real names through user.zk.path
mkdir "$M/q"
exec 4> "$M/.sequential/q/item-"
n1=$(getfattr --absolute-names --only-values -n user.zk.path /proc/$$/fd/4)
echo first >&4
exec 4>&-
exec 4> "$M/.sequential/q/item-"
n2=$(getfattr --absolute-names --only-values -n user.zk.path /proc/$$/fd/4)
exec 4>&-
check "sequential name has a 10-digit suffix" bash -c "echo '$n1' | grep -Eq '^/q/item-[0-9]{10}$'"
check "a second create gets a new name" test "$n1" != "$n2"
expect_eq "sequential node keeps its data" "first" "$(zkop get "$n1")"
expect_eq "both are listed" "2" "$(ls "$M/q" | wc -l)"
check "sequential nodes are persistent" zkop exists "$n1"

exec 5> "$M/.ephemeral-sequential/q/lock-"
n3=$(getfattr --absolute-names --only-values -n user.zk.path /proc/$$/fd/5)
check "ephemeral-sequential name" bash -c "echo '$n3' | grep -Eq '^/q/lock-[0-9]{10}$'"
o3=$(getfattr --absolute-names --only-values -n user.zk.ephemeralOwner "$M$n3")
check "ephemeral-sequential is ephemeral" test "$o3" != "0x0"
exec 5>&-
check "ephemeral-sequential deleted at close" wait_for 3 not zkop exists "$n3"

# .version: compare-and-set
echo 1 > "$M/c"
v=$(getfattr --absolute-names --only-values -n user.zk.dataVersion "$M/c")
check "CAS at the current version succeeds" bash -c "printf 2 > '$M/.version/$v/c'"
expect_eq "CAS wrote" "2" "$(cat "$M/c")"
out=$(printf 3 2>&1 > "$M/.version/$v/c")
check "CAS at an old version fails with ESTALE" bash -c "echo '$out' | grep -q 'Stale file handle'"
expect_eq "failed CAS changed nothing" "2" "$(zkop get /c)"
# conflict between open and write
exec 6> "$M/.version/$((v + 1))/c"
zkop set /c other
out=$( { printf 4 >&6; } 2>&1)
exec 6>&-
check "CAS conflict after open fails at write" bash -c "echo '$out' | grep -q 'Stale file handle'"
expect_eq "conflicting CAS changed nothing" "other" "$(zkop get /c)"

# the counter example: 4 concurrent loops of 25 increments each
echo 0 > "$M/counter"
for i in 1 2 3 4; do
	( for _ in $(seq 1 25); do "$TOP/examples/counter.sh" "$M/counter" > /dev/null || exit 1; done ) &
	FS_PIDS+=("$!")
done
ok=0
for pid in "${FS_PIDS[@]: -4}"; do
	wait "$pid" || ok=1
done
check "all counter loops succeeded" test "$ok" -eq 0
expect_eq "4 x 25 concurrent increments" "100" "$(zkop get /counter)"
finish
