#!/usr/bin/env bash
# zkfs extended attributes: user.zk.* carry the znode's Stat named as zkCli prints it,
# user.zk.path the real path, user.zk.acl reads and writes zkCli's scheme:id:perms text;
# NOAUTH maps to EACCES.
# timeout: 240
. "$(dirname "$0")/lib.sh"

fs_start_backend $(( ${FS_PORT_BASE:-23100} + 1 )) || exit 1
M=$FS_TMP/mnt
check "mount" fs_mount "$M"

echo hello > "$M/f"
echo again > "$M/f"
names=$(getfattr -d -m '^user\.zk\.' "$M/f" 2>/dev/null | grep -o '^user\.zk\.[A-Za-z]*' | sort | tr '\n' ' ')
expect_eq "all stat names are listed" \
	"user.zk.acl user.zk.aclVersion user.zk.cZxid user.zk.ctime user.zk.cversion user.zk.dataLength user.zk.dataVersion user.zk.ephemeralOwner user.zk.mZxid user.zk.mtime user.zk.numChildren user.zk.pZxid user.zk.path " \
	"$names"
x() { getfattr --only-values -n "user.zk.$1" "$2" 2>/dev/null; }
expect_eq "dataVersion" "$(zkop version /f)" "$(x dataVersion "$M/f")"
expect_eq "dataLength" "6" "$(x dataLength "$M/f")"
expect_eq "numChildren" "0" "$(x numChildren "$M/f")"
expect_eq "ephemeralOwner of a persistent node" "0x0" "$(x ephemeralOwner "$M/f")"
check "cZxid is hex" bash -c "getfattr --only-values -n user.zk.cZxid '$M/f' | grep -Eq '^0x[0-9a-f]+$'"
check "mtime looks like zkCli's date" \
	bash -c "getfattr --only-values -n user.zk.mtime '$M/f' | grep -Eq '^[A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]{2} [0-9:]{8} [A-Z]+ [0-9]{4}$'"
expect_eq "path" "/f" "$(x path "$M/f")"
mkdir -p "$M/a/b"
expect_eq "path of a nested node" "/a/b" "$(x path "$M/a/b")"
expect_eq "numChildren of a directory" "1" "$(x numChildren "$M/a")"

# the stat follows remote changes at once
zkop set /f remote
expect_eq "dataVersion after a remote set" "$(zkop version /f)" "$(x dataVersion "$M/f")"

# ACLs
expect_eq "acl reads as zkCli text" "world:anyone:cdrwa" "$(x acl "$M/f")"
setfattr -n user.zk.acl -v "world:anyone:ra" "$M/f"
expect_eq "acl write reaches the server" "world:anyone:17" "$(zkop acl /f)"
out=$(echo denied 2>&1 > "$M/f")
check "write without WRITE permission is EACCES" bash -c "echo '$out' | grep -q 'Permission denied'"
expect_eq "denied write changed nothing" "remote" "$(zkop get /f)"
setfattr -n user.zk.acl -v "world:anyone:cdrwa" "$M/f"
check "bad acl text is EINVAL" bash -c "setfattr -n user.zk.acl -v 'nonsense' '$M/f' 2>&1 | grep -q 'Invalid argument'"
check "other user.zk.* are read-only" bash -c "! setfattr -n user.zk.dataVersion -v 3 '$M/f' 2>/dev/null"

# a mount root under -o root=
zkop create /sub ""
zkop create /sub/leaf "x"
M2=$FS_TMP/mnt2
check "mount with root=/sub" fs_mount "$M2" -o root=/sub
expect_eq "root= maps the subtree" "x" "$(cat "$M2/leaf")"
expect_eq "user.zk.path includes the root" "/sub/leaf" "$(x path "$M2/leaf")"
check "unmount root= mount" fs_umount "$M2"
finish
