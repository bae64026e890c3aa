// End-to-end in Debian's Firefox ESR (headless), driven by puppeteer-core over WebDriver BiDi:
// the real extension (installed as a temporary add-on, id tokenconfirm@tokenconfirm.ru), the
// real agent as native-messaging host (manifest under a scratch HOME), the real SoftHSM token
// and the real tokenconfirm-server. The happy path.
//
//   node tests/e2e/firefox.mjs     (after `cargo build -p tokenconfirm-server -p tokenconfirm-agent`)
//
// Screenshots: target/e2e/firefox/*.png.
import fs from "node:fs";
import path from "node:path";
import puppeteer from "puppeteer-core";
import {
  EXTENSION_DIR, GECKO_ID, HOST_NAME, ROOT, agentWrapper, assert, audit, cleanup, makeFixture, scratch, startServer,
  summary, test,
} from "./lib.mjs";

const ARTIFACTS = path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, "target"), "e2e", "firefox");
const FIREFOX = process.env.TOKENCONFIRM_FIREFOX || "/usr/bin/firefox-esr";
fs.rmSync(ARTIFACTS, { recursive: true, force: true });
fs.mkdirSync(ARTIFACTS, { recursive: true });

const work = scratch("firefox");
const fixture = makeFixture(path.join(work, "fixture"));
const server = await startServer(work, fixture);
const home = path.join(work, "home");
const hostDir = path.join(home, ".mozilla", "native-messaging-hosts");
fs.mkdirSync(hostDir, { recursive: true });
fs.writeFileSync(
  path.join(hostDir, `${HOST_NAME}.json`),
  JSON.stringify(
    { name: HOST_NAME, description: "tokenconfirm signing agent", path: agentWrapper(work, fixture), type: "stdio", allowed_extensions: [GECKO_ID] },
    null,
    2,
  ),
);

let step = 0;
async function shot(page, name) {
  step += 1;
  await page.screenshot({ path: path.join(ARTIFACTS, `${String(step).padStart(2, "0")}-${name}.png`) });
}

/** The confirmation window. Firefox's BiDi reports extension pages as about:blank, so ask each page. */
async function findWindow() {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    for (const p of await browser.pages()) {
      const href = await p.evaluate(() => location.href).catch(() => "");
      if (href.includes("/confirm.html")) return p;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the confirmation window did not open");
}

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: FIREFOX,
  headless: true,
  env: { ...process.env, HOME: home, LANG: "ru_RU.UTF-8" },
  extraPrefsFirefox: {
    "intl.locale.requested": "ru",
    "intl.accept_languages": "ru-RU, ru",
    "extensions.webextensions.restrictedDomains": "",
    "browser.shell.checkDefaultBrowser": false,
    "app.update.enabled": false,
    "datareporting.policy.dataSubmissionEnabled": false,
  },
});

try {
  await test("firefox: happy path register → profile → confirm → certificate → PIN → confirmed", async () => {
    await browser.installExtension(EXTENSION_DIR);
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 900 });
    await page.goto(server.base + "/");
    await page.waitForSelector("#register-form");
    await shot(page, "portal");
    const user = `ff-${Date.now()}@example.test`;
    await page.type("#reg-name", "Иван");
    await page.type("#reg-login", user);
    await page.type("#reg-password", "correct horse battery");
    await page.click("#register-form button[type=submit]");
    await page.waitForSelector("#level[data-level=simplified]");
    const form = "#profile-form";
    const fields = {
      surname: "Иванов", firstName: "Иван", patronymic: "Иванович", snils: "112-233-445 95",
      passportSeries: "4501", passportNumber: "123456",
    };
    for (const [name, value] of Object.entries(fields)) await page.type(`${form} [name=${name}]`, value);
    await page.$eval(`${form} [name=birthDate]`, (el) => {
      el.value = "1980-01-31";
      el.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector("#level[data-level=standard]");
    await shot(page, "standard");
    const st = await page.evaluate(async () => (await import("/page/tokenconfirm.js")).status());
    assert(st.extension && st.agent && st.agent.protocol === 1, `status: ${JSON.stringify(st)}`);
    await page.click("#confirm-esig");
    const win = await findWindow();
    const radio = `#certs input[name=cert][value="${fixture.ecId}"]`;
    await win.waitForSelector(radio, { timeout: 20000 });
    const origin = await win.$eval("#origin", (el) => el.textContent);
    assert(origin.includes(server.base.replace("http://", "")), `window shows origin ${origin}`);
    await win.click(radio);
    await win.type("#pin", fixture.pin);
    step += 1;
    await win.screenshot({ path: path.join(ARTIFACTS, `${String(step).padStart(2, "0")}-confirmation-window.png`) });
    await win.click("#sign").catch(() => {});
    await page.waitForSelector("#level[data-level=confirmed]", { timeout: 20000 });
    await shot(page, "confirmed");
    const ok = audit(server.db).filter((r) => r.outcome === "ok");
    assert(ok.length === 1, `one successful audit record, got ${ok.length}`);
  });
} finally {
  await browser.close().catch(() => {});
  cleanup();
}
console.log(`screenshots: ${ARTIFACTS}`);
process.exit(summary("firefox e2e") ? 0 : 1);
