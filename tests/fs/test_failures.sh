#!/usr/bin/env bash
# zkfs under failures: with the server down nothing hangs past -o timeout (calls fail with
# EIO/ETIMEDOUT); the session survives a server restart; after a session expiry zkfs starts
# a new session and re-creates the ephemerals its open files own; a mount whose server is
# down still unmounts cleanly; a bad server or root makes zkfs fail at start.
# timeout: 300
. "$(dirname "$0")/lib.sh"

fs_start_backend $(( ${FS_PORT_BASE:-23100} + 4 )) || exit 1
M=$FS_TMP/mnt

check "zkfs refuses a missing root" not timeout 20 "$ZKFS" "$FS_SERVER" "$FS_TMP" -o root=/nonexistent,timeout=3
check "zkfs refuses an unreachable server" not timeout 20 "$ZKFS" 127.0.0.1:1 "$FS_TMP" -o timeout=2

check "mount" fs_mount "$M" -o "timeout=2,session_timeout=4,logfile=$FS_TMP/zkfs.log"
echo before > "$M/f"

# session expiry: freeze zkfs longer than the session timeout
bash -c "exec 3> '$M/.ephemeral/reg'; echo me >&3; sleep 60" &
holder=$!
FS_PIDS+=("$holder")
check "ephemeral registered" wait_for 5 zkop exists /reg
pid=$(fs_zkfs_pid "$M")
kill -STOP "$pid"
check "session expires while zkfs is frozen" wait_for 15 not zkop exists /reg
kill -CONT "$pid"
check "ephemeral re-created in the new session" wait_for 10 zkop exists /reg
expect_eq "re-created ephemeral keeps its data" "me" "$(zkop get /reg)"
expect_eq "mount works after the expiry" "before" "$(cat "$M/f")"
check "the expiry is logged" grep -q "session expired; starting a new one" "$FS_TMP/zkfs.log"
# the new session watches again: another client's change is an inotify event
inotifywait -t 10 -e modify --format '%e' "$M/f" > "$FS_TMP/ev" 2> "$FS_TMP/ev.err" &
w=$!
FS_PIDS+=("$w")
wait_for 5 grep -q "Watches established" "$FS_TMP/ev.err"
zkop set /f remote
wait "$w"
expect_eq "inotify event after the expiry (watch re-armed)" "MODIFY" "$(head -1 "$FS_TMP/ev")"
expect_eq "fresh data after the event" "remote" "$(cat "$M/f")"
echo before > "$M/f"
kill "$holder"
wait "$holder" 2>/dev/null
check "re-created ephemeral deleted at close" wait_for 5 not zkop exists /reg

# server restart: the session survives
fs_restart_backend
check "file readable after a server restart" wait_for 10 bash -c "[ \"\$(cat '$M/f' 2>/dev/null)\" = before ]"
echo after > "$M/f"
expect_eq "write after a server restart" "after" "$(zkop get /f)"

# server down: calls fail within the timeout instead of hanging
fs_stop_backend
start=$(date +%s%N)
out=$(echo x 2>&1 > "$M/f")
st=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
check "write with the server down fails" test "$st" -ne 0
check "write failed within timeout + 2 s (took ${elapsed} ms)" test "$elapsed" -lt 4000
start=$(date +%s%N)
ls "$M/nonexistent" > /dev/null 2>&1
st=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
check "lookup with the server down fails" test "$st" -ne 0
check "lookup failed within timeout + 2 s (took ${elapsed} ms)" test "$elapsed" -lt 4000
check "error is EIO or ETIMEDOUT" bash -c "echo '$out' | grep -Eq 'Input/output error|timed out'"

# a mount whose server is down still unmounts, and zkfs exits
pid=$(fs_zkfs_pid "$M")
check "unmount with the server down" fs_umount "$M"
check "zkfs exits after unmount with the server down" wait_for 5 gone "$pid"
finish
