#!/usr/bin/python3
"""The one place where transcripts are normalised before Apache's and ours are compared.

usage: normalise.py [--zkcli] < raw > normalised

Client scripts print raw facts with tags; this filter turns each tag into something that is
equal between two correct servers. Every rule says why the difference it hides is legitimate.

  @z:HEX    a zxid. Absolute zxids depend on how many transactions a server has logged,
            including createSession/closeSession and (in Apache) failed writes, which consume
            a zxid; spec §5 lets a server not burn zxids on errors. What clients rely on is
            equality and order, so each distinct non-zero zxid becomes Z1, Z2, ... in order of
            first appearance (0 stays 0: the initial nodes).
  @ze:HEX   the zxid in the reply header of a failed write: Apache answers with the zxid of
            the error transaction it logged, a server that does not burn zxids answers with its
            last zxid (spec §5). Becomes Z*.
  @s:HEX    a session id: the layout holds a clock value (spec §3.4). S1, S2, ... in order of
            first appearance, 0 stays 0.
  @t:DEC    a time in ms (ctime/mtime): wall clock. T, or 0 for the initial nodes.
  @p:HEX    a session password (a function of the session id): PWD<length>.
  {a,b,c}   an unordered collection (children lists, whoAmI, getEphemerals): the server's
            order is unspecified (Java uses hash-set order, spec §7.8), so elements are sorted.
  created2  a create2 (15) op inside a multi: Apache 3.8.0/3.8.1 answer it as a plain create
            (result type 1, path only); 3.8.2+ (ZOOKEEPER-4026) answer type 15 with a Stat,
            which spec §8.2 asks of us. "created2 PATH <stat>" becomes "created PATH".
  version   "Zookeeper version: 3.8.0-<build>, built on <date> UTC" (srvr, stat, mntr, envi):
            the build id and date are per build; the X.Y.Z- prefix that tools parse is kept.

With --zkcli (zkCli.sh output) also:
  - the JVM's and zkCli's banner lines (SLF4J, "Connecting to", "Welcome", JLine) are dropped;
  - "cZxid = 0x..", "mZxid", "pZxid" lines map like @z; "ctime = <date>" like @t;
    "ephemeralOwner = 0x.." like @s;
  - a line that is a whole Java list "[a, b]" (ls, getEphemerals) is sorted;
  - the identity lines printed by whoami after "Auth scheme: User" are sorted;
  - the paths printed by "ls -R" (a BFS in the server's child order) are sorted.
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
    line = re.sub(r'@ze:-?[0-9a-fA-Fx]+', 'Z*', line)
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


def zkcli(lines):
    lines = sort_ls_r(lines)
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
            line = '%s = %s' % (m.group(1), ZX(int(m.group(2), 16)))
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


def main():
    lines = sys.stdin.read().splitlines()
    if '--zkcli' in sys.argv:
        lines = zkcli(lines)
    for line in lines:
        print(tags(line))


if __name__ == '__main__':
    main()
