#!/usr/bin/env bash
# The inotify suite through a server that refuses addWatch (tests/fs/old_server_proxy.py
# answers it UNIMPLEMENTED, like ZooKeeper before 3.6): zkfs logs the refusal, falls back to
# one-shot watches by itself, and another client's create, set and delete still become
# inotify events.
# timeout: 240
INOTIFY_WATCH=refused INOTIFY_PORT_OFFSET=7 exec "$(dirname "$0")/test_inotify.sh"
