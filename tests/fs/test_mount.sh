#!/usr/bin/env bash
# zkfs through mount(8) and its options: `mount -t fuse 'zkfs#servers' M`,
# `mount -t fuse.zkfs servers M`, `mount -t fuse zkfs M` (servers from -o servers= or
# /etc/zkfs.conf), an fstab line (mount -T FILE M), then ro, uid=/gid=, auth= (inline, with
# the digest: prefix, and from a file), allow_other, attr_timeout=, a server list with dead
# servers first, the daemon's log in syslog, and bad options.
# mount(8) runs helpers with a fixed PATH, so zkfs must be installed: the test links
# /usr/local/sbin/zkfs to bin/zkfs (and /etc/zkfs.conf) for its duration only, putting back
# whatever was there.
# timeout: 240
. "$(dirname "$0")/lib.sh"

fs_start_backend $(( ${FS_PORT_BASE:-23100} + 8 )) || exit 1
chmod 755 "$FS_TMP"	# other users must reach the mount points (allow_other)

LINK=/usr/local/sbin/zkfs
CONF=/etc/zkfs.conf
mount_cleanup() {
	[ -e "$FS_TMP/zkfs.saved" ] && mv -f "$FS_TMP/zkfs.saved" "$LINK" || rm -f "$LINK"
	[ -e "$FS_TMP/conf.saved" ] && mv -f "$FS_TMP/conf.saved" "$CONF" || rm -f "$CONF"
}
trap 'mount_cleanup; fs_cleanup' EXIT
mkdir -p /usr/local/sbin
{ [ -e "$LINK" ] || [ -L "$LINK" ]; } && mv -f "$LINK" "$FS_TMP/zkfs.saved"
[ -e "$CONF" ] && mv -f "$CONF" "$FS_TMP/conf.saved"
ln -s "$ZKFS" "$LINK"

mounted_as() { # MNT: the filesystem type /proc/mounts shows
	awk -v m="$1" '$2 == m {print $3}' /proc/mounts
}
mnt() { # MNT mount-args...: mounts with mount(8) and remembers MNT for the cleanup
	local m=$1
	shift
	mkdir -p "$m"
	FS_MOUNTS+=("$m")
	timeout 30 mount "$@" "$m"
}

M=$FS_TMP/m
check "mount -t fuse 'zkfs#servers'" mnt "$M" -t fuse "zkfs#$FS_SERVER"
expect_eq "shows as fuse.zkfs" "fuse.zkfs" "$(mounted_as "$M")"
echo hello > "$M/greeting"
expect_eq "a file written through it" "hello" "$(zkop get /greeting)"
check "umount" umount "$M"

check "mount -t fuse.zkfs servers" mnt "$M" -t fuse.zkfs "$FS_SERVER"
expect_eq "reads what the first mount wrote" "hello" "$(cat "$M/greeting")"
check "umount" umount "$M"

check "mount -t fuse zkfs -o servers=" mnt "$M" -t fuse zkfs -o "servers=$FS_SERVER"
expect_eq "same tree" "hello" "$(cat "$M/greeting")"
check "umount" umount "$M"

echo "# zkfs servers" > "$CONF"
echo "servers = $FS_SERVER" >> "$CONF"
check "mount -t fuse zkfs (servers from /etc/zkfs.conf)" mnt "$M" -t fuse zkfs
expect_eq "same tree" "hello" "$(cat "$M/greeting")"
check "umount" umount "$M"
rm -f "$CONF"

echo "$FS_SERVER $M fuse.zkfs _netdev,defaults,timeout=5 0 0" > "$FS_TMP/fstab"
check "an fstab line (mount -T FILE MNT)" mnt "$M" -T "$FS_TMP/fstab"
expect_eq "same tree" "hello" "$(cat "$M/greeting")"
check "umount" umount "$M"

# ---- options ---------------------------------------------------------------------------
check "mount -o ro" mnt "$M" -t fuse.zkfs "$FS_SERVER" -o ro
out=$( (echo x > "$M/greeting") 2>&1 )
check "ro: writing fails with EROFS" grep -q "Read-only file system" <<< "$out"
check "ro: mkdir fails" not mkdir "$M/newdir" 2>/dev/null
expect_eq "ro: nothing changed" "hello" "$(zkop get /greeting)"
check "ro: reads work" test "$(cat "$M/greeting")" = hello
check "umount" umount "$M"

check "mount -o uid=65534,gid=nogroup" mnt "$M" -t fuse.zkfs "$FS_SERVER" -o uid=65534,gid=nogroup
expect_eq "files show the given owner" "65534 $(getent group nogroup | cut -d: -f3)" \
	"$(stat -c '%u %g' "$M/greeting")"
mkdir -p "$M/dir"
expect_eq "directories too" "65534" "$(stat -c '%u' "$M/dir")"
check "umount" umount "$M"

# a file only digest user u:p may touch
hash=$(/usr/bin/python3 -c 'import base64,hashlib; print(base64.b64encode(hashlib.sha1(b"u:p").digest()).decode())')
A=$FS_TMP/a
check "mount without auth" fs_mount "$A"
echo secret > "$A/locked"
expect_eq "its data is cached here" "secret" "$(cat "$A/locked")"
check "set a digest ACL" setfattr -n user.zk.acl -v "digest:u:$hash:cdrwa" "$A/locked"
# our own ACL change drops the cached copy (ZooKeeper sends no watch event for it)
out=$(cat "$A/locked" 2>&1)
check "no auth, same mount, right after setfattr: EACCES" grep -q "Permission denied" <<< "$out"
check "umount" fs_umount "$A"
check "mount without auth again" fs_mount "$A"
out=$(cat "$A/locked" 2>&1)
check "no auth, new mount: EACCES" grep -q "Permission denied" <<< "$out"
B=$FS_TMP/b
check "mount -o auth=digest:u:p" mnt "$B" -t fuse.zkfs "$FS_SERVER" -o auth=digest:u:p
expect_eq "auth=digest:u:p reads it" "secret" "$(cat "$B/locked")"
check "umount" umount "$B"
printf 'digest:u:p\n' > "$FS_TMP/auth"
chmod 600 "$FS_TMP/auth"
check "mount -o auth=/file" mnt "$B" -t fuse.zkfs "$FS_SERVER" -o "auth=$FS_TMP/auth"
expect_eq "auth from a file reads it" "secret" "$(cat "$B/locked")"
check "the password is not in /proc/mounts" not grep -q "u:p" /proc/mounts
check "umount" umount "$B"
check "mount -o auth=u:p (no prefix)" fs_mount "$B" -o auth=u:p
echo changed > "$B/locked"
expect_eq "auth=u:p writes it" "changed" "$(cat "$B/locked")"
check "umount" fs_umount "$B"
check "umount" fs_umount "$A"

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
check "mount (no allow_other)" fs_mount "$A"
check "another user is refused without allow_other" not nobody cat "$A/greeting" 2>/dev/null
check "umount" fs_umount "$A"
check "mount -o allow_other" fs_mount "$A" -o allow_other
expect_eq "another user reads with allow_other" "hello" "$(nobody cat "$A/greeting")"
check "umount" fs_umount "$A"

# attr_timeout=0: the kernel asks zkfs on every stat (counted in the -d trace); by default
# an unchanged file's second stat is answered from the kernel's cache.
ops() { grep -c 'opcode: \(LOOKUP\|GETATTR\)' "$1"; }
for t in default 0; do
	D=$FS_TMP/d$t
	mkdir -p "$D"
	FS_MOUNTS+=("$D")
	args=()
	[ "$t" = default ] || args=(-o "attr_timeout=$t")
	"$ZKFS" "$FS_SERVER" "$D" -d "${args[@]}" > "$FS_TMP/trace$t" 2>&1 &
	FS_PIDS+=($!)
	wait_for 10 grep -q " $D fuse" /proc/mounts
	stat "$D/greeting" > /dev/null
	n1=$(ops "$FS_TMP/trace$t")
	stat "$D/greeting" > /dev/null
	n2=$(ops "$FS_TMP/trace$t")
	if [ "$t" = default ]; then
		expect_eq "default: a second stat is served by the kernel cache" "$n1" "$n2"
	else
		check "attr_timeout=0: a second stat reaches zkfs ($n1 -> $n2 lookups/getattrs)" \
			test "$n2" -gt "$n1"
	fi
	fs_umount "$D"
done

# a server list whose first entries are down: the client moves on to one that answers
F=$FS_TMP/f
mkdir -p "$F"
FS_MOUNTS+=("$F")
check "mount with dead servers first in the list" \
	timeout 30 "$ZKFS" "127.0.0.1:1,127.0.0.1:2,$FS_SERVER" "$F" -o timeout=5
expect_eq "reads through the live one" "hello" "$(cat "$F/greeting")"
check "umount" fs_umount "$F"

# a daemon logs to syslog unless -o logfile= (a listener stands in for syslogd when the
# machine has none; with one, the check reads nothing of ours and is left out)
if [ ! -e /dev/log ]; then
	/usr/bin/python3 - "$FS_TMP/syslog" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(20)
try:
    with open(sys.argv[1], "w") as out:
        while True:
            d = s.recv(4096).decode(errors="replace")
            out.write(d + "\n")
            out.flush()
            if "unmounted" in d:
                break
except OSError:
    pass
finally:
    os.unlink("/dev/log")
PY
	lp=$!
	FS_PIDS+=("$lp")
	wait_for 5 test -S /dev/log
	check "mount (daemon, no logfile)" fs_mount "$F"
	check "umount" fs_umount "$F"
	check "the daemon's log reaches syslog as zkfs[pid]" \
		wait_for 5 grep -q "zkfs\[[0-9]*\]: unmounted $F" "$FS_TMP/syslog"
	wait "$lp" 2>/dev/null
fi

check "unknown option refused" not "$ZKFS" "$FS_SERVER" "$FS_TMP" -o frobnicate 2>/dev/null
check "unknown uid refused" not "$ZKFS" "$FS_SERVER" "$FS_TMP" -o uid=no-such-user-here 2>/dev/null
check "auth without a password refused" not "$ZKFS" "$FS_SERVER" "$FS_TMP" -o auth=digest:u 2>/dev/null
check "missing auth file refused" not "$ZKFS" "$FS_SERVER" "$FS_TMP" -o auth=/nonexistent 2>/dev/null
check "bad attr_timeout refused" not "$ZKFS" "$FS_SERVER" "$FS_TMP" -o attr_timeout=soon 2>/dev/null
finish
