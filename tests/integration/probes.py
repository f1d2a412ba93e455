#!/usr/bin/python3
"""Raw-socket probes of one server, for test_4lw.sh and test_hostile.sh.

usage: probes.py 4lw PORT            every four-letter word, in a known server state
       probes.py 4lw-restricted PORT the whitelist "ruok, stat ,conf": refusals
       probes.py hostile PORT        malformed and hostile input, each followed by a check that
                                     a well-behaved session and ruok still work
       probes.py limits PORT         maxClientCnxns=2 and session timeout bounds 5000..8000

4lw output: "## word" then the raw answer (lines after normalise.py --4lw are compared per
section). Hostile output: one line per observation (compared line by line). Reply headers are
printed as {xid, zxid class, err}: the zxid of a reply is "Z+" when positive, else its value
(-1 for UNIMPLEMENTED, 0 for auth replies), since absolute zxids differ between servers that
do and do not consume a zxid for a failed write (spec §5).
"""
import socket
import struct
import sys
import time
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkraw  # noqa: E402
from zkraw import jint, jlong, jstr, jbool, jbuf, rint, rlong  # noqa: E402

WORDS = ['ruok', 'srvr', 'stat', 'conf', 'cons', 'envi', 'dump', 'wchs', 'wchc', 'wchp',
         'dirs', 'isro', 'gtmk', 'hash', 'mntr', 'crst', 'srst']


def emit(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def show_answer(word, data):
    emit('## %s' % word)
    text = data.decode('utf-8', 'replace')
    if not text:
        emit('(empty)')
        return
    for line in text.split('\n')[:-1] if text.endswith('\n') else text.split('\n'):
        emit(line)
    if not text.endswith('\n'):
        emit('(no newline)')


def fourlw_main(port):
    # A known state: one session with an ephemeral, data/exist/child watches; srst so that
    # the packet counters count only what follows.
    s = zkraw.session(port, 30000)
    s.request('create', zkraw.create_body('/four', b'data'))
    s.request('create', zkraw.create_body('/four/e', b'', flags=1))
    s.request('exists', jstr('/four/x') + jbool(True))
    s.request('getData', jstr('/four') + jbool(True))
    s.request('getChildren', jstr('/four') + jbool(True))
    zkraw.fourlw(port, 'srst')
    zkraw.fourlw(port, 'crst')
    s.request('exists', jstr('/four') + jbool(False))
    for w in WORDS:
        show_answer(w, zkraw.fourlw(port, w))
    show_answer('stmk 306', zkraw.fourlw(port, 'stmk', jlong(306)))
    show_answer('gtmk after stmk', zkraw.fourlw(port, 'gtmk'))
    show_answer('telnet close', zkraw.fourlw(port, b'\xff\xf4\xff\xfd'))
    show_answer('ruok with newline', zkraw.fourlw(port, 'ruok', b'\n'))
    # The server closes a 4lw connection as soon as the answer is written (clients that do not
    # half-close, like kazoo's and the C client's isro probe, wait for that close).
    slow = 0
    for _ in range(5):
        c = zkraw.Conn(port)
        t = time.time()
        c.send(b'ruok')
        state, got = c.wait_closed(3.0)
        if state != 'closed' or time.time() - t > 0.3:
            slow += 1
        c.close()
    emit('## close after answer (client does not half-close)')
    emit('all 5 closed within 0.3 s' if not slow else 'not closed within 0.3 s in some of 5')
    # srvr once more after the words: the counters and connections seen by the server.
    show_answer('srvr again', zkraw.fourlw(port, 'srvr'))
    s.request('closeSession')
    s.wait_closed(3.0)
    s.close()
    # The server drops a closed connection's watches after the close, asynchronously (Apache
    # too): wait up to 3 s for them to go.
    deadline = time.time() + 3
    ans = zkraw.fourlw(port, 'wchs')
    while time.time() < deadline and not ans.startswith(b'0 connections'):
        time.sleep(0.05)
        ans = zkraw.fourlw(port, 'wchs')
    show_answer('wchs after close', ans)


def restricted_main(port):
    for w in ['ruok', 'stat', 'conf', 'srvr', 'mntr', 'isro', 'envi', 'wchs', 'dump']:
        ans = zkraw.fourlw(port, w).decode('utf-8', 'replace')
        # Only whether it ran matters here: the first line of an answer, or the refusal.
        emit('## %s' % w)
        emit(ans.split('\n')[0] if ans else '(empty)')
    emit('## telnet close')
    emit(zkraw.fourlw(port, b'\xff\xf4\xff\xfd').decode('utf-8', 'replace').rstrip('\n'))

# ---- hostile --------------------------------------------------------------------------------


def hdr(data):
    """Decodes one reply frame (without its length) as '{xid, zxid class, err}'."""
    if len(data) < 16:
        return 'short frame %s' % data.hex()
    xid, _ = rint(data, 0)
    zxid, _ = rlong(data, 4)
    err, _ = rint(data, 12)
    zc = 'Z+' if zxid > 0 else str(zxid)
    rest = data[16:]
    return '{%d, %s, %d}%s' % (xid, zc, err, (' +%d bytes' % len(rest)) if rest else '')


def frames(buf):
    """Splits received bytes into reply frames; returns (list of payloads, leftover)."""
    out = []
    while len(buf) >= 4:
        n = struct.unpack('!i', buf[:4])[0]
        if n < 0 or len(buf) < 4 + n:
            break
        out.append(buf[4:4 + n])
        buf = buf[4 + n:]
    return out, buf


class Hostile:
    def __init__(self, port):
        self.port = port
        self.good = zkraw.session(port, 30000)
        self.good.request('create', zkraw.create_body('/hostile', b'ok'))

    def after(self, name):
        """The well-behaved session and a new connection's ruok still work."""
        try:
            _, _, err, body, _ = self.good.request('getData', jstr('/hostile') + jbool(False))
            d, _ = zkraw.rbuf(body, 0) if err == 0 else (None, 0)
            g = 'ok' if err == 0 and d == b'ok' else 'err %d' % err
        except (zkraw.Closed, OSError) as e:
            g = 'broken (%s)' % type(e).__name__
        try:
            r = zkraw.fourlw(self.port, 'ruok').decode()
        except OSError as e:
            r = 'no answer (%s)' % type(e).__name__
        emit('%s: other session %s, ruok %s' % (name, g, r))

    def probe(self, name, payload, session=False, close_early=False, sentinel=True,
              connect_first=False):
        """Sends payload on a new connection (after a ConnectRequest if session) and prints
        the replies and whether the server closed the connection. With sentinel, a ping
        follows the payload: its reply (always last, replies being in order) shows that the
        connection is still open without waiting for a timeout."""
        c = zkraw.Conn(self.port)
        try:
            if session:
                c.connect(30000)
            try:
                c.send(payload + (req(-2, 11) if sentinel else b''))
            except (BrokenPipeError, ConnectionResetError):
                # Closed while a large payload was still being written: the same as a close
                # seen after writing it (whether the peer's close is a FIN or, with unread
                # data, an RST is up to its TCP stack).
                emit('%s: no reply, then closed' % name)
                self.after(name)
                return
            if close_early:
                c.close()
                emit('%s: client closed after sending' % name)
                self.after(name)
                return
            state, fr, rest = read_replies(c, 3.0, sentinel)
            shown = []
            for i, f in enumerate(fr):
                if i == 0 and connect_first:
                    shown.append('connect response (%d bytes)' % len(f))
                else:
                    shown.append(hdr(f))
            reply = ', '.join(shown) or 'no reply'
            if rest:
                reply += ' + %d stray bytes' % len(rest)
            emit('%s: %s, then %s' % (name, reply, state))
        except (zkraw.Closed, OSError) as e:
            emit('%s: %s' % (name, type(e).__name__))
        finally:
            c.close()
        self.after(name)


def read_replies(c, timeout, sentinel):
    """Reads reply frames until the peer closes ('closed'), the sentinel ping's reply arrives
    ('open') or timeout passes ('open': nothing more came)."""
    c.sock.settimeout(timeout)
    got = b''
    end = time.time() + timeout
    while time.time() < end:
        try:
            chunk = c.sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            fr, rest = frames(got)
            return 'closed', fr, rest
        if not chunk:
            fr, rest = frames(got)
            return 'closed', fr, rest
        got += chunk
        fr, rest = frames(got)
        if sentinel and fr and fr[-1][:4] == jint(-2):
            return 'open', fr, rest
    fr, rest = frames(got)
    return 'open', fr, rest


def req(xid, op, body=b''):
    p = jint(xid) + jint(op) + body
    return jint(len(p)) + p


def connect_req(timeout=30000, sid=0, pwd=b'\0' * 16, last_zxid=0, ro=True):
    body = jint(0) + jlong(last_zxid) + jint(timeout) + jlong(sid) + jbuf(pwd)
    if ro is not None:
        body += jbool(ro)
    return jint(len(body)) + body


def first_then_ping(c):
    """Waits for the ConnectResponse; if the session is valid, pings to see the connection is
    open, else waits for the close."""
    c.sock.settimeout(3.0)
    got = b''
    while not frames(got)[0]:
        try:
            chunk = c.sock.recv(65536)
        except socket.timeout:
            return 'open', [], got
        if not chunk:
            return 'closed', [], got
        got += chunk
    fr, rest = frames(got)
    sid = struct.unpack_from('!q', fr[0], 8)[0] if len(fr[0]) >= 16 else 0
    if sid:
        c.send(req(-2, 11))
        state, more, rest = read_replies(c, 3.0, True)
    else:
        state, more, rest = read_replies(c, 3.0, False)
    return state, fr[:1] + more, rest


def connect_probe(name, port, **kw):
    c = zkraw.Conn(port)
    try:
        c.send(connect_req(**kw))
        state, fr, rest = read_replies(c, 3.0, False) if kw.get('last_zxid') else \
            first_then_ping(c)
        if not fr:
            emit('%s: no reply, then %s' % (name, state))
            return
        r = fr[0]
        proto, o = rint(r, 0)
        to, o = rint(r, o)
        sid, o = rlong(r, o)
        pwd, o = zkraw.rbuf(r, o)
        tail = r[o:].hex() or '-'
        emit('%s: len=%d proto=%d timeout=%d session=%s passwd=%s readOnly=%s, then %s'
             % (name, len(r), proto, to, 'nonzero' if sid else '0',
                ('%d bytes' % len(pwd)) if pwd and any(pwd) else (pwd.hex() if pwd else 'null'),
                tail, state))
    finally:
        c.close()


def hostile_main(port):
    h = Hostile(port)
    p = h.probe
    # Before any ConnectRequest: the first 4 bytes are a four-letter word or a length.
    p('garbage abcd', b'abcd' + b'x' * 60)
    p('uppercase RUOK', b'RUOK')
    p('length 2^31-1 first', jint(0x7FFFFFFF) + b'\0' * 16)
    p('length -1 first', jint(-1) + b'\0' * 16)
    p('length 0x100000 first', jint(0x100000) + b'\0' * 16)
    p('short ConnectRequest', jint(8) + b'\0' * 8)
    p('ConnectRequest cut then close', jint(45) + b'\0' * 20, close_early=True)
    # After the session is up. Where the server answers and then closes, no sentinel ping
    # follows: Apache may still answer it before the close takes effect.
    p('length 2^31-1', jint(0x7FFFFFFF) + b'\0' * 16, session=True)
    p('length -2', jint(-2) + b'\0' * 16, session=True)
    p('length 0', jint(0), session=True)
    p('frame of 4 bytes', jint(4) + jint(1), session=True)
    p('frame of 7 bytes', jint(7) + b'\0\0\0\1\0\0\0', session=True)
    p('frame cut then close', jint(100) + jint(1) + jint(4) + b'\0' * 12, session=True,
      close_early=True)
    p('frame cut, connection kept', jint(100) + jint(1) + jint(4) + b'\0' * 12, session=True,
      sentinel=False)
    p('unknown opcode 999', req(7, 999, b'\0' * 8), session=True, sentinel=False)
    p('opcode 0 (notification)', req(7, 0), session=True, sentinel=False)
    p('createSession opcode -10', req(7, -10), session=True)
    p('ruok after session', b'ruok', session=True)
    # A malformed body answers MARSHALLINGERROR and the connection stays usable.
    p('malformed create body, then exists /', req(5, 1, jint(100) + b'/abc') +
      req(6, 3, jstr('/') + jbool(False)), session=True)
    p('malformed getData body', req(5, 4, jint(-5)), session=True)
    p('create with negative ACL count', req(5, 1, jstr('/h1') + jbuf(b'') + jint(-7) + jint(0)),
      session=True)
    p('create with huge ACL count', req(5, 1, jstr('/h1') + jbuf(b'') + jint(0x7FFFFFF0) + jint(0)),
      session=True)
    p('getData with path length -1', req(5, 4, jint(-1) + jbool(False)), session=True)
    p('setData with data length 2^31-1', req(5, 5, jstr('/hostile') + jint(0x7FFFFFFF)),
      session=True)
    p('multi with unknown op type', req(5, 14, jint(99) + jbool(False) + jint(-1) + jstr('/x') +
                                          jint(-1) + jbool(True) + jint(-1)), session=True)
    p('multi without done header', req(5, 14, jint(1) + jbool(False) + jint(-1) +
                                         zkraw.create_body('/h2', b'')), session=True)
    # Frames at jute.maxbuffer (0xFFFFF): a create whose frame is exactly that long works, a
    # frame one byte over it closes the connection.
    big = 0xFFFFF - 8 - len(jstr('/big')) - 4 - len(zkraw.jacl(zkraw.OPEN_ACL)) - 4
    p('create with %d bytes of data' % big, req(9, 1, zkraw.create_body('/big', b'b' * big)),
      session=True)
    body = zkraw.create_body('/big2', b'b' * (big + 1))
    p('frame of 0x100000 bytes', jint(0x100000) + (jint(9) + jint(1) + body)[:0x100000].ljust(
        0x100000, b'\0'), session=True)
    p('delete /big', req(9, 2, jstr('/big') + jint(-1)), session=True)
    # Invalid paths in writes: BADARGUMENTS (or NONODE where Apache checks the parent first).
    for path in [b'//', b'/a/', b'/hostile/', b'/./x', b'/hostile/./x', b'/hostile/.', b'/hostile/..', b'/a\0b', b'',
                 b'no-slash', b'/hostile/\xff\xfe']:
        p('create %r' % path, req(9, 1, jint(len(path)) + path + jbuf(b'') +
                                  zkraw.jacl(zkraw.OPEN_ACL) + jint(0)), session=True)
    # xids are echoed whatever they are.
    p('xid 0 getData', req(0, 4, jstr('/hostile') + jbool(False)), session=True)
    p('xid 2^31-1 getData', req(0x7FFFFFFF, 4, jstr('/hostile') + jbool(False)), session=True)
    p('xid -8 setWatches', req(-8, 101, jlong(0) + jint(0) + jint(0) + jint(0)), session=True)
    p('ping', b'', session=True)
    p('pipelined: ConnectRequest + getData + ping in one write',
      connect_req() + req(1, 4, jstr('/hostile') + jbool(False)), connect_first=True)
    p('auth with unknown scheme', req(-4, 100, jint(0) + jstr('nosuch') + jbuf(b'x')),
      session=True, sentinel=False)
    p('auth digest then whoAmI', req(-4, 100, jint(0) + jstr('digest') + jbuf(b'u:p')) +
      req(3, 107), session=True)
    p('closeSession', req(3, -11), session=True, sentinel=False)
    # Reply zxids: a read or ping answers with the last processed zxid, which after a
    # successful write is that write's zxid; lastZxidSeen equal to it is accepted, one more
    # is refused (client-protocol.md §3.2, §4).
    z = zkraw.session(port, 30000)
    _, wz, err, _, _ = z.request('create', zkraw.create_body('/hostile-z', b''))
    _, rz, _, _, _ = z.request('getData', jstr('/hostile-z') + jbool(False))
    _, pz, _, _, _ = z.request('ping', b'', xid=-2)
    emit('zxid: create reply %s, then getData reply %s, ping reply %s'
         % ('Z+' if wz > 0 else wz, 'same' if rz == wz else 'different',
            'same' if pz == wz else 'different'))
    _, ez, err, _, _ = z.request('create', zkraw.create_body('/hostile-z', b''))
    _, rz2, _, _, _ = z.request('getData', jstr('/hostile-z') + jbool(False))
    emit('zxid: failed create err=%d, its reply zxid %s the last write, next read %s it'
         % (err, '>' if ez > wz else ('==' if ez == wz else '<'),
            '==' if rz2 == ez else '!='))
    # The ping answers with the last zxid; each new session takes one more.
    _, last, _, _, _ = z.request('ping', b'', xid=-2)
    connect_probe('connect with lastZxidSeen = last zxid + 1', port, last_zxid=last + 1)
    _, last, _, _, _ = z.request('ping', b'', xid=-2)
    connect_probe('connect with lastZxidSeen = last zxid', port, last_zxid=last)
    z.request('closeSession')
    z.close()
    # Session establishment variants.
    connect_probe('connect, new client', port)
    connect_probe('connect without readOnly byte (go-zookeeper)', port, ro=None)
    connect_probe('connect timeout 1 ms', port, timeout=1)
    connect_probe('connect timeout 100000 ms', port, timeout=100000)
    connect_probe('connect with lastZxidSeen ahead', port, last_zxid=0x7FFFFFFF00000000)
    connect_probe('reattach unknown session', port, sid=0x0100000000001234, pwd=b'\1' * 16)
    connect_probe('connect with 15-byte password', port, pwd=b'\0' * 15)
    h.after('end')


def limits_main(port):
    """A server with maxClientCnxns=2, minSessionTimeout=5000, maxSessionTimeout=8000."""
    for t in (1, 5000, 6000, 8000, 100000):
        connect_probe('connect timeout %d ms' % t, port, timeout=t)
    time.sleep(0.5)  # let the server see those connections closed
    a = zkraw.session(port, 30000)
    b = zkraw.session(port, 30000)
    emit('two sessions from 127.0.0.1: open')
    # Refused at accept: the client may see EOF, a reset or EPIPE (even from connect()).
    c = None
    try:
        c = zkraw.Conn(port)
        c.send(connect_req())
        state, fr, rest = read_replies(c, 3.0, False)
        emit('third connection from 127.0.0.1: %s, then %s'
             % ('%d reply frames' % len(fr) if fr else 'no reply', state))
    except (ConnectionResetError, BrokenPipeError):
        emit('third connection from 127.0.0.1: no reply, then closed')
    if c:
        c.close()
    # A 4lw connection is a connection too. (Whether the refused client sees an empty answer
    # or a broken pipe depends on when the close lands: both are "closed, no answer".)
    try:
        r = zkraw.fourlw(port, 'ruok').decode() or 'closed, no answer'
    except (BrokenPipeError, ConnectionResetError):
        r = 'closed, no answer'
    emit('ruok with two connections open: %s' % r)
    a.request('closeSession')
    a.wait_closed(3.0)
    a.close()
    time.sleep(0.5)
    c = zkraw.Conn(port)
    try:
        info = c.connect(30000)
        emit('after one closed, a new session: timeout=%d' % info['timeout'])
    except (zkraw.Closed, OSError) as e:
        emit('after one closed, a new session: %s' % type(e).__name__)
    c.close()
    b.close()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == '4lw':
        fourlw_main(port)
    elif mode == '4lw-restricted':
        restricted_main(port)
    elif mode == 'hostile':
        hostile_main(port)
    elif mode == 'limits':
        limits_main(port)
    else:
        sys.exit('unknown mode %s' % mode)


if __name__ == '__main__':
    main()
