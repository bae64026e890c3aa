// tokenconfirm page library (docs/protocol.md section 5): ask the tokenconfirm browser
// extension whether it and the signing agent are present, and have the citizen confirm a
// challenge with the e-signature on their token. No dependencies; an ES module.
//
//   import { status, confirm } from "/page/tokenconfirm.js";
//   const s = await status();                      // {extension: {version}, agent: {version, protocol} | null}
//   const envelope = await confirm(challenge, {lang: "ru", timeoutMs: 300000});   // base64 CMS
//
// Failures reject with a TokenconfirmError: {code, message: {en, ru}} — `code` is stable
// (extension-missing, agent-missing, agent-too-old, cancelled, timeout, no-token, pin-locked, …).

const STATUS_TIMEOUT_MS = 1000;
const DEFAULT_CONFIRM_TIMEOUT_MS = 300000;
/** Extra time the page waits beyond timeoutMs for the extension's own `timeout` answer. */
const GRACE_MS = 2000;

const LOCAL_MESSAGES = {
  "extension-missing": {
    en: "The tokenconfirm browser extension is not installed or is disabled. Install it and reload the page.",
    ru: "Расширение браузера tokenconfirm не установлено или отключено. Установите его и обновите страницу.",
  },
  timeout: {
    en: "The confirmation took too long and was stopped. Start again.",
    ru: "Подтверждение заняло слишком много времени и было прервано. Начните заново.",
  },
  "invalid-request": {
    en: "The request to the signing agent is malformed.",
    ru: "Запрос к агенту подписи составлен неверно.",
  },
};

/** A failure with a stable code and a message for the citizen in Russian and English. */
export class TokenconfirmError extends Error {
  constructor(code, message) {
    const m = message || LOCAL_MESSAGES[code] || { en: code, ru: code };
    super(m.en);
    this.name = "TokenconfirmError";
    this.code = code;
    this.message = m.en;
    /** {en, ru} */
    this.messages = { en: m.en, ru: m.ru };
  }
  /** The message in `lang` ("ru" or "en"). */
  text(lang) {
    return lang === "en" ? this.messages.en : this.messages.ru;
  }
}

let counter = 0;

function request(command, params, waitMs) {
  const requestId = `tc-${Date.now().toString(36)}-${(counter++).toString(36)}`;
  return new Promise((resolve, reject) => {
    const onMessage = (event) => {
      const d = event.data;
      if (event.source !== window || !d || d.tokenconfirm !== 1 || d.type !== "response") return;
      if (d.requestId !== requestId) return;
      cleanup();
      if (d.error) reject(new TokenconfirmError(d.error.code, d.error.message));
      else resolve(d);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new TokenconfirmError(command === "status" ? "extension-missing" : "timeout"));
    }, waitMs);
    const cleanup = () => {
      clearTimeout(timer);
      window.removeEventListener("message", onMessage);
    };
    window.addEventListener("message", onMessage);
    window.postMessage({ tokenconfirm: 1, type: "request", requestId, command, ...params }, window.location.origin);
  });
}

/**
 * Whether the extension and the agent are there.
 * Resolves {extension: {version}, agent: {version, protocol} | null};
 * rejects with `extension-missing` when the extension does not answer within 1 second.
 */
export async function status() {
  const r = await request("status", {}, STATUS_TIMEOUT_MS);
  return { extension: r.extension || null, agent: r.agent || null };
}

/**
 * Asks the citizen to confirm `challenge` (exactly as the server issued it) with their
 * e-signature. Resolves with the envelope (standard base64 of the CMS DER) to send to the
 * server; the id of the certificate used is on `confirm.lastCertificateId`.
 */
export async function confirm(challenge, options = {}) {
  const lang = options.lang === "en" ? "en" : "ru";
  const timeoutMs = Number.isInteger(options.timeoutMs) ? options.timeoutMs : DEFAULT_CONFIRM_TIMEOUT_MS;
  if (!challenge || typeof challenge !== "object") throw new TokenconfirmError("invalid-request");
  await status();
  const r = await request("confirm", { challenge, lang, timeoutMs }, timeoutMs + GRACE_MS);
  confirm.lastCertificateId = r.certificateId;
  return r.envelope;
}
