"""Minimal ZooKeeper wire-protocol codec and socket client for the compatibility tests.

Plain sockets, no kazoo: used for raw probes (hostile input, four-letter words), for requests
kazoo 2.8 cannot send (container, TTL, addWatch, whoAmI, getEphemerals, ...), and for a session
that can be abandoned without closing (expiry). Encodings follow client-protocol.md §2.
"""
import socket
import struct
import time

# ---- jute encoders ------------------------------------------------------------------------

def jint(v):
    return struct.pack('!i', v)


def jlong(v):
    return struct.pack('!q', v)


def jbool(v):
    return b'\x01' if v else b'\x00'


def jstr(s):
    """ustring; None is the null string (-1)."""
    if s is None:
        return jint(-1)
    if isinstance(s, str):
        s = s.encode('utf-8')
    return jint(len(s)) + s


def jbuf(b):
    if b is None:
        return jint(-1)
    return jint(len(b)) + b


def jacl(acls):
    """acls: list of (perms, scheme, id)."""
    out = jint(len(acls))
    for perms, scheme, ident in acls:
        out += jint(perms) + jstr(scheme) + jstr(ident)
    return out


OPEN_ACL = [(31, 'world', 'anyone')]

# ---- jute decoders: each takes (buf, off) and returns (value, new_off) ----------------------

def rint(b, o):
    return struct.unpack_from('!i', b, o)[0], o + 4


def rlong(b, o):
    return struct.unpack_from('!q', b, o)[0], o + 8


def rstr(b, o):
    n, o = rint(b, o)
    if n < 0:
        return None, o
    return bytes(b[o:o + n]).decode('utf-8', 'replace'), o + n


def rbuf(b, o):
    n, o = rint(b, o)
    if n < 0:
        return None, o
    return bytes(b[o:o + n]), o + n


STAT_FIELDS = ('czxid', 'mzxid', 'ctime', 'mtime', 'version', 'cversion', 'aversion',
               'ephemeralOwner', 'dataLength', 'numChildren', 'pzxid')


def rstat(b, o):
    vals = struct.unpack_from('!qqqqiiiqiiq', b, o)
    return dict(zip(STAT_FIELDS, vals)), o + 68


def rstrvec(b, o):
    n, o = rint(b, o)
    out = []
    for _ in range(max(n, 0)):
        s, o = rstr(b, o)
        out.append(s)
    return out, o


def fmt_stat(st):
    """One-line Stat with the normaliser's tags (@z zxid, @s session, @t time)."""
    return ('v=%d cv=%d av=%d nc=%d dl=%d eo=@s:%x cz=@z:%x mz=@z:%x pz=@z:%x ct=@t:%d mt=@t:%d'
            % (st['version'], st['cversion'], st['aversion'], st['numChildren'],
               st['dataLength'], st['ephemeralOwner'] & 0xFFFFFFFFFFFFFFFF,
               st['czxid'], st['mzxid'], st['pzxid'], st['ctime'], st['mtime']))

# ---- request bodies -----------------------------------------------------------------------

def create_body(path, data=b'', acl=None, flags=0, ttl=None):
    body = jstr(path) + jbuf(data) + jacl(OPEN_ACL if acl is None else acl) + jint(flags)
    if ttl is not None:
        body += jlong(ttl)
    return body


def path_watch_body(path, watch=False):
    return jstr(path) + jbool(watch)


OPS = {
    'create': 1, 'delete': 2, 'exists': 3, 'getData': 4, 'setData': 5, 'getACL': 6,
    'setACL': 7, 'getChildren': 8, 'sync': 9, 'ping': 11, 'getChildren2': 12, 'check': 13,
    'multi': 14, 'create2': 15, 'reconfig': 16, 'checkWatches': 17, 'removeWatches': 18,
    'createContainer': 19, 'deleteContainer': 20, 'createTTL': 21, 'multiRead': 22,
    'auth': 100, 'setWatches': 101, 'sasl': 102, 'getEphemerals': 103,
    'getAllChildrenNumber': 104, 'setWatches2': 105, 'addWatch': 106, 'whoAmI': 107,
    'closeSession': -11,
}


class Closed(Exception):
    pass


class Conn:
    """One TCP connection; frames in and out, no threads."""

    def __init__(self, port, host='127.0.0.1', timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.xid = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, payload):
        self.sock.sendall(jint(len(payload)) + payload)

    def recv_exact(self, n):
        out = b''
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise Closed(out)
            out += chunk
        return out

    def recv_frame(self):
        n = struct.unpack('!i', self.recv_exact(4))[0]
        return self.recv_exact(n)

    def wait_closed(self, timeout=3.0):
        """'closed' if the peer closes within timeout (data read first is returned too),
        'open' if it is still open; returns (state, bytes_received)."""
        self.sock.settimeout(timeout)
        got = b''
        end = time.time() + timeout
        try:
            while time.time() < end:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return 'closed', got
                got += chunk
        except socket.timeout:
            return 'open', got
        except ConnectionResetError:
            return 'closed', got
        return 'open', got

    # -- session ----------------------------------------------------------------------------
    def connect(self, timeout_ms=30000, sid=0, passwd=b'\0' * 16, last_zxid=0, read_only=True):
        """Sends a ConnectRequest (with the readOnly byte unless read_only is None) and returns
        the decoded ConnectResponse as a dict (plus 'len', the body length)."""
        body = jint(0) + jlong(last_zxid) + jint(timeout_ms) + jlong(sid) + jbuf(passwd)
        if read_only is not None:
            body += jbool(read_only)
        self.send_frame(body)
        r = self.recv_frame()
        proto, o = rint(r, 0)
        to, o = rint(r, o)
        rsid, o = rlong(r, o)
        pwd, o = rbuf(r, o)
        ro = r[o] if o < len(r) else None
        self.session = rsid
        self.passwd = pwd
        return {'proto': proto, 'timeout': to, 'sid': rsid, 'passwd': pwd, 'ro': ro,
                'len': len(r)}

    def request(self, op, body=b'', xid=None):
        """Sends one request and returns (xid, zxid, err, body, events) where events are the
        notifications (type, state, path) that arrived before the reply."""
        if isinstance(op, str):
            op = OPS[op]
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.send_frame(jint(xid) + jint(op) + body)
        events = []
        while True:
            r = self.recv_frame()
            rxid, o = rint(r, 0)
            zxid, o = rlong(r, o)
            err, o = rint(r, o)
            if rxid == -1 and xid != -1:
                etype, o = rint(r, o)
                state, o = rint(r, o)
                path, o = rstr(r, o)
                events.append((etype, state, path))
                continue
            return rxid, zxid, err, r[o:], events

    def read_event(self, timeout=5.0):
        """Next frame, expected to be a notification: (type, state, path) or None on timeout."""
        self.sock.settimeout(timeout)
        try:
            r = self.recv_frame()
        except socket.timeout:
            return None
        finally:
            self.sock.settimeout(5.0)
        rxid, o = rint(r, 0)
        zxid, o = rlong(r, o)
        err, o = rint(r, o)
        if rxid != -1:
            return ('reply', rxid, err)
        etype, o = rint(r, o)
        state, o = rint(r, o)
        path, o = rstr(r, o)
        return (etype, state, path)


def session(port, timeout_ms=30000, **kw):
    c = Conn(port)
    c.connect(timeout_ms, **kw)
    return c


def fourlw(port, word, extra=b'', timeout=5.0):
    """Sends a four-letter word (bytes or str) and returns the whole answer."""
    if isinstance(word, str):
        word = word.encode()
    c = Conn(port, timeout=timeout)
    try:
        c.send(word + extra)
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = b''
        while True:
            try:
                chunk = c.sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        c.close()
