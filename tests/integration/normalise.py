#!/usr/bin/python3
"""The one place where transcripts are normalised before Apache's and ours are compared.

usage: normalise.py [--zkcli | --4lw] < raw > normalised

Client scripts print raw facts with tags; this filter turns each tag into something that is
equal between two correct servers. Every rule says why the difference it hides is legitimate.

  @z:HEX    a zxid. Absolute zxids depend on how many transactions a server has logged,
            including createSession/closeSession and (in Apache) failed writes, which consume
            a zxid; spec §5 lets a server not burn zxids on errors. What clients rely on is
            equality and order, so each distinct non-zero zxid becomes Z1, Z2, ... in order of
            first appearance within its "## " section (0 stays 0: the initial nodes); the
            numbering restarts in each section so that one difference does not spill into
            every later section.
  @s:HEX    a session id: the layout holds a clock value (spec §3.4). S1, S2, ... in order of
            first appearance, 0 stays 0.
  @t:DEC    a time in ms (ctime/mtime): wall clock. T, or 0 for the initial nodes.
  @p:HEX    a session password (a function of the session id): PWD<length>.
  {a,b,c}   an unordered collection (children lists, whoAmI, getEphemerals, ACL lists): the
            server's order is unspecified (Java uses hash-set order, spec §7.8; an "auth" ACL
            expands to the connection's identities in hash order), so elements are sorted.
  created2  a create2 (15) op inside a multi: Apache 3.8.0/3.8.1 answer it as a plain create
            (result type 1, path only); 3.8.2+ (ZOOKEEPER-4026) answer type 15 with a Stat,
            which spec §8.2 asks of us. "created2 PATH <stat>" becomes "created PATH".
  version   "Zookeeper version: 3.8.0-<build>, built on <date> UTC" (srvr, stat, mntr, envi):
            the build id and date are per build; the X.Y.Z- prefix that tools parse is kept.

With --4lw (probes.py 4lw output: "## word" sections with the raw answers) also, per word:
  - client lines of stat/cons/dump: the client's port (ephemeral) becomes P, the lines are
    sorted (the server lists connections in hash order); in cons, sid maps like @s, est and
    lresp (clock readings) become T, llat/minlat/avglat/maxlat (timings) become N;
  - "Latency min/avg/max: a/b/c" keeps its shape (integer/decimal/integer) but not the
    values, which are timings;
  - conf: clientPort (each server has its own) becomes PORT, dataDir/dataLogDir (each server
    has its own temp dir) become DIR with the "/version-2" suffix kept, and the directory
    sizes become N (they depend on file preallocation and snapshot timing);
  - dirs: the sizes become N, for the same reason;
  - envi: every value but zookeeper.version becomes V (host, JVM and process facts);
  - dump: "expire at <date>" becomes "expire at D" (bucket times are clock readings), session
    ids map like @s; the number of expiry buckets becomes N and empty buckets ("0 expire
    at") are dropped, and the connection part keeps only the sorted connection lines and the
    connection count (how sessions and connections fall into expiry buckets depends on
    timing);
  - mntr: only the keys spec four-letter-words.md requires are kept (the rest is Java
    metrics, in hash order), sorted after the two header lines; timing and process values
    (latencies, uptime, file descriptors) become N.

With --zkcli (zkCli.sh output) also:
  - the JVM's and zkCli's banner lines (SLF4J, "Connecting to", "Welcome", JLine) are dropped;
  - "cZxid = 0x..", "mZxid", "pZxid" lines map like @z; "ctime = <date>" like @t;
    "ephemeralOwner = 0x.." like @s;
  - a line that is a whole Java list "[a, b]" (ls, getEphemerals) is sorted;
  - the identity lines printed by whoami after "Auth scheme: User" are sorted;
  - the paths printed by "ls -R" (a BFS in the server's child order) are sorted;
  - the ACL entries printed by getAcl (two lines each) are sorted, as ACL lists above.
"""
import re
import sys


class Mapper:
    def __init__(self, prefix):
        self.prefix = prefix
        self.seen = {}

    def __call__(self, value):
        if value == 0:
            return '0'
        if value not in self.seen:
            self.seen[value] = '%s%d' % (self.prefix, len(self.seen) + 1)
        return self.seen[value]


ZX = Mapper('Z')
SESS = Mapper('S')

VERSION_RE = re.compile(r'(\d+\.\d+\.\d+)-[^,\s]*, built on [^\n]*? UTC')


def sort_set(m):
    inner = m.group(1)
    if not inner:
        return '{}'
    return '{' + ','.join(sorted(inner.split(','))) + '}'


def tags(line):
    line = re.sub(r'created2 (\S+) v=.*?mt=@t:-?\d+', r'created \1', line)
    line = re.sub(r'@z:([0-9a-fA-F]+)', lambda m: ZX(int(m.group(1), 16)), line)
    line = re.sub(r'@s:([0-9a-fA-F]+)', lambda m: SESS(int(m.group(1), 16)), line)
    line = re.sub(r'@t:(-?\d+)', lambda m: '0' if m.group(1) == '0' else 'T', line)
    line = re.sub(r'@p:([0-9a-fA-F]*)', lambda m: 'PWD%d' % (len(m.group(1)) // 2), line)
    line = re.sub(r'\{([^{}]*)\}', sort_set, line)
    line = VERSION_RE.sub(r'\1-BUILD, built on DATE UTC', line)
    return line


ZKCLI_DROP = re.compile(r'^(SLF4J:|Connecting to |Welcome to ZooKeeper!|JLine support is)')


def sort_ls_r(lines):
    """Sorts the output block of each "> ls -R" command (up to the next "> " line)."""
    out = []
    block = None
    for line in lines:
        if block is not None:
            if line.startswith('> ') or line.startswith('## ') or not line.startswith('/'):
                out.extend(sorted(block))
                block = None
            else:
                block.append(line)
                continue
        out.append(line)
        if line.startswith('> ls ') and ' -R' in line:
            block = []
    if block:
        out.extend(sorted(block))
    return out


def sort_getacl(lines):
    """Sorts the (id, perms) line pairs printed by each "> getAcl" command."""
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if not line.startswith('> getAcl '):
            continue
        pairs = []
        while i + 1 < len(lines) and lines[i].startswith("'") and lines[i + 1].startswith(': '):
            pairs.append((lines[i], lines[i + 1]))
            i += 2
        for a, b in sorted(pairs):
            out.extend([a, b])
    return out


def zkcli(lines):
    lines = sort_ls_r(lines)
    lines = sort_getacl(lines)
    out = []
    in_whoami = False
    ids = []
    for line in lines:
        if ZKCLI_DROP.match(line):
            continue
        if in_whoami:
            if re.match(r'^[a-z0-9]+: ', line):
                ids.append(line)
                continue
            out.extend(sorted(ids))
            in_whoami = False
            ids = []
        if line == 'Auth scheme: User':
            out.append(line)
            in_whoami = True
            continue
        m = re.match(r'^([cmp]Zxid) = 0x([0-9a-f]+)$', line)
        if m:
            line = '%s = @z:%s' % (m.group(1), m.group(2))
        m = re.match(r'^([cm]time) = (.*)$', line)
        if m:
            line = '%s = %s' % (m.group(1),
                                '0' if m.group(2).startswith('Thu Jan 01 00:00:00 UTC 1970')
                                else 'T')
        m = re.match(r'^ephemeralOwner = 0x([0-9a-f]+)$', line)
        if m:
            line = 'ephemeralOwner = %s' % SESS(int(m.group(1), 16))
        m = re.match(r'^\[(.*)\]$', line)
        if m:
            items = [s for s in m.group(1).split(', ')] if m.group(1) else []
            line = '[' + ', '.join(sorted(items)) + ']'
        out.append(line)
    out.extend(sorted(ids))
    return out


MNTR_KEYS = ['zk_avg_latency', 'zk_max_latency', 'zk_min_latency', 'zk_packets_received',
             'zk_packets_sent', 'zk_num_alive_connections', 'zk_outstanding_requests',
             'zk_uptime', 'zk_znode_count', 'zk_watch_count', 'zk_ephemerals_count',
             'zk_approximate_data_size', 'zk_global_sessions', 'zk_local_sessions',
             'zk_open_file_descriptor_count', 'zk_max_file_descriptor_count',
             'zk_connection_drop_probability', 'zk_last_client_response_size',
             'zk_max_client_response_size', 'zk_min_client_response_size',
             'zk_outstanding_tls_handshake', 'zk_auth_failed_count',
             'zk_non_mtls_remote_conn_count', 'zk_non_mtls_local_conn_count']
MNTR_VARIABLE = {'zk_avg_latency', 'zk_max_latency', 'zk_min_latency', 'zk_uptime',
                 'zk_open_file_descriptor_count', 'zk_max_file_descriptor_count'}

CLIENT_RE = re.compile(r'^ /127\.0\.0\.1:\d+\[')


def client_line(line):
    line = re.sub(r'^ /127\.0\.0\.1:\d+\[', ' /127.0.0.1:P[', line)
    line = re.sub(r'sid=0x([0-9a-f]+)', lambda m: 'sid=' + SESS(int(m.group(1), 16)), line)
    line = re.sub(r'(est|lresp)=\d+', r'\1=T', line)
    line = re.sub(r'(llat|minlat|avglat|maxlat)=\d+', r'\1=N', line)
    return line


def fourlw_section(word, body):
    out = []
    clients = []
    if word == 'mntr':
        vals = {}
        for line in body:
            k, _, v = line.partition('\t')
            vals[k] = v
        for k in ('zk_version', 'zk_server_state'):
            out.append('%s\t%s' % (k, vals.get(k, 'MISSING')))
        for k in sorted(MNTR_KEYS):
            v = vals.get(k)
            if v is None:
                out.append('%s MISSING' % k)
            elif k in MNTR_VARIABLE:
                out.append('%s\t%s' % (k, 'N' if re.match(r'^-?\d+(\.\d+)?$', v) else v))
            else:
                out.append('%s\t%s' % (k, v))
        return out
    in_conns = False
    for line in body:
        if CLIENT_RE.match(line):
            clients.append(client_line(line))
            continue
        if clients and line != ' ':
            out.extend(sorted(clients))
            clients = []
        m = re.match(r'^Latency min/avg/max: (\d+)/(\d+(\.\d+)?(E-?\d+)?)/(\d+)$', line)
        if m:
            line = 'Latency min/avg/max: n/f/n'
        if word == 'conf':
            line = re.sub(r'^clientPort=\d+$', 'clientPort=PORT', line)
            m = re.match(r'^(dataDir|dataLogDir)=(.*)$', line)
            if m:
                line = '%s=DIR%s' % (m.group(1), '/version-2' if m.group(2).endswith('/version-2')
                                     else '')
            line = re.sub(r'^(dataDirSize|dataLogSize)=\d+$', r'\1=N', line)
        if word == 'dirs':
            line = re.sub(r'^(datadir_size|logdir_size): \d+$', r'\1: N', line)
        if word == 'envi' and '=' in line and not line.startswith('zookeeper.version='):
            line = line.split('=', 1)[0] + '=V'
        if word == 'dump':
            line = re.sub(r'expire at .*:$', 'expire at D:', line)
            if re.match(r'^0 expire at D:$', line):
                continue
            line = re.sub(r'^Session Sets \(\d+\)/', 'Session Sets (N)/', line)
            line = re.sub(r'0x([0-9a-f]+)', lambda m: SESS(int(m.group(1), 16)), line)
            if line == 'Connections dump:':
                in_conns = True
                out.append(line)
                continue
            if in_conns:
                m = re.match(r'^Connections Sets \((\d+)\)/\((\d+)\):$', line)
                if m:
                    out.append('Connections Sets (N)/(%s):' % m.group(2))
                elif line.startswith('\tip: '):
                    clients.append(re.sub(r':\d+ sessionId', ':P sessionId', line))
                continue
        if word in ('wchc', 'wchp'):
            line = re.sub(r'0x([0-9a-f]+)', lambda m: SESS(int(m.group(1), 16)), line)
        out.append(line)
    out.extend(sorted(clients))
    return out


def fourlw(lines):
    out = []
    word = None
    body = []
    for line in lines + ['## END']:
        if line.startswith('## '):
            if word is not None:
                out.extend(fourlw_section(word, body))
            if line != '## END':
                out.append(line)
            word = line[3:]
            body = []
        elif word is None:
            out.append(line)
        else:
            body.append(line)
    return out


def main():
    global ZX
    lines = sys.stdin.read().splitlines()
    if '--zkcli' in sys.argv:
        lines = zkcli(lines)
    if '--4lw' in sys.argv:
        lines = fourlw(lines)
    for line in lines:
        if line.startswith('## '):
            ZX = Mapper('Z')
        print(tags(line))


if __name__ == '__main__':
    main()
