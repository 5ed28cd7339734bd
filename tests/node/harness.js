// Helpers for the Node.js tests (tests/node/*.test.js, run by tests/run-all with
// `node`): install the npm packages pinned in package-lock.json, start a real
// larder-server on a free port and stop it, and count results the way every
// Larder test program reports them ("N passed, N failed" as the last line).
//
// node_modules is not committed: installModules() runs `npm ci` here first. When
// that fails (registry unreachable, no npm) the test reports one failure with
// npm's own message — it never passes without having run.
"use strict";
const { spawn, spawnSync } = require("child_process");
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");

const HERE = __dirname;
const SERVER = process.env.LARDER_SERVER || path.join(HERE, "..", "..", "build", "larder-server");

class Results {
  constructor() { this.passed = 0; this.failed = 0; }
  check(name, cond, detail) {
    if (cond) { this.passed++; return; }
    this.failed++;
    console.log("FAIL " + name + (detail === undefined ? "" : ": " + detail));
  }
  exception(name, e) {
    this.failed++;
    console.log("FAIL " + name + ": exception " + (e && e.stack ? e.stack : e));
  }
  report() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed ? 1 : 0);
  }
}

function fatal(msg) {
  console.log("FAIL " + msg);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

// `npm ci` from package-lock.json into tests/node/node_modules.
function installModules() {
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"],
                      { cwd: HERE, encoding: "utf8", timeout: 300000 });
  if (r.error || r.status !== 0) {
    const out = ((r.stdout || "") + (r.stderr || "")).trim().split("\n").slice(-15).join("\n");
    fatal("npm ci failed in " + HERE + " (is the npm registry reachable?)\n" +
          (r.error ? String(r.error) : out));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// A larder-server on a free port, ready once it printed "Ready to accept
// connections". args: extra command-line directives. dir: its working
// directory (a fresh temporary one unless given: restarts reuse it).
class Server {
  static async start(args = [], dir = null) {
    const srv = new Server();
    srv.args = args;
    srv.dir = dir || fs.mkdtempSync(path.join(os.tmpdir(), "larder-nodetest-"));
    srv.ownDir = !dir;
    for (let i = 0; i < 5; i++) {
      srv.port = await freePort();
      const out = await srv._spawn();
      if (out === null) return srv;
      if (!out.includes("Address already in use")) throw new Error("server did not start:\n" + out);
    }
    throw new Error("no free port");
  }

  // null once ready, else everything the server printed before it exited.
  _spawn() {
    return new Promise((resolve) => {
      this.proc = spawn(SERVER, ["--port", String(this.port), "--save", ""].concat(this.args),
                        { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
      let out = "", done = false;
      const onData = (d) => {
        out += d;
        if (!done && out.includes("Ready to accept connections")) { done = true; resolve(null); }
      };
      this.proc.stdout.on("data", onData);
      this.proc.stderr.on("data", onData);
      this.proc.on("exit", () => { this.proc = null; if (!done) { done = true; resolve(out); } });
      this.proc.on("error", (e) => { if (!done) { done = true; resolve(String(e)); } });
    });
  }

  // Stops the process with signal (SIGTERM: a clean exit; SIGKILL: a crash).
  stop(signal = "SIGTERM") {
    const p = this.proc;
    if (!p) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => p.kill("SIGKILL"), 10000);
      p.on("exit", () => { clearTimeout(t); resolve(); });
      p.kill(signal);
    });
  }

  async cleanup() {
    await this.stop();
    if (this.ownDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

module.exports = { Results, Server, installModules, fatal };
