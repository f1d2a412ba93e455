#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need (called by `make deps`).
#
# Idempotent and quick when nothing is missing: dpkg-query decides, and apt-get (and its
# `update`) runs only for packages that are not installed. Non-interactive: works as root
# with no stdin and under CI=true; as another user it uses sudo -n when it can.
set -euo pipefail

packages=(
	build-essential pkg-config	# cc, make, and pkg-config for fuse3's flags
	libuv1-dev			# the event loop of zkensemble, zkfs and the client library
	libssl-dev			# SHA-1 for digest ACLs; TLS later
	zlib1g-dev			# Adler-32 / CRC-32, the checksums of ZooKeeper's log and snapshots
	libfuse3-dev fuse3		# zkfs
	libcmocka-dev			# unit tests
	zookeeper default-jre-headless	# Apache ZooKeeper 3.8: zkCli.sh and the reference server
	python3-kazoo			# kazoo client tests (Debian's /usr/bin/python3)
	libzookeeper-mt-dev		# the ZooKeeper C client, for client tests
	libzookeeper-st2		# its single-threaded build, for make bench (bench/zkload_st.c)
	golang-go golang-github-samuel-go-zookeeper-dev	# go-zookeeper client tests
	inotify-tools attr		# inotifywait, getfattr/setfattr for zkfs tests
	netcat-openbsd			# four-letter words from scripts and tests
	clang				# libFuzzer targets (make fuzz)
	valgrind			# memory checks in tests
	libasan8 libubsan1		# gcc's sanitizer runtimes (tests/integration/test_sanitizers.sh)
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[[ $status == ii* ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

echo "deps: installing ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: apt-get not found; install these packages by hand: ${missing[*]}" >&2
	exit 1
fi

sudo=()
if ((EUID != 0)); then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo -n)
	else
		echo "deps: not root and no sudo; install as root: ${missing[*]}" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${sudo[@]}" apt-get "${apt_opts[@]}" update </dev/null
"${sudo[@]}" apt-get "${apt_opts[@]}" install "${missing[@]}" </dev/null
