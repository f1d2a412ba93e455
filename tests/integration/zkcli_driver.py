#!/usr/bin/python3
"""Drives Debian's zkCli.sh (Apache ZooKeeper 3.8 Java client) through stdin and prints a
transcript: "> command" followed by what zkCli printed for it.

usage: zkcli_driver.py PORT COMMAND_FILE

Command file: one zkCli command a line, plus
  ## title      a section header (after a settle)
  %settle       wait for watch notifications, then print them as "event: ..." lines
  %restart      quit this zkCli (closing its session) and start a new one
  # ...         comment

zkCli prints watch notifications from its event thread, racing with the main thread's output,
so the driver takes them out of the stream ("WATCHER::" blocks) and prints them, in arrival
order, at the next %settle or section. Every command is followed by the marker command
"stat /zkit-mark" and the driver waits for its answer before sending the next one, which
cuts the output into one piece per command.
"""
import queue
import subprocess
import sys
import threading
import time

ZKCLI = '/usr/share/zookeeper/bin/zkCli.sh'
MARK_CMD = 'stat /zkit-mark'
MARK_OUT = 'Node does not exist: /zkit-mark'


class Cli:
    def __init__(self, port):
        self.p = subprocess.Popen([ZKCLI, '-server', '127.0.0.1:%d' % port],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.events = []
        threading.Thread(target=self._reader, daemon=True).start()
        # The connect event and banner come first; a marker makes sure the session is up.
        self.run(None)
        self.events = [e for e in self.events if 'type:None' not in e]

    def _reader(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip('\n'))
        self.lines.put(None)

    def run(self, cmd, timeout=15.0):
        """Sends cmd (if any) and the marker; returns cmd's output lines."""
        if cmd is not None:
            self.p.stdin.write(cmd + '\n')
        self.p.stdin.write(MARK_CMD + '\n')
        self.p.stdin.flush()
        out = []
        deadline = time.time() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                out.append('DRIVER: no marker within %.0f s' % timeout)
                return out
            if line is None:
                out.append('DRIVER: zkCli exited')
                return out
            if line == MARK_OUT:
                return out
            if line.startswith('WatchedEvent '):
                self.events.append(line)
                continue
            if line in ('', 'WATCHER::'):
                continue
            out.append(line)

    def settle(self):
        time.sleep(0.25)
        self.run(None)
        evs, self.events = self.events, []
        return ['event: ' + e for e in evs if 'type:None' not in e]

    def quit(self):
        try:
            self.p.stdin.write('quit\n')
            self.p.stdin.flush()
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def main():
    port = int(sys.argv[1])
    cmds = open(sys.argv[2]).read().splitlines()
    cli = Cli(port)
    out = sys.stdout
    for line in cmds:
        if not line.strip() or line.startswith('# '):
            continue
        if line.startswith('## '):
            for e in cli.settle():
                out.write(e + '\n')
            out.write(line + '\n')
        elif line == '%settle':
            for e in cli.settle():
                out.write(e + '\n')
        elif line == '%restart':
            for e in cli.settle():
                out.write(e + '\n')
            cli.quit()
            out.write('(new zkCli session)\n')
            cli = Cli(port)
        else:
            out.write('> ' + line + '\n')
            for o in cli.run(line):
                out.write(o + '\n')
        out.flush()
    for e in cli.settle():
        out.write(e + '\n')
    cli.quit()


if __name__ == '__main__':
    main()
