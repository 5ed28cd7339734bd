// ioredis + redlock from npm (package-lock.json pins them) against larder-server,
// unchanged: redlock's Lua scripts go EVALSHA, and on NOSCRIPT fall back to EVAL.
// Covers acquire / release / extend / expiry / using(), contention between
// several clients on one resource (mutual exclusion checked with a counter that
// is read and written non-atomically under the lock), the NOSCRIPT fallback
// after SCRIPT FLUSH (counted on the wire), a redlock-style script of our own
// through ioredis' defineCommand, quorum over three servers with one and then
// two of them stopped, and Larder's native LOCK.* through ioredis' call().
// Starts its own servers on free ports and stops them. Prints "N passed, N failed".
"use strict";
const { Results, Server, installModules } = require("./harness");

installModules();
const Redis = require("ioredis");
const Redlock = require("redlock").default;

const r = new Results();
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
const clients = [];

function connect(port) {
  const c = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0,
                        enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: true });
  c.on("error", () => {}); // a stopped server is part of the quorum test
  clients.push(c);
  return c.connect().then(() => c);
}

// Counts NOSCRIPT replies to EVALSHA on client c per script hash (redlock calls
// c.evalsha(hash, ...)).
function countNoscript(c) {
  const orig = c.evalsha.bind(c);
  c.noscript = {};
  c.evalsha = async (...args) => {
    try { return await orig(...args); } catch (e) {
      if (String(e.message).startsWith("NOSCRIPT")) c.noscript[args[0]] = (c.noscript[args[0]] || 0) + 1;
      throw e;
    }
  };
}

async function basics(a, b) {
  const redlock = new Redlock([a], { retryCount: 0 });
  const redlockB = new Redlock([b], { retryCount: 100, retryDelay: 20, retryJitter: 10 });
  countNoscript(a);

  await a.script("FLUSH"); // the first use must go EVALSHA -> NOSCRIPT -> EVAL
  let lock = await redlock.acquire(["res:1"], 2000);
  r.check("acquire", (await a.get("res:1")) === lock.value);
  const acquireHash = redlock.scripts.acquireScript.hash;
  r.check("NOSCRIPT fallback happened", a.noscript[acquireHash] === 1, JSON.stringify(a.noscript));
  const [cached] = await a.script("EXISTS", acquireHash);
  r.check("EVAL cached the script (SCRIPT EXISTS)", cached === 1, cached);
  let busy = false;
  try { await redlock.acquire(["res:1"], 2000); } catch (e) { busy = true; }
  r.check("second acquire refused", busy);
  lock = await lock.extend(5000);
  const ttl = await a.pttl("res:1");
  r.check("extend sets the ttl", ttl > 2000 && ttl <= 5000, ttl);
  await lock.release();
  r.check("release", (await a.exists("res:1")) === 0);

  // several resources in one lock (the acquire script takes every key)
  const multi = await redlock.acquire(["m:1", "m:2", "m:3"], 3000);
  r.check("multi-resource acquire", (await a.mget("m:1", "m:2", "m:3")).every((v) => v === multi.value));
  let partial = false;
  try { await redlock.acquire(["m:3", "m:4"], 3000); } catch (e) { partial = true; }
  r.check("overlapping acquire refused, nothing left behind", partial && (await a.exists("m:4")) === 0);
  await multi.release();
  r.check("multi-resource release", (await a.exists("m:1", "m:2", "m:3")) === 0);

  // a retrying acquire gets the lock once the holder releases it
  const holder = await redlock.acquire(["res:2"], 5000);
  const waiting = redlockB.acquire(["res:2"], 5000);
  setTimeout(() => holder.release(), 150);
  const got = await waiting;
  r.check("retrying acquire", (await b.get("res:2")) === got.value);
  await got.release();

  // expiry: another client takes it, and the old holder can neither extend nor release it
  const short = await redlock.acquire(["res:3"], 100);
  await sleep(250);
  const taken = await redlockB.acquire(["res:3"], 5000);
  let extendFailed = false, releaseFailed = false;
  try { await short.extend(1000); } catch (e) { extendFailed = true; }
  try { await short.release(); } catch (e) { releaseFailed = true; }
  r.check("stale extend fails", extendFailed);
  r.check("stale release fails", releaseFailed);
  r.check("new owner intact", (await b.get("res:3")) === taken.value);
  await taken.release();

  let inside = false;
  await redlock.using(["res:4"], 1000, async () => { inside = (await a.exists("res:4")) === 1; });
  r.check("using() runs under the lock", inside && (await a.exists("res:4")) === 0);
  // each of the three scripts met NOSCRIPT once (its first use), then EVALSHA hit
  const counts = Object.values(a.noscript);
  r.check("one NOSCRIPT per script", counts.length === 3 && counts.every((n) => n === 1),
          JSON.stringify(a.noscript));
}

// K clients, M acquisitions each, of one resource; under the lock a counter is
// read, the event loop turns, and the counter is written back: any overlap of
// two holders loses an increment (and is seen directly by `holders`).
async function contention(port) {
  const K = 8, M = 40;
  const cs = await Promise.all(Array.from({ length: K }, () => connect(port)));
  await cs[0].del("contended:counter");
  let holders = 0, maxHolders = 0;
  await Promise.all(cs.map(async (c) => {
    const redlock = new Redlock([c], { retryCount: 2000, retryDelay: 2, retryJitter: 4 });
    for (let i = 0; i < M; i++) {
      const lock = await redlock.acquire(["contended"], 2000);
      holders++;
      maxHolders = Math.max(maxHolders, holders);
      const v = Number((await c.get("contended:counter")) || 0);
      await sleep(0);
      await c.set("contended:counter", String(v + 1));
      holders--;
      await lock.release();
    }
  }));
  const total = Number(await cs[0].get("contended:counter"));
  r.check(`contention: ${K}x${M} increments under the lock`, total === K * M, total);
  r.check("contention: never two holders", maxHolders === 1, maxHolders);
}

// A redlock-style compare-and-delete / compare-and-extend written here, run through
// ioredis' defineCommand (EVALSHA first, EVAL on NOSCRIPT).
async function ownScripts(a) {
  a.defineCommand("unlockIfOwner", { numberOfKeys: 1, lua:
    'if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0' });
  a.defineCommand("extendIfOwner", { numberOfKeys: 1, lua:
    'if redis.call("get", KEYS[1]) == ARGV[1] then\n' +
    '  return redis.call("pexpire", KEYS[1], ARGV[2])\nend\nreturn 0' });
  await a.script("FLUSH");
  r.check("own: SET NX PX", (await a.set("own", "tok-1", "PX", 1000, "NX")) === "OK");
  r.check("own: SET NX PX busy", (await a.set("own", "tok-2", "PX", 1000, "NX")) === null);
  r.check("own: extend by owner (after NOSCRIPT)", (await a.extendIfOwner("own", "tok-1", 8000)) === 1);
  r.check("own: ttl extended", (await a.pttl("own")) > 1000);
  r.check("own: extend by other", (await a.extendIfOwner("own", "tok-2", 8000)) === 0);
  r.check("own: unlock by other", (await a.unlockIfOwner("own", "tok-2")) === 0);
  r.check("own: unlock by owner", (await a.unlockIfOwner("own", "tok-1")) === 1);
  r.check("own: key gone", (await a.exists("own")) === 0);
}

// Redlock proper: three independent servers, a quorum of two.
async function quorum() {
  const servers = [];
  try {
    for (let i = 0; i < 3; i++) servers.push(await Server.start());
    const cs = await Promise.all(servers.map((s) => connect(s.port)));
    const redlock = new Redlock(cs, { retryCount: 0 });
    const lock = await redlock.acquire(["q:1"], 5000);
    await Promise.all(lock.attempts); // redlock answers at quorum; wait for every vote
    const vals = await Promise.all(cs.map((c) => c.get("q:1")));
    r.check("quorum: lock set on all three", vals.every((v) => v === lock.value), vals);
    let refused = false;
    try { await new Redlock(cs, { retryCount: 0 }).acquire(["q:1"], 5000); } catch (e) { refused = true; }
    r.check("quorum: second acquire refused", refused);
    await lock.release();

    await servers[2].stop();
    const two = await redlock.acquire(["q:2"], 5000);
    r.check("quorum: acquire with one server down", (await cs[0].get("q:2")) === two.value);
    await two.release();
    await servers[1].stop();
    let noQuorum = false;
    try { await redlock.acquire(["q:3"], 5000); } catch (e) { noQuorum = true; }
    r.check("quorum: refused with two servers down", noQuorum);
    r.check("quorum: failed acquire rolled back", (await cs[0].exists("q:3")) === 0);
  } finally {
    for (const s of servers) await s.cleanup();
  }
}

async function native(a, b) {
  const t1 = await a.call("LOCK.ACQUIRE", "native", "5000");
  r.check("LOCK.ACQUIRE", typeof t1 === "number" && t1 > 0, t1);
  r.check("LOCK.ACQUIRE busy -> nil", (await b.call("LOCK.ACQUIRE", "native", "5000")) === null);
  const waiter = b.call("LOCK.ACQUIRE", "native", "5000", "WAIT", "3000");
  setTimeout(() => a.call("LOCK.RELEASE", "native", String(t1)), 100);
  const t2 = await waiter;
  r.check("fencing token increases", t2 > t1, [t1, t2]);
  let wrong = "";
  try { await a.call("LOCK.RELEASE", "native", String(t1)); } catch (e) { wrong = e.message; }
  r.check("wrong token error", wrong.startsWith("NOPERM"), wrong);
  r.check("LOCK.RELEASE", (await b.call("LOCK.RELEASE", "native", String(t2))) === 1);
}

async function main() {
  let srv = null;
  try {
    srv = await Server.start();
    const a = await connect(srv.port), b = await connect(srv.port);
    r.check("ping", (await a.ping()) === "PONG");
    for (const [name, fn] of [["basics", () => basics(a, b)], ["contention", () => contention(srv.port)],
                              ["own scripts", () => ownScripts(a)], ["quorum", quorum],
                              ["native", () => native(a, b)]]) {
      try { await fn(); } catch (e) { r.exception(name, e); }
    }
  } catch (e) {
    r.exception("setup", e);
  } finally {
    for (const c of clients) c.disconnect();
    if (srv) await srv.cleanup();
  }
  r.report();
}
main();
