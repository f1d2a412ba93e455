#!/usr/bin/env bash
# A directory of 10,000 znodes (made by the C client, pipelined: bench/zkload.c fill):
# `ls` lists every name, `ls -l` stats them all, a second `ls -l` costs one request (the
# listing; the stats come from the cache: the server's packet counter shows it), cached
# files read without a request, a remote create in it is an inotify event, `rm -r` works.
# timeout: 240
. "$(dirname "$0")/lib.sh"

fs_start_backend $(( ${FS_PORT_BASE:-23100} + 9 )) || exit 1
N=10000
cc -O2 -o "$FS_TMP/zkload" "$TOP/bench/zkload.c" -lzookeeper_mt -lpthread || exit 1
check "the C client makes $N children of /big" \
	timeout 120 "$FS_TMP/zkload" fill "$FS_SERVER" "$N" /big
M=$FS_TMP/mnt
check "mount" fs_mount "$M"
expect_eq "ls lists all $N" "$N" "$(ls "$M/big" | wc -l)"
expect_eq "first and last names" "n0000000 n0009999" \
	"$(ls "$M/big" | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "ls -l stats all $N as 100-byte files" "$N" \
	"$(ls -l "$M/big" | awk '$1 ~ /^-/ && $5 == 100' | wc -l)"
expect_eq "a file's data" "100" "$(wc -c < "$M/big/n0004321")"
packets() { fourlw "$FS_PORT" srvr | awk '/^Received:/ {print $2}'; }
cat "$M/big/n0000001" "$M/big/n0009998" > /dev/null
p0=$(packets)
p1=$(packets)
ls -l "$M/big" > /dev/null
p2=$(packets)
cat "$M/big/n0000001" "$M/big/n0009998" > /dev/null
p3=$(packets)
# each srvr connection may count itself: allow what two back-to-back probes showed
expect_eq "a second ls -l makes one request (the listing; the $N stats are cached)" \
	"$((p1 - p0 + 1))" "$((p2 - p1))"
expect_eq "a second cat of files makes none" "$((p1 - p0))" "$((p3 - p2))"
inotifywait -t 10 -e create --format '%f' "$M/big" > "$FS_TMP/ev" 2> "$FS_TMP/ev.err" &
w=$!
FS_PIDS+=("$w")
wait_for 5 grep -q "Watches established" "$FS_TMP/ev.err"
zkop create /big/zz-new x
wait "$w"
expect_eq "a remote create in the big directory is an inotify event" "zz-new" "$(cat "$FS_TMP/ev")"
expect_eq "ls sees $((N + 1)) now" "$((N + 1))" "$(ls "$M/big" | wc -l)"
check "rm -r of the $((N + 1))-entry directory" rm -r "$M/big"
check "it is gone from the server" not zkop exists /big
check "umount" fs_umount "$M"
finish
