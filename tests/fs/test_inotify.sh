#!/usr/bin/env bash
# zkfs turns remote changes into inotify events: another client's create, set and delete are
# seen by inotifywait (on the directory and on the file) within 1 s, and a reader woken by
# the event reads the new data. Changes made through the mount are not replayed twice;
# changes made through a view (.ephemeral/, .version/) are replayed into the plain tree.
# test_inotify_oneshot.sh runs it again with INOTIFY_WATCH=oneshot (-o watch=oneshot), and
# test_inotify_fallback.sh with INOTIFY_WATCH=refused: through a proxy that refuses
# addWatch like a server older than 3.6, so zkfs falls back to one-shot watches by itself.
# timeout: 240
. "$(dirname "$0")/lib.sh"

fs_start_backend $(( ${FS_PORT_BASE:-23100} + ${INOTIFY_PORT_OFFSET:-3} )) || exit 1
M=$FS_TMP/mnt
if [ "${INOTIFY_WATCH:-}" = refused ]; then
	# an "old server": addWatch refused (old_server_proxy.py); zkfs must fall back by itself
	real=$FS_SERVER
	"$KAZOO_PY" "$FS_DIR/old_server_proxy.py" $((FS_PORT + 50)) "$real" > "$FS_TMP/proxy.out" &
	FS_PIDS+=("$!")
	wait_for 5 grep -q ready "$FS_TMP/proxy.out"
	FS_SERVER=127.0.0.1:$((FS_PORT + 50))
	check "mount through a server that refuses addWatch" \
		fs_mount "$M" -o "logfile=$FS_TMP/zkfs.log" 2>> "$FS_TMP/zkfs.log"
	FS_SERVER=$real
	check "zkfs says it falls back to one-shot watches" \
		wait_for 5 grep -q "persistent recursive watch refused (UNIMPLEMENTED)" "$FS_TMP/zkfs.log"
	INOTIFY_WATCH=oneshot	# from here on the one-shot checks apply
else
	check "mount (watch=${INOTIFY_WATCH:-persistent})" fs_mount "$M" -o "watch=${INOTIFY_WATCH:-persistent}"
fi
mkdir "$M/w"
echo v1 > "$M/w/file"
if [ "${INOTIFY_WATCH:-}" = oneshot ]; then
	# one-shot watches are per path; the persistent recursive one is only on the root
	check "one-shot: child watch on /w at the server" wait_for 2 \
		eval 'fourlw "$FS_PORT" wchp | grep -qx "/w"'
	check "one-shot: data watch on /w/file at the server" wait_for 2 \
		eval 'fourlw "$FS_PORT" wchp | grep -qx "/w/file"'
fi

LOG=$FS_TMP/events
inotifywait -m -q -e create,delete,modify,attrib,delete_self --format '%e %f' "$M/w" > "$LOG" 2>&1 &
FS_PIDS+=("$!")
sleep 0.5

seen() { grep -q "$1" "$LOG"; }

zkop create /w/new hello
check "remote create: IN_CREATE within 1 s" wait_for 1 seen "^CREATE new$"
expect_eq "created file reads its data" "hello" "$(cat "$M/w/new")"

zkop set /w/file v2
check "remote set: IN_MODIFY within 1 s" wait_for 1 seen "^MODIFY file$"
expect_eq "data after the event is fresh" "v2" "$(cat "$M/w/file")"

zkop delete /w/new
check "remote delete: IN_DELETE within 1 s" wait_for 1 seen "^DELETE new$"
check "deleted file is gone" test ! -e "$M/w/new"

zkop createnull /w/sub
check "remote create of a null-data node: IN_CREATE,ISDIR" wait_for 1 seen "^CREATE,ISDIR sub$"
check "it is a directory" test -d "$M/w/sub"

# a reader woken by the event reads the new data (invalidation comes first)
OUT=$FS_TMP/woken
( inotifywait -q -e modify "$M/w/file" > /dev/null && cat "$M/w/file" > "$OUT" ) &
reader=$!
FS_PIDS+=("$reader")
sleep 0.5
zkop set /w/file v3
check "watch on the file itself fires" wait_for 2 gone "$reader"
expect_eq "woken reader reads the new data" "v3" "$(cat "$OUT" 2>/dev/null)"

# delete of a watched file gives IN_DELETE_SELF to a watch on it
SELF=$FS_TMP/self
inotifywait -q -e delete_self --format '%e' "$M/w/file" > "$SELF" 2>&1 &
FS_PIDS+=("$!")
sleep 0.5
zkop delete /w/file
check "remote delete: IN_DELETE_SELF on the file" wait_for 2 grep -q DELETE_SELF "$SELF"

# local changes make their own events once (no replay on top)
: > "$LOG"
echo local > "$M/w/mine"
sleep 0.5
expect_eq "local create is one IN_CREATE" "1" "$(grep -c '^CREATE mine$' "$LOG")"
expect_eq "local write is one IN_MODIFY" "1" "$(grep -c '^MODIFY mine$' "$LOG")"

# changes made through a view on this same mount reach a watcher of the plain tree
: > "$LOG"
exec 7> "$M/.ephemeral/w/eph"
check "create through .ephemeral/: IN_CREATE in the plain directory" wait_for 1 seen "^CREATE eph$"
exec 7>&-
check "its delete at close: IN_DELETE in the plain directory" wait_for 2 seen "^DELETE eph$"
echo 5 > "$M/w/cas"
v=$(getfattr --absolute-names --only-values -n user.zk.dataVersion "$M/w/cas")
sleep 0.3
: > "$LOG"
printf 6 > "$M/.version/$v/w/cas"
check "write through .version/: IN_MODIFY on the plain file" wait_for 1 seen "^MODIFY cas$"
expect_eq "plain file reads the new data" "6" "$(cat "$M/w/cas")"
finish
