// End-to-end in Debian's Chromium (headless), driven by playwright-core: the real extension
// (loaded unpacked, fixed id), the real agent as native-messaging host (manifest in the
// profile's NativeMessagingHosts), the real SoftHSM token and the real tokenconfirm-server.
//
//   node tests/e2e/chromium.mjs        (after `cargo build -p tokenconfirm-server -p tokenconfirm-agent`)
//
// Screenshots of every happy-path step: target/e2e/chromium/*.png. Exit status 0 when every
// case passed.
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import {
  Api, EXTENSION_DIR, HOST_NAME, ROOT, agentWrapper, assert, audit, chromeManifest, cleanup, emptyTokens,
  makeFixture, makeGostFixture, scratch, startRelay, startServer, summary, test,
} from "./lib.mjs";

const ARTIFACTS = path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, "target"), "e2e", "chromium");
const CHROMIUM = process.env.TOKENCONFIRM_CHROMIUM || "/usr/bin/chromium";
const figures = {};

fs.rmSync(ARTIFACTS, { recursive: true, force: true });
fs.mkdirSync(ARTIFACTS, { recursive: true });

const work = scratch("chromium");
const fixture = makeFixture(path.join(work, "fixture"));
const gost = makeGostFixture(path.join(work, "gost"));
const server = await startServer(work, fixture, gost);
const relayOrigin = await startRelay();
let step = 0;

/** A browser profile with the extension and the host manifest for `hostPath`. */
async function launch(name, hostPath) {
  const profile = path.join(work, `profile-${name}`);
  fs.mkdirSync(path.join(profile, "NativeMessagingHosts"), { recursive: true });
  fs.writeFileSync(path.join(profile, "NativeMessagingHosts", `${HOST_NAME}.json`), chromeManifest(hostPath));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 900 },
    locale: "ru-RU",
    env: { ...process.env, LANGUAGE: "ru", LANG: "ru_RU.UTF-8" },
    args: [
      `--disable-extensions-except=${EXTENSION_DIR}`,
      `--load-extension=${EXTENSION_DIR}`,
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--lang=ru",
    ],
  });
}

async function shot(page, name) {
  step += 1;
  await page.screenshot({ path: path.join(ARTIFACTS, `${String(step).padStart(2, "0")}-${name}.png`) });
}

let login = 0;
/** Registers through the portal UI and fills the profile: a standard account. */
async function standardAccount(page, { screenshots = false, surname = "Иванов" } = {}) {
  await page.context().clearCookies();
  await page.goto(server.base + "/");
  await page.waitForSelector("#register-form");
  if (screenshots) await shot(page, "portal");
  const user = `e2e${++login}-${Date.now()}@example.test`;
  await page.fill("#reg-name", "Иван");
  await page.fill("#reg-login", user);
  await page.fill("#reg-password", "correct horse battery");
  await page.click("#register-form button[type=submit]");
  await page.waitForSelector("#level[data-level=simplified]");
  if (screenshots) await shot(page, "registered-simplified");
  const form = "#profile-form";
  await page.fill(`${form} [name=surname]`, surname);
  await page.fill(`${form} [name=firstName]`, "Иван");
  await page.fill(`${form} [name=patronymic]`, "Иванович");
  await page.fill(`${form} [name=birthDate]`, "1980-01-31");
  await page.fill(`${form} [name=snils]`, "112-233-445 95");
  await page.fill(`${form} [name=passportSeries]`, "4501");
  await page.fill(`${form} [name=passportNumber]`, "123456");
  if (screenshots) await shot(page, "profile-filled");
  await page.click(`${form} button[type=submit]`);
  await page.waitForSelector("#level[data-level=standard]");
  if (screenshots) await shot(page, "standard");
  return user;
}

/** Clicks "confirm" and returns the confirmation window. */
async function openWindow(context, page) {
  const popup = context.waitForEvent("page", { predicate: (p) => p.url().includes("/confirm.html"), timeout: 15000 });
  await page.click("#confirm-esig");
  const win = await popup;
  await win.waitForLoadState("domcontentloaded");
  return win;
}

async function chooseAndSign(win, pin) {
  await win.waitForSelector(`#certs input[name=cert][value="${fixture.ecId}"]`, { timeout: 15000 });
  await win.check(`#certs input[name=cert][value="${fixture.ecId}"]`);
  await win.fill("#pin", pin);
  await win.click("#sign", { noWaitAfter: true }).catch(() => {});
}

async function levelInDb(user) {
  const rows = audit(server.db).filter((r) => r.outcome === "ok");
  return rows.length;
}

const context = await launch("main", agentWrapper(work, fixture));
// In-page timestamps for the figures (the driver's own polling would add its latency): when
// "confirm" is clicked, when the certificates appear in the window, when the portal shows the
// account as confirmed. "Sign" is timed by the driver just before its click.
await context.addInitScript(() => {
  const mark = (name) => { if (!window[name]) window[name] = Date.now(); };
  document.addEventListener("click", (e) => {
    if (e.target && e.target.id === "confirm-esig") window.__clickAt = Date.now();
  }, true);
  new MutationObserver(() => {
    if (document.querySelector("#certs input[name=cert]")) mark("__certsAt");
    const level = document.querySelector("#level[data-level=confirmed]");
    if (level) mark("__confirmedAt");
  }).observe(document, { subtree: true, childList: true, attributes: true });
});
const page = await context.newPage();

try {
  await test("chromium: status reaches the agent", async () => {
    await page.goto(server.base + "/");
    const st = await page.evaluate(async () => {
      const lib = await import("/page/tokenconfirm.js");
      return lib.status();
    });
    assert(st.extension && st.extension.version === "0.1.0", `extension: ${JSON.stringify(st)}`);
    assert(st.agent && st.agent.protocol === 1, `agent: ${JSON.stringify(st)}`);
    // Round trip page → content script → background → agent (hello) → back, over the persistent port.
    const times = await page.evaluate(async () => {
      const lib = await import("/page/tokenconfirm.js");
      const out = [];
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        await lib.status();
        out.push(performance.now() - t);
      }
      return out.sort((a, b) => a - b);
    });
    figures.statusMedianMs = times[100];
    figures.statusP95Ms = times[190];
  });

  await test("chromium: happy path register → profile → confirm → certificate → PIN → confirmed", async () => {
    const before = await levelInDb();
    const user = await standardAccount(page, { screenshots: true });
    const t0 = Date.now();
    const win = await openWindow(context, page);
    const tWindow = Date.now();
    await win.waitForSelector(`#certs input[name=cert][value="${fixture.ecId}"]`, { timeout: 15000 });
    figures.windowMs = tWindow - t0;
    figures.listedMs = Date.now() - tWindow;
    const shown = await win.textContent("#origin");
    assert(shown && shown.includes(server.base.replace("http://", "")), `window shows origin ${shown}`);
    assert((await win.textContent("#account")).includes(user), "window shows the account");
    const t1 = Date.now();
    const certsAt = await win.evaluate(() => window.__certsAt).catch(() => undefined);
    await win.check(`#certs input[name=cert][value="${fixture.ecId}"]`);
    await win.fill("#pin", fixture.pin);
    step += 1;
    await win.screenshot({ path: path.join(ARTIFACTS, `${String(step).padStart(2, "0")}-confirmation-window.png`) });
    const t2 = Date.now();
    await win.click("#sign", { noWaitAfter: true }).catch(() => {});
    await page.waitForSelector("#level[data-level=confirmed]", { timeout: 20000 });
    const t3 = Date.now();
    const inPage = await page.evaluate(() => ({ click: window.__clickAt, confirmed: window.__confirmedAt }));
    if (inPage.click && inPage.confirmed && certsAt) {
      figures.listedMs = certsAt - inPage.click;
      figures.signToConfirmedMs = inPage.confirmed - t2;
      figures.machineMs = figures.listedMs + figures.signToConfirmedMs;
      figures.source = "in-page timestamps";
    } else {
      figures.machineMs = t1 - t0 + (t3 - t2);
      figures.signToConfirmedMs = t3 - t2;
      figures.source = "driver timestamps";
    }
    await shot(page, "confirmed");
    assert((await levelInDb()) === before + 1, "one more successful audit record in the database");
    const api = new Api(server.base);
    const acct = audit(server.db).filter((r) => r.outcome === "ok").pop();
    assert(acct && JSON.parse(acct.result).identity.snils === "11223344595", "audit record identity");
    void api;
  });

  await test("chromium: wrong PIN shows the retries warning, then the right PIN confirms", async () => {
    await standardAccount(page);
    const win = await openWindow(context, page);
    await chooseAndSign(win, "000000");
    await win.waitForSelector("#error[data-code=pin-incorrect]", { timeout: 15000 });
    const warning = await win.isVisible("#pin-warning");
    assert(warning, "a PIN warning is shown after a wrong PIN");
    await win.fill("#pin", fixture.pin);
    await win.click("#sign", { noWaitAfter: true }).catch(() => {});
    await page.waitForSelector("#level[data-level=confirmed]", { timeout: 20000 });
  });

  await test("chromium: the agent is killed while the window is open → the next request starts a new one", async () => {
    await standardAccount(page);
    const win = await openWindow(context, page);
    await win.waitForSelector(`#certs input[name=cert][value="${fixture.ecId}"]`, { timeout: 15000 });
    const pid = Number(fs.readFileSync(path.join(work, "agent.pid"), "utf8").trim());
    process.kill(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    await chooseAndSign(win, fixture.pin);
    await page.waitForSelector("#level[data-level=confirmed]", { timeout: 20000 });
    const newPid = Number(fs.readFileSync(path.join(work, "agent.pid"), "utf8").trim());
    assert(newPid !== pid, "a new agent process was started");
  });

  await test("chromium: Cancel leaves the account standard", async () => {
    await standardAccount(page);
    const win = await openWindow(context, page);
    await win.waitForSelector(`#certs input[name=cert][value="${fixture.ecId}"]`, { timeout: 15000 });
    await win.click("#cancel", { noWaitAfter: true }).catch(() => {});
    await page.waitForSelector("#status[data-code=cancelled]", { timeout: 10000 });
    assert((await page.getAttribute("#level", "data-level")) === "standard", "still standard");
  });

  await test("chromium: one confirmation per tab (busy), and the deadline closes the window (timeout)", async () => {
    await standardAccount(page);
    const popup = context.waitForEvent("page", { predicate: (p) => p.url().includes("/confirm.html"), timeout: 15000 });
    const results = page.evaluate(async () => {
      const lib = await import("/page/tokenconfirm.js");
      const csrf = (await (await fetch("/api/v1/session")).json()).csrfToken;
      const issue = async () => (await fetch("/api/v1/challenges", {
        method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify({ purpose: "account-confirmation" }),
      })).json();
      const first = lib.confirm(await issue(), { timeoutMs: 3000 }).then(() => "signed", (e) => e.code);
      await new Promise((r) => setTimeout(r, 500));
      const second = await lib.confirm(await issue(), { timeoutMs: 3000 }).then(() => "signed", (e) => e.code);
      return { first: await first, second };
    });
    const win = await popup;
    const r = await results;
    assert(r.second === "busy", `second confirmation in the tab: ${r.second}`);
    assert(r.first === "timeout", `first confirmation after its deadline: ${r.first}`);
    assert(win.isClosed(), "the window closed at the deadline");
  });

  await test("chromium: a page on another origin relaying a genuine challenge gets nothing", async () => {
    const api = new Api(server.base);
    await api.call("GET", "/api/v1/session");
    await api.call("POST", "/api/v1/accounts", { name: "Иван", login: `relay${Date.now()}@example.test`, password: "correct horse battery" });
    await api.call("PUT", "/api/v1/account/profile", {
      surname: "Иванов", firstName: "Иван", patronymic: "Иванович", birthDate: "1980-01-31",
      snils: "11223344595", passportSeries: "4501", passportNumber: "123456",
    });
    const challenge = (await api.call("POST", "/api/v1/challenges", { purpose: "account-confirmation" })).body;
    const relay = await context.newPage();
    await relay.goto(relayOrigin + "/");
    // (a) relayed unchanged: refused before anything is shown or signed.
    const a = await relay.evaluate(async (c) => {
      const lib = await import("/page/tokenconfirm.js");
      try {
        await lib.confirm(c, { timeoutMs: 20000 });
        return "signed";
      } catch (e) {
        return e.code;
      }
    }, challenge);
    assert(a === "origin-mismatch", `relayed challenge: ${a}`);
    // (b) the relay rewrites the challenge's origin to its own: the window shows the relay's
    // origin, the user signs, and the server refuses the envelope.
    const rewritten = { ...challenge, origin: relayOrigin };
    const popup = context.waitForEvent("page", { predicate: (p) => p.url().includes("/confirm.html") });
    const pending = relay.evaluate(async (c) => {
      const lib = await import("/page/tokenconfirm.js");
      return lib.confirm(c, { timeoutMs: 30000 });
    }, rewritten);
    const win = await popup;
    await win.waitForSelector(`#certs input[name=cert][value="${fixture.ecId}"]`, { timeout: 15000 });
    assert((await win.textContent("#origin")).includes(relayOrigin.replace("http://", "")), "the window shows the relaying origin");
    await win.check(`#certs input[name=cert][value="${fixture.ecId}"]`);
    await win.fill("#pin", fixture.pin);
    await win.click("#sign", { noWaitAfter: true }).catch(() => {});
    const envelope = await pending;
    const answer = await api.call("POST", "/api/v1/confirmations", { envelope });
    assert(answer.status === 403 && answer.body.error.code === "origin-mismatch", `server: ${answer.status} ${JSON.stringify(answer.body)}`);
    const acct = await api.call("GET", "/api/v1/account");
    assert(acct.body.level === "standard", "the account stayed standard");
    await relay.close();
  });

  await test("chromium: the service worker is stopped → it restarts on the next request, a new agent with it", async () => {
    await page.goto(server.base + "/");
    const status = () => page.evaluate(async () => (await import("/page/tokenconfirm.js")).status().then((s) => s.agent && s.agent.protocol, (e) => e.code));
    assert((await status()) === 1, "status before");
    const before = fs.readFileSync(path.join(work, "agent.pid"), "utf8").trim();
    const cdp = await context.newCDPSession(page);
    await cdp.send("ServiceWorker.enable");
    await cdp.send("ServiceWorker.stopAllWorkers");
    await cdp.detach();
    await new Promise((r) => setTimeout(r, 300));
    assert((await status()) === 1, "status after the worker was stopped");
    const after = fs.readFileSync(path.join(work, "agent.pid"), "utf8").trim();
    assert(after !== before, "the restarted worker started a new agent (the old port closed with the worker)");
    // And a whole confirmation still works.
    await standardAccount(page);
    const win = await openWindow(context, page);
    await chooseAndSign(win, fixture.pin);
    await page.waitForSelector("#level[data-level=confirmed]", { timeout: 20000 });
  });

  await test("chromium: agent configured with its own PIN dialog → no PIN field, the agent asks", async () => {
    const dir = path.join(work, "agent-dialog");
    fs.mkdirSync(dir, { recursive: true });
    const ctx3 = await launch("agent-dialog", agentWrapper(dir, fixture, { pinDialog: "agent" }));
    try {
      const p3 = await ctx3.newPage();
      await standardAccount(p3);
      const win = await openWindow(ctx3, p3);
      await win.waitForSelector(`#certs input[name=cert][value="${fixture.ecId}"]`, { timeout: 15000 });
      await win.check(`#certs input[name=cert][value="${fixture.ecId}"]`);
      assert(await win.isHidden("#pin"), "no PIN field when the agent asks for the PIN");
      await win.click("#sign", { noWaitAfter: true }).catch(() => {});
      await p3.waitForSelector("#level[data-level=confirmed]", { timeout: 20000 });
    } finally {
      await ctx3.close();
    }
  });

  await test("chromium: no token → the window asks to insert one; Cancel ends it", async () => {
    const noTokenDir = path.join(work, "no-token");
    fs.mkdirSync(noTokenDir, { recursive: true });
    const ctx2 = await launch("no-token", agentWrapper(noTokenDir, fixture, { tokensConf: emptyTokens(noTokenDir) }));
    try {
      const p2 = await ctx2.newPage();
      await standardAccount(p2);
      const win = await openWindow(ctx2, p2);
      await win.waitForSelector("#insert-token:not([hidden])", { timeout: 15000 });
      step += 1;
      await win.screenshot({ path: path.join(ARTIFACTS, `${String(step).padStart(2, "0")}-insert-token.png`) });
      await win.click("#cancel", { noWaitAfter: true }).catch(() => {});
      await p2.waitForSelector("#status[data-code=cancelled]", { timeout: 10000 });
    } finally {
      await ctx2.close();
    }
  });

  await test("chromium: no token → the window asks to insert one; a token inserted then is found by itself and confirms", async () => {
    const lateDir = path.join(work, "late-token");
    fs.mkdirSync(lateDir, { recursive: true });
    const conf = emptyTokens(lateDir);
    const ctx4 = await launch("late-token", agentWrapper(lateDir, fixture, { tokensConf: conf }));
    try {
      const p4 = await ctx4.newPage();
      await standardAccount(p4);
      const win = await openWindow(ctx4, p4);
      await win.waitForSelector("#insert-token:not([hidden])", { timeout: 15000 });
      // "Insert" the token: SoftHSM's token directory gains the fixture's token while the
      // agent is running and the window is waiting. Nobody clicks anything.
      const source = /directories\.tokendir\s*=\s*(.+)/.exec(fs.readFileSync(fixture.env.SOFTHSM2_CONF, "utf8"))[1].trim();
      const target = /directories\.tokendir\s*=\s*(.+)/.exec(fs.readFileSync(conf, "utf8"))[1].trim();
      const inserted = Date.now();
      fs.cpSync(source, target, { recursive: true });
      await win.waitForSelector(`#certs input[name=cert][value="${fixture.ecId}"]`, { timeout: 30000 });
      const foundMs = Date.now() - inserted;
      assert(await win.isHidden("#insert-token"), "the insert-token prompt is gone once the token is there");
      figures.lateTokenMs = foundMs;
      await chooseAndSign(win, fixture.pin);
      await p4.waitForSelector("#level[data-level=confirmed]", { timeout: 20000 });
      console.log(`  token inserted while the window waited: listed after ${foundMs} ms, confirmed without a click on anything but Sign`);
    } finally {
      await ctx4.close();
    }
  });

  await test("chromium: GOST certificate on a PIN-pad token → the window says to use the reader's keypad, no PIN field; confirmed", async () => {
    const padDir = path.join(work, "pin-pad");
    fs.mkdirSync(padDir, { recursive: true });
    const conf = path.join(padDir, "gost-token.toml");
    fs.writeFileSync(
      conf,
      `[[token]]\nlabel = "Рутокен PINPad (soft)"\nserial = "PAD0001"\nuser_pin = "12345678"\npin_pad_entry = "12345678"\n` +
        `[[token.key]]\nid = "01"\nlabel = "Иванов"\ncertificate = "${path.join(gost.dir, "user-256-TCA.pem")}"\nprivate_key = "${path.join(gost.dir, "user-256-TCA.key")}"\n`,
    );
    const ctx5 = await launch("pin-pad", agentWrapper(padDir, fixture, { module: gost.module, env: { TOKENCONFIRM_GOST_TOKEN_CONF: conf } }));
    try {
      const p5 = await ctx5.newPage();
      await standardAccount(p5);
      const win = await openWindow(ctx5, p5);
      const radio = `#certs input[name=cert][value="${gost.id}"]`;
      await win.waitForSelector(radio, { timeout: 15000 });
      await win.check(radio);
      await win.waitForSelector("#pinpad-hint:not([hidden])", { timeout: 5000 });
      assert(await win.isHidden("#pin-group"), "no PIN field for a PIN-pad token");
      step += 1;
      await win.screenshot({ path: path.join(ARTIFACTS, `${String(step).padStart(2, "0")}-pin-pad.png`) });
      await win.click("#sign", { noWaitAfter: true }).catch(() => {});
      await p5.waitForSelector("#level[data-level=confirmed]", { timeout: 20000 });
      const last = audit(server.db).filter((r) => r.outcome === "ok").pop();
      const result = JSON.parse(last.result);
      assert(result.identity.snils === "11223344595", "audit record identity");
      assert(result.signer.issuer.includes("ГОСТ УЦ"), `signed with the GOST certificate: ${last.result}`);
    } finally {
      await ctx5.close();
    }
  });
} finally {
  await context.close().catch(() => {});
  cleanup();
}

if (figures.statusMedianMs !== undefined) {
  console.log(
    `figures: status round trip page→agent→page median ${figures.statusMedianMs.toFixed(2)} ms (p95 ${figures.statusP95Ms.toFixed(2)} ms, target ≤ 3 ms); ` +
      `full confirmation excluding the human ${figures.machineMs ?? "?"} ms (target ≤ 300 ms: ` +
      `click → certificates listed in the window ${figures.listedMs} ms, Sign → page shows confirmed ${figures.signToConfirmedMs} ms; ${figures.source})`,
  );
}
console.log(`screenshots: ${ARTIFACTS}`);
process.exit(summary("chromium e2e") ? 0 : 1);
