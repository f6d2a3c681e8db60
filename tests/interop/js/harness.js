// Test harness for the nats.js interop suite: starts ferryd (or nats-server, to check that a
// test itself is right) on a free loopback port and makes sure it is stopped again.
//
//   FERRYD        the ferryd binary (default ../../../build/bin/ferryd from this directory)
//   FERRY_SERVER  "nats-server" (or any path to it) runs the suite against nats-server instead
//   FERRY_CERTS   directory for the TLS material from ../make_certs.sh (default: a temp dir)
//
// Processes are never leaked: every server is stopped by the test's after hook (SIGTERM, then
// SIGKILL after a timeout), whatever is still alive when this process exits is SIGKILLed, and on
// Linux the server runs under `setpriv --pdeathsig KILL`, so it dies with this process even when
// this process is killed outright.
"use strict";

const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { connect } = require("nats");

const SERVER_KIND = process.env.FERRY_SERVER ? "nats-server" : "ferryd";
const SERVER_BIN = process.env.FERRY_SERVER
  ? process.env.FERRY_SERVER
  : process.env.FERRYD || path.resolve(__dirname, "../../../build/bin/ferryd");
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => fs.existsSync(p));

const live = new Set(); // child processes not yet reaped
const tempDirs = new Set();

function killAllNow() {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
process.on("exit", killAllNow);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, () => {
    killAllNow();
    process.exit(128 + os.constants.signals[sig]);
  });
}

function tempDir(prefix = "ferry-js-") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** A free loopback port: bind port 0, read the port, close. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tryConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      s.destroy();
      resolve(false);
    });
  });
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

let certs;
/** Directory with ca.pem, server*.pem, client*.pem, rogue*.pem (generated once per process). */
function certsDir() {
  if (!certs) {
    const dir = process.env.FERRY_CERTS || tempDir("ferry-js-certs-");
    execFileSync("bash", [path.resolve(__dirname, "../make_certs.sh"), dir], { stdio: "inherit" });
    certs = dir;
  }
  return certs;
}

class Server {
  constructor(args, port) {
    this.args = args;
    this.port = port;
    this.child = null;
    this.output = "";
    this.clients = new Set(); // nats.js connections made by connectTo(), closed by dispose()
  }

  get hostport() {
    return `127.0.0.1:${this.port}`;
  }

  async start(readyTimeoutMs = 10000) {
    const argv = ["-a", "127.0.0.1", "-p", String(this.port), ...this.args];
    const cmd = SETPRIV ? SETPRIV : SERVER_BIN;
    const cmdArgs = SETPRIV ? ["--pdeathsig", "KILL", "--", SERVER_BIN, ...argv] : argv;
    const child = spawn(cmd, cmdArgs, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    live.add(child);
    let exited = false;
    let spawnError = null;
    child.once("error", (e) => {
      spawnError = e;
    });
    this.exitedPromise = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        exited = true;
        live.delete(child);
        resolve({ code, signal });
      });
    });
    const keep = (d) => {
      this.output += d.toString();
      if (this.output.length > 65536) this.output = this.output.slice(-32768);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);

    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (spawnError) throw new Error(`cannot start ${SERVER_BIN}: ${spawnError.message}`);
      if (exited) {
        await this.exitedPromise;
        throw new Error(
          `${SERVER_KIND} exited before accepting connections (${SERVER_BIN} ${argv.join(" ")}):\n` +
            this.output,
        );
      }
      if (await tryConnect(this.port)) return this;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`${SERVER_KIND} did not accept connections on ${this.port}:\n${this.output}`);
      }
      await delay(25);
    }
  }

  /** SIGTERM, then SIGKILL if it is still running after killAfterMs. */
  async stop(killAfterMs = 3000) {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (!live.has(child)) return;
    child.kill("SIGTERM");
    let timer;
    const killed = new Promise((resolve) => {
      timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve();
      }, killAfterMs);
    });
    await Promise.race([this.exitedPromise, killed]);
    clearTimeout(timer);
    await this.exitedPromise;
  }

  /** Closes the clients made by connectTo() (so none is left retrying), then stops. */
  async dispose() {
    await Promise.all(
      [...this.clients].map((nc) => (nc.isClosed() ? undefined : nc.close().catch(() => {}))),
    );
    this.clients.clear();
    await this.stop();
  }

  /** A new server process on the same port with the same flags. */
  async restart() {
    await this.stop();
    return this.start();
  }
}

/**
 * Starts a server on a free port.
 *   t        the test context (or any object with after(fn)); the server is stopped there
 *   args     extra flags, e.g. ["--auth", "tok"]
 *   config   text of a config file (nats-server syntax), written to a temp dir and passed as -c
 */
async function startServer(t, { args = [], config } = {}) {
  const all = [...args];
  if (config !== undefined) {
    const file = path.join(tempDir(), "server.conf");
    fs.writeFileSync(file, config);
    all.push("-c", file);
  }
  const srv = new Server(all, await freePort());
  if (t) t.after(() => srv.dispose());
  await srv.start();
  return srv;
}

/**
 * Starts a server with JetStream (`-js -sd DIR`) on a fresh store directory, kept in
 * srv.storeDir; srv.restart() starts it again on the same port and store.
 */
async function startJetStream(t, { args = [] } = {}) {
  const dir = tempDir("ferry-js-store-");
  const srv = await startServer(t, { args: ["-js", "-sd", dir, ...args] });
  srv.storeDir = dir;
  return srv;
}

/** nats.js connect() whose connection is closed in the test's after hook. */
async function connectTo(t, srv, opts = {}) {
  const nc = await connect({ servers: srv.hostport, timeout: 3000, ...opts });
  srv.clients.add(nc);
  t.after(async () => {
    if (!nc.isClosed()) await nc.close();
  });
  return nc;
}

/** Rejects when p does not settle within ms (for things that must not hang). */
function within(p, ms, what = "operation") {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

module.exports = {
  SERVER_KIND,
  SERVER_BIN,
  certsDir,
  connectTo,
  freePort,
  startJetStream,
  startServer,
  tempDir,
  within,
};
