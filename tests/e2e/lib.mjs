// Shared setup for the browser end-to-end tests: the SoftHSM fixture, the real
// tokenconfirm-server on loopback, the native-messaging host manifest pointing at the real
// agent, a second ("relaying") origin, and small assertion helpers. Every process started here
// is stopped by its PID in `cleanup()`.
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const EXTENSION_DIR = path.join(ROOT, "extension");
export const EXTENSION_ID = "plplfdjajnkgmphkhkbdchaaejgmhapa";
export const GECKO_ID = "tokenconfirm@tokenconfirm.ru";
export const HOST_NAME = "ru.tokenconfirm.agent";
// The binaries under test: target/debug by default (what `cargo build` made); set
// TOKENCONFIRM_E2E_PROFILE=release to measure the figures with optimized builds.
const BIN = path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, "target"), process.env.TOKENCONFIRM_E2E_PROFILE || "debug");

const children = [];
const servers = [];

export function scratch(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tokenconfirm-e2e-${name}-`));
}

/** The SoftHSM token and test PKI (tests/fixtures/make-token.sh). */
export function makeFixture(dir) {
  const envFile = execFileSync("bash", [path.join(ROOT, "tests/fixtures/make-token.sh"), dir], {
    stdio: ["ignore", "pipe", "ignore"],
  })
    .toString()
    .trim();
  const env = Object.fromEntries(
    fs.readFileSync(envFile, "utf8").trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  const pki = env.TOKENCONFIRM_TEST_PKI;
  const der = fs.readFileSync(path.join(pki, "user-ec.der"));
  const ecId = createHash("sha256").update(der).digest("base64url");
  return { dir, env, pki, ecId, pin: env.TOKENCONFIRM_TEST_PIN };
}

/** A GOST PKI (tests/fixtures/make-gost-pki.sh) and the software GOST token module
 * (gost-token/, built here for the e2e profile): {dir, module, certDer}. The user certificate is
 * the same citizen as the SoftHSM fixture (Иванов Иван Иванович, SNILS 112-233-445 95). */
export function makeGostFixture(dir) {
  execFileSync("bash", [path.join(ROOT, "tests/fixtures/make-gost-pki.sh"), dir], { stdio: "ignore" });
  const release = (process.env.TOKENCONFIRM_E2E_PROFILE || "debug") === "release";
  execFileSync("cargo", ["build", "--quiet", "-p", "tokenconfirm-gost-token", ...(release ? ["--release"] : [])], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const module = path.join(BIN, "libtokenconfirm_gost_token.so");
  const pem = fs.readFileSync(path.join(dir, "user-256-TCA.pem"), "utf8");
  const certDer = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  return { dir, module, certDer, id: createHash("sha256").update(certDer).digest("base64url") };
}

/** Starts tokenconfirm-server (debug build) with a test configuration; resolves {base, db}.
 * `gost`: also trust the GOST test CA of `makeGostFixture`. */
export async function startServer(dir, fixture, gost) {
  const trust = [path.join(fixture.pki, "root.pem"), ...(gost ? [path.join(gost.dir, "root.pem")] : [])];
  const crls = [
    path.join(fixture.pki, "intermediate.crl.pem"),
    path.join(fixture.pki, "root.crl.pem"),
    ...(gost ? [path.join(gost.dir, "root.crl.pem"), path.join(gost.dir, "intermediate.crl.pem")] : []),
  ];
  const db = `sqlite:${path.join(dir, "e2e.db")}`;
  const config = path.join(dir, "server.toml");
  fs.writeFileSync(
    config,
    `profile = "qualified-test"
trust = ${JSON.stringify(trust)}
crls = ${JSON.stringify(crls)}
[password_cost]
memory_kib = 256
iterations = 1
[rate_limits]
login_per_minute = 0
registration_per_minute = 0
challenges_per_minute = 0
sessions_per_minute = 0
`,
  );
  const child = spawn(path.join(BIN, "tokenconfirm-server"), ["serve", "--listen", "127.0.0.1:0", "--database", db, "--config", config], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, TOKENCONFIRM_LOG: "warn" },
  });
  children.push(child);
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`tokenconfirm-server exited with ${code}`)));
  });
  const base = line.replace(/^listening on /, "").trim();
  return { base, db, child };
}

/** A wrapper the browser starts as the native host: the real agent with the fixture's token.
 * `pinDialog: "agent"` configures the agent to ask for the PIN itself, through a stand-in
 * pinentry (Assuan) that answers with the fixture's PIN. */
export function agentWrapper(dir, fixture, { tokensConf, pinDialog, module, env: extraEnv = {} } = {}) {
  const config = path.join(dir, "agent.toml");
  let extra = `pin_prompt = "none"\n`;
  let env = "";
  if (pinDialog === "agent") {
    const pinentry = path.join(dir, "fake-pinentry");
    fs.writeFileSync(
      pinentry,
      `#!/bin/bash\necho "OK Pleased to meet you"\nwhile IFS= read -r line; do\n  case "$line" in\n    GETPIN*) echo "D $FAKE_PINENTRY_PIN"; echo "OK" ;;\n    BYE*) echo "OK closing connection"; exit 0 ;;\n    *) echo "OK" ;;\n  esac\ndone\n`,
    );
    fs.chmodSync(pinentry, 0o755);
    extra = `pin_prompt = "pinentry"\npinentry_program = "${pinentry}"\npin_dialog = "agent"\n`;
    env = `export FAKE_PINENTRY_PIN='${fixture.pin}'\n`;
  }
  fs.writeFileSync(
    config,
    `modules = ["${module || fixture.env.TOKENCONFIRM_TEST_MODULE}"]\ndiscover = false\n${extra}log_file = "${path.join(dir, "agent.log")}"\nlog_level = "info"\n`,
  );
  for (const [k, v] of Object.entries(extraEnv)) env += `export ${k}='${v}'\n`;
  const wrapper = path.join(dir, "tokenconfirm-agent-host");
  fs.writeFileSync(
    wrapper,
    // The host's PID (kept by exec) goes to agent.pid so that a test can stop exactly it.
    `#!/bin/sh\necho $$ > '${path.join(dir, "agent.pid")}'\nexport SOFTHSM2_CONF='${tokensConf || fixture.env.SOFTHSM2_CONF}'\nexport TOKENCONFIRM_CONFIG='${config}'\n${env}exec '${path.join(BIN, "tokenconfirm-agent")}' "$@"\n`,
  );
  fs.chmodSync(wrapper, 0o755);
  return wrapper;
}

/** The Chromium-family host manifest (what `tokenconfirm-agent install` writes). */
export function chromeManifest(hostPath) {
  return JSON.stringify(
    { name: HOST_NAME, description: "tokenconfirm signing agent", path: hostPath, type: "stdio", allowed_origins: [`chrome-extension://${EXTENSION_ID}/`] },
    null,
    2,
  );
}

/** A SoftHSM configuration whose token directory is empty: "no token inserted". */
export function emptyTokens(dir) {
  const tokens = path.join(dir, "empty-tokens");
  fs.mkdirSync(tokens, { recursive: true });
  const conf = path.join(dir, "empty-softhsm2.conf");
  fs.writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  return conf;
}

/** A second origin that relays a genuine challenge: serves a page with the page library. */
export async function startRelay() {
  const lib = fs.readFileSync(path.join(EXTENSION_DIR, "page/tokenconfirm.js"));
  const server = http.createServer((req, res) => {
    if (req.url === "/page/tokenconfirm.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(lib);
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><html><head><title>Портал (подделка)</title></head><body><h1>Relay</h1></body></html>");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return `http://127.0.0.1:${server.address().port}`;
}

/** The audit trail through `tokenconfirm-server audit`. */
export function audit(db) {
  return execFileSync(path.join(BIN, "tokenconfirm-server"), ["audit", "--database", db])
    .toString()
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** A portal API client (cookie + CSRF token) in Node, for setting up accounts. */
export class Api {
  constructor(base) {
    this.base = base;
    this.cookie = "";
    this.csrf = "";
  }
  async call(method, p, body) {
    const headers = { cookie: this.cookie };
    if (method !== "GET") Object.assign(headers, { "content-type": "application/json", "x-csrf-token": this.csrf });
    const res = await fetch(this.base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const setCookie = res.headers.get("set-cookie");
    if (setCookie) this.cookie = setCookie.split(";")[0];
    const json = await res.json().catch(() => null);
    if (json && json.csrfToken) this.csrf = json.csrfToken;
    return { status: res.status, body: json };
  }
}

export function cleanup() {
  for (const child of children) {
    if (child.exitCode === null) {
      try {
        process.kill(child.pid, "SIGTERM");
      } catch (e) {
        /* gone */
      }
    }
  }
  for (const s of servers) s.close();
}

let passed = 0;
const failed = [];

/** Runs one named case; failures are collected, not thrown. */
export async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`test ${name} ... ok (${Date.now() - t0} ms)`);
  } catch (e) {
    failed.push(`${name}: ${e && e.stack ? e.stack : e}`);
    console.log(`test ${name} ... FAILED: ${e && e.message ? e.message : e}`);
  }
}

export function summary(suite) {
  console.log(`\n${suite}: ${passed} passed, ${failed.length} failed`);
  for (const f of failed) console.log(`  FAILED ${f}`);
  return failed.length === 0;
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}
