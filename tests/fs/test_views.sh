#!/usr/bin/env bash
# zkfs views at the mount root: .data/ (data of any node as a file), .ephemeral/ (a znode
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
