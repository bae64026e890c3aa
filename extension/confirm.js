// Confirmation window of the tokenconfirm extension (protocol.md, section 5.4).
//
// The background opens this page as confirm.html?session=<sid> and talks to it over the port
// "confirm:<sid>". The window shows what is being signed (origin, purpose, account, deadline)
// before any PIN field, lets the user choose a certificate, collects the PIN (or asks for it on
// the reader's PIN pad) and sends {type: "sign"} to the background. The PIN is only ever held in
// the input field and in the one message that carries it; it is never stored or logged.
"use strict";

(() => {
  const POLL_MS = 2000;          // rescan interval while no usable certificate is there (older agents)
  const WAIT_MS = 5000;          // wait-for-token round: rescan on a reader/card event, or after this
  const LIST_STALE_MS = 15000;   // a list request unanswered for this long no longer blocks rescans
  const CLOSE_FALLBACK_MS = 1500; // after Cancel, close the window ourselves if the background does not
  const NO_LIMIT = 1024;         // a maxPinLength of 0 or >= 1024 means "no limit" (6.5.3, step 10)
  const RESCAN_AFTER = new Set(["no-token", "device-removed", "certificate-not-found"]);
  const NO_CERT_CODES = new Set(["no-token", "no-modules"]);
  const PIN_CODES = new Set(["pin-incorrect", "pin-length-invalid", "pin-required"]);

  const $ = (id) => document.getElementById(id);
  const msg = (key, subs) => {
    let text = "";
    try {
      text = chrome.i18n.getMessage(key, subs === undefined ? undefined : subs.map(String));
    } catch (_) {
      text = "";
    }
    return text || key;
  };

  // ---------------------------------------------------------------- language

  // The language of the window's own strings is the locale chrome.i18n resolved: "ru" for a
  // Russian browser, "en" for an English one, and the default locale for any other language. Agent
  // error messages (which come as {en, ru}) are shown in that same language, so the window never
  // mixes languages.
  function resolveLanguage() {
    let ui = "";
    try {
      ui = String(chrome.i18n.getUILanguage() || "");
    } catch (_) {
      ui = "";
    }
    if (!ui) ui = navigator.language || "";
    let resolved = "";
    try {
      resolved = String(chrome.i18n.getMessage("locale") || "").toLowerCase();
    } catch (_) {
      resolved = "";
    }
    const uiLower = ui.toLowerCase().replace("_", "-");
    const lang = resolved === "ru" || resolved === "en" ? resolved : uiLower.startsWith("ru") ? "ru" : "en";
    // Dates and times follow the browser's regional variant when it is of the same language.
    const dateLocale = uiLower === lang || uiLower.startsWith(lang + "-") ? ui.replace("_", "-") : lang;
    return { lang, dateLocale };
  }

  const { lang, dateLocale } = resolveLanguage();

  // ---------------------------------------------------------------- elements

  const el = {
    form: $("form"),
    origin: $("origin"),
    purpose: $("purpose"),
    account: $("account"),
    deadline: $("deadline"),
    certs: $("certs"),
    searching: $("searching"),
    insertToken: $("insert-token"),
    insertTokenText: $("insert-token-text"),
    insertTokenWait: $("insert-token-wait"),
    hints: $("hints"),
    hintsList: $("hints-list"),
    hintsWait: $("hints-wait"),
    certList: $("cert-list"),
    noSelectable: $("no-selectable"),
    certsError: $("certs-error"),
    problems: $("problems"),
    problemsList: $("problems-list"),
    refresh: $("refresh"),
    pinGroup: $("pin-group"),
    pin: $("pin"),
    pinHint: $("pin-hint"),
    pinError: $("pin-error"),
    pinWarning: $("pin-warning"),
    pinpadHint: $("pinpad-hint"),
    pinpadNotice: $("pinpad-notice"),
    error: $("error"),
    progress: $("progress"),
    sign: $("sign"),
    cancel: $("cancel"),
  };

  // ---------------------------------------------------------------- state

  const state = {
    port: null,
    connected: false,
    init: null,            // the init message, once received
    listed: false,         // a list-result has been received
    certs: [],             // [{cert, reason}] deduplicated by id, in agent order
    selectedId: null,
    tokenFlags: new Map(), // token key -> {pinCountLow, pinFinalTry} from a pin-incorrect result
    pending: false,        // a sign request is under way
    signCertId: null,      // certificate of the pending/last sign request
    signPinPad: false,
    listSentAt: 0,         // time the unanswered list request was sent, 0 if none
    pollTimer: 0,
    polling: false,        // looking for certificates by itself (timer or wait-for-token)
    watching: false,       // a wait-for-token request is outstanding
    waitSeq: 0,            // sequence number of the current wait
    waitUnavailable: false, // the agent cannot watch readers (no pcscd, older agent): poll
    readers: null,         // the readers of the last certificate list (fingerprint, state)
    hints: [],             // known cards whose driver is missing
    finished: false,       // cancelled, closing, signed, or a non-retriable error: no more signing
    cancelled: false,
    focusedOnce: false,
    errorCode: null,
    errorFromList: false,
  };

  // ---------------------------------------------------------------- helpers

  function show(node, text) {
    // Sets the text of a hint/notice and hides it when there is none (hidden content referenced by
    // aria-describedby would still be read, so it is emptied too).
    node.textContent = text || "";
    node.hidden = !text;
  }

  function agentMessage(error) {
    const m = error && error.message;
    if (m && typeof m === "object") {
      const text = m[lang] || m[lang === "ru" ? "en" : "ru"];
      if (typeof text === "string" && text) return text;
    }
    if (typeof m === "string" && m) return m;
    return msg("errorUnknown");
  }

  function setError(code, text, fromList) {
    state.errorCode = code || null;
    state.errorFromList = !!fromList;
    if (code) el.error.setAttribute("data-code", code);
    else el.error.removeAttribute("data-code");
    // Replacing the text node makes screen readers announce the message again even when the text
    // is the same as before (e.g. a second wrong PIN).
    el.error.textContent = "";
    if (text) el.error.appendChild(document.createTextNode(text));
  }

  function clearError() {
    setError(null, "", false);
  }

  function post(message) {
    if (!state.port || !state.connected) return false;
    try {
      state.port.postMessage(message);
      return true;
    } catch (_) {
      onDisconnect();
      return false;
    }
  }

  function parseTime(text) {
    if (typeof text !== "string") return null;
    const t = Date.parse(text);
    return Number.isFinite(t) ? new Date(t) : null;
  }

  function formatDateTime(text) {
    const d = parseTime(text);
    if (!d) return typeof text === "string" ? text : "";
    try {
      return new Intl.DateTimeFormat(dateLocale, {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      }).format(d);
    } catch (_) {
      return d.toLocaleString();
    }
  }

  function formatDate(text) {
    const d = parseTime(text);
    if (!d) return typeof text === "string" ? text : "";
    try {
      return new Intl.DateTimeFormat(dateLocale, { year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
    } catch (_) {
      return d.toLocaleDateString();
    }
  }

  // SNILS "12345678964" -> "***-***-789 64": only the last five digits are shown.
  /** A readable key type from the agent's keyType (`ec-p256`, `rsa-2048`, `rsa-pss-3072`, …). */
function describeKey(keyType) {
  if (typeof keyType !== "string") return "";
  const ec = /^ec-p(\d+)$/.exec(keyType);
  if (ec) return "ECDSA P-" + ec[1];
  const rsa = /^rsa-(pss-)?(\d+)$/.exec(keyType);
  if (rsa) return (rsa[1] ? "RSA-PSS " : "RSA ") + rsa[2];
  return "";
}

function maskSnils(snils) {
    if (typeof snils !== "string") return "";
    const digits = snils.replace(/\D/g, "");
    if (digits.length < 5) return "***";
    const last = digits.slice(-5);
    return "***-***-" + last.slice(0, 3) + " " + last.slice(3);
  }

  function tokenKey(token) {
    if (!token || typeof token !== "object") return "";
    return [token.module, token.serial, token.label].map((v) => String(v ?? "")).join("\u0000");
  }

  function pinLimits(token) {
    const int = (v) => (Number.isInteger(v) && v > 0 ? v : 0);
    const min = int(token && token.minPinLength);
    let max = int(token && token.maxPinLength);
    if (max >= NO_LIMIT) max = 0;
    return { min, max };
  }

  function pinFlags(cert) {
    const token = cert.token || {};
    const override = state.tokenFlags.get(tokenKey(token));
    if (override) return override;
    return { pinCountLow: token.pinCountLow === true, pinFinalTry: token.pinFinalTry === true };
  }

  // Why a certificate cannot be chosen, or "" when it can.
  function unusableReason(cert, now) {
    const token = cert.token || {};
    if (token.pinLocked === true) return msg("certLocked");
    const from = parseTime(cert.notBefore);
    const to = parseTime(cert.notAfter);
    if (from && now < from.getTime()) return msg("certNotYetValid");
    if (to && now >= to.getTime()) return msg("certExpired");
    if (typeof cert.keyType === "string" && cert.keyType.startsWith("other")) return msg("certUnsupported");
    return "";
  }

  function selectedEntry() {
    return state.certs.find((e) => e.cert.id === state.selectedId && !e.reason) || null;
  }

  function selectable() {
    return state.certs.filter((e) => !e.reason);
  }

  function utf8Length(text) {
    return new TextEncoder().encode(text).length;
  }

  // ---------------------------------------------------------------- summary (init)

  function renderSummary(init) {
    const origin = typeof init.origin === "string" ? init.origin : "";
    el.origin.textContent = "";
    const sep = origin.indexOf("://");
    if (sep > 0) {
      // The scheme is de-emphasised, the host (what a phishing site would imitate) stands out.
      const scheme = document.createElement("span");
      scheme.className = "origin-scheme";
      scheme.textContent = origin.slice(0, sep + 3);
      const host = document.createElement("span");
      host.className = "origin-host";
      host.textContent = origin.slice(sep + 3);
      el.origin.append(scheme, host);
    } else {
      el.origin.textContent = origin;
    }

    const purpose = typeof init.purpose === "string" ? init.purpose : "";
    el.purpose.textContent =
      purpose === "account-confirmation" ? msg("purposeConfirmation")
        : purpose === "account-registration" ? msg("purposeRegistration")
          : msg("purposeOther", [purpose]);
    el.purpose.setAttribute("data-purpose", purpose);

    el.account.textContent = typeof init.account === "string" ? init.account : "";

    el.deadline.textContent = formatDateTime(init.expiresAt);
    if (typeof init.expiresAt === "string") el.deadline.setAttribute("datetime", init.expiresAt);
  }

  // ---------------------------------------------------------------- certificate list

  function renderProblems(problems) {
    el.problemsList.textContent = "";
    const list = Array.isArray(problems) ? problems : [];
    for (const p of list) {
      if (!p || typeof p !== "object") continue;
      const source = typeof p.source === "string" ? p.source : "";
      // "/usr/lib/librtpkcs11ecp.so slot 0" -> "librtpkcs11ecp.so slot 0"; the full path is in the tooltip.
      const short = source.replace(/^.*[\\/]/, "") || source;
      const key = p.code === "module-load-failed" ? "problemModule"
        : p.code === "device-removed" ? "problemRemoved"
          : p.code === "token-not-responding" ? "problemNotResponding" : "problemToken";
      const li = document.createElement("li");
      li.textContent = msg(key, [short]);
      if (source) li.title = source;
      if (typeof p.code === "string") li.setAttribute("data-code", p.code);
      el.problemsList.appendChild(li);
    }
    el.problems.hidden = el.problemsList.children.length === 0;
  }

  // Known cards in a reader whose driver (PKCS#11 module) is missing: product and what to
  // install, in the window's language (the agent sends both).
  function renderHints(hints) {
    el.hintsList.textContent = "";
    state.hints = [];
    for (const h of Array.isArray(hints) ? hints : []) {
      if (!h || typeof h !== "object" || typeof h.product !== "string" || !h.product) continue;
      const mine = lang === "ru" ? h.installRu : h.installEn;
      const other = lang === "ru" ? h.installEn : h.installRu;
      const install = typeof mine === "string" && mine ? mine : typeof other === "string" ? other : "";
      const li = document.createElement("li");
      li.textContent = install ? msg("hintInstall", [h.product, install]) : h.product;
      if (typeof h.reader === "string") li.title = h.reader;
      el.hintsList.appendChild(li);
      state.hints.push(h);
    }
    show(el.hintsWait, state.hints.length ? msg("hintsWait") : "");
    el.hints.hidden = state.hints.length === 0;
  }

  function detailLine(label, value, className) {
    const line = document.createElement("span");
    line.className = "cert-line" + (className ? " " + className : "");
    const l = document.createElement("span");
    l.className = "cert-line-label";
    l.textContent = label + ": ";
    const v = document.createElement("span");
    v.className = "cert-line-value";
    v.textContent = value;
    line.append(l, v);
    return line;
  }

  function certCard(entry, index) {
    const { cert, reason } = entry;
    const token = cert.token || {};
    const base = "cert-" + index;

    const card = document.createElement("label");
    card.className = "cert" + (reason ? " cert-disabled" : "");
    card.setAttribute("for", base);

    const input = document.createElement("input");
    input.type = "radio";
    input.name = "cert";
    input.id = base;
    input.value = cert.id;
    input.disabled = !!reason;
    input.setAttribute("aria-labelledby", base + "-name");
    input.setAttribute("aria-describedby", base + "-details");

    const body = document.createElement("span");
    body.className = "cert-body";

    const name = document.createElement("span");
    name.className = "cert-name";
    name.id = base + "-name";
    const fullName = cert.commonName
      || [cert.surname, cert.givenName].filter((s) => typeof s === "string" && s).join(" ")
      || msg("certNoName");
    name.textContent = fullName;

    const details = document.createElement("span");
    details.className = "cert-details";
    details.id = base + "-details";
    if (reason) {
      const badge = document.createElement("span");
      badge.className = "badge badge-warn";
      badge.textContent = reason;
      details.appendChild(badge);
    }
    if (cert.snils) details.appendChild(detailLine(msg("certSnils"), maskSnils(cert.snils), "cert-snils"));
    if (cert.organization) details.appendChild(detailLine(msg("certOrganization"), cert.organization));
    const issuer = cert.issuerCommonName || cert.issuer || "";
    if (issuer) details.appendChild(detailLine(msg("certIssuer"), issuer, "cert-issuer"));
    details.appendChild(detailLine(msg("certValidity"),
      formatDate(cert.notBefore) + " – " + formatDate(cert.notAfter), "cert-validity"));
    const tokenLabel = typeof token.label === "string" && token.label.trim() ? token.label.trim() : (token.model || "");
    if (tokenLabel) details.appendChild(detailLine(msg("certToken"), tokenLabel, "cert-token"));
    // Two certificates of one person differ by their key: show it (ECDSA P-256, RSA 2048, …).
    const keyText = describeKey(cert.keyType);
    if (keyText) details.appendChild(detailLine(msg("certKey"), keyText, "cert-key"));
    if (!reason && token.pinPad === true) {
      const note = document.createElement("span");
      note.className = "cert-line cert-note";
      note.textContent = msg("certPinPad");
      details.appendChild(note);
    }

    body.append(name, details);
    card.append(input, body);
    return card;
  }

  function listSignature(entries) {
    return JSON.stringify(entries.map((e) => [e.cert.id, e.reason, e.cert.token]));
  }

  function setCertificates(certificates) {
    const now = Date.now();
    // The same certificate reachable on two tokens or modules is listed twice with the same id
    // (6.5.2); show it once, preferring an entry that can be used.
    const byId = new Map();
    for (const cert of certificates) {
      if (!cert || typeof cert !== "object" || typeof cert.id !== "string" || !cert.id) continue;
      const entry = { cert, reason: unusableReason(cert, now) };
      const prev = byId.get(cert.id);
      if (!prev || (prev.reason && !entry.reason)) byId.set(cert.id, entry);
    }
    const entries = [...byId.values()];
    const changed = listSignature(entries) !== listSignature(state.certs);
    // Certificates that appear after a wait (token inserted) get the focus like on load.
    if (selectable().length === 0 && entries.some((e) => !e.reason)) state.focusedOnce = false;
    state.certs = entries;

    const usable = selectable();
    if (!usable.some((e) => e.cert.id === state.selectedId)) {
      state.selectedId = usable.length === 1 ? usable[0].cert.id : null;
    }

    if (changed) {
      const hadFocus = el.certList.contains(document.activeElement);
      el.certList.textContent = "";
      entries.forEach((entry, i) => el.certList.appendChild(certCard(entry, i)));
      if (hadFocus) state.focusedOnce = false; // the focused radio was replaced
    }
    for (const input of el.certList.querySelectorAll("input[name=cert]")) {
      input.checked = input.value === state.selectedId;
    }

    el.searching.hidden = true;
    // A known card without its driver: the hints say what to do instead of "insert your token".
    if (entries.length === 0 && state.hints.length === 0) {
      show(el.insertTokenText, msg("insertToken"));
      show(el.insertTokenWait, msg("waitingForToken"));
      el.insertToken.hidden = false;
    } else {
      el.insertToken.hidden = true;
    }
    show(el.noSelectable, entries.length > 0 && usable.length === 0 ? msg("noSelectable") : "");
    show(el.certsError, "");

    updateSelection();
    if (usable.length === 0) startPolling();
    else stopPolling();
    updateControls();
  }

  // ---------------------------------------------------------------- selection, PIN, warnings

  function updateSelection() {
    const entry = selectedEntry();
    for (const input of el.certList.querySelectorAll("input[name=cert]")) {
      input.closest(".cert").classList.toggle("cert-selected", input.checked);
    }
    const usable = selectable().length > 0;
    const token = entry ? entry.cert.token || {} : null;
    const pinPad = !!(token && token.pinPad === true);
    // The agent's own PIN dialog (agent configured with pin_dialog = "agent").
    const agentDialog = !!(token && !pinPad && agentPinDialog());

    // The PIN field is shown only once the summary is there and a certificate can be chosen; it
    // is hidden for a PIN-pad token and when the agent asks for the PIN itself.
    el.pinGroup.hidden = !(state.init && usable) || pinPad || agentDialog;

    let hint = "";
    if (token && !pinPad) {
      const { min, max } = pinLimits(token);
      if (min && max) hint = msg("pinHintRange", [min, max]);
      else if (min) hint = msg("pinHintMin", [min]);
      else if (max) hint = msg("pinHintMax", [max]);
    }
    show(el.pinHint, hint);

    let warning = "";
    if (entry) {
      const flags = pinFlags(entry.cert);
      if (flags.pinFinalTry) warning = msg("pinFinalTry");
      else if (flags.pinCountLow) warning = msg("pinCountLow");
    }
    show(el.pinWarning, warning);

    const hintKey = pinPad ? "pinpadHint" : agentDialog ? "agentPinHint" : "";
    show(el.pinpadHint, hintKey && !state.pending ? msg(hintKey) : "");
    const noticeKey = state.signAgentDialog ? "agentPinNotice" : "pinpadNotice";
    show(el.pinpadNotice, state.pending && state.signPinPad ? msg(noticeKey) : "");
  }

  /** Whether the agent was configured to ask for the PIN in its own dialog. */
  function agentPinDialog() {
    return !!(state.init && state.init.pinDialog === "agent");
  }

  function checkPin(pin, token) {
    if (pin.length === 0) return msg("pinEmpty");
    const { min, max } = pinLimits(token);
    const len = utf8Length(pin);
    if (min && len < min) return msg("pinTooShort", [min]);
    if (max && len > max) return msg("pinTooLong", [max]);
    return "";
  }

  function setPinError(text) {
    show(el.pinError, text);
    if (text) el.pin.setAttribute("aria-invalid", "true");
    else el.pin.removeAttribute("aria-invalid");
  }

  // ---------------------------------------------------------------- enabling and focus

  function updateControls() {
    const live = state.connected && !state.finished;
    const busy = state.pending || !live;
    for (const input of el.certList.querySelectorAll("input[name=cert]")) {
      const entry = state.certs.find((e) => e.cert.id === input.value);
      input.disabled = busy || !entry || !!entry.reason;
    }
    el.pin.disabled = busy;
    el.sign.disabled = busy || !state.init || selectable().length === 0;
    el.refresh.hidden = !live || !state.listed || state.polling;
    el.refresh.disabled = busy;
    el.form.setAttribute("aria-busy", state.pending ? "true" : "false");

    const closeOnly = !state.connected || (state.finished && !state.cancelled);
    el.cancel.textContent = msg(closeOnly ? "close" : "cancel");
    el.cancel.disabled = state.cancelled;
  }

  function firstInteractive() {
    const radios = [...el.certList.querySelectorAll("input[name=cert]")].filter((r) => !r.disabled);
    const checked = radios.find((r) => r.checked);
    const candidates = [checked, radios[0],
      !el.pinGroup.hidden && !el.pin.disabled ? el.pin : null,
      !el.refresh.hidden && !el.refresh.disabled ? el.refresh : null,
      !el.sign.disabled ? el.sign : null,
      !el.cancel.disabled ? el.cancel : null];
    return candidates.find(Boolean) || null;
  }

  function focusFirst() {
    const target = firstInteractive();
    if (target) target.focus();
  }

  // After the first certificate list (and whenever the focused radio was replaced by a new list)
  // the first interactive element gets the focus: the chosen or the first usable certificate.
  // Focus the user put on another control is left alone.
  function maybeFocus() {
    if (state.focusedOnce) return;
    const active = document.activeElement;
    const idle = !active || active === document.body || active === document.documentElement
      || active === el.cancel || active === el.refresh || active === el.sign || active.disabled === true;
    if (!idle) {
      state.focusedOnce = true;
      return;
    }
    const target = firstInteractive();
    if (!target) return;
    target.focus();
    // Until a certificate can be focused, the next list may move the focus again.
    state.focusedOnce = target === el.pin || (target instanceof HTMLInputElement && target.name === "cert");
  }

  // ---------------------------------------------------------------- list polling

  function requestList() {
    if (state.pending || state.finished || !state.connected) return;
    if (state.listSentAt && Date.now() - state.listSentAt < LIST_STALE_MS) return;
    if (post({ type: "list" })) state.listSentAt = Date.now();
  }

  // Looks for certificates by itself: with an agent that has `wait-for-token` (6.5.5) it asks
  // the agent to answer when a reader or card comes or goes (or after WAIT_MS, for tokens that
  // come without a PC/SC event) and then rescans; otherwise it rescans every POLL_MS.
  function startPolling() {
    state.polling = true;
    clearTimeout(state.pollTimer);
    state.pollTimer = 0;
    if (canWatch()) {
      watch();
      return;
    }
    state.pollTimer = setTimeout(() => {
      state.pollTimer = 0;
      if (state.polling) requestList();
    }, POLL_MS);
  }

  function stopPolling() {
    state.polling = false;
    clearTimeout(state.pollTimer);
    state.pollTimer = 0;
    if (state.watching) {
      state.watching = false;
      post({ type: "stop-wait" });
    }
  }

  function canWatch() {
    return !!(state.init && state.init.waitForToken === true) && !state.waitUnavailable;
  }

  function watch() {
    if (state.watching || state.pending || state.finished || !state.connected) return;
    state.waitSeq += 1;
    const request = { type: "wait", seq: state.waitSeq, timeoutMs: WAIT_MS };
    // The readers as the last list saw them: a change since then answers at once.
    if (state.readers && typeof state.readers.fingerprint === "string" && state.readers.fingerprint) {
      request.since = state.readers.fingerprint;
    }
    if (post(request)) state.watching = true;
  }

  function onWaitResult(m) {
    if (m.seq !== state.waitSeq || !state.watching) return; // a stopped wait
    state.watching = false;
    if (!state.polling || state.finished) return;
    if (m.ok === true && m.result && typeof m.result === "object") {
      if (m.result.event === "unavailable") {
        // No smart-card service: nothing to watch; poll instead.
        state.waitUnavailable = true;
        startPolling();
        return;
      }
      // "changed" (a reader or card came or went) or "timeout": look again; the answer to the
      // list decides whether to wait once more.
      requestList();
      return;
    }
    const code = m.error && typeof m.error.code === "string" ? m.error.code : "";
    if (code === "cancelled") return;
    state.waitUnavailable = true;
    startPolling();
  }

  // ---------------------------------------------------------------- pending sign

  function setPending(on, pinPad) {
    state.pending = on;
    if (on) {
      state.signPinPad = !!pinPad;
      stopPolling();
      el.progress.textContent = msg("signing");
    } else {
      state.signPinPad = false;
      if (!state.finished) el.progress.textContent = "";
    }
    updateSelection();
    updateControls();
  }

  // ---------------------------------------------------------------- background messages

  function onInit(m) {
    const first = !state.init;
    state.init = m;
    renderSummary(m);
    updateSelection();
    updateControls();
    if (first && !state.listed) requestList();
  }

  function onListResult(m) {
    state.listSentAt = 0;
    if (state.finished) return;
    state.listed = true;
    state.tokenFlags.clear(); // the list carries flags freshly read from the tokens

    if (m.ok === true && m.result && typeof m.result === "object") {
      const certificates = Array.isArray(m.result.certificates) ? m.result.certificates : [];
      if (state.errorFromList) clearError();
      state.readers = m.result.readers && typeof m.result.readers === "object" ? m.result.readers : null;
      renderProblems(m.result.problems);
      renderHints(m.result.hints);
      setCertificates(certificates);
    } else {
      const error = m.error && typeof m.error === "object" ? m.error : {};
      const code = typeof error.code === "string" ? error.code : "internal";
      state.readers = null;
      renderProblems([]);
      renderHints(error.details && typeof error.details === "object" ? error.details.hints : []);
      if (code === "no-token") {
        if (state.errorFromList) clearError();
      } else if (state.errorCode !== code) {
        // Shown once; repeated identical answers while polling are not announced again.
        setError(code, agentMessage(error), true);
      }
      setCertificates([]);
      if (!NO_CERT_CODES.has(code) && error.retriable !== true) {
        // Rescanning cannot help (e.g. an invalid configuration); the user can still retry by hand.
        stopPolling();
        el.insertToken.hidden = true;
        updateControls();
      }
    }
    maybeFocus();
  }

  function onSignResult(m) {
    const certId = state.signCertId;
    setPending(false);
    if (m.ok === true) {
      // Normally the background closes the window without telling us; just in case.
      state.finished = true;
      clearError();
      el.progress.textContent = msg("signed");
      updateControls();
      return;
    }
    const error = m.error && typeof m.error === "object" ? m.error : {};
    const code = typeof error.code === "string" ? error.code : "internal";
    setError(code, agentMessage(error), false);

    if (code === "pin-incorrect" && error.details && typeof error.details === "object") {
      const entry = state.certs.find((e) => e.cert.id === certId);
      if (entry) {
        state.tokenFlags.set(tokenKey(entry.cert.token), {
          pinCountLow: error.details.pinCountLow === true,
          pinFinalTry: error.details.pinFinalTry === true,
        });
      }
    }

    if (error.retriable === false) {
      // The background closes the window after a non-retriable error; until then nothing more
      // can be signed here.
      state.finished = true;
      stopPolling();
    }
    updateSelection();
    updateControls();

    if (!state.finished && RESCAN_AFTER.has(code)) {
      state.listSentAt = 0;
      requestList();
    }
    // Put the user where they can act again.
    const entry = selectedEntry();
    if (!state.finished && entry && !el.pinGroup.hidden && (PIN_CODES.has(code) || code === "signing-failed")) {
      el.pin.focus();
    } else if (!el.sign.disabled) {
      el.sign.focus();
    } else {
      focusFirst();
    }
    // The message may be below the fold of the small window.
    if (typeof el.error.scrollIntoView === "function") el.error.scrollIntoView({ block: "nearest" });
  }

  function onBusy(m) {
    if (m.busy === true && !state.pending) {
      const entry = selectedEntry();
      setPending(true, !!(entry && entry.cert.token && entry.cert.token.pinPad === true));
    } else if (m.busy === false && state.pending) {
      setPending(false);
    }
  }

  function onClosing() {
    state.finished = true;
    stopPolling();
    el.progress.textContent = msg("closing");
    updateControls();
  }

  function onMessage(m) {
    if (!m || typeof m !== "object") return;
    switch (m.type) {
      case "init": onInit(m); break;
      case "list-result": onListResult(m); break;
      case "sign-result": onSignResult(m); break;
      case "busy": onBusy(m); break;
      case "wait-result": onWaitResult(m); break;
      case "closing": onClosing(); break;
      default: break;
    }
  }

  function onDisconnect() {
    if (!state.connected) return;
    try { void chrome.runtime.lastError; } catch (_) { /* nothing */ }
    state.connected = false;
    stopPolling();
    if (state.cancelled) {
      window.close();
      return;
    }
    state.pending = false;
    state.signPinPad = false;
    if (!state.finished) {
      state.finished = true;
      el.progress.textContent = "";
      setError("disconnected", msg("errorDisconnected"), false);
    }
    updateSelection();
    updateControls();
  }

  // ---------------------------------------------------------------- user actions

  function onSubmit(event) {
    event.preventDefault();
    if (state.pending || state.finished || !state.connected || !state.init) return;
    const entry = selectedEntry();
    if (!entry) {
      show(el.certsError, msg("selectCertificate"));
      const first = el.certList.querySelector("input[name=cert]:not(:disabled)");
      if (first) first.focus();
      return;
    }
    show(el.certsError, "");
    const token = entry.cert.token || {};
    const pinPad = token.pinPad === true;
    const agentDialog = !pinPad && agentPinDialog();
    const request = { type: "sign", certificateId: entry.cert.id };
    state.signAgentDialog = agentDialog;
    if (!pinPad && !agentDialog) {
      const problem = checkPin(el.pin.value, token);
      if (problem) {
        setPinError(problem);
        el.pin.focus();
        return;
      }
      request.pin = el.pin.value;
    }
    // The PIN leaves the field now, whatever the outcome: a new attempt means typing it again.
    el.pin.value = "";
    setPinError("");
    clearError();
    state.signCertId = entry.cert.id;
    setPending(true, pinPad || agentDialog);
    if (!post(request)) setPending(false);
    request.pin = undefined;
  }

  function cancel() {
    if (state.cancelled) return;
    if (!state.connected) {
      window.close();
      return;
    }
    state.cancelled = true;
    state.finished = true;
    stopPolling();
    el.pin.value = "";
    el.progress.textContent = msg("cancelling");
    post({ type: "cancel" });
    updateControls();
    // The background closes the window; should it not, closing it disconnects the port, which
    // the background treats as a cancellation too.
    setTimeout(() => window.close(), CLOSE_FALLBACK_MS);
  }

  function onCertChange(event) {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.name !== "cert" || !input.checked) return;
    if (state.selectedId !== input.value) el.pin.value = "";
    state.selectedId = input.value;
    show(el.certsError, "");
    setPinError("");
    updateSelection();
    updateControls();
  }

  function onKeyDown(event) {
    if (event.key === "Escape" && !event.isComposing) {
      event.preventDefault();
      cancel();
    } else if (event.key === "Enter" && !event.isComposing && event.target instanceof HTMLInputElement
      && event.target.type === "radio") {
      // Browsers do not submit a form when Enter is pressed on a radio button.
      event.preventDefault();
      if (typeof el.form.requestSubmit === "function") el.form.requestSubmit(el.sign);
      else onSubmit(event);
    }
  }

  // ---------------------------------------------------------------- start

  function localize() {
    document.documentElement.lang = lang;
    document.title = msg("pageTitle");
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = msg(node.getAttribute("data-i18n"));
    }
    for (const node of [el.origin, el.purpose, el.account, el.deadline]) node.textContent = msg("notLoaded");
    el.searching.textContent = msg("searching");
  }

  function start() {
    localize();
    el.form.addEventListener("submit", onSubmit);
    el.certList.addEventListener("change", onCertChange);
    el.cancel.addEventListener("click", cancel);
    el.refresh.addEventListener("click", () => {
      state.listSentAt = 0;
      show(el.certsError, "");
      requestList();
    });
    el.pin.addEventListener("input", () => setPinError(""));
    document.addEventListener("keydown", onKeyDown);

    const sid = new URLSearchParams(location.search).get("session");
    if (!sid) {
      el.searching.hidden = true;
      setError("no-session", msg("errorNoSession"), false);
      state.finished = true;
      updateControls();
      el.cancel.focus();
      return;
    }
    state.port = chrome.runtime.connect({ name: "confirm:" + sid });
    state.connected = true;
    state.port.onMessage.addListener(onMessage);
    state.port.onDisconnect.addListener(onDisconnect);
    updateControls();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
