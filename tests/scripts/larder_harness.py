"""Helpers for Python test scripts: start a real larder-server (or Debian's
redis-server) on a free port, awaiting its "Ready to accept connections" line,
and count results the way every Larder test program reports them.

Run scripts with /usr/bin/python3 (Debian's python3-redis lives there)."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.environ.get("LARDER_SERVER", os.path.join(ROOT, "build", "larder-server"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A server process on a free port; stop() terminates it and removes its dir."""

    def __init__(self, binary=None, args=(), redis=False):
        self.dir = tempfile.mkdtemp(prefix="larder-pytest-")
        binary = binary or ("/usr/bin/redis-server" if redis else SERVER)
        extra = ["--save", "", "--appendonly", "no"] if redis else []
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen([binary, "--port", str(self.port), "--dir", self.dir] + extra + list(args),
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            lines = []
            for line in self.proc.stdout:
                lines.append(line)
                if "Ready to accept connections" in line:
                    return
            self.proc.wait()
            if not any("Address already in use" in l for l in lines):
                raise RuntimeError("server did not start:\n" + "".join(lines))
        raise RuntimeError("no free port")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Results:
    """Collects named checks; report() prints the closing line and exits."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn, *args):
        try:
            fn(*args)
            self.passed += 1
        except Exception:
            self.failed += 1
            print("FAIL %s" % name, file=sys.stderr)
            traceback.print_exc()

    def report(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
