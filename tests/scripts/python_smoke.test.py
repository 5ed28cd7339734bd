"""Smoke test with Debian's python3-redis (RESP2): strings, keys, TTLs,
pipelines, transactions with WATCH, SCAN iteration, INFO/CONFIG/CLIENT, errors."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from larder_harness import Results, Server  # noqa: E402


def strings(r):
    assert r.set("a", "1") is True
    assert r.get("a") == b"1"
    assert r.incr("a", 5) == 6
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.append("s", "ab") == 2 and r.append("s", "cd") == 4
    assert r.getrange("s", 1, 2) == b"bc"
    assert r.mset({"m1": "x", "m2": "y"}) and r.mget("m1", "m2", "nope") == [b"x", b"y", None]
    assert r.set("nx", "1", nx=True) and r.set("nx", "2", nx=True) is None
    assert r.getdel("nx") == b"1" and r.get("nx") is None
    assert r.setbit("b", 7, 1) == 0 and r.bitcount("b") == 1
    assert r.lcs("m1", "m2") == b""


def keys_and_ttl(r):
    r.set("t", "v", ex=100)
    assert 99 <= r.ttl("t") <= 100
    assert r.pexpire("t", 50000) and 49000 < r.pttl("t") <= 50000
    assert r.persist("t") and r.ttl("t") == -1
    assert r.exists("t", "nope") == 1 and r.type("t") == b"string"
    assert r.rename("t", "t2") and r.get("t2") == b"v"
    assert r.copy("t2", "t3") and r.get("t3") == b"v"
    dump = r.dump("t3")
    r.delete("t3")
    assert r.restore("t3", 0, dump) and r.get("t3") == b"v"
    assert r.delete("t2", "t3") == 2


def pipelines(r):
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.set("p%d" % i, i)
    for i in range(100):
        p.get("p%d" % i)
    out = p.execute()
    assert out[:100] == [True] * 100 and out[100:] == [str(i).encode() for i in range(100)]
    p = r.pipeline(transaction=True)
    p.incr("ctr").incr("ctr").get("ctr")
    assert p.execute() == [1, 2, b"2"]


def watch_transactions(r):
    r.set("bal", 10)

    def move(pipe):
        bal = int(pipe.get("bal"))
        pipe.multi()
        pipe.set("bal", bal - 3)
    r.transaction(move, "bal")
    assert r.get("bal") == b"7"
    # a concurrent write makes EXEC fail with WatchError
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
    with r.pipeline() as p:
        p.watch("bal")
        other.set("bal", 100)
        p.multi()
        p.set("bal", 0)
        try:
            p.execute()
            raise AssertionError("EXEC should have failed")
        except redis.WatchError:
            pass
    assert r.get("bal") == b"100"


def scan_iter(r):
    r.flushdb()
    for i in range(500):
        r.set("scan:%d" % i, i)
    seen = set(r.scan_iter(match="scan:*", count=37))
    assert len(seen) == 500


def hashes(r):
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hget("h", "a") == b"1" and r.hmget("h", "a", "zz") == [b"1", None]
    assert r.hincrby("h", "a", 4) == 5 and r.hincrbyfloat("h", "f", 0.5) == 0.5
    assert r.hgetall("h") == {b"a": b"5", b"b": b"2", b"f": b"0.5"}
    assert r.hlen("h") == 3 and r.hexists("h", "b") and r.hdel("h", "b") == 1
    assert r.object("encoding", "h") == b"listpack"
    r.hset("h", "big", "x" * 100)
    assert r.object("encoding", "h") == b"hashtable"
    assert dict(r.hscan_iter("h")) == r.hgetall("h")


def lists(r):
    assert r.rpush("l", "a", "b", "c") == 3 and r.lpush("l", "z") == 4
    assert r.lrange("l", 0, -1) == [b"z", b"a", b"b", b"c"]
    assert r.lpop("l") == b"z" and r.rpop("l", 2) == [b"c", b"b"]
    assert r.linsert("l", "after", "a", "x") == 2 and r.lpos("l", "x") == 1
    assert r.lmove("l", "l2", "LEFT", "RIGHT") == b"a"
    assert r.blpop(["empty", "l2"], timeout=1) == (b"l2", b"a")
    assert r.blpop(["empty"], timeout=0.1) is None
    assert r.object("encoding", "l") == b"quicklist"  # as Redis 7.0


def sets(r):
    assert r.sadd("s1", 1, 2, 3) == 3 and r.object("encoding", "s1") == b"intset"
    assert r.sadd("s2", "2", "3", "x") == 3 and r.object("encoding", "s2") == b"hashtable"
    assert r.sinter("s1", "s2") == {b"2", b"3"}
    assert r.sunion("s1", "s2") == {b"1", b"2", b"3", b"x"}
    assert r.sdiff("s1", "s2") == {b"1"} and r.sintercard(2, ["s1", "s2"]) == 2
    assert r.smismember("s1", [1, 9]) == [1, 0] and r.scard("s1") == 3
    assert r.srem("s1", 1) == 1 and set(r.sscan_iter("s1")) == {b"2", b"3"}


def zsets(r):
    assert r.zadd("z", {"a": 1, "b": 2, "c": 3}) == 3
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0), (b"c", 3.0)]
    assert r.zincrby("z", 5, "a") == 6.0 and r.zrank("z", "a") == 2
    assert r.zrangebyscore("z", 2, "+inf") == [b"b", b"c", b"a"]
    assert r.zadd("z", {"b": 10}, gt=True, ch=True) == 1 and r.zscore("z", "b") == 10.0
    assert r.zpopmin("z") == [(b"c", 3.0)]
    assert r.bzpopmax(["z"], timeout=1) == (b"z", b"b", 10.0)
    r.zadd("z2", {"a": 1, "q": 2})
    assert r.zunionstore("zu", ["z", "z2"]) == 2 and r.zscore("zu", "a") == 7.0
    assert r.zinter(["z", "z2"], withscores=True) == [(b"a", 7.0)]


def admin(r):
    info = r.info()
    assert info["redis_version"] == "7.0.15" and "used_memory" in info
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert r.config_set("maxmemory-policy", "allkeys-lru")
    r.client_setname("smoke")
    assert r.client_getname() == "smoke"
    assert any(c["name"] == "smoke" for c in r.client_list())
    assert r.dbsize() >= 0 and r.ping() is True
    assert isinstance(r.time()[0], int)


def errors(r):
    r.set("str", "x")
    for fn in (lambda: r.incr("str"), lambda: r.execute_command("NOSUCH"), lambda: r.get()):
        try:
            fn()
            raise AssertionError("no error")
        except (redis.ResponseError, TypeError):
            pass


def main():
    srv = Server()
    res = Results()
    try:
        r = redis.Redis(port=srv.port)
        for name, fn in [("strings", strings), ("keys_and_ttl", keys_and_ttl), ("pipelines", pipelines),
                         ("watch_transactions", watch_transactions), ("scan_iter", scan_iter),
                         ("hashes", hashes), ("lists", lists), ("sets", sets), ("zsets", zsets),
                         ("admin", admin), ("errors", errors)]:
            res.run(name, fn, r)
    finally:
        srv.stop()
    res.report()


main()
