"""Pub/sub smoke test with Debian's python3-redis (RESP2): PubSub objects with
channels and patterns, message handlers, the listener thread, sharded
channels, PUBSUB introspection, keyspace notifications, and client-side
caching invalidations redirected to a __redis__:invalidate subscriber.

Every wait is a get_message() with a timeout on the message the action
causes; no sleeps. Run with /usr/bin/python3 (python3-redis lives there)."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from larder_harness import Results, Server  # noqa: E402

TIMEOUT = 10


def next_message(p, kind=None):
    """The next message of a PubSub (skipping other kinds when kind is given)."""
    for _ in range(100):
        m = p.get_message(timeout=TIMEOUT)
        assert m is not None, "no message within %ds" % TIMEOUT
        if kind is None or m["type"] == kind:
            return m
    raise AssertionError("no %s message" % kind)


def channels_and_patterns(r):
    p = r.pubsub()
    p.subscribe("news", "sports")
    assert next_message(p) == {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1}
    assert next_message(p)["data"] == 2
    p.psubscribe("n*")
    assert next_message(p) == {"type": "psubscribe", "pattern": None, "channel": b"n*", "data": 3}
    assert r.publish("news", "hello") == 2
    assert next_message(p) == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
    assert next_message(p) == {"type": "pmessage", "pattern": b"n*", "channel": b"news", "data": b"hello"}
    assert r.publish("nothing-here", "x") == 1  # the pattern only
    assert next_message(p)["channel"] == b"nothing-here"
    assert r.publish("quiet", "x") == 0
    assert sorted(r.pubsub_channels()) == [b"news", b"sports"]
    assert r.pubsub_channels("s*") == [b"sports"]
    assert r.pubsub_numsub("news", "nope") == [(b"news", 1), (b"nope", 0)]
    assert r.pubsub_numpat() == 1
    p.unsubscribe("news")
    assert next_message(p) == {"type": "unsubscribe", "pattern": None, "channel": b"news", "data": 2}
    p.punsubscribe()
    assert next_message(p)["type"] == "punsubscribe"
    p.unsubscribe()
    assert next_message(p)["data"] == 0
    p.close()
    assert r.pubsub_numpat() == 0


def handlers_and_thread(r):
    got = []
    done = threading.Event()

    def handler(m):
        got.append(m["data"])
        if len(got) == 3:
            done.set()
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe(**{"events": handler})
    t = p.run_in_thread(sleep_time=0.01, daemon=True)
    # the subscription is in place once NUMSUB says so
    for _ in range(10000):
        if r.pubsub_numsub("events") == [(b"events", 1)]:
            break
    for i in range(3):
        assert r.publish("events", "e%d" % i) == 1
    assert done.wait(TIMEOUT), "handler did not see 3 messages"
    t.stop()
    t.join(TIMEOUT)
    p.close()
    assert got == [b"e0", b"e1", b"e2"]


def binary_and_big(r):
    p = r.pubsub()
    p.subscribe(b"bin\x00chan")
    next_message(p)
    payload = bytes(range(256)) * 4096  # 1 MB
    assert r.publish(b"bin\x00chan", payload) == 1
    m = next_message(p, "message")
    assert m["channel"] == b"bin\x00chan" and m["data"] == payload
    p.close()


def sharded(r):
    # python3-redis 4.3 has no sharded PubSub API: use a raw connection
    c = redis.Redis(port=r.connection_pool.connection_kwargs["port"], socket_timeout=TIMEOUT)
    conn = c.connection_pool.get_connection("_")
    conn.send_command("SSUBSCRIBE", "orders")
    assert conn.read_response() == [b"ssubscribe", b"orders", 1]
    assert r.execute_command("SPUBLISH", "orders", "o1") == 1
    assert r.publish("orders", "not-shard") == 0
    assert conn.read_response() == [b"smessage", b"orders", b"o1"]
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "orders") == [b"orders", 1]
    assert r.execute_command("PUBSUB", "SHARDCHANNELS") == [b"orders"]
    conn.send_command("SUNSUBSCRIBE")
    assert conn.read_response() == [b"sunsubscribe", b"orders", 0]
    conn.send_command("GET", "k")
    assert conn.read_response() is None
    c.connection_pool.release(conn)
    c.close()


def subscribed_mode_errors(r):
    c = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
    conn = c.connection_pool.get_connection("_")
    conn.send_command("SUBSCRIBE", "x")
    assert conn.read_response() == [b"subscribe", b"x", 1]
    conn.send_command("GET", "k")
    try:
        conn.read_response()
        raise AssertionError("GET allowed in subscribed mode")
    except redis.ResponseError as e:
        assert "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET" in str(e)
    conn.send_command("PING")
    assert conn.read_response() == [b"pong", b""]
    conn.send_command("RESET")
    assert conn.read_response() == b"RESET"
    conn.send_command("GET", "k")
    assert conn.read_response() is None
    c.connection_pool.release(conn)
    c.close()


def keyspace_notifications(r):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        p = r.pubsub()
        p.psubscribe("__keyspace@0__:*")
        next_message(p)
        r.set("kn", "1")
        assert next_message(p, "pmessage")["channel"] == b"__keyspace@0__:kn"
        r.expire("kn", 100)
        assert next_message(p, "pmessage")["data"] == b"expire"
        r.set("short", "v", px=10)
        next_message(p, "pmessage")  # set
        next_message(p, "pmessage")  # expire
        m = next_message(p, "pmessage")  # expired, by active expiry
        assert (m["channel"], m["data"]) == (b"__keyspace@0__:short", b"expired")
        r.delete("kn")
        assert next_message(p, "pmessage")["data"] == b"del"
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def tracking_redirect(r):
    port = r.connection_pool.connection_kwargs["port"]
    named = redis.Redis(port=port, client_name="invsub", socket_timeout=TIMEOUT)
    p = named.pubsub()
    p.subscribe("__redis__:invalidate")
    next_message(p)
    rid = None
    for line in r.execute_command("CLIENT", "LIST").decode().splitlines():
        if " name=invsub " in line:
            rid = int(line.split()[0].split("=")[1])
    assert rid is not None
    t = redis.Redis(port=port, single_connection_client=True, socket_timeout=TIMEOUT)
    assert t.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", rid) == b"OK"
    assert t.execute_command("CLIENT", "GETREDIR") == rid
    assert t.get("cached") is None
    r.set("cached", "1")
    m = next_message(p, "message")
    assert m["channel"] == b"__redis__:invalidate" and m["data"] == [b"cached"]
    r.set("cached", "2")  # forgotten after one invalidation: nothing more
    assert t.mget("a", "b") == [None, None]
    r.flushdb()
    m = next_message(p, "message")
    assert m["data"] is None
    t.close()
    p.close()
    named.close()


def main():
    srv = Server()
    res = Results()
    try:
        r = redis.Redis(port=srv.port, socket_timeout=TIMEOUT)
        for name, fn in [("channels_and_patterns", channels_and_patterns),
                         ("handlers_and_thread", handlers_and_thread),
                         ("binary_and_big", binary_and_big),
                         ("sharded", sharded),
                         ("subscribed_mode_errors", subscribed_mode_errors),
                         ("keyspace_notifications", keyspace_notifications),
                         ("tracking_redirect", tracking_redirect)]:
            res.run(name, fn, r)
        r.close()
    finally:
        srv.stop()
    res.report()


if __name__ == "__main__":
    main()
