"""README's change-stream consumer in Python, run as written: the code block
under "A consumer in Python" is taken from README.md (only its port is
changed), started against a larder-server with the bundled store and
`changes-stream changes`, and must print the reset entry, then an insert, an
update and a delete of a write-through key, in order; entries it handled
are acknowledged (nothing pending for its group).

Every wait is a read of the consumer's output with a deadline; no sleeps.
Run with /usr/bin/python3 (python3-redis lives there)."""
import os
import re
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from larder_harness import ROOT, Results, Server  # noqa: E402

TIMEOUT = 10
BUILD = os.environ.get("LARDER_BUILD", os.path.join(ROOT, "build"))


def readme_consumer(port):
    """The README's consumer, its port replaced by port."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    m = re.search(r"A consumer in Python.*?```python\n(.*?)```", text, re.S)
    assert m, "README.md has no Python consumer block"
    code = m.group(1)
    assert "port=6379" in code, "the consumer no longer names port=6379"
    return code.replace("port=6379", "port=%d" % port)


def read_lines(proc, want, deadline):
    """Lines of proc's stdout until want of them are read or deadline passes."""
    lines, buf = [], ""
    while len(lines) < want and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(proc.stdout.fileno(), 4096).decode()
        if not chunk:
            break
        buf += chunk
        while "\n" in buf:
            line, buf = buf.split("\n", 1)
            lines.append(line)
    return lines


def consumer_prints_each_change(srv):
    r = redis.Redis(port=srv.port, decode_responses=True)
    r.execute_command("SQL.EXEC", "CREATE TABLE sessions (id TEXT PRIMARY KEY, data TEXT)")
    r.config_set("map", "sessions session:{id} mode write-through column data")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(readme_consumer(srv.port))
        script = f.name
    proc = subprocess.Popen(["/usr/bin/python3", "-u", script], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        assert r.set("session:a", "1")
        assert r.set("session:a", "2")
        assert r.delete("session:a") == 1
        lines = read_lines(proc, 4, time.monotonic() + TIMEOUT)
        assert len(lines) == 4, "consumer printed %r" % lines
        assert re.fullmatch(r"changes before \d+-\d+ may be missing: resync from the store",
                            lines[0]), lines[0]
        ops = [l.split() for l in lines[1:]]
        assert [o[1:] for o in ops] == [["insert", "sessions", "a", "session:a"],
                                        ["update", "sessions", "a", "session:a"],
                                        ["delete", "sessions", "a", "session:a"]], lines
        seqs = [int(o[0]) for o in ops]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3, lines
        # acknowledged after handling: once the next change is printed,
        # everything before it was acknowledged
        assert r.set("session:b", "x")
        more = read_lines(proc, 1, time.monotonic() + TIMEOUT)
        assert len(more) == 1 and more[0].split()[1:] == ["insert", "sessions", "b",
                                                          "session:b"], more
        pending = r.xpending("changes", "indexer")["pending"]
        assert pending <= 1, "pending %d" % pending
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        os.unlink(script)


def main():
    res = Results()
    d = tempfile.mkdtemp(prefix="larder-changes-")
    srv = Server(args=["--loadmodule", os.path.join(BUILD, "modules", "sqlstore.so"),
                       "--store-path", os.path.join(d, "store.db"),
                       "--journal-path", os.path.join(d, "journal"),
                       "--changes-stream", "changes"])
    try:
        res.run("consumer_prints_each_change", consumer_prints_each_change, srv)
    finally:
        srv.stop()
        subprocess.run(["rm", "-rf", d])
    res.report()


main()
