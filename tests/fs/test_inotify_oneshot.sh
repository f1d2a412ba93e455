#!/usr/bin/env bash
# The inotify suite again with -o watch=oneshot: one-shot data/child/exists watches re-armed
# on each event (the fallback for servers older than 3.6) still turn another client's
# create, set and delete into inotify events, and our own changes are not replayed twice.
# timeout: 240
INOTIFY_WATCH=oneshot INOTIFY_PORT_OFFSET=5 exec "$(dirname "$0")/test_inotify.sh"
