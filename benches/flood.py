#!/usr/bin/env python3
"""Floods: what draining a pane that prints as fast as it can costs the client.

A pane prints MIB MiB of pseudo-random bytes, base64-encoded (about 1.35
bytes of printable text per byte, in 76-character lines), as fast as
`openssl`, `head` and `base64` make them. Each scenario runs on a fresh
private tmux server in a temporary directory (killed at the end):

  drain   the library: `examples/drain.rs` attaches with `Client`, takes
          the pane's `Pane::output` stream and counts its bytes
  logs    the CLI: `tmux-wire logs NAME -n 1 --follow` on a process the
          keeper started (its log written by the `log-sink` helper that
          tmux's `pipe-pane` runs); its stdout is read and hashed here
  wait    the CLI: `tmux-wire wait NAME --ready NEVER_MATCHES` on the same
          kind of process; it ends when the process exits (exit 1)

The producer waits on a FIFO until the client under test is ready, so the
flood is measured from its first byte. CPU time is utime+stime from
/proc/PID/stat of the tmux server (sampled before the flood and after the
client ended) and of the log-sink (sampled every 0.2 s while it lives; it
is the client's cost, reported on its own); the client's own CPU time and
peak RSS come from wait4() when it exits. "Nothing lost": the drain's byte
count must equal what the pane printed (base64 plus the CR LF the terminal
writes for each newline), and the text `logs` printed must have the
length and MD5 of the producer's output (computed beforehand from the
same deterministic stream).

Usage:

    cargo build --release && cargo build --release --example drain
    python3 benches/flood.py [--mib 1024] [drain] [logs] [wait]

Environment: TMUX_WIRE_BIN (default target/release/tmux-wire; the drain
example is looked up beside it, in examples/drain), TMUX (default tmux; the
value tmux itself sets inside a session is ignored).
"""

import argparse
import hashlib
import os
import re
import select
import shlex
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("TMUX_WIRE_BIN", "target/release/tmux-wire")
DRAIN = os.path.join(os.path.dirname(BIN), "examples", "drain")
# $TMUX inside a tmux session is "SOCKET,PID,INDEX", not a program.
TMUX = os.environ.get("TMUX", "tmux") if "," not in os.environ.get("TMUX", "") else "tmux"
TICK = os.sysconf("SC_CLK_TCK")
ZEROS = "0" * 32
SOURCE = f"openssl enc -aes-128-ctr -nosalt -K {ZEROS} -iv {ZEROS} -in /dev/zero 2>/dev/null"


def producer(nbytes):
    return f"{SOURCE} | head -c {nbytes} | base64"


def expected_text(nbytes):
    """Length and MD5 of what the producer prints (LF line ends)."""
    out = subprocess.run(["sh", "-c", producer(nbytes) + " | md5sum"],
                         check=True, capture_output=True, text=True).stdout
    chars = 4 * ((nbytes + 2) // 3)
    lines = (chars + 75) // 76
    return chars + lines, lines, out.split()[0]


def cpu(pid):
    """utime + stime of a live process, in seconds (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def mem(pid):
    """VmRSS and VmHWM of a live process, in KiB."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":")
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def children(ppid, word):
    """Pids of processes whose parent is ppid and whose command line has word."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if parent == ppid and word.encode() in cmdline:
            found.append(int(entry))
    return found


class Helper:
    """A process that is not ours to wait for, sampled while it lives."""

    def __init__(self, pid):
        self.pid, self.first, self.last, self.hwm, self.rss0 = pid, cpu(pid), 0.0, 0, None
        self.sample()

    def sample(self):
        now = cpu(self.pid)
        if now is not None:
            self.last = now
            m = mem(self.pid)
            self.hwm = max(self.hwm, m.get("VmHWM", 0))
            if self.rss0 is None:
                self.rss0 = m.get("VmRSS")

    def used(self):
        return self.last - (self.first or 0.0)


def finish(proc):
    """Reap our child with wait4: exit status, CPU seconds, peak RSS KiB."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


class Server:
    def __init__(self, tmp):
        self.sock = os.path.join(tmp, "s")
        self.fifo = os.path.join(tmp, "go")
        os.mkfifo(self.fifo)

    def tmux(self, *args):
        return subprocess.run([TMUX, "-S", self.sock, *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    def pid(self):
        return int(self.tmux("display-message", "-p", "#{pid}"))

    def script(self, nbytes):
        return f"read x < {shlex.quote(self.fifo)}; {producer(nbytes)}"

    def go(self):
        with open(self.fifo, "w") as f:
            f.write("go\n")

    def kill(self):
        subprocess.run([TMUX, "-S", self.sock, "kill-server"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def row(name, server_cpu, client, helper, wall, checked, ok):
    code, client_cpu, client_rss = client
    r = {"scenario": name, "server_cpu": server_cpu, "client_cpu": client_cpu,
         "ratio": client_cpu / server_cpu if server_cpu else float("nan"),
         "client_rss_kib": client_rss, "wall": wall, "checked": checked, "ok": ok,
         "exit": code}
    if helper is not None:
        r.update(helper_cpu=helper.used(), helper_hwm_kib=helper.hwm,
                 helper_ratio=helper.used() / server_cpu if server_cpu else float("nan"))
    return r


def scenario_drain(tmp, nbytes, text_len, lines):
    server = Server(tmp)
    want = text_len + lines  # each LF reaches the pane as CR LF
    try:
        # tmux 3.3a discards the output it has not yet sent to a control
        # client once the pane's process is gone (control_write_pending), so
        # the pane lives on a while after the flood; remain-on-exit keeps it
        # for the drain's last look.
        server.tmux("-f", "/dev/null", "new-session", "-d", "-s", "flood",
                    "sh", "-c", server.script(nbytes) + "; sleep 5", ";",
                    "set-option", "-g", "remain-on-exit", "on")
        spid = server.pid()
        drain = subprocess.Popen([DRAIN, server.sock, "flood", str(want)],
                                 stdout=subprocess.PIPE, text=True)
        assert drain.stdout.readline().strip() == "subscribed"
        s0, t0 = cpu(spid), time.monotonic()
        server.go()
        result = drain.stdout.read()
        client = finish(drain)
        wall = time.monotonic() - t0
        s1 = cpu(spid)
        m = re.match(r"bytes (\d+) paused (\d+)", result)
        got, paused = (int(m.group(1)), int(m.group(2))) if m else (-1, -1)
        ok = got == want and paused == 0
        checked = f"{got} of {want} bytes, {paused} pauses"
        return row("drain (library)", s1 - s0, client, None, wall, checked, ok)
    finally:
        server.kill()


def start_kept(server, nbytes):
    subprocess.run([BIN, "-S", server.sock, "start", "flood", "--", "sh", "-c",
                    server.script(nbytes)], check=True, stdout=subprocess.DEVNULL)
    spid = server.pid()
    sinks = children(spid, "log-sink")
    assert len(sinks) == 1, f"expected one log-sink, found {sinks}"
    return spid, Helper(sinks[0])


def scenario_logs(tmp, nbytes, text_len, md5):
    server = Server(tmp)
    try:
        spid, sink = start_kept(server, nbytes)
        logs = subprocess.Popen([BIN, "-S", server.sock, "logs", "flood", "-n", "1", "--follow"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        fd = logs.stdout.fileno()
        first = b""
        while not first.endswith(b"\n"):
            chunk = os.read(fd, 1)
            if not chunk:
                break
            first += chunk
        assert first.startswith(b"--- tmux-wire: run of"), first
        s0, t0 = cpu(spid), time.monotonic()
        sink.sample()
        server.go()
        digest, length = hashlib.md5(), 0
        while True:
            ready, _, _ = select.select([fd], [], [], 0.2)
            sink.sample()
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                digest.update(chunk)
                length += len(chunk)
        stderr = logs.stderr.read().decode(errors="replace").strip()
        client = finish(logs)
        wall = time.monotonic() - t0
        s1 = cpu(spid)
        sink.sample()
        ok = length == text_len and digest.hexdigest() == md5 and client[0] == 0
        checked = f"{length} of {text_len} bytes, md5 {'equal' if digest.hexdigest() == md5 else 'DIFFERS'}"
        if not ok:
            checked += f"; exit {client[0]}: {stderr}"
        return row("logs --follow (CLI)", s1 - s0, client, sink, wall, checked, ok)
    finally:
        server.kill()


def scenario_wait(tmp, nbytes):
    server = Server(tmp)
    try:
        spid, sink = start_kept(server, nbytes)
        wait = subprocess.Popen([BIN, "-S", server.sock, "wait", "flood", "--ready",
                                 "NEVER_MATCHES", "--timeout", "1h"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Armed once it watches the log (its inotify descriptor exists).
        fds = f"/proc/{wait.pid}/fd"
        while not any("inotify" in os.readlink(os.path.join(fds, fd))
                      for fd in os.listdir(fds) if os.path.exists(os.path.join(fds, fd))):
            assert wait.poll() is None, wait.stderr.read()
            time.sleep(0.01)
        s0, t0 = cpu(spid), time.monotonic()
        sink.sample()
        server.go()
        while True:
            ready, _, _ = select.select([wait.stderr], [], [], 0.2)
            sink.sample()
            if ready:
                break
        out = wait.stdout.read() + wait.stderr.read()
        client = finish(wait)
        wall = time.monotonic() - t0
        s1 = cpu(spid)
        sink.sample()
        ok = client[0] == 1 and "exited" in out
        checked = "ran to the exit" if ok else f"exit {client[0]}: {out.strip()}"
        return row("wait --ready (CLI)", s1 - s0, client, sink, wall, checked, ok)
    finally:
        server.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("scenarios", nargs="*", default=["drain", "logs", "wait"])
    args = parser.parse_args()
    nbytes = args.mib << 20
    text_len, lines, md5 = expected_text(nbytes)
    print(f"flood: {args.mib} MiB base64-encoded = {text_len} bytes of text, {lines} lines")
    rows = []
    for name in args.scenarios:
        with tempfile.TemporaryDirectory(prefix="tmux-wire-flood") as tmp:
            if name == "drain":
                r = scenario_drain(tmp, nbytes, text_len, lines)
            elif name == "logs":
                r = scenario_logs(tmp, nbytes, text_len, md5)
            elif name == "wait":
                r = scenario_wait(tmp, nbytes)
            else:
                sys.exit(f"unknown scenario {name}")
        rows.append(r)
        helper = ""
        if "helper_cpu" in r:
            helper = (f"  log-sink {r['helper_cpu']:.2f} s ({r['helper_ratio']:.0%}),"
                      f" peak RSS {r['helper_hwm_kib'] / 1024:.1f} MiB")
        print(f"{r['scenario']:22} client {r['client_cpu']:6.2f} s  server {r['server_cpu']:6.2f} s"
              f"  ratio {r['ratio']:5.1%}  client peak RSS {r['client_rss_kib'] / 1024:5.1f} MiB"
              f"  wall {r['wall']:5.1f} s{helper}\n{'':22} {'ok' if r['ok'] else 'FAILED'}: {r['checked']}",
              flush=True)
    sys.exit(0 if all(r["ok"] for r in rows) else 1)


if __name__ == "__main__":
    main()
