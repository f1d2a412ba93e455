"""Another ZooKeeper client for the zkfs tests: python3-kazoo (Debian's /usr/bin/python3).

usage: zkop.py SERVERS OP PATH [DATA]
  set PATH DATA | create PATH [DATA] | ecreate PATH [DATA] (ephemeral, held until stdin closes)
  delete PATH | get PATH | version PATH | exists PATH | children PATH | cversion PATH
"""
import sys

from kazoo.client import KazooClient


def main():
    servers, op, path = sys.argv[1], sys.argv[2], sys.argv[3]
    data = sys.argv[4].encode() if len(sys.argv) > 4 else None
    zk = KazooClient(hosts=servers, timeout=10)
    zk.start(timeout=15)
    try:
        if op == "set":
            zk.set(path, data)
        elif op == "create":
            zk.create(path, data if data is not None else b"")
        elif op == "createnull":
            zk.create(path, None)
        elif op == "ecreate":
            zk.create(path, data or b"", ephemeral=True)
            sys.stdin.read()
        elif op == "delete":
            zk.delete(path)
        elif op == "get":
            d, _ = zk.get(path)
            sys.stdout.write(d.decode() if d is not None else "<null>")
        elif op == "version":
            print(zk.exists(path).version)
        elif op == "exists":
            sys.exit(0 if zk.exists(path) else 1)
        elif op == "children":
            print(" ".join(sorted(zk.get_children(path))))
        elif op == "acl":
            acls, _ = zk.get_acls(path)
            for a in acls:
                print("%s:%s:%d" % (a.id.scheme, a.id.id, a.perms))
        else:
            sys.exit("unknown op " + op)
    finally:
        zk.stop()


main()
