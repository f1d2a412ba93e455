#!/usr/bin/env bash
# zkensemble.sh: start and stop zkensemble the way zkServer.sh does for Apache ZooKeeper.
#
#   zkensemble.sh [--config <conf-dir>] {start|start-foreground|stop|restart|status|print-cmd|version} [zoo.cfg]
#
# The config is the second argument (a path, or a name inside the conf dir), else $ZOOCFG,
# else <conf-dir>/zoo.cfg with <conf-dir> from --config, $ZOOCFGDIR, then
# /etc/zookeeper/conf. The pid file is <dataDir>/zookeeper_server.pid (or $ZOOPIDFILE), the
# daemon's output goes to ${ZOO_LOG_DIR:-<dataDir>}/zkensemble.out. SERVER_JVMFLAGS and
# JVMFLAGS are passed through: zkensemble reads their -D settings itself.
# status asks the server's client port for `srvr` with nc and prints its "Mode:" line.
set -uo pipefail

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)

usage() {
	echo "Usage: $0 [--config <conf-dir>] {start|start-foreground|stop|restart|status|print-cmd|version} [zoo.cfg]" >&2
	exit 2
}

if [[ ${1:-} == --config ]]; then
	[[ $# -ge 2 ]] || usage
	ZOOCFGDIR=$2
	shift 2
fi
[[ $# -ge 1 ]] || usage
cmd=$1
cfgdir=${ZOOCFGDIR:-/etc/zookeeper/conf}
if [[ -n ${2:-} ]]; then
	if [[ $2 == */* || -f $2 ]]; then
		cfg=$2
	else
		cfg=$cfgdir/$2
	fi
else
	cfg=${ZOOCFG:-$cfgdir/zoo.cfg}
fi

if [[ -n ${ZKENSEMBLE:-} ]]; then
	bin=$ZKENSEMBLE
elif [[ -x $top/bin/zkensemble ]]; then
	bin=$top/bin/zkensemble
else
	bin=$(command -v zkensemble || echo "$top/bin/zkensemble")
fi

if [[ $cmd == version ]]; then
	exec "$bin" --version
fi

echo "Using config: $cfg" >&2
if [[ ! -r $cfg ]]; then
	echo "cannot read config $cfg" >&2
	exit 1
fi

# The last value of a key, read as java.util.Properties reads a simple line
# (key=value, key:value or key value; # and ! comments). Continuation lines are not followed.
cfg_get() {
	awk -v k="$1" '
		{ sub(/\r$/, ""); sub(/^[ \t\f]+/, "") }
		/^[#!]/ { next }
		substr($0, 1, length(k)) == k {
			rest = substr($0, length(k) + 1)
			if (rest != "" && rest !~ /^[ \t\f=:]/) next
			sub(/^[ \t\f]*[=:]?[ \t\f]*/, "", rest)
			sub(/[ \t\f]+$/, "", rest)
			v = rest; found = 1
		}
		END { if (found) print v }' "$2"
}

data_dir=$(cfg_get dataDir "$cfg")
if [[ -z $data_dir ]]; then
	echo "$cfg: dataDir is not set" >&2
	exit 1
fi
pidfile=${ZOOPIDFILE:-$data_dir/zookeeper_server.pid}
logdir=${ZOO_LOG_DIR:-$data_dir}
out=$logdir/zkensemble.out
stop_timeout=${ZKENSEMBLE_STOP_TIMEOUT:-30}

# The pid in the pid file, if that process is alive and is a zkensemble.
running_pid() {
	local pid
	[[ -f $pidfile ]] || return 1
	pid=$(tr -dc 0-9 <"$pidfile")
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
	# A pid reused by something else names neither the daemon nor the config.
	if [[ -r /proc/$pid/cmdline ]]; then
		local args
		args=$(tr '\0' ' ' <"/proc/$pid/cmdline")
		[[ $args == *"$(basename "$bin")"* || $args == *"$(basename "$cfg")"* ]] || return 1
	fi
	echo "$pid"
}

# Sends a four-letter word and prints the answer (nc like zkServer.sh; bash's /dev/tcp if
# there is no nc).
fourlw() {
	local host=$1 port=$2 word=$3
	if command -v nc >/dev/null 2>&1; then
		printf %s "$word" | timeout 10 nc -q 1 -w 5 "$host" "$port" 2>/dev/null
	else
		timeout 10 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf %s "$2" >&3 && cat <&3' \
			"$host" "$port" "$word" 2>/dev/null
	fi
}

# Where status connects: clientPortAddress/clientPort, else this server's ";[host:]port".
client_address() {
	local addr port myid cp
	addr=$(cfg_get clientPortAddress "$cfg")
	port=$(cfg_get clientPort "$cfg")
	if [[ ! $port =~ ^[0-9]+$ ]]; then
		port=
		myid=$(head -n 1 "$data_dir/myid" 2>/dev/null | tr -d '\r')
		if [[ $myid =~ ^[0-9]+$ ]]; then
			cp=$(cfg_get "server.$myid" "$cfg")
			local dyn
			dyn=$(cfg_get dynamicConfigFile "$cfg")
			if [[ $cp != *";"* && -n $dyn && -r $dyn ]]; then
				cp=$(cfg_get "server.$myid" "$dyn")
			fi
			if [[ $cp == *";"* ]]; then
				cp=${cp##*;}
				if [[ $cp =~ ^\[(.*)\]:([0-9]+)$ ]]; then
					addr=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
				elif [[ $cp =~ ^(.*):([0-9]+)$ ]]; then
					addr=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
				elif [[ $cp =~ ^[0-9]+$ ]]; then
					port=$cp
				fi
			fi
		fi
	fi
	[[ -n $port ]] || return 1
	echo "${addr:-localhost} $port"
}

do_start() {
	local pid
	echo -n "Starting zkensemble ... "
	if pid=$(running_pid); then
		echo "already running as process $pid."
		return 1
	fi
	mkdir -p "$data_dir" "$logdir" "$(dirname "$pidfile")"
	if [[ ! -x $bin ]]; then
		echo "FAILED TO START ($bin is not built: run make)"
		return 1
	fi
	nohup "$bin" "$cfg" >"$out" 2>&1 </dev/null &
	pid=$!
	if ! echo -n "$pid" >"$pidfile"; then
		echo "FAILED TO WRITE PID"
		kill "$pid" 2>/dev/null
		return 1
	fi
	# Up to 5 s: wait until the client port answers srvr (a quorum member answers only
	# once it has a leader, so a live process is enough), or until the process dies.
	local where i
	where=$(client_address) || where=
	for ((i = 0; i < 50; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "FAILED TO START"
			tail -n 20 "$out" >&2
			rm -f "$pidfile"
			return 1
		fi
		# shellcheck disable=SC2086
		if [[ -n $where ]] && fourlw $where srvr | grep -q '^Mode'; then
			break
		fi
		((i >= 10)) && [[ -z $where ]] && break
		sleep 0.1
	done
	echo STARTED
}

do_stop() {
	local pid i
	echo -n "Stopping zkensemble ... "
	if [[ ! -f $pidfile ]]; then
		echo "no zkensemble to stop (could not find file $pidfile)"
		return 0
	fi
	if ! pid=$(running_pid); then
		rm -f "$pidfile"
		echo "no zkensemble running (removed stale $pidfile)"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < stop_timeout * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo -n "still running after ${stop_timeout}s, sending SIGKILL ... "
		kill -KILL "$pid" 2>/dev/null
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	fi
	rm -f "$pidfile"
	echo STOPPED
}

do_status() {
	local where addr port stat
	if ! where=$(client_address); then
		echo "Unable to find a client port in $cfg. Terminating."
		return 1
	fi
	read -r addr port <<<"$where"
	echo "Client port found: $port. Client address: $addr. Client SSL: false."
	stat=$(fourlw "$addr" "$port" srvr | grep Mode)
	if [[ -z $stat ]]; then
		echo "Error contacting service. It is probably not running."
		return 1
	fi
	echo "$stat"
}

case $cmd in
start) do_start ;;
start-foreground)
	mkdir -p "$data_dir"
	exec "$bin" "$cfg"
	;;
stop) do_stop ;;
restart)
	do_stop
	do_start
	;;
status) do_status ;;
print-cmd) echo "\"$bin\" \"$cfg\" > \"$out\" 2>&1 < /dev/null" ;;
*) usage ;;
esac
