"""A TCP proxy that makes a ZooKeeper 3.6+ server look like one older than 3.6 to its
clients: addWatch (opcode 106) is refused with UNIMPLEMENTED. To keep replies in order,
the request is forwarded as a getData of a path that does not exist, and the server's
NONODE reply for that xid is rewritten to UNIMPLEMENTED.

usage: old_server_proxy.py LISTEN_PORT BACKEND_HOST:PORT   (prints "ready" when listening)
"""
import socket
import struct
import sys
import threading

ADD_WATCH, GET_DATA = 106, 4
NONODE, UNIMPLEMENTED = -101, -6


def read_frame(s):
    hdr = b""
    while len(hdr) < 4:
        b = s.recv(4 - len(hdr))
        if not b:
            return None
        hdr += b
    (n,) = struct.unpack(">i", hdr)
    body = b""
    while len(body) < n:
        b = s.recv(n - len(body))
        if not b:
            return None
        body += b
    return body


def frame(body):
    return struct.pack(">i", len(body)) + body


def shut_both(*socks):
    """One side ended: end the other too, so both pump threads stop."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def c2s(cli, srv, marked, lock):
    first = True
    try:
        while True:
            body = read_frame(cli)
            if body is None:
                break
            if not first and len(body) >= 8:
                xid, op = struct.unpack(">ii", body[:8])
                if op == ADD_WATCH:
                    with lock:
                        marked.add(xid)
                    path = b"/zkfs-test-proxy-no-such-node"
                    body = struct.pack(">iii", xid, GET_DATA, len(path)) + path + b"\0"
            first = False
            srv.sendall(frame(body))
    except OSError:
        pass
    shut_both(cli, srv)


def s2c(srv, cli, marked, lock):
    first = True
    try:
        while True:
            body = read_frame(srv)
            if body is None:
                break
            if not first and len(body) >= 16:
                xid, zxid, err = struct.unpack(">iqi", body[:16])
                with lock:
                    hit = xid in marked
                    marked.discard(xid)
                if hit and err == NONODE:
                    body = struct.pack(">iqi", xid, zxid, UNIMPLEMENTED) + body[16:]
            first = False
            cli.sendall(frame(body))
    except OSError:
        pass
    shut_both(cli, srv)


def main():
    port = int(sys.argv[1])
    host, bport = sys.argv[2].rsplit(":", 1)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("ready", flush=True)
    while True:
        cli, _ = ls.accept()
        try:
            srv = socket.create_connection((host, int(bport)))
        except OSError:
            cli.close()
            continue
        for s in (cli, srv):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        marked, lock = set(), threading.Lock()
        threading.Thread(target=c2s, args=(cli, srv, marked, lock), daemon=True).start()
        threading.Thread(target=s2c, args=(srv, cli, marked, lock), daemon=True).start()


main()
