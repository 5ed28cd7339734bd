#!/usr/bin/python3
"""make bench — Larder vs Redis side by side, in one run.

Both servers run on this machine on free ports (Debian's redis-server 7.0 with
persistence off). Every case runs redis-benchmark with the same flags against
each server, alternating, ROUNDS times; the table shows medians and the
Larder/Redis ratio (throughput: higher is better for Larder when > 1;
p99 latency and memory: lower is better when < 1).

Each row also shows CPU microseconds per request: the server's (Larder's,
Redis's, their ratio) and redis-benchmark's own against each server. The
client shares the machine's cores; where its CPU per request exceeds the
server's, the client, not the server, bounds the throughput of that row.

Every goal of the performance issue is printed with its ratio and marked
met or not, and the run ends with a summary (N goals met of M, the list not
met): each case at -P 1 (>= 1.2x Redis with p99 <= Redis's), each case at
-P 16 (>= 1.3x), memory per key with a TTL (<= 0.6x), the open-loop p99.9
points (<= Redis's) and the persistence goals that mk/bench-extra.d/persist
marks.

  BENCH_ROUNDS=3 BENCH_REQUESTS=200000 make bench

BENCH_CASES picks parts (comma-separated, case-insensitive, default all): a
case of the table by its name or its first word (set, get, mset, zrange,
pfcount, ...), and the sections memory, tracking, openloop, extra (the
mk/bench-extra.d scripts). BENCH_PIPELINES picks depths (default 1,16).
For a quick look at two cases:
  flock /work/notes/bench.lock env BENCH_CASES=set,get BENCH_PIPELINES=1 \
      BENCH_ROUNDS=2 BENCH_REQUESTS=50000 make bench
"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("LARDER_BUILD", os.path.join(ROOT, "build"))
LARDER = os.path.join(BUILD, "larder-server")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200000"))
CLIENTS = 50
KEYSPACE = 100000
CLK_TCK = os.sysconf("SC_CLK_TCK")
PICK = set(t.strip().lower() for t in os.environ.get("BENCH_CASES", "").split(",") if t.strip())
PIPELINES = [int(t) for t in os.environ.get("BENCH_PIPELINES", "1,16").split(",") if t.strip()]
GOAL_P1 = 1.2  # throughput at -P 1, with p99 <= Redis's
GOAL_P16 = 1.3  # throughput at -P 16
GOAL_TTL_MEMORY = 0.6  # bytes per key with a TTL


def picked(name):
    """True when BENCH_CASES is unset or names this case or section."""
    n = name.lower()
    return not PICK or n in PICK or n.split()[0] in PICK


class Goals:
    """Every goal checked in this run: (what, ratio text, met)."""

    def __init__(self):
        self.rows = []

    def add(self, what, ratio, met):
        self.rows.append((what, ratio, met))
        return met

    def summary(self):
        if not self.rows:
            print("goals: none checked in this run")
            return
        missed = [r for r in self.rows if not r[2]]
        print("goals: %d met of %d" % (len(self.rows) - len(missed), len(self.rows)))
        if missed:
            print("not met:")
            for what, ratio, _ in missed:
                print("  %-48s %s" % (what, ratio))


GOALS = Goals()

# LPOP pops a list as long as all its runs' requests (every reply an element,
# not the nil of an empty list); filled by a script in pushes of 1,000.
LPOP_FILL = REQUESTS * ROUNDS * len(PIPELINES)
FILL_LIST = ("local t = {} for i = 1, 1000 do t[i] = 'xxx' end "
             "for n = 1, tonumber(ARGV[1]), 1000 do redis.call('RPUSH', KEYS[1], unpack(t)) end "
             "return redis.call('LLEN', KEYS[1])")

# name, redis-benchmark test args, preload commands (run once per server)
CASES = [
    ("SET", ["-t", "set"], []),
    ("GET", ["-t", "get"], []),
    ("INCR", ["-t", "incr"], []),
    ("MSET (10 keys)", ["-t", "mset"], []),
]
# Cases other subsystems add when their types exist (probed with COMMAND INFO).
TYPE_CASES = [
    ("LPUSH", ["-t", "lpush"], [], "lpush"),
    ("LPOP", ["-t", "lpop"], [["DEL", "mylist"], ["EVAL", FILL_LIST, "1", "mylist", str(LPOP_FILL)]],
     "lpop"),
    ("SADD", ["-t", "sadd"], [], "sadd"),
    ("HSET", ["-t", "hset"], [], "hset"),
    ("ZADD", ["-t", "zadd"], [], "zadd"),
    ("ZRANGE 0 99", ["zrange", "bench:z", "0", "99"],
     [["ZADD", "bench:z"] + [x for i in range(100) for x in (str(i), "m%d" % i)]], "zrange"),
    ("XADD (3 fields)", ["xadd", "bench:xs", "MAXLEN", "~", "100000", "*", "a", "1", "b", "2",
                         "c", "3"], [], "xadd"),
    ("XRANGE COUNT 100", ["xrange", "bench:xr", "-", "+", "COUNT", "100"],
     [["XADD", "bench:xr", "%d-0" % (i + 1), "a", "1", "b", "2", "c", "3"] for i in range(100)],
     "xrange"),
    ("GEOADD", ["geoadd", "bench:geo", "13.361389", "38.115556", "m:__rand_int__"], [], "geoadd"),
    ("GEOSEARCH 50 km", ["geosearch", "bench:geos", "FROMLONLAT", "13.36", "38.11", "BYRADIUS",
                         "50", "km", "COUNT", "10", "ASC"],
     [["GEOADD", "bench:geos"] + [x for i in range(1000) for x in
                                  ("%.6f" % (12.36 + (i * 7919 % 1000) / 500.0),
                                   "%.6f" % (37.11 + (i * 104729 % 1000) / 500.0), "p%d" % i)]],
     "geosearch"),
    ("PFADD", ["pfadd", "bench:hll", "e:__rand_int__"], [], "pfadd"),
    ("PFCOUNT", ["pfcount", "bench:hllc"],
     [["PFADD", "bench:hllc"] + ["e%d" % i for i in range(10000)]], "pfcount"),
    ("PFCOUNT 2 keys", ["pfcount", "bench:hllc", "bench:hllc2"],
     [["PFADD", "bench:hllc2"] + ["f%d" % i for i in range(10000)]], "pfcount"),
]
# A case whose requests each do much more work than a SET runs fewer requests,
# so that one round takes about as long as the others.
REQUEST_SHARE = {"XRANGE COUNT 100": 10, "PFCOUNT 2 keys": 20, "GEOSEARCH 50 km": 5}
# A case whose replies cost the client more than either server spends on them
# (XRANGE COUNT 100: about 95 us per request in redis-benchmark, hiredis
# building some 900 reply objects, against Redis's 93 and Larder's 18) runs
# redis-benchmark with two threads against both servers: with one, the client
# alone fills a core at about 10k requests/s and the row measures nothing
# but the client.
CLIENT_THREADS = {"XRANGE COUNT 100": 2}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, name, argv, cwd_in_dir=False):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="larder-bench-")
        self.port = free_port()
        self.proc = subprocess.Popen(argv + ["--port", str(self.port), "--dir", self.dir],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     cwd=self.dir if cwd_in_dir else None)
        for line in self.proc.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            sys.exit("%s did not start" % name)

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port)] + list(args),
                              stdout=subprocess.PIPE, text=True).stdout

    def info(self, field):
        for line in self.cli("info", "memory").splitlines():
            if line.startswith(field + ":"):
                return int(line.split(":")[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def has_command(srv, name):
    return "(empty array)" not in srv.cli("command", "info", name) and srv.cli("command", "info", name).strip() not in ("", "(nil)")


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (all its threads)."""
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(f[11]) + int(f[12])) / CLK_TCK


def bench(srv, args, pipeline, requests):
    """One redis-benchmark run: (rps, p99 ms, the server's CPU microseconds
    per request, redis-benchmark's CPU microseconds per request)."""
    cmd = ["redis-benchmark", "-p", str(srv.port), "-c", str(CLIENTS), "-n", str(requests),
           "-r", str(KEYSPACE), "-P", str(pipeline), "--csv", "-q"] + args
    proc = getattr(srv, "proc", None)
    s0, c0 = cpu_seconds(proc.pid) if proc else 0.0, os.times()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    s1, c1 = cpu_seconds(proc.pid) if proc else 0.0, os.times()
    scpu = (s1 - s0) * 1e6 / requests
    ccpu = ((c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)) * 1e6 / requests
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if parts and parts[0] != "test" and len(parts) >= 7:
            try:
                return float(parts[1]), float(parts[6]), scpu, ccpu  # rps, p99 ms
            except ValueError:
                continue
    return 0.0, 0.0, scpu, ccpu


def resp(*args):
    return "*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args)


def memory_per_key(srv, n, hashes=False, stream=False, ttl=False):
    """Bytes per key after loading n keys: 16-byte string values, or small
    hashes of three fields (listpack in both servers); with stream, bytes per
    entry of one stream of n entries of three small fields."""
    srv.cli("flushall")
    before = srv.info("used_memory")
    rss_before = srv.info("used_memory_rss")
    if stream:
        payload = "".join(resp("XADD", "bench:mem", "*", "name", "n%07d" % i, "age",
                               str(i % 90), "city", "c%04d" % (i % 5000)) for i in range(n))
    elif ttl:
        payload = "".join(resp("SET", "key:%012d" % i, "%016d" % i, "EX", "3600") for i in range(n))
    elif hashes:
        payload = "".join(resp("HSET", "user:%012d" % i, "name", "n%07d" % i, "age", str(i % 90),
                               "city", "c%04d" % (i % 5000)) for i in range(n))
    else:
        payload = "".join(resp("SET", "key:%012d" % i, "%016d" % i) for i in range(n))
    subprocess.run(["redis-cli", "-p", str(srv.port), "--pipe"], input=payload, text=True,
                   stdout=subprocess.DEVNULL)
    after = srv.info("used_memory")
    rss_after = srv.info("used_memory_rss")
    return (after - before) / n, (rss_after - rss_before) / n


def tracking_cost(larder):
    """GET and SET with latency-tracking on (the default) and off, same server."""
    for name, args in (("GET", ["-t", "get"]), ("SET", ["-t", "set"])):
        for pipeline in (1, 16):
            on, off = [], []
            for _ in range(ROUNDS):
                for setting, out in (("yes", on), ("no", off)):
                    larder.cli("config", "set", "latency-tracking", setting)
                    out.append(bench(larder, args, pipeline, REQUESTS)[0])
            larder.cli("config", "set", "latency-tracking", "yes")
            a, b = statistics.median(on), statistics.median(off)
            print("latency-tracking cost, %s -P %d: on %.0f rps, off %.0f rps, on/off %.2fx" % (
                name, pipeline, a, b, a / b if b else 0), flush=True)


LOADGEN = os.path.join(BUILD, "loadgen")
LOADGEN_SECONDS = os.environ.get("BENCH_LOADGEN_SECONDS", "3")


def loadgen(port, rate, test, prefix="key:"):
    out = subprocess.run([LOADGEN, "-p", str(port), "-r", "%d" % max(rate, 1), "-d", LOADGEN_SECONDS,
                          "-t", test, "-c", str(CLIENTS), "-K", prefix],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    f = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
    return [float(f.get(k, 0)) for k in ("p50_us", "p99_us", "p999_us", "max_us", "achieved")]


def open_loop_rows(title, lsrv_port, rsrv_port, lmax, rmax, test, lprefix="key:"):
    met = True
    for pct in (25, 50, 75):
        l = loadgen(lsrv_port, lmax * pct / 100, test, lprefix)
        r = loadgen(rsrv_port, rmax * pct / 100, test)
        ok = GOALS.add("open-loop %s %d%% p99.9 <= redis" % (title, pct),
                       "%.2fx" % (l[2] / r[2] if r[2] else 0), l[2] <= r[2])
        met = met and ok
        print("%-22s %3d%% %9.0f %9.0f | larder p50 %7.0f p99 %7.0f p99.9 %7.0f max %7.0f | redis p50 %7.0f p99 %7.0f p99.9 %7.0f max %7.0f | p99.9 %5.2fx %s" % (
            title, pct, l[4], r[4], l[0], l[1], l[2], l[3], r[0], r[1], r[2], r[3],
            l[2] / r[2] if r[2] else 0, "met" if ok else "not met"), flush=True)
    return met


def open_loop(larder, redis, maxrate):
    """Latency under load (mk/loadgen): fixed-rate GET/SET at 25/50/75% of
    each server's own -P 1 maximum (from the table above), latencies from
    each request's due time (coordinated omission corrected; both sides
    carry the generator's 1 ms tick). Goal: Larder's p99.9 <= Redis's."""
    if not os.access(LOADGEN, os.X_OK):
        print("open-loop latency: build/loadgen missing (make bench builds it)")
        return
    print("open-loop latency (us), %s s per point, %d connections; rates achieved larder | redis" % (
        LOADGEN_SECONDS, CLIENTS))
    for name, test in (("GET", "get"), ("SET", "set")):
        lmax, rmax = maxrate.get((name, 1), (0, 0))
        if lmax and rmax:
            open_loop_rows(name, larder.port, redis.port, lmax, rmax, test)
    wb = write_behind_server()
    if not wb:
        return
    try:
        lmax = bench_port(wb.port, ["hset", "user:__rand_int__", "name", "x"])
        rmax = bench(redis, ["-t", "hset"], 1, REQUESTS)[0]
        open_loop_rows("write-behind HSET", wb.port, redis.port, lmax, rmax, "hset", "user:")
    finally:
        wb.stop()


def bench_port(port, args):
    class P:
        pass
    p = P()
    p.port = port
    return bench(p, args, 1, REQUESTS)[0]


def write_behind_server():
    """A Larder with the bundled store and users user:{id} written behind."""
    module = os.path.join(BUILD, "modules", "sqlstore.so")
    if not os.path.exists(module):
        return None
    srv = Server("larder-wb", [LARDER, "--loadmodule", module, "--store-path", "wb.db",
                               "--journal-path", "wb.journal"], cwd_in_dir=True)
    srv.cli("sql.exec", "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT)")
    srv.cli("config", "set", "map", "users user:{id} mode write-behind")
    return srv


def preload(srv, cmds):
    for c in cmds:
        srv.cli(*c)


def table_row(larder, redis, name, args, pre, ratios, maxrate):
    """One case at each depth: medians of ROUNDS alternating runs, and its goal."""
    preload(larder, pre)
    preload(redis, pre)
    for pipeline in PIPELINES:
        res = {"larder": [], "redis": []}
        for _ in range(ROUNDS):
            for srv in (larder, redis):  # alternate
                threads = CLIENT_THREADS.get(name)
                targs = ["--threads", str(threads)] + args if threads else args
                res[srv.name].append(bench(srv, targs, pipeline,
                                           REQUESTS // REQUEST_SHARE.get(name, 1)))
        lr = statistics.median(r[0] for r in res["larder"])
        rr = statistics.median(r[0] for r in res["redis"])
        lp = statistics.median(r[1] for r in res["larder"])
        rp = statistics.median(r[1] for r in res["redis"])
        cpu = [statistics.median(r[i] for r in res[s]) for s in ("larder", "redis") for i in (2, 3)]
        ratio = lr / rr if rr else 0
        ratios.append(ratio)
        maxrate[(name, pipeline)] = (lr, rr)
        if pipeline == 1:
            met = GOALS.add("%s -P 1 >= %.1fx, p99 <= redis" % (name, GOAL_P1),
                            "%.2fx, p99 %.2fx" % (ratio, lp / rp if rp else 0),
                            ratio >= GOAL_P1 and lp <= rp)
        elif pipeline == 16:
            met = GOALS.add("%s -P 16 >= %.1fx" % (name, GOAL_P16), "%.2fx" % ratio,
                            ratio >= GOAL_P16)
        else:
            met = None
        print("%-16s %3d %14.0f %14.0f %6.2fx   %9.3f %9.3f %6.2fx   %-7s   %5.2f %5.2f %5.2fx   %5.2f %5.2f" % (
            name, pipeline, lr, rr, ratio, lp, rp, lp / rp if rp else 0,
            "" if met is None else "met" if met else "not met", cpu[0], cpu[2],
            cpu[0] / cpu[2] if cpu[2] else 0, cpu[1], cpu[3]), flush=True)


def memory(larder, redis):
    n = int(os.environ.get("BENCH_MEMKEYS", "1000000"))
    lm, lrss = memory_per_key(larder, n)
    rm, rrss = memory_per_key(redis, n)
    print("memory per key, %d keys x 16-byte values: larder %.1f B (rss %.1f), redis %.1f B (rss %.1f), ratio %.2fx" % (
        n, lm, lrss, rm, rrss, lm / rm if rm else 0))
    if has_command(larder, "hset"):
        lm, lrss = memory_per_key(larder, n, hashes=True)
        rm, rrss = memory_per_key(redis, n, hashes=True)
        print("memory per key, %d hashes x 3 small fields: larder %.1f B (rss %.1f), redis %.1f B (rss %.1f), ratio %.2fx" % (
            n, lm, lrss, rm, rrss, lm / rm if rm else 0))
    lm, lrss = memory_per_key(larder, n, ttl=True)
    rm, rrss = memory_per_key(redis, n, ttl=True)
    ratio = lm / rm if rm else 0
    met = GOALS.add("memory per key with a TTL <= %.1fx" % GOAL_TTL_MEMORY, "%.2fx" % ratio,
                    0 < ratio <= GOAL_TTL_MEMORY)
    print("memory per key, %d keys with a TTL (SET k v EX 3600): larder %.1f B (rss %.1f), redis %.1f B (rss %.1f), ratio %.2fx (goal <= %.2f, %s)" % (
        n, lm, lrss, rm, rrss, ratio, GOAL_TTL_MEMORY, "met" if met else "not met"))


# A goal line of an extra script: "  <what>  <N> rps vs ...: <R>x (goal ..., met|not met)..."
EXTRA_GOAL = re.compile(r"^\s*(?P<what>.*?)\s+\d+ rps vs .*?: (?P<ratio>[\d.]+x) \(goal (?P<goal>[^,]*),"
                        r".*?(?P<mark>not met|met)\)")


def extra_scripts(larder, redis):
    """Runs mk/bench-extra.d/*, passing their output through; the lines they
    mark met or not count as goals of this run."""
    extra = os.path.join(ROOT, "mk", "bench-extra.d")
    if not os.path.isdir(extra):
        return
    for f in sorted(os.listdir(extra)):
        p = subprocess.Popen([os.path.join(extra, f), str(larder.port), str(redis.port)],
                             stdout=subprocess.PIPE, text=True)
        for line in p.stdout:
            print(line, end="", flush=True)
            m = EXTRA_GOAL.match(line)
            if m:
                GOALS.add("%s %s" % (m.group("what"), m.group("goal")), m.group("ratio"),
                          m.group("mark") == "met")
        p.wait()


def main():
    if not os.access(LARDER, os.X_OK):
        sys.exit("bench: build larder-server first (make)")
    larder = Server("larder", [LARDER])
    redis = Server("redis", ["redis-server", "--save", "", "--appendonly", "no"])
    cases = [c for c in CASES if picked(c[0])]
    for name, args, pre, probe in TYPE_CASES:
        if picked(name) and has_command(larder, probe):
            cases.append((name, args, pre))
    print("redis-benchmark: %d clients, %d requests, %d random keys, %d rounds (medians)" % (
        CLIENTS, REQUESTS, KEYSPACE, ROUNDS))
    print("CPU microseconds per request (from /proc and rusage): the server's (larder, redis, ratio) and\n"
          "redis-benchmark's against each; where the client's is the larger, the client bounds the run")
    for name, threads in CLIENT_THREADS.items():
        if any(c[0] == name for c in cases):
            print("%s: redis-benchmark --threads %d against both servers (its replies cost the "
                  "client more than either server)" % (name, threads))
    print("%-16s %3s %14s %14s %7s   %9s %9s %7s   %-7s   %5s %5s %6s   %5s %5s" % (
        "case", "-P", "larder rps", "redis rps", "ratio", "l p99 ms", "r p99 ms", "ratio", "goal",
        "l srv", "r srv", "ratio", "cl@l", "cl@r"))
    ratios = []
    maxrate = {}
    try:
        for name, args, pre in cases:
            table_row(larder, redis, name, args, pre, ratios, maxrate)
        if picked("memory"):
            memory(larder, redis)
        if picked("tracking"):
            tracking_cost(larder)
        if picked("openloop"):
            open_loop(larder, redis, maxrate)
        if picked("memory") and has_command(larder, "xadd"):
            n = int(os.environ.get("BENCH_MEMKEYS", "1000000"))
            lm, lrss = memory_per_key(larder, n, stream=True)
            rm, rrss = memory_per_key(redis, n, stream=True)
            print("memory per entry, one stream of %d entries x 3 small fields: larder %.1f B (rss %.1f), redis %.1f B (rss %.1f), ratio %.2fx" % (
                n, lm, lrss, rm, rrss, lm / rm if rm else 0))
        if picked("extra"):
            extra_scripts(larder, redis)
    finally:
        larder.stop()
        redis.stop()
    if ratios:
        print("throughput ratio: median %.2fx, min %.2fx" % (statistics.median(ratios), min(ratios)))
    GOALS.summary()


if __name__ == "__main__":
    main()
