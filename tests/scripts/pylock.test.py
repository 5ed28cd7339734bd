#!/usr/bin/python3
"""redis-py's Lock (Debian's python3-redis) against larder-server, unchanged:
acquire, release, extend, reacquire, blocking acquire, timeouts, and the
EVALSHA -> NOSCRIPT -> SCRIPT LOAD fallback after SCRIPT FLUSH.

Starts its own larder-server on a free port (readiness: the "Ready to accept
connections" line on its stdout), stops it at the end, prints "N passed, N failed"."""
import os
import socket
import subprocess
import sys
import threading
import time

import redis
from redis.exceptions import LockError, LockNotOwnedError

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.environ.get("LARDER_SERVER", os.path.join(HERE, "..", "..", "build", "larder-server"))
passed = failed = 0


def check(name, cond):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", name, flush=True)


def start():
    for _ in range(5):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        p = subprocess.Popen([SERVER, "--port", str(port), "--save", ""], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in p.stdout:
            lines.append(line)
            if "Ready to accept connections" in line:
                threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
                return p, port
        p.wait()
    sys.exit("larder-server did not start:\n" + "".join(lines))


def main():
    proc, port = start()
    try:
        r = redis.Redis(port=port)
        r2 = redis.Redis(port=port)

        lock = r.lock("res", timeout=5)
        check("acquire", lock.acquire(blocking=False))
        check("owned", lock.owned() and lock.locked())
        token = lock.local.token
        check("token stored", r.get("res") == token)
        check("other cannot acquire", not r2.lock("res", timeout=5).acquire(blocking=False))
        check("extend", lock.extend(10))
        check("ttl after extend", 10000 < r.pttl("res") <= 15000)
        check("extend replace_ttl", lock.extend(3, replace_ttl=True) and r.pttl("res") <= 3000)
        check("reacquire", lock.reacquire() and r.pttl("res") > 4000)
        lock.release()
        check("released", r.get("res") is None and not lock.locked())
        try:
            lock.release()
            check("double release raises", False)
        except LockError:
            check("double release raises", True)

        # blocking acquire: a second client waits for the first to release
        holder = r.lock("job", timeout=10)
        check("holder acquire", holder.acquire())
        got = {}

        def waiter():
            w = r2.lock("job", timeout=10, blocking_timeout=5)
            t0 = time.time()
            got["ok"] = w.acquire()
            got["waited"] = time.time() - t0
            if got["ok"]:
                w.release()
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.3)  # the waiter is polling (redis-py sleeps between tries)
        holder.release()
        t.join()
        check("blocking acquire got it", got.get("ok") is True)
        check("blocking acquire waited", got.get("waited", 0) >= 0.25)

        # blocking_timeout expires while someone holds the lock
        h2 = r.lock("busy", timeout=10)
        h2.acquire()
        t0 = time.time()
        check("blocking_timeout fails", r2.lock("busy", blocking_timeout=0.3).acquire() is False)
        dt = time.time() - t0
        check("blocking_timeout duration %.2f" % dt, 0.15 <= dt < 2)  # gives up when the next try would be late
        h2.release()

        # the lock expires by TTL; the old owner can no longer extend or release
        short = r.lock("short", timeout=0.2)
        short.acquire()
        time.sleep(0.35)
        check("expired by ttl", r.get("short") is None)
        try:
            short.extend(1)
            check("extend after expiry raises", False)
        except LockNotOwnedError:
            check("extend after expiry raises", True)
        other = r2.lock("short", timeout=5)
        check("another client takes the expired lock", other.acquire(blocking=False))
        try:
            short.release()
            check("stale release raises", False)
        except LockNotOwnedError:
            check("stale release raises", True)
        check("stale release left the new owner", other.owned())
        other.release()

        # the EVALSHA -> NOSCRIPT -> SCRIPT LOAD path: flush the script cache under it
        r.script_flush()
        l3 = r.lock("after-flush", timeout=5)
        check("acquire after flush", l3.acquire(blocking=False))
        check("extend after flush", l3.extend(1))
        r.script_flush()
        l3.release()
        check("release after flush", r.get("after-flush") is None)

        # context manager
        with r.lock("ctx", timeout=5) as held:
            check("context manager holds", held.owned())
        check("context manager released", r.get("ctx") is None)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
