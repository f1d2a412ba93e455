#!/usr/bin/python3
"""kazoo (Debian python3-kazoo 2.8) transcript against one server.

usage: kazoo_client.py PORT [--ttl | --dump LABEL]

Prints one line per operation: the session, the call, then "->" and the result or the
kazoo exception name; Stats and ids carry the tags that normalise.py maps (@z zxid, @s
session, @t time). Watch notifications are logged by the connection's reader thread the moment
they are read, as "EVENT <session> <type> <path> after=<xid>", where xid is the last reply read
on that connection before the event: so an event that must precede the reply of the write that
caused it shows the previous xid. Cross-session events are made deterministic by a round trip
on the watching session ("settle") before the transcript goes on.

Requests kazoo 2.8 has no API for (createContainer, createTTL, addWatch, removeWatches,
checkWatches, getEphemerals, getAllChildrenNumber, whoAmI, multiRead, and requests with invalid
paths, which kazoo's path normalisation would repair) go through kazoo's own connection as raw
records built with zkraw.

--ttl runs only the TTL section (for a server with extended types enabled); without it that
section checks that TTL nodes are refused. --dump LABEL prints the whole tree and makes two
writes (run before and after a server restart).
"""
import logging
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kazoo.client import KazooClient  # noqa: E402
from kazoo import exceptions as kex  # noqa: E402
from kazoo.security import ACL, Id, make_digest_acl, make_digest_acl_credential  # noqa: E402
from kazoo.protocol.states import KazooState  # noqa: E402

import zkraw  # noqa: E402
from zkraw import jstr, jint, jlong, jbool, jbuf, jacl, rint, rstr, rstrvec, rstat, rbuf  # noqa: E402

logging.basicConfig(level=logging.CRITICAL)

PORT = int(sys.argv[1])
HOSTS = '127.0.0.1:%d' % PORT
TTL_MODE = '--ttl' in sys.argv

# kazoo 2.8 knows no exception for these codes; an unknown code raises in its reader thread and
# drops the connection, so register them (same naming as kazoo's).
for _code, _name in ((-121, 'NoWatcherError'), (-120, 'EphemeralOnLocalSessionError'),
                     (-123, 'ReconfigDisabledError'), (-125, 'QuotaExceededError'),
                     (-127, 'ThrottledOpError'), (-124, 'SessionClosedRequireSaslError'),
                     (-122, 'RequestTimeoutError')):
    if _code not in kex.EXCEPTIONS:
        kex._zookeeper_exception(_code)(type(_name, (kex.ZookeeperError,), {}))

OUT_LOCK = threading.Lock()


def emit(line):
    with OUT_LOCK:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()


EVENT_NAMES = {1: 'NodeCreated', 2: 'NodeDeleted', 3: 'NodeDataChanged',
               4: 'NodeChildrenChanged', 5: 'DataWatchRemoved', 6: 'ChildWatchRemoved',
               7: 'PersistentWatchRemoved'}

# ---- formatting -----------------------------------------------------------------------------


def fstat(st):
    if st is None:
        return 'None'
    return zkraw.fmt_stat({k: getattr(st, k) for k in zkraw.STAT_FIELDS})


def fdata(d):
    return 'None' if d is None else repr(bytes(d))


def facl(acls):
    """ACL lists are unordered (normalise.py sorts the braces)."""
    return '{' + ','.join('%d:%s:%s' % (a.perms, a.id.scheme, a.id.id) for a in acls) + '}'


def fres(r):
    """Formats whatever a call returned."""
    if isinstance(r, Txt):
        return str(r)
    if r is None or isinstance(r, (bool, int, str)):
        return repr(r)
    if isinstance(r, bytes):
        return fdata(r)
    if hasattr(r, 'czxid'):
        return fstat(r)
    if isinstance(r, Exception):
        return type(r).__name__
    if isinstance(r, tuple):
        return '(' + ', '.join(fres(x) for x in r) + ')'
    if isinstance(r, list):
        if r and all(isinstance(x, ACL) for x in r):
            return facl(r)
        return '[' + ', '.join(fres(x) for x in r) + ']'
    if isinstance(r, dict):
        return repr(r)
    return repr(r)


class Txt(str):
    """Decoded text that fres prints as is (and kazoo's multi unchroot leaves alone)."""

    def __repr__(self):
        return str(self)


def children(names):
    """Children, whoAmI, ephemerals: unordered, sorted by normalise.py."""
    return Txt('{' + ','.join(names) + '}')

# ---- raw requests through kazoo's connection -----------------------------------------------


class Raw:
    """A request record kazoo's connection can send: it needs .type, .serialize() and
    .deserialize(buf, off)."""

    def __init__(self, op, body=b'', decoder=None, label=None):
        self.type = zkraw.OPS[op] if isinstance(op, str) else op
        self.body = body
        self.decoder = decoder
        self.label = label or str(op)

    def serialize(self):
        return self.body

    def deserialize(self, buf, off):
        if self.decoder is None:
            return None
        return self.decoder(bytes(buf), off)

    def __repr__(self):
        return 'Raw(%s)' % self.label


def dec_create2(b, o):
    path, o = rstr(b, o)
    st, o = rstat(b, o)
    return (path, Txt(zkraw.fmt_stat(st)))


def dec_path(b, o):
    return rstr(b, o)[0]


def dec_int(b, o):
    return rint(b, o)[0]


def dec_strvec(b, o):
    return children(rstrvec(b, o)[0])


def raw_strvec(b, o):
    """A vector of ustrings as raw bytes (no decoding)."""
    n, o = rint(b, o)
    out = []
    for _ in range(max(n, 0)):
        m, o = rint(b, o)
        out.append(bytes(b[o:o + m]))
        o += m
    return out


def dec_whoami(b, o):
    n, o = rint(b, o)
    ids = []
    for _ in range(max(n, 0)):
        scheme, o = rstr(b, o)
        user, o = rstr(b, o)
        ids.append('%s:%s' % (scheme, user))
    return children(ids)


def dec_multi(b, o):
    """MultiResponse of a multiRead/multi: list of per-op results."""
    out = []
    while True:
        typ, o = rint(b, o)
        done = b[o]
        o += 1
        err, o = rint(b, o)
        if done:
            break
        if typ == -1:
            e, o = rint(b, o)
            out.append('err(%d)' % e)
        elif typ == 8:
            ch, o = rstrvec(b, o)
            out.append('children=' + children(ch))
        elif typ == 4:
            d, o = rbuf(b, o)
            st, o = rstat(b, o)
            out.append('data=%s %s' % (fdata(d), zkraw.fmt_stat(st)))
        elif typ == 1:
            p, o = rstr(b, o)
            out.append('created %s' % p)
        elif typ == 15:
            p, o = rstr(b, o)
            st, o = rstat(b, o)
            out.append('created2 %s %s' % (p, zkraw.fmt_stat(st)))
        elif typ == 5:
            st, o = rstat(b, o)
            out.append('set %s' % zkraw.fmt_stat(st))
        elif typ in (2, 13):
            out.append('ok(%d)' % typ)
        else:
            out.append('type%d' % typ)
    return [Txt(x) for x in out]


def multi_body(ops):
    """ops: list of (opcode, body); returns a MultiOperationRecord."""
    body = b''
    for op, rec in ops:
        body += jint(op) + jbool(False) + jint(-1) + rec
    return body + jint(-1) + jbool(True) + jint(-1)


def raw_call(client, req):
    ar = client.handler.async_result()
    client._call(req, ar)
    return ar.get(timeout=10)

# ---- sessions -------------------------------------------------------------------------------


class Session:
    def __init__(self, name, timeout=10.0, **kw):
        self.name = name
        self.c = KazooClient(hosts=HOSTS, timeout=timeout, **kw)
        self.last_xid = 0
        self.states = []
        # Notifications wait here until this session's next line or settle(): another
        # session's reader thread must not race with the main thread for the transcript order.
        self.pending = []
        self.lock = threading.Lock()
        conn = self.c._connection
        orig_event = conn._read_watch_event
        orig_resp = conn._read_response

        def read_event(buffer, offset):
            w, _ = zkraw.rint(bytes(buffer), offset)
            st, o2 = zkraw.rint(bytes(buffer), offset + 4)
            path, _ = zkraw.rstr(bytes(buffer), o2)
            with self.lock:
                self.pending.append('EVENT %s %s %s state=%d after=%d'
                                    % (self.name, EVENT_NAMES.get(w, w), path, st,
                                       self.last_xid))
            return orig_event(buffer, offset)

        def read_response(header, buffer, offset):
            try:
                return orig_resp(header, buffer, offset)
            finally:
                self.last_xid = header.xid

        conn._read_watch_event = read_event
        conn._read_response = read_response
        self.c.add_listener(lambda s: self.states.append(s))

    def flush(self):
        with self.lock:
            lines, self.pending = self.pending, []
        for line in lines:
            emit(line)

    def say(self, line):
        self.flush()
        emit(line)

    def start(self):
        self.c.start(timeout=15)
        self.say('%s connected session=@s:%x timeout=%d passwd=@p:%s'
             % (self.name, self.c._session_id, self.c._session_timeout,
                self.c._session_passwd.hex()))

    def op(self, label, fn, *args, **kw):
        """Runs one call and prints its result or error."""
        try:
            r = fn(*args, **kw)
            res = fres(r)
        except kex.KazooException as e:
            res = type(e).__name__
        except Exception as e:  # a client-side refusal is a result too
            res = 'client:%s' % type(e).__name__
        self.say('%s %s -> %s' % (self.name, label, res))
        return None if res.endswith('Error') else True

    def raw(self, label, op, body=b'', decoder=None):
        if decoder is None and op == 'create':
            decoder = dec_path
        return self.op(label, raw_call, self.c, Raw(op, body, decoder, label))

    # helpers printing one line each
    def create(self, path, value=b'', **kw):
        args = ', '.join(['%r' % path, fdata(value)] +
                         ['%s=%s' % (k, facl(v) if k == 'acl' else v) for k, v in kw.items()])
        self.op('create(%s)' % args, self.c.create, path, value, **kw)

    def get(self, path, **kw):
        try:
            d, st = self.c.get(path, **kw)
            res = 'data=%s %s' % (fdata(d), fstat(st))
        except kex.KazooException as e:
            res = type(e).__name__
        self.say('%s get(%r%s) -> %s' % (self.name, path, ', watch' if kw else '', res))

    def exists(self, path, **kw):
        self.op('exists(%r%s)' % (path, ', watch' if kw else ''), self.c.exists, path, **kw)

    def set(self, path, value, version=-1):
        self.op('set(%r, %s, v=%d)' % (path, fdata(value), version),
                self.c.set, path, value, version)

    def delete(self, path, version=-1):
        self.op('delete(%r, v=%d)' % (path, version), self.c.delete, path, version)

    def children(self, path, watch=None, include_data=False):
        try:
            r = self.c.get_children(path, watch=watch, include_data=include_data)
            if include_data:
                res = 'children=%s %s' % (children(r[0]), fstat(r[1]))
            else:
                res = 'children=%s' % children(r)
        except kex.KazooException as e:
            res = type(e).__name__
        self.say('%s get_children(%r%s%s) -> %s' % (self.name, path, ', watch' if watch else '',
                                               ', include_data' if include_data else '', res))

    def acls(self, path):
        try:
            acl, st = self.c.get_acls(path)
            res = '%s %s' % (facl(acl), fstat(st))
        except kex.KazooException as e:
            res = type(e).__name__
        self.say('%s get_acls(%r) -> %s' % (self.name, path, res))

    def settle(self):
        """A round trip: every notification queued before it has been read and logged."""
        self.c.sync('/')
        self.flush()

    def stop(self):
        self.c.stop()
        self.c.close()
        self.say('%s stopped' % self.name)


def watcher(name):
    """A kazoo watch callback; delivery is logged at the wire level, so it does nothing."""
    return lambda ev: None


def wait_gone(path, timeout):
    """Polls on a separate raw session (so that the transcript's sessions keep their xids)
    until path is gone; prints nothing: the watch events and a later exists show the result."""
    poll = zkraw.Conn(PORT)
    poll.connect(timeout_ms=10000)
    deadline = time.time() + timeout
    while time.time() < deadline:
        err = poll.request('exists', jstr(path) + jbool(False))[2]
        if err != 0:
            break
        time.sleep(0.2)
    poll.request('closeSession')
    poll.close()


def section(title):
    emit('## ' + title)


DIGEST_ID = make_digest_acl_credential('user1', 'pass1')

# ---- the transcript -------------------------------------------------------------------------


def main_plain():
    s1 = Session('s1')
    s1.start()
    s2 = Session('s2')
    s2.start()

    section('initial tree')
    s1.get('/')
    s1.children('/')
    s1.get('/zookeeper')
    s1.children('/zookeeper')
    s1.get('/zookeeper/quota')
    s1.get('/zookeeper/config')
    s1.acls('/')
    s1.acls('/zookeeper/config')
    s1.raw('getAllChildrenNumber(/)', 'getAllChildrenNumber', jstr('/'), dec_int)
    s1.raw('getAllChildrenNumber(/zookeeper)', 'getAllChildrenNumber', jstr('/zookeeper'),
           dec_int)
    s1.exists('/')
    s1.exists('/nope')
    s1.set('/zookeeper/config', b'x')
    s1.create('/zookeeper/config/x', b'')
    s1.create('/zookeeper/quota/x', b'')
    s1.delete('/zookeeper/quota/x')
    s1.op('set_acls(/zookeeper/config)', s1.c.set_acls, '/zookeeper/config',
          [ACL(31, Id('world', 'anyone'))])

    section('create modes')
    s1.create('/a', b'hello')
    s1.create('/a', b'again')
    s1.create('/a/null', None)
    s1.get('/a/null')
    s1.create('/a/empty', b'')
    s1.get('/a/empty')
    s1.op("create('/a/c2', b'x', include_data)", s1.c.create, '/a/c2', b'x', include_data=True)
    s1.create('/a/s-', b'1', sequence=True)
    s1.create('/a/s-', b'2', sequence=True)
    s1.delete('/a/s-0000000004')
    s1.create('/a/s-', b'3', sequence=True)
    s1.create('/a/', b'trailing', sequence=True)
    s1.create('/a/e', b'eph', ephemeral=True)
    s1.create('/a/es-', b'', ephemeral=True, sequence=True)
    s1.get('/a/e')
    s1.create('/a/e/child', b'')
    s1.create('/a/e/s-', b'', sequence=True)
    s1.create('/missing/x', b'')
    s1.op("create('/a/c3', b'', ephemeral, include_data)", s1.c.create, '/a/c3', b'',
          ephemeral=True, include_data=True)
    s1.get('/a')
    s1.children('/a')
    s1.children('/a', include_data=True)
    s1.children('/nope')
    s1.get('/')
    s1.raw('create(/flags9)', 'create', zkraw.create_body('/flags9', b'', flags=9))
    s1.raw('create(/flags-1)', 'create', zkraw.create_body('/flags-1', b'', flags=-1))
    s1.raw('create2(/a/raw2, flags=2)', 'create2',
           zkraw.create_body('/a/raw2-', b'r', flags=2), dec_create2)
    s1.raw('create(/emptyacl)', 'create', zkraw.create_body('/emptyacl', b'', acl=[]))
    s1.raw('create(/nullacl)', 'create', jstr('/nullacl') + jbuf(b'') + jint(-1) + jint(0))

    section('container')
    s1.raw('createContainer(/cont)', 'createContainer',
           zkraw.create_body('/cont', b'c', flags=4), dec_create2)
    s1.raw('createContainer(/cont2, flags=0)', 'createContainer',
           zkraw.create_body('/cont2', b'c', flags=0), dec_create2)
    s1.raw('create(/cont3, flags=4)', 'create', zkraw.create_body('/cont3', b'c', flags=4))
    s1.get('/cont')
    s1.get('/cont3')
    s1.create('/cont/x', b'')
    s1.exists('/cont', watch=watcher('cont'))
    s1.delete('/cont/x')
    # The container manager runs every znode.container.checkIntervalMs (1000 here): the
    # emptied container goes, the never-used one stays.
    wait_gone('/cont', 10)
    s1.settle()
    s1.exists('/cont')
    s1.exists('/cont3')

    section('ttl refused without extended types')
    s1.raw('createTTL(/ttl, mode=5, ttl=1000)', 'createTTL',
           zkraw.create_body('/ttl', b'', flags=5, ttl=1000), dec_create2)
    # Not sent: createTTL (21) with a non-TTL mode and ttl < 0, which crashes Apache 3.8.0
    # (the txn is logged, then DataTree throws "ttl must be positive" in SyncThread, and the
    # server exits and cannot restart from that log).
    s1.raw('createTTL(/ttl0, mode=0, ttl=100)', 'createTTL',
           zkraw.create_body('/ttl0', b'', flags=0, ttl=100), dec_create2)
    s1.raw('create(/ttlf, flags=5)', 'create', zkraw.create_body('/ttlf', b'', flags=5))

    section('get set versions')
    s1.set('/a', b'v1', 0)
    s1.set('/a', b'v2', 0)
    s1.set('/a', b'v2', 1)
    s1.set('/a', b'v2', -1)
    s1.set('/a', b'v2', 7)
    s1.set('/nope', b'x')
    s1.get('/a')
    s1.set('/a/null', b'')
    s1.get('/a/null')
    s1.set('/a/empty', None)
    s1.get('/a/empty')
    s1.exists('/a')
    s1.exists('/a/nope')
    s1.get('/nope')

    section('delete')
    s1.create('/d', b'')
    s1.create('/d/x', b'')
    s1.delete('/d')
    s1.delete('/d/x', 3)
    s1.delete('/d/x', 0)
    s1.delete('/d/x')
    s1.get('/d')
    s1.set('/d', b'1')
    s1.delete('/d', 0)
    s1.delete('/d', 1)
    s1.delete('/nope')
    s1.raw('delete(/)', 'delete', jstr('/') + jint(-1))
    s1.raw('delete(/zookeeper)', 'delete', jstr('/zookeeper') + jint(-1))
    s1.raw('delete(/zookeeper/quota)', 'delete', jstr('/zookeeper/quota') + jint(-1))
    s1.raw('delete(/zookeeper/config)', 'delete', jstr('/zookeeper/config') + jint(-1))
    s1.create('/d', b'')
    s1.get('/')

    section('bad paths')
    for p in ['//', '/a/', '/./x', '/a/./b', '/a/../b', '/..', 'noslash', '', '/a\0b',
              '/a\x01b', '/a\x7fb', '/a\u0085b', '/a\ue000b', '/a\ufff0b', '/a//b']:
        s1.raw('create(%r)' % p, 'create', zkraw.create_body(p, b''))
    for p in ['//', '/a/', '/a\0b', 'noslash']:
        s1.raw('delete(%r)' % p, 'delete', jstr(p) + jint(-1))
        s1.raw('setData(%r)' % p, 'setData', jstr(p) + jbuf(b'') + jint(-1))
        s1.raw('exists(%r)' % p, 'exists', jstr(p) + jbool(False), zkraw.rstat)
        s1.raw('getData(%r)' % p, 'getData', jstr(p) + jbool(False), None)
        s1.raw('getChildren(%r)' % p, 'getChildren', jstr(p) + jbool(False), dec_strvec)
    s1.raw('create(/a/, seq)', 'create', zkraw.create_body('/a/', b'', flags=2))
    s1.raw('create(/, seq)', 'create', zkraw.create_body('/', b'', flags=2))
    s1.raw('create(/)', 'create', zkraw.create_body('/', b''))
    s1.raw('create(/zookeeper/x)', 'create', zkraw.create_body('/zookeeper/x', b''))
    s1.raw('delete(/zookeeper/x)', 'delete', jstr('/zookeeper/x') + jint(-1))
    s1.raw('create(null path)', 'create', zkraw.create_body(None, b''))

    section('unicode paths')
    # Java strings are UTF-16: paths outside the BMP become surrogate pairs, which path
    # validation refuses (U+D800-U+F8FF); BMP text is fine, and children come back as sent.
    s1.create('/u', b'')
    for p in ['/u/\u00e9t\u00e9', '/u/\u65e5\u672c', '/u/\U0001f600', '/u/a\U0001f600b',
              '/u/\uf8ff', '/u/\uf900', '/u/\ufffd']:
        s1.create(p, p.encode('utf-8'))
    s1.create('/u/\u00e9-', b'', sequence=True)
    s1.children('/u')
    s1.get('/u/\u65e5\u672c')
    s1.raw('getChildren(/u) raw bytes', 'getChildren', jstr('/u') + jbool(False),
           lambda b, o: Txt('{' + ','.join(x.hex() for x in raw_strvec(b, o)) + '}'))

    section('many children')
    s1.create('/many', b'')
    t = s1.c.transaction()
    for i in range(300):
        t.create('/many/child-%04d' % i, b'x' * 100)
    s1.op('commit(300 creates)', lambda: len(t.commit()))
    s1.op("len(get_children('/many'))", lambda: len(s1.c.get_children('/many')))
    s1.raw('getAllChildrenNumber(/many)', 'getAllChildrenNumber', jstr('/many'), dec_int)
    s1.get('/many')
    t = s1.c.transaction()
    for i in range(300):
        t.delete('/many/child-%04d' % i)
    t.delete('/many')
    s1.op('commit(301 deletes)', lambda: len(t.commit()))
    s1.exists('/many')

    section('acl digest')
    s1.create('/acl', b'')
    s1.create('/acl/d', b'secret',
              acl=[make_digest_acl('user1', 'pass1', all=True), ACL(1, Id('world', 'anyone'))])
    s1.acls('/acl/d')
    s1.get('/acl/d')
    s1.set('/acl/d', b'x')
    s1.create('/acl/d/c', b'')
    s1.op('set_acls(/acl/d, open)', s1.c.set_acls, '/acl/d', [ACL(31, Id('world', 'anyone'))])
    s2.op("add_auth(digest, 'user1:pass1')", s2.c.add_auth, 'digest', 'user1:pass1')
    s2.acls('/acl/d')
    s2.set('/acl/d', b'y')
    s2.create('/acl/d/c', b'')
    s2.delete('/acl/d/c')
    s2.op('set_acls(/acl/d, v=5)', s2.c.set_acls, '/acl/d',
          [make_digest_acl('user1', 'pass1', all=True)], 5)
    s2.op('set_acls(/acl/d, v=0)', s2.c.set_acls, '/acl/d',
          [make_digest_acl('user1', 'pass1', all=True)], 0)
    s2.acls('/acl/d')
    s1.get('/acl/d')
    s1.acls('/acl/d')
    s1.exists('/acl/d')
    s1.children('/acl/d')
    s1.raw('getAllChildrenNumber(/acl/d)', 'getAllChildrenNumber', jstr('/acl/d'), dec_int)
    s1.create('/acl/d/c2', b'')
    s1.delete('/acl/d')
    s2.create('/acl/admin', b'',
              acl=[ACL(16, Id('digest', DIGEST_ID)), ACL(1, Id('world', 'anyone'))])
    s1.acls('/acl/admin')
    s2.acls('/acl/admin')
    s2.create('/acl/wonly', b'w', acl=[ACL(2, Id('digest', DIGEST_ID))])
    s2.acls('/acl/wonly')
    s2.get('/acl/wonly')
    s2.set('/acl/wonly', b'w2')
    s2.op("add_auth(digest, 'user2:pass2')", s2.c.add_auth, 'digest', 'user2:pass2')
    s2.raw('whoAmI', 'whoAmI', b'', dec_whoami)
    s1.raw('whoAmI', 'whoAmI', b'', dec_whoami)

    section('acl auth scheme')
    s2.create('/acl/auth', b'', acl=[ACL(31, Id('auth', ''))])
    s2.acls('/acl/auth')
    s1.create('/acl/auth2', b'', acl=[ACL(31, Id('auth', ''))])
    s1.raw("create(/acl/auth3, auth:'x')", 'create',
           zkraw.create_body('/acl/auth3', b'', acl=[(31, 'auth', 'x')]))
    s2.op('set_acls(/acl/auth, auth)', s2.c.set_acls, '/acl/auth', [ACL(3, Id('auth', ''))])
    s2.acls('/acl/auth')

    section('acl ip world and invalid')
    s1.create('/acl/ip', b'i', acl=[ACL(31, Id('ip', '127.0.0.1'))])
    s1.get('/acl/ip')
    s1.create('/acl/ipnet', b'i', acl=[ACL(31, Id('ip', '127.0.0.0/8'))])
    s1.get('/acl/ipnet')
    s1.create('/acl/ipother', b'i', acl=[ACL(31, Id('ip', '10.1.2.3'))])
    s1.get('/acl/ipother')
    s1.create('/acl/ipother/c', b'')
    s1.acls('/acl/ipother')
    s1.delete('/acl/ipother')
    for scheme, ident in [('ip', '300.1.1.1'), ('ip', '127.0.0.1/33'), ('ip', 'nonsense'),
                          ('digest', 'user:'), ('digest', 'a:b:c'), ('digest', 'nocolon'),
                          ('world', 'someone'), ('foo', 'bar'), ('super', 'x')]:
        s1.create('/acl/bad', b'', acl=[ACL(31, Id(scheme, ident))])
    s1.create('/acl/dup', b'', acl=[ACL(31, Id('world', 'anyone')), ACL(31, Id('world', 'anyone'))])
    s1.acls('/acl/dup')
    s1.create('/acl/ro', b'r', acl=[ACL(1, Id('world', 'anyone'))])
    s1.set('/acl/ro', b'x')
    s1.create('/acl/ro/c', b'')
    s1.op('set_acls(/acl/ro)', s1.c.set_acls, '/acl/ro', [ACL(31, Id('world', 'anyone'))])
    s1.delete('/acl/ro')
    s1.create('/acl/cr', b'', acl=[ACL(4, Id('world', 'anyone'))])
    s1.create('/acl/cr/c', b'')
    s1.delete('/acl/cr/c')
    s1.get('/acl/cr')
    s1.acls('/acl/cr')
    s1.op('set_acls(/nope)', s1.c.set_acls, '/nope', [ACL(31, Id('world', 'anyone'))])
    s1.raw('setACL(/acl/cr, [])', 'setACL', jstr('/acl/cr') + jacl([]) + jint(-1))
    s3 = Session('s3')
    s3.start()
    s3.op("add_auth(nosuch, 'x')", s3.c.add_auth, 'nosuch', 'x')
    s3.c.stop()
    s3.c.close()

    section('super digest')
    # Both servers run with superDigest for super:secret: that identity bypasses every ACL.
    s6 = Session('s6')
    s6.start()
    s6.op("add_auth(digest, 'super:secret')", s6.c.add_auth, 'digest', 'super:secret')
    s6.get('/acl/ipother')
    s6.get('/acl/wonly')
    s6.acls('/acl/wonly')
    s6.set('/acl/cr', b'super')
    s6.op('set_acls(/acl/cr)', s6.c.set_acls, '/acl/cr', [ACL(31, Id('world', 'anyone'))])
    s6.create('/acl/cr/s', b'')
    s6.raw('whoAmI', 'whoAmI', b'', dec_whoami)
    s6.create('/acl/superauth', b'', acl=[ACL(31, Id('auth', ''))])
    s6.acls('/acl/superauth')
    s6.stop()

    section('sync')
    s1.op("sync('/a')", s1.c.sync, '/a')
    s1.op("sync('/nope')", s1.c.sync, '/nope')
    s1.raw("sync('//')", 'sync', jstr('//'), lambda b, o: rstr(b, o)[0])

    section('transactions')
    s1.create('/t0', b'')
    t = s1.c.transaction()
    t.create('/t1', b'x')
    t.create('/t1/s-', b'', sequence=True)
    t.create('/t1/e', b'', ephemeral=True)
    t.set_data('/a', b'multi')
    t.check('/a', 4)
    t.delete('/t0')
    s1.op('commit(create,create seq,create eph,set,check,delete)', t.commit)
    s1.get('/a')
    s1.children('/t1', include_data=True)
    t = s1.c.transaction()
    t.create('/t2', b'')
    t.delete('/missing')
    t.set_data('/a', b'no')
    s1.op('commit(create,delete missing,set)', t.commit)
    s1.exists('/t2')
    t = s1.c.transaction()
    t.check('/a', 99)
    t.create('/t3', b'')
    s1.op('commit(check bad,create)', t.commit)
    t = s1.c.transaction()
    t.create('/t4', b'')
    t.create('/t4', b'')
    s1.op('commit(create,create same)', t.commit)
    t = s1.c.transaction()
    t.create('/t5', b'')
    t.create('/t5/c', b'')
    t.delete('/t5/c')
    t.delete('/t5')
    s1.op('commit(create,create child,delete child,delete)', t.commit)
    t = s1.c.transaction()
    t.create('/t6', b'', ephemeral=True)
    t.create('/t6/c', b'')
    s1.op('commit(create eph,create under it)', t.commit)
    t = s1.c.transaction()
    s1.op('commit(empty)', t.commit)
    t = s1.c.transaction()
    t.create('/t11', b'a')
    t.set_data('/t11', b'b')
    t.check('/t11', 1)
    t.set_data('/t11', b'b', 1)
    t.create('/t11/c', b'')
    t.delete('/t11/c', 0)
    s1.op('commit(create, set, check v1, set v1, create child, delete child v0)', t.commit)
    s1.get('/t11')
    t = s1.c.transaction()
    t.delete('/t11')
    t.create('/t11', b'again')
    t.check('/t11', 0)
    s1.op('commit(delete, create same, check v0)', t.commit)
    s1.get('/t11')
    s1.set('/t11', b'again')
    s1.set('/t11', b'again')
    s1.raw('multi(create2 /t7)', 'multi',
           multi_body([(15, zkraw.create_body('/t7', b'x'))]), dec_multi)
    s1.raw('multi(create /t8 flags=9)', 'multi',
           multi_body([(1, zkraw.create_body('/t8', b'', flags=9))]), dec_multi)
    s1.raw('multi(create bad path //)', 'multi',
           multi_body([(1, zkraw.create_body('/t9', b'')), (1, zkraw.create_body('//', b''))]),
           dec_multi)
    s1.raw('multi(getData inside write multi)', 'multi',
           multi_body([(4, jstr('/a') + jbool(False))]), dec_multi)
    s1.raw('multiRead(getData /a, getChildren /t1, getData /nope, getChildren /nope)',
           'multiRead',
           multi_body([(4, jstr('/a') + jbool(False)), (8, jstr('/t1') + jbool(False)),
                       (4, jstr('/nope') + jbool(False)), (8, jstr('/nope') + jbool(False))]),
           dec_multi)
    s1.raw('multiRead(create inside)', 'multiRead',
           multi_body([(1, zkraw.create_body('/t10', b''))]), dec_multi)
    # Not sent: a top-level check (13), which Apache 3.8.0 logs as a txn without replying and
    # then cannot restart from (spec §5); hostile probes cover it for ours alone.
    s1.get('/')

    section('one-shot watches, same session')
    s1.create('/w', b'0')
    s1.get('/w', watch=watcher('w'))
    s1.set('/w', b'1')
    s1.set('/w', b'2')
    s1.exists('/w/new', watch=watcher('x'))
    s1.create('/w/new', b'')
    s1.children('/w', watch=watcher('c'))
    s1.create('/w/c2', b'')
    s1.create('/w/c3', b'')
    s1.get('/w/new', watch=watcher('d'))
    s1.children('/w/new', watch=watcher('d'))
    s1.exists('/w/new', watch=watcher('d'))
    s1.delete('/w/new')
    s1.get('/w/nope', watch=watcher('n'))
    s1.children('/w/nope', watch=watcher('n'))
    s1.create('/w/nope', b'')
    s1.get('/w/c2', watch=watcher('a'))
    s1.op('set_acls(/w/c2)', s1.c.set_acls, '/w/c2', [ACL(31, Id('world', 'anyone'))])
    s1.op("sync('/w/c2')", s1.c.sync, '/w/c2')
    s1.set('/w/c2', b'after acl')
    s1.get('/w', watch=watcher('m'))
    s1.children('/w', watch=watcher('m'))
    s1.get('/w/c3', watch=watcher('m'))
    t = s1.c.transaction()
    t.set_data('/w/c3', b'm')
    t.create('/w/c4', b'')
    t.set_data('/w', b'm')
    s1.op('commit(set c3, create c4, set w)', t.commit)
    s1.get('/w/c4', watch=watcher('f'))
    t = s1.c.transaction()
    t.set_data('/w/c4', b'm')
    t.delete('/missing')
    s1.op('commit(set c4, delete missing)', t.commit)
    s1.set('/w/c4', b'now')

    section('watches and ACLs')
    # 3.8.0 delivers events whatever the watcher's permissions (3.8.4+ filters by READ) and
    # registers an exists watch without an ACL check; getData without READ sets none.
    s2.create('/wacl', b'', acl=[make_digest_acl('user1', 'pass1', all=True)])
    s2.create('/wacl/c', b'', acl=[make_digest_acl('user1', 'pass1', all=True)])
    s1.exists('/wacl', watch=watcher('acl'))
    s1.get('/wacl', watch=watcher('acl'))
    s1.children('/wacl', watch=watcher('acl'))
    s1.raw('addWatch(/wacl, PERSISTENT_RECURSIVE)', 'addWatch', jstr('/wacl') + jint(1), dec_int)
    s2.set('/wacl', b'x')
    s2.set('/wacl/c', b'x')
    s2.create('/wacl/d', b'', acl=[make_digest_acl('user1', 'pass1', all=True)])
    s1.settle()
    s1.raw('removeWatches(/wacl, Any)', 'removeWatches', jstr('/wacl') + jint(3))

    section('one-shot watches, two sessions')
    s2.get('/w', watch=watcher('s2'))
    s2.children('/w', watch=watcher('s2'))
    s2.exists('/w/x2', watch=watcher('s2'))
    s1.set('/w', b'from s1')
    s2.settle()
    s1.create('/w/x2', b'')
    s2.settle()
    s2.exists('/w/eph', watch=watcher('s2'))
    s3 = Session('s3')
    s3.start()
    s3.create('/w/eph', b'', ephemeral=True)
    s3.create('/w/eph2', b'', ephemeral=True)
    s2.settle()
    s1.get('/w/eph')
    s2.exists('/w/eph', watch=watcher('s2'))
    s2.children('/w', watch=watcher('s2'))
    s3.stop()
    s2.settle()
    s2.exists('/w/eph')
    s2.exists('/w/eph2')

    section('persistent watches')
    s1.raw('addWatch(/p, PERSISTENT)', 'addWatch', jstr('/p') + jint(0), dec_int)
    s1.create('/p', b'')
    s1.create('/p/x', b'')
    s1.create('/p/x/y', b'')
    s1.set('/p', b'1')
    s1.set('/p/x', b'1')
    s1.delete('/p/x/y')
    s1.delete('/p/x')
    s1.set('/p', b'2')
    s1.raw('checkWatches(/p, Data)', 'checkWatches', jstr('/p') + jint(2))
    s1.raw('checkWatches(/p, Children)', 'checkWatches', jstr('/p') + jint(1))
    s1.raw('checkWatches(/p, Any)', 'checkWatches', jstr('/p') + jint(3))
    s1.delete('/p')
    s1.create('/p', b'again')
    s1.raw('removeWatches(/p, Any)', 'removeWatches', jstr('/p') + jint(3))
    s1.set('/p', b'3')
    s1.raw('removeWatches(/p, Any)', 'removeWatches', jstr('/p') + jint(3))
    s1.raw('addWatch(/r, PERSISTENT_RECURSIVE)', 'addWatch', jstr('/r') + jint(1), dec_int)
    s1.create('/r', b'')
    s1.create('/r/x', b'')
    s1.create('/r/x/y', b'')
    s1.set('/r/x', b'1')
    s1.set('/r', b'1')
    s1.delete('/r/x/y')
    s2.create('/r/z', b'')
    s1.settle()
    s1.raw('checkWatches(/r, Children)', 'checkWatches', jstr('/r') + jint(1))
    s1.raw('removeWatches(/r, Data)', 'removeWatches', jstr('/r') + jint(2))
    s1.create('/r/after', b'')
    s1.raw('removeWatches(/r, Children)', 'removeWatches', jstr('/r') + jint(1))
    s1.raw('removeWatches(/r, Any)', 'removeWatches', jstr('/r') + jint(3))
    s1.create('/r/after2', b'')
    s1.raw('addWatch(/r, mode 2)', 'addWatch', jstr('/r') + jint(2), dec_int)
    s1.raw('addWatch(/, PERSISTENT_RECURSIVE)', 'addWatch', jstr('/') + jint(1), dec_int)
    s1.create('/rootwatch', b'')
    s1.raw('removeWatches(/, Any)', 'removeWatches', jstr('/') + jint(3))
    s1.raw('addWatch(/nope/deep, PERSISTENT)', 'addWatch', jstr('/nope/deep') + jint(0), dec_int)
    s1.get('/p', watch=watcher('p'))
    s1.raw('addWatch(/p, PERSISTENT) with one-shot', 'addWatch', jstr('/p') + jint(0), dec_int)
    s1.set('/p', b'4')
    s1.set('/p', b'5')
    s1.raw('removeWatches(/p, Data)', 'removeWatches', jstr('/p') + jint(2))
    s1.set('/p', b'6')
    s1.raw('removeWatches(/p, Children)', 'removeWatches', jstr('/p') + jint(1))

    section('remove one-shot watches')
    s1.get('/w', watch=watcher('rm'))
    s1.children('/w', watch=watcher('rm'))
    s1.raw('checkWatches(/w, Data)', 'checkWatches', jstr('/w') + jint(2))
    s1.raw('removeWatches(/w, Data)', 'removeWatches', jstr('/w') + jint(2))
    s1.raw('checkWatches(/w, Data)', 'checkWatches', jstr('/w') + jint(2))
    s1.set('/w', b'no event')
    s1.raw('removeWatches(/w, Data)', 'removeWatches', jstr('/w') + jint(2))
    s1.raw('checkWatches(/w, Children)', 'checkWatches', jstr('/w') + jint(1))
    s1.raw('removeWatches(/w, Any)', 'removeWatches', jstr('/w') + jint(3))
    s1.create('/w/no-event', b'')
    s1.raw('removeWatches(/w, Children)', 'removeWatches', jstr('/w') + jint(1))
    s1.raw('removeWatches(/w, type 7)', 'removeWatches', jstr('/w') + jint(7))
    s1.raw('removeWatches(/nope, Any)', 'removeWatches', jstr('/nope') + jint(3))
    s1.exists('/w/later', watch=watcher('rm'))
    s1.raw('removeWatches(/w/later, Data)', 'removeWatches', jstr('/w/later') + jint(2))
    s1.create('/w/later', b'')

    section('ephemerals and counts')
    s1.create('/eph', b'')
    s1.create('/eph/e1', b'', ephemeral=True)
    s1.create('/eph/e2', b'', ephemeral=True)
    s1.create('/ephx', b'', ephemeral=True)
    s2.create('/eph/other', b'', ephemeral=True)
    for who, pfx in [(s1, '/'), (s1, '/eph'), (s1, '/eph/'), (s1, '/nope'), (s1, ''),
                     (s2, '/'), (s1, None)]:
        who.raw('getEphemerals(%r)' % pfx, 'getEphemerals', jstr(pfx), dec_strvec)
    s1.get('/eph/e1')
    s1.get('/eph/other')
    for p in ['/', '/eph', '/a', '/nope', '/zookeeper', '/eph/e1']:
        s1.raw('getAllChildrenNumber(%r)' % p, 'getAllChildrenNumber', jstr(p), dec_int)

    section('session expiry')
    # A raw session that stops talking: the server expires it (timeout 2000 with tickTime
    # 1000), deletes its ephemeral and fires the watch.
    raw = zkraw.Conn(PORT)
    info = raw.connect(timeout_ms=2000)
    emit('raw connected session=@s:%x timeout=%d len=%d ro=%r passwd=@p:%s'
         % (info['sid'], info['timeout'], info['len'], info['ro'], info['passwd'].hex()))
    rxid, zxid, err, body, ev = raw.request('create', zkraw.create_body('/exp', b'', flags=1))
    emit('raw create(/exp, ephemeral) -> err=%d path=%s' % (err, rstr(body, 0)[0]))
    s1.get('/exp', watch=watcher('exp'))
    wait_gone('/exp', 15)
    s1.settle()
    s1.exists('/exp')
    st, got = raw.wait_closed(3.0)
    emit('raw connection after expiry: %s, %d bytes' % (st, len(got)))
    raw.close()
    again = zkraw.Conn(PORT)
    info2 = again.connect(timeout_ms=2000, sid=info['sid'], passwd=info['passwd'])
    emit('raw reattach expired session -> session=@s:%x timeout=%d len=%d passwd=%s'
         % (info2['sid'], info2['timeout'], info2['len'], info2['passwd'].hex()))
    st, got = again.wait_closed(3.0)
    emit('raw connection after refused reattach: %s' % st)
    again.close()
    # Same live session re-attached from a second connection with a wrong password.
    live = zkraw.Conn(PORT)
    linfo = live.connect(timeout_ms=10000)
    bad = zkraw.Conn(PORT)
    binfo = bad.connect(timeout_ms=10000, sid=linfo['sid'], passwd=b'\1' * 16)
    emit('raw reattach with wrong password -> session=@s:%x timeout=%d'
         % (binfo['sid'], binfo['timeout']))
    bad.close()
    good = zkraw.Conn(PORT)
    ginfo = good.connect(timeout_ms=10000, sid=linfo['sid'], passwd=linfo['passwd'])
    emit('raw reattach live session -> same=%s timeout=%d'
         % (ginfo['sid'] == linfo['sid'], ginfo['timeout']))
    st, got = live.wait_closed(3.0)
    emit('raw first connection after the session moved: %s' % st)
    rxid, zxid, err, body, ev = good.request('closeSession')
    emit('raw closeSession -> err=%d' % err)
    st, got = good.wait_closed(3.0)
    emit('raw connection after closeSession: %s' % st)
    live.close()
    good.close()
    # kazoo coming back with an expired session id gets a new session.
    s4 = Session('s4', client_id=(info['sid'], info['passwd']))
    s4.start()
    s4.say('s4 states=%s' % [str(x) for x in s4.states])
    s4.stop()

    section('setWatches after a reconnect (raw)')
    # What clients send after a reconnect (spec §7.13): for each path the server fires at
    # once (before the reply) or registers the watch, by comparing with relativeZxid.
    w = zkraw.Conn(PORT)
    w.connect(timeout_ms=10000)

    def wreq(label, op, body):
        rxid, zxid, err, rest, evs = w.request(op, body)
        emit('raw %s -> err=%d events=[%s]' % (label, err, ', '.join(
            '%s %s' % (EVENT_NAMES.get(t, t), p) for t, st, p in evs)))
        return err, rest

    def strvec(paths):
        return jint(len(paths)) + b''.join(jstr(p) for p in paths)

    def wait_events(n):
        got = []
        for _ in range(n):
            ev = w.read_event(3.0)
            if ev is None:
                break
            got.append('%s %s' % (EVENT_NAMES.get(ev[0], ev[0]), ev[2]))
        emit('raw events: [%s]' % ', '.join(got))

    s1.create('/sw', b'0')
    s1.create('/sw/c', b'0')
    err, rest = wreq('exists(/sw/c)', 'exists', jstr('/sw/c') + jbool(False))
    rel = zkraw.rstat(rest, 0)[0]['mzxid']
    s1.set('/sw', b'1')
    s1.create('/sw/d', b'')
    wreq('setWatches(rel=czxid(/sw/c), data=[/sw,/sw/c,/sw/missing], exist=[/sw/d,/sw/new], '
         'child=[/sw,/sw/c,/sw/gone])', 'setWatches',
         jlong(rel) + strvec(['/sw', '/sw/c', '/sw/missing']) + strvec(['/sw/d', '/sw/new'])
         + strvec(['/sw', '/sw/c', '/sw/gone']))
    s1.set('/sw/c', b'1')
    s1.create('/sw/new', b'')
    s1.create('/sw/c/x', b'')
    wait_events(3)
    wreq('setWatches2(rel=2^63-1, persistent=[/sw], recursive=[/sw2])', 'setWatches2',
         jlong(0x7fffffffffffffff) + strvec([]) + strvec([]) + strvec([]) + strvec(['/sw'])
         + strvec(['/sw2']))
    s1.create('/sw2', b'')
    s1.create('/sw2/x', b'')
    s1.set('/sw', b'2')
    s1.create('/sw/e', b'')
    wait_events(4)
    wreq('checkWatches(/sw, Any)', 'checkWatches', jstr('/sw') + jint(3))
    wreq('removeWatches(/sw, Any)', 'removeWatches', jstr('/sw') + jint(3))
    wreq('removeWatches(/sw2, Any)', 'removeWatches', jstr('/sw2') + jint(3))
    wreq('closeSession', 'closeSession', b'')
    w.close()

    section('ephemerals vanish on close')
    s1.exists('/eph/other', watch=watcher('close'))
    s1.children('/eph', watch=watcher('close'))
    s2.stop()
    s1.settle()
    s1.raw('getEphemerals(/)', 'getEphemerals', jstr('/'), dec_strvec)
    s1.children('/eph')
    s1.get('/eph')
    s1.stop()
    s5 = Session('s5')
    s5.start()
    s5.children('/eph')
    s5.exists('/ephx')
    s5.exists('/a/e')
    s5.children('/a')
    s5.get('/')
    s5.stop()


def main_ttl():
    s1 = Session('s1')
    s1.start()
    section('ttl nodes')
    s1.create('/ttl', b'')
    for label, body in [
            ('createTTL(/ttl/a, mode=5, ttl=500)', zkraw.create_body('/ttl/a', b'a', flags=5, ttl=500)),
            ('createTTL(/ttl/s-, mode=6, ttl=60000)', zkraw.create_body('/ttl/s-', b'', flags=6, ttl=60000)),
            ('createTTL(/ttl/long, mode=5, ttl=60000)', zkraw.create_body('/ttl/long', b'', flags=5, ttl=60000)),
            ('createTTL(/ttl/zero, mode=5, ttl=0)', zkraw.create_body('/ttl/zero', b'', flags=5, ttl=0)),
            ('createTTL(/ttl/neg, mode=5, ttl=-5)', zkraw.create_body('/ttl/neg', b'', flags=5, ttl=-5)),
            ('createTTL(/ttl/max, mode=5, ttl=0xFFFFFFFFFF)', zkraw.create_body('/ttl/max', b'', flags=5, ttl=0xFFFFFFFFFF)),
            ('createTTL(/ttl/big, mode=5, ttl=0x10000000000)', zkraw.create_body('/ttl/big', b'', flags=5, ttl=0x10000000000)),
            # (a non-TTL mode with ttl < 0 is not sent: it crashes Apache 3.8.0, see above)
            ('createTTL(/ttl/p2, mode=0, ttl=100)', zkraw.create_body('/ttl/p2', b'', flags=0, ttl=100)),
            ('createTTL(/ttl/e, mode=1, ttl=100)', zkraw.create_body('/ttl/e', b'', flags=1, ttl=100)),
            ('createTTL(/ttl/c, mode=4, ttl=100)', zkraw.create_body('/ttl/c', b'', flags=4, ttl=100)),
            ('createTTL(/ttl/f9, mode=9, ttl=100)', zkraw.create_body('/ttl/f9', b'', flags=9, ttl=100)),
            ('createTTL(/nope/x, mode=5, ttl=100)', zkraw.create_body('/nope/x', b'', flags=5, ttl=100))]:
        s1.raw(label, 'createTTL', body, dec_create2)
    s1.raw('create(/ttl/viaone, flags=5)', 'create', zkraw.create_body('/ttl/viaone', b'', flags=5))
    s1.raw('create2(/ttl/viatwo, flags=6)', 'create2', zkraw.create_body('/ttl/viatwo', b'', flags=6), dec_create2)
    s1.raw('createContainer(/ttl/vc, flags=5)', 'createContainer', zkraw.create_body('/ttl/vc', b'', flags=5), dec_create2)
    s1.raw('multi(createTTL /ttl/m)', 'multi',
           multi_body([(21, zkraw.create_body('/ttl/m', b'', flags=5, ttl=60000))]), dec_multi)
    s1.get('/ttl/long')
    s1.children('/ttl')
    s1.exists('/ttl/a', watch=watcher('ttl'))
    # TTL nodes are reaped by the container manager (checkIntervalMs 1000 here) once
    # now - mtime > ttl and they have no children.
    wait_gone('/ttl/a', 10)
    s1.settle()
    s1.exists('/ttl/a')
    s1.children('/ttl')
    s1.stop()


def main_dump(label):
    """The whole tree (data, Stat, ACL of every node, depth first, children sorted), then a
    sequential create: run before and after a restart, it shows what recovery kept."""
    s1 = Session('d1')
    s1.start()
    section('tree %s' % label)

    def walk(path):
        try:
            d, st = s1.c.get(path)
            acl, _ = s1.c.get_acls(path)
            kids = sorted(s1.c.get_children(path))
        except kex.KazooException as e:
            emit('%s -> %s' % (path, type(e).__name__))
            return
        emit('%s data=%s %s acl=%s' % (path, fdata(d), fstat(st), facl(acl)))
        for k in kids:
            walk(path.rstrip('/') + '/' + k)

    walk('/')
    section('writes %s' % label)
    s1.create('/a/s-', b'', sequence=True)
    s1.create('/restart-' + label.replace(' ', '-'), b'')
    s1.get('/a')
    # A session lives through the restart (spec §16): its id and password are kept in a file
    # next to the transcript between the two runs.
    state = os.path.join(os.environ.get('IT_STATE_DIR', '/tmp'), 'kazoo-restart-%d' % PORT)
    if label == 'before restart':
        r = zkraw.Conn(PORT)
        info = r.connect(timeout_ms=30000)
        rxid, zxid, err, body, ev = r.request('create', zkraw.create_body('/live-eph', b'', flags=1))
        emit('raw create(/live-eph, ephemeral) -> err=%d' % err)
        with open(state, 'w') as f:
            f.write('%d %s\n' % (info['sid'], info['passwd'].hex()))
        s1.get('/live-eph')
        r.sock.close()  # no closeSession: the session stays
    else:
        sid, pwd = open(state).read().split()
        os.unlink(state)
        r = zkraw.Conn(PORT)
        info = r.connect(timeout_ms=30000, sid=int(sid), passwd=bytes.fromhex(pwd))
        emit('raw reattach after restart -> same session=%s timeout=%d'
             % (info['sid'] == int(sid), info['timeout']))
        s1.get('/live-eph')
        rxid, zxid, err, body, ev = r.request('closeSession')
        emit('raw closeSession -> err=%d' % err)
        r.close()
        s1.exists('/live-eph')
    s1.stop()


if __name__ == '__main__':
    try:
        if TTL_MODE:
            main_ttl()
        elif '--dump' in sys.argv:
            main_dump(sys.argv[sys.argv.index('--dump') + 1])
        else:
            main_plain()
    except Exception as e:  # the transcript shows where it stopped
        emit('ABORTED: %s: %s' % (type(e).__name__, e))
        import traceback
        traceback.print_exc()
        sys.exit(1)
    sys.exit(0)
