#!/usr/bin/env bash
# zkfs basics on a real mount: the znode <-> file/directory mapping, cat/echo/>>/truncate,
# ls/mkdir/rm/rmdir/mv, exactly one new version per `echo >`, errors (EPERM, EINVAL, EFBIG,
# ENOTEMPTY, EEXIST with noclobber), and a clean unmount that exits 0.
# timeout: 240
. "$(dirname "$0")/lib.sh"

fs_start_backend $(( ${FS_PORT_BASE:-23100} + 0 )) || exit 1
M=$FS_TMP/mnt
check "mount" fs_mount "$M"

# mkdir makes a null-data znode shown as a directory
mkdir "$M/d"
check "mkdir is a directory" test -d "$M/d"
expect_eq "mkdir gives null data" "<null>" "$(zkop get /d)"

# create + echo: a file whose content is the data
echo hello > "$M/d/f"
check "new file is a regular file" test -f "$M/d/f"
expect_eq "cat reads the data" "hello" "$(cat "$M/d/f")"
expect_eq "server has the data" "hello" "$(zkop get /d/f)"
expect_eq "st_size is dataLength" "6" "$(stat -c %s "$M/d/f")"

# echo > on an existing file: exactly one new version, no empty intermediate
v0=$(zkop version /d/f)
echo world > "$M/d/f"
v1=$(zkop version /d/f)
expect_eq "echo > makes exactly one version" "$((v0 + 1))" "$v1"
expect_eq "echo > replaces the data" "world" "$(zkop get /d/f)"

# >> appends
echo more >> "$M/d/f"
expect_eq ">> appends" "$(printf 'world\nmore')" "$(zkop get /d/f | head -c 100)"

# a remote change then an append through the mount keeps both
zkop set /d/f "remote
"
echo local >> "$M/d/f"
expect_eq ">> after a remote set appends to the new data" "$(printf 'remote\nlocal')" "$(zkop get /d/f)"

# truncate
truncate -s 3 "$M/d/f"
expect_eq "truncate -s 3" "rem" "$(zkop get /d/f)"
: > "$M/d/f"
expect_eq ": > empties the file" "" "$(zkop get /d/f)"

# ls
touch "$M/d/a" "$M/d/b"
expect_eq "ls lists children" "a b f" "$(ls "$M/d" | tr '\n' ' ' | sed 's/ $//')"
check "views are hidden from ls -a" bash -c "! ls -a '$M' | grep -q '^\.data$'"

# a file that gains a child becomes a directory
zkop create /d/a/child x
check "file with a child shows as a directory" wait_for 3 test -d "$M/d/a"

# rm, rmdir, rm -r
rm "$M/d/b"
check "rm deletes the znode" not zkop exists /d/b
mkdir -p "$M/x/y"
out=$(rmdir "$M/x" 2>&1)
check "rmdir of a non-empty directory is ENOTEMPTY" bash -c "echo '$out' | grep -q 'not empty'"
rm -r "$M/x"
check "rm -r removes the subtree" not zkop exists /x

# mv of a leaf is atomic (one multi): data moves, old name gone
echo moved > "$M/d/m1"
mv "$M/d/m1" "$M/d/m2"
expect_eq "mv moves the data" "moved" "$(zkop get /d/m2)"
check "mv removes the old name" not zkop exists /d/m1
echo target > "$M/d/t"
mv "$M/d/m2" "$M/d/t"
expect_eq "mv over an existing file replaces it" "moved" "$(cat "$M/d/t")"

# sed -i saves by rename
echo abc > "$M/d/s"
sed -i 's/b/B/' "$M/d/s"
expect_eq "sed -i works" "aBc" "$(zkop get /d/s)"

# errors
check "symlink is EPERM" bash -c "ln -s x '$M/d/l' 2>&1 | grep -q 'not permitted'"
check "hard link is EPERM" bash -c "ln '$M/d/s' '$M/d/h' 2>&1 | grep -q 'not permitted'"
check "mkfifo is EPERM" bash -c "mkfifo '$M/d/p' 2>&1 | grep -q 'not permitted'"
check "control character in a name is EINVAL" \
	bash -c "touch '$M/d/'\$'bad\\001' 2>&1 | grep -q 'Invalid argument'"
check "noclobber gives EEXIST" bash -c "set -o noclobber; ! echo x 2>/dev/null > '$M/d/s'"
check "writing past 1 MiB-1 is EFBIG" \
	bash -c "head -c 1100000 /dev/zero 2>&1 > '$M/d/big' | grep -q 'too large'"
head -c 500000 /dev/urandom > "$FS_TMP/half"
cp "$FS_TMP/half" "$M/d/half"
check "500 kB file round-trips" cmp -s "$FS_TMP/half" "$M/d/half"

# st_ino from czxid: a re-created node is a new inode
i1=$(stat -c %i "$M/d/s")
rm "$M/d/s"
echo again > "$M/d/s"
i2=$(stat -c %i "$M/d/s")
check "re-created node has a new inode" test "$i1" != "$i2"

# clean unmount
pid=$(fs_zkfs_pid "$M")
fs_umount "$M"
check "fusermount3 -u succeeds" test $? -eq 0
rc=0
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then rc=1; else wait "$pid" 2>/dev/null; fi
check "zkfs exits after unmount" test "$rc" -eq 0
finish
