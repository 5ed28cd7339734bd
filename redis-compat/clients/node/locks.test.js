// ioredis + redlock (npm) against a larder-server given by PORT: the lock
// scripts run unchanged (EVALSHA, NOSCRIPT -> EVAL), plus Larder's native
// LOCK.* through ioredis' generic call(). Prints "N passed, N failed".
"use strict";
const Redis = require("ioredis");
const Redlock = require("redlock").default;

let passed = 0, failed = 0;
function check(name, cond) {
  if (cond) passed++;
  else { failed++; console.log("FAIL " + name); }
}

async function main() {
  const port = Number(process.env.PORT);
  const a = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 1 });
  const b = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await a.connect();
  await b.connect();
  try {
    check("ping", (await a.ping()) === "PONG");
    const redlock = new Redlock([a], { retryCount: 0 });
    const redlockB = new Redlock([b], { retryCount: 50, retryDelay: 20, retryJitter: 10 });

    await a.script("FLUSH"); // the first use must go EVALSHA -> NOSCRIPT -> EVAL
    let lock = await redlock.acquire(["res:1"], 2000);
    check("acquire", lock && (await a.get("res:1")) === lock.value);
    let busy = false;
    try { await redlock.acquire(["res:1"], 2000); } catch (e) { busy = true; }
    check("second acquire refused", busy);
    lock = await lock.extend(5000);
    const ttl = await a.pttl("res:1");
    check("extend ttl " + ttl, ttl > 2000 && ttl <= 5000);
    await lock.release();
    check("release", (await a.exists("res:1")) === 0);

    // a waiting acquire (retries) gets the lock once the holder releases it
    const holder = await redlock.acquire(["res:2"], 5000);
    const waiting = redlockB.acquire(["res:2"], 5000);
    setTimeout(() => holder.release(), 150);
    const got = await waiting;
    check("waiting acquire", (await b.get("res:2")) === got.value);
    await got.release();

    // expiry: another client takes it, the old lock can no longer extend
    const short = await redlock.acquire(["res:3"], 100);
    await new Promise((r) => setTimeout(r, 250));
    const taken = await redlockB.acquire(["res:3"], 5000);
    let extendFailed = false;
    try { await short.extend(1000); } catch (e) { extendFailed = true; }
    check("stale extend fails", extendFailed);
    check("new owner intact", (await b.get("res:3")) === taken.value);
    await taken.release();

    // using(): the routine runs under the lock
    let inside = false;
    await redlock.using(["res:4"], 1000, async () => { inside = (await a.exists("res:4")) === 1; });
    check("using", inside && (await a.exists("res:4")) === 0);

    // Larder's native locks through ioredis
    const t1 = await a.call("LOCK.ACQUIRE", "native", "5000");
    check("LOCK.ACQUIRE", typeof t1 === "number" && t1 > 0);
    check("LOCK.ACQUIRE busy -> nil", (await b.call("LOCK.ACQUIRE", "native", "5000")) === null);
    const waiter = b.call("LOCK.ACQUIRE", "native", "5000", "WAIT", "3000");
    setTimeout(() => a.call("LOCK.RELEASE", "native", String(t1)), 100);
    const t2 = await waiter;
    check("fencing token increases", t2 > t1);
    let wrong = "";
    try { await a.call("LOCK.RELEASE", "native", String(t1)); } catch (e) { wrong = e.message; }
    check("wrong token error", wrong.startsWith("NOPERM"));
    check("LOCK.RELEASE", (await b.call("LOCK.RELEASE", "native", String(t2))) === 1);
  } catch (e) {
    failed++;
    console.log("FAIL exception: " + (e && e.stack ? e.stack : e));
  } finally {
    a.disconnect();
    b.disconnect();
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main();
