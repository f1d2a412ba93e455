#!/usr/bin/env bash
# make bench: the write path of zkensemble against Apache ZooKeeper 3.8 on this machine, in
# the same run, with the same clients (bench/zkload.c: Apache's C client, and a lean
# raw-protocol client). Absolute numbers on shared machines are noise; the ratios are the
# result.
#
#   BENCH_SECS=10 (per run)  BENCH_REPS=3 (runs per point)  BENCH_NODES=200000 (RSS / restart
#   test)  BENCH_CLIENTS="1 8 32"  BENCH_ZKFS=0 (skip the zkfs part)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
secs=${BENCH_SECS:-10}
nodes=${BENCH_NODES:-200000}
clients=${BENCH_CLIENTS:-"1 8 32"}
reps=${BENCH_REPS:-3}
work=$top/build/bench
rm -rf "$work"
mkdir -p "$work"
cc -O2 -Wall -o "$work/zkload" bench/zkload.c -lzookeeper_mt -lpthread
# The single-threaded C client library, by file name: its -dev package conflicts with
# libzookeeper-mt-dev (see bench/zkload_st.c).
cc -O2 -Wall -o "$work/zkload_st" bench/zkload_st.c -l:libzookeeper_st.so.2

declare -A PORT=([apache]=27181 [ours]=27182)
declare -A PID=()

cleanup() {
	for k in "${!PID[@]}"; do kill -9 "${PID[$k]}" 2>/dev/null || true; done
}
trap cleanup EXIT

start() { # kind
	local kind=$1 dir=$work/$1 port=${PORT[$1]}
	mkdir -p "$dir/data"
	cat > "$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
CFG
	if [ "$kind" = apache ]; then
		java -cp '/usr/share/java/*' -Dzookeeper.4lw.commands.whitelist='*' \
			-Dzookeeper.admin.enableServer=false \
			org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" > "$dir/log" 2>&1 &
	else
		ZK_LOG_LEVEL=warn bin/zkensemble "$dir/zoo.cfg" > "$dir/log" 2>&1 &
	fi
	PID[$kind]=$!
	local t0; t0=$(date +%s.%N)
	# Polled every 10 ms (plus the probe's own few ms): the restart being measured is a few
	# tenths of a second, so a 50 ms poll would be a large part of the number.
	for _ in $(seq 1 3000); do
		if srvr "$port" | grep -q '^Mode'; then
			awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%.3f\n", a - b}' > "$dir/started"
			return 0
		fi
		sleep 0.01
	done
	echo "bench: $kind did not start; log:" >&2
	tail -20 "$dir/log" >&2
	exit 1
}

stop() { # kind
	kill -TERM "${PID[$1]}" 2>/dev/null || true
	wait "${PID[$1]}" 2>/dev/null || true
	unset "PID[$1]"
}

# srvr over bash's /dev/tcp: answers as soon as the server closes (nc -q would add 1 s).
srvr() {
	timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 || exit 1; printf srvr >&3; cat <&3' "$1" 2>/dev/null
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
mntr() {
	timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 || exit 1; printf mntr >&3; cat <&3' "${PORT[ours]}" |
		awk -v k="$1" '$1 == k {print $2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b ? a / b : 0}'; }

echo "== disk: fsync latency"
dd if=/dev/zero of="$work/fsync.test" bs=4k count=300 oflag=dsync 2>&1 | tail -1 |
	awk '{printf "300 synchronous 4 KiB writes in %s s: %.2f ms per fsync\n", $(NF-3), $(NF-3)*1000/300}'
rm -f "$work/fsync.test"

start apache
start ours
echo
# Three load generators, the same for both servers: Apache's multi-threaded C client with a
# thread per session calling zoo_create (at 32 sessions its own CPU cost sets the pace on a
# 2-core machine), Apache's single-threaded C client with every session on one poll loop
# (zoo_acreate; bench/zkload_st.c), and zkload's lean mode (raw protocol, one epoll thread).
# Each point runs BENCH_REPS times, Apache and ours alternating, and reports medians: one run
# on a shared machine can be off by a factor of two (Apache's JIT and GC, other tenants).
med() { sort -n | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : 0}'; }
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
load() { # mode args...
	local m=$1
	shift
	if [ "$m" = st ]; then "$work/zkload_st" "$@"; else "$work/zkload" "$m" "$@"; fi
}
for mode in write st lean; do
	echo
	case $mode in
	write) echo "== acknowledged creates/s of 100-byte znodes, ${secs}s per run, median of $reps, Apache's C client (libzookeeper_mt, a thread per session, zoo_create)" ;;
	st) echo "== the same with Apache's single-threaded C client (libzookeeper_st, all sessions on one poll loop, zoo_acreate)" ;;
	*) echo "== the same with zkload's lean client (raw protocol, one thread)" ;;
	esac
	printf "%-8s %12s %12s %8s %14s %14s %12s\n" clients apache ours ratio "apache p99us" "ours p99us" \
		"client cpu"
	for n in $clients; do
		ar=() or=() ap=() op=() cpu=() runs=()
		f0=$(mntr zk_fsync_count); t0=$(mntr zk_txn_count)
		for r in $(seq 1 "$reps"); do
			a=$(load "$mode" "127.0.0.1:${PORT[apache]}" "$n" "$secs" "/$mode$n-$r")
			o=$(load "$mode" "127.0.0.1:${PORT[ours]}" "$n" "$secs" "/$mode$n-$r")
			ar+=("$(field rate <<< " $a")"); or+=("$(field rate <<< " $o")")
			ap+=("$(field p99_us <<< " $a")"); op+=("$(field p99_us <<< " $o")")
			cpu+=("$(field client_cpu_us <<< " $a")" "$(field client_cpu_us <<< " $o")")
			runs+=("$(ratio "${or[-1]}" "${ar[-1]}")")
		done
		f1=$(mntr zk_fsync_count); t1=$(mntr zk_txn_count)
		mar=$(printf '%s\n' "${ar[@]}" | med); mor=$(printf '%s\n' "${or[@]}" | med)
		printf "%-8s %12s %12s %8s %14s %14s %9s us   (ratio per run: %s; ours: %s txns/fsync)\n" \
			"$n" "$mar" "$mor" "$(ratio "$mor" "$mar")" "$(printf '%s\n' "${ap[@]}" | med)" \
			"$(printf '%s\n' "${op[@]}" | med)" "$(printf '%s\n' "${cpu[@]}" | med)" \
			"${runs[*]}" "$(ratio $((t1 - t0)) $((f1 - f0 > 0 ? f1 - f0 : 1)))"
	done
	if [ "$mode" = write ]; then
		echo "(client cpu: the C client's own CPU per create; on a machine with C cores no server can"
		echo " go faster than C / that, which caps the ratio where Apache is already near it)"
	fi
done

echo
echo "== $nodes znodes of 100 bytes on fresh servers: memory and restart"
stop apache; stop ours
rm -rf "$work/apache/data" "$work/ours/data"
start apache
start ours
for k in apache ours; do
	"$work/zkload" fill "127.0.0.1:${PORT[$k]}" "$nodes" /fill
done
ra=$(rss_kb "${PID[apache]}"); ro=$(rss_kb "${PID[ours]}")
printf "RSS:      apache %6d MB   ours %6d MB   ratio %s\n" $((ra / 1024)) $((ro / 1024)) "$(ratio "$ro" "$ra")"
stop apache; stop ours
# Started in this shell (not in $(...)), so the exit trap still knows their pids.
start apache; start ours
ta=$(cat "$work/apache/started"); to=$(cat "$work/ours/started")
printf "restart (process start to serving): apache %.2f s   ours %.2f s\n" "$ta" "$to"
ca=$("$work/zkload" count "127.0.0.1:${PORT[apache]}" /fill)
co=$("$work/zkload" count "127.0.0.1:${PORT[ours]}" /fill)
echo "znodes under /fill after restart: apache $ca, ours $co"
[ "$co" = "$nodes" ] || { echo "bench: ours lost znodes across restart" >&2; exit 1; }
[ "${BENCH_ZKFS:-1}" = 0 ] || "$top/bench/zkfs.sh"
