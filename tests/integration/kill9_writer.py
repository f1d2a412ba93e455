#!/usr/bin/python3
"""Write storm for the kill -9 test: N kazoo sessions create znodes as fast as the server
acknowledges them and record every acknowledged path (one line each, flushed at once),
until the server dies. Then `check` verifies every acknowledged path with its data."""
import sys
import threading

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry


def writer(hosts, wid, out_path, rnd):
    zk = KazooClient(hosts=hosts, timeout=10,
                     connection_retry=KazooRetry(max_tries=0),
                     command_retry=KazooRetry(max_tries=0))
    zk.start(timeout=10)
    with open(out_path, "a") as out:
        i = 0
        while True:
            path = "/storm/r%d-w%d-%d" % (rnd, wid, i)
            try:
                zk.create(path, path.encode(), makepath=False)
            except Exception:
                break
            out.write(path + "\n")
            out.flush()
            i += 1
    try:
        zk.stop()
        zk.close()
    except Exception:
        pass


def storm(hosts, nwriters, out_path, rnd):
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=10)
    zk.ensure_path("/storm")
    zk.stop()
    zk.close()
    threads = [threading.Thread(target=writer, args=(hosts, w, "%s.%d" % (out_path, w), rnd))
               for w in range(nwriters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def check(hosts, files):
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=10)
    acked = lost = 0
    for f in files:
        for line in open(f):
            path = line.strip()
            if not path:
                continue
            acked += 1
            try:
                data, _ = zk.get(path)
                if data != path.encode():
                    print("WRONG DATA", path, data)
                    lost += 1
            except Exception as e:
                print("LOST", path, type(e).__name__)
                lost += 1
    zk.stop()
    zk.close()
    print("acked=%d lost=%d" % (acked, lost))
    return 1 if lost else 0


if __name__ == "__main__":
    if sys.argv[1] == "storm":
        storm(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(check(sys.argv[2], sys.argv[3:]))
