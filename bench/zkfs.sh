#!/usr/bin/env bash
# The zkfs part of make bench: a zkfs mount over a fresh bin/zkensemble, against Apache's C
# client talking to the same server (bench/zkload.c, bench/zkop_bench.c). Run after `make`.
#
#   1. cold and cached `cat` of ZKFS_FILES (10000) 100-byte files bulk-loaded by the C client
#      (not through the mount), and the server's packet count during the cached pass (must be 0)
#   2. `echo x > f` to ZKFS_WRITES (1000) files through the mount (new files, then overwrites)
#      next to as many synchronous creates / setData from the C client
#   3. inotify latency: ZKFS_SAMPLES (200) remote setData, each to the event on the watched
#      file in the mount, measured from the set's completion
#
# Port: ZKFS_BENCH_PORT (30000); ZKFS_BIN (bin/zkfs) picks another zkfs build to compare.
# Everything lives in a mktemp dir removed on exit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
port=${ZKFS_BENCH_PORT:-30000}
files=${ZKFS_FILES:-10000}
writes=${ZKFS_WRITES:-1000}
samples=${ZKFS_SAMPLES:-200}
host=127.0.0.1:$port
work=$(mktemp -d /tmp/zkfs-bench.XXXXXX)
mnt=$work/mnt
zkfs_bin=${ZKFS_BIN:-bin/zkfs}
srv_pid=

cleanup() {
	# unmount first: zkfs would otherwise hang its callers on a dead server
	if grep -q " $mnt fuse" /proc/mounts 2>/dev/null; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null || true
	fi
	if [ -n "$srv_pid" ]; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ -x bin/zkensemble ] && [ -x "$zkfs_bin" ] || { echo "zkfs bench: run make first" >&2; exit 1; }
cc -O2 -Wall -o "$work/zkload" bench/zkload.c -lzookeeper_mt -lpthread
cc -O2 -Wall -o "$work/zkop_bench" bench/zkop_bench.c -lzookeeper_mt -lpthread

fourlw() { # word
	timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 || exit 1; printf %s "$1" >&3; cat <&3' \
		"$port" "$1" 2>/dev/null
}
received() { fourlw srvr | awk -F': *' '$1 == "Received" {print $2}'; }
now() { date +%s.%N; }
secs() { awk -v a="$2" -v b="$1" 'BEGIN {printf "%.3f", a - b}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b ? a / b : 0}'; }
us_per() { awk -v s="$1" -v n="$2" 'BEGIN {printf "%.0f", s * 1e6 / n}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<< "$2"; }

mkdir -p "$work/data" "$mnt"
cat > "$work/zoo.cfg" <<CFG
tickTime=2000
dataDir=$work/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
CFG
ZK_LOG_LEVEL=warn bin/zkensemble "$work/zoo.cfg" > "$work/server.log" 2>&1 &
srv_pid=$!
for _ in $(seq 1 200); do
	fourlw srvr | grep -q '^Mode' && break
	sleep 0.05
done
fourlw srvr | grep -q '^Mode' || { echo "zkfs bench: zkensemble did not start" >&2; exit 1; }

# the files exist before the mount, so its caches start cold
"$work/zkload" fill "$host" "$files" /fill
timeout 30 "$zkfs_bin" "$host" "$mnt" -o timeout=10
grep -q " $mnt fuse" /proc/mounts || { echo "zkfs bench: mount failed" >&2; exit 1; }

# Names come from a list (no readdir in the timed passes), so the two passes do the same work:
# a lookup and a read per file.
for ((i = 0; i < files; i++)); do printf '%s/fill/n%07d\n' "$mnt" "$i"; done > "$work/list"
want=$((files * 100))

t0=$(now)
got=$(xargs -a "$work/list" cat | wc -c)
t1=$(now)
[ "$got" = "$want" ] || { echo "zkfs bench: cold cat read $got bytes, want $want" >&2; exit 1; }
cold=$(secs "$t0" "$t1")

ra=$(received)
r0=$(received)
t0=$(now)
got=$(xargs -a "$work/list" cat | wc -c)
t1=$(now)
r1=$(received)
[ "$got" = "$want" ] || { echo "zkfs bench: cached cat read $got bytes, want $want" >&2; exit 1; }
warm=$(secs "$t0" "$t1")
# a srvr connection may count itself as a packet: two srvr back to back measure that, and
# it is taken off (the mount's own pings, every session_timeout/3, are not expected in 2 s)
base=$((r0 - ra))
pkts=$((r1 - r0 - base))

# 2. writes: through the mount (builtin echo and printf -v: no fork per op) and with the C client
mkdir "$mnt/w"
t0=$(now)
for ((i = 0; i < writes; i++)); do printf -v f '%s/w/f%04d' "$mnt" "$i"; echo x > "$f"; done
t1=$(now)
fs_create=$(secs "$t0" "$t1")
t0=$(now)
for ((i = 0; i < writes; i++)); do printf -v f '%s/w/f%04d' "$mnt" "$i"; echo x > "$f"; done
t1=$(now)
fs_set=$(secs "$t0" "$t1")
[ "$(cat "$mnt/w/f0000")" = x ] || { echo "zkfs bench: written file reads wrong" >&2; exit 1; }

c_create=$("$work/zkop_bench" create "$host" "$writes" /c)
c_set=$("$work/zkop_bench" set "$host" "$writes" /c)

# 3. inotify: a file watched through the mount, set by the C client
echo v > "$mnt/watched"
ino=$("$work/zkop_bench" inotify "$host" "$samples" /watched "$mnt/watched") || {
	echo "zkfs bench: inotify samples missed: $ino" >&2
	exit 1
}

fc_us=$(us_per "$fs_create" "$writes"); fs_us=$(us_per "$fs_set" "$writes")
cc_us=$(field per_op_us "$c_create"); cs_us=$(field per_op_us "$c_set")
echo
echo "== zkfs over zkensemble (127.0.0.1:$port)"
printf "%-44s %10s %12s\n" "" "total s" "per op us"
printf "%-44s %10s %12s\n" "cold cat of $files files (100 B)" "$cold" "$(us_per "$cold" "$files")"
printf "%-44s %10s %12s   cached/cold %s\n" "cached cat, same files" "$warm" \
	"$(us_per "$warm" "$files")" "$(ratio "$warm" "$cold")"
printf "%-44s %10s   (srvr's own count %s taken off)\n" "server packets during the cached pass" "$pkts" "$base"
printf "%-44s %10s %12s\n" "echo x > new file via zkfs, x$writes" "$fs_create" "$fc_us"
printf "%-44s %10s %12s   zkfs/C %s\n" "sync create, C client, x$writes" \
	"$(field secs "$c_create")" "$cc_us" "$(ratio "$fc_us" "$cc_us")"
printf "%-44s %10s %12s\n" "echo x > existing file via zkfs, x$writes" "$fs_set" "$fs_us"
printf "%-44s %10s %12s   zkfs/C %s\n" "sync setData, C client, x$writes" \
	"$(field secs "$c_set")" "$cs_us" "$(ratio "$fs_us" "$cs_us")"
printf "%-44s p50 %s ms  p99 %s ms  max %s ms (%s samples)\n" \
	"inotify: remote setData -> event" "$(field p50_ms "$ino")" "$(field p99_ms "$ino")" \
	"$(field max_ms "$ino")" "$(field samples "$ino")"
if [ "$pkts" -gt 0 ]; then
	echo "zkfs bench: cached reads made $pkts requests" >&2
	exit 1
fi
