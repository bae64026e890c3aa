// tokenconfirm background (MV3 service worker in Chromium, background script in Firefox).
//
// Receives `status` and `confirm` requests relayed by the content script (docs/protocol.md
// section 5), determines the requesting origin from the browser's description of the sender
// (never from the message), talks to the native agent (section 6) over one persistent port,
// and runs each confirmation in its own small extension window (confirm.html), never inside the
// page. The PIN travels only window → here → agent and is never stored.
"use strict";

if (typeof TC_ERRORS === "undefined" && typeof importScripts === "function") {
  importScripts("errors.js");
}

const HOST = "ru.tokenconfirm.agent";
const PROTOCOL = 1;
const NEEDED = ["hello", "list-certificates", "sign", "cancel", "pin-in-request"];
const DEFAULT_TIMEOUT_MS = 300000;
const MAX_TIMEOUT_MS = 3600000;
const WAIT_DEFAULT_MS = 30000; // wait-for-token (6.5.5)
const WAIT_MAX_MS = 300000;
const VERSION = chrome.runtime.getManifest().version;

/** An error response body for `code` with the shared messages. */
function failure(code) {
  const known = TC_ERRORS[code] || TC_ERRORS["internal"];
  return { code, message: { en: known.en, ru: known.ru } };
}

/** An agent error reduced to what the page may see (no detail, no details). */
function fromAgent(error) {
  if (!error || typeof error.code !== "string") return failure("internal");
  const message = error.message && typeof error.message.en === "string" ? error.message : failure(error.code).message;
  return { code: error.code, message: { en: message.en, ru: message.ru } };
}

// ---------------------------------------------------------------- origin (5.3, 1.5)

/** The requesting origin, from the sender only; null when not acceptable. */
function senderOrigin(sender) {
  if (!sender || sender.id !== chrome.runtime.id || sender.frameId !== 0 || !sender.tab) return null;
  let text = typeof sender.origin === "string" && sender.origin !== "null" ? sender.origin : null;
  if (!text && typeof sender.url === "string") {
    try {
      text = new URL(sender.url).origin;
    } catch (e) {
      return null;
    }
  }
  if (!text) return null;
  let url;
  try {
    url = new URL(text);
  } catch (e) {
    return null;
  }
  if (url.origin !== text) return null;
  if (url.protocol === "https:") return text;
  if (url.protocol === "http:" && (url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]")) {
    return text;
  }
  return null;
}

// ---------------------------------------------------------------- the agent (6)

let agentPort = null;
let agentHeard = false;
let nextId = 1;
const calls = new Map(); // id -> {resolve, command}

function agent() {
  if (agentPort) return agentPort;
  let port;
  try {
    port = chrome.runtime.connectNative(HOST);
  } catch (e) {
    return null;
  }
  agentPort = port;
  agentHeard = false;
  port.onMessage.addListener((reply) => {
    agentHeard = true;
    if (!reply || !calls.has(reply.id)) return;
    const call = calls.get(reply.id);
    calls.delete(reply.id);
    call.resolve(reply);
  });
  port.onDisconnect.addListener(() => {
    // Reading lastError marks it handled; the code depends on whether the host ever answered.
    void chrome.runtime.lastError;
    const code = agentHeard ? "agent-disconnected" : "agent-missing";
    agentPort = null;
    for (const [, call] of calls) call.resolve({ ok: false, error: { ...failure(code), retriable: code === "agent-disconnected" } });
    calls.clear();
  });
  return port;
}

/** Sends one request; resolves with the reply ({ok, result} or {ok:false, error}) and its id. */
function callAgent(command, params) {
  const id = "e" + nextId++;
  const port = agent();
  if (!port) return { id, reply: Promise.resolve({ ok: false, error: failure("agent-missing") }) };
  const reply = new Promise((resolve) => calls.set(id, { resolve, command }));
  try {
    port.postMessage({ id, command, ...params });
  } catch (e) {
    calls.delete(id);
    return { id, reply: Promise.resolve({ ok: false, error: failure("agent-missing") }) };
  }
  return { id, reply };
}

function cancelAgent(id) {
  if (calls.has(id) && agentPort) callAgent("cancel", { target: id });
}

/** hello over the persistent port (cheap after the first start): {ok, agent} or {ok:false, error}. */
async function hello() {
  const reply = await callAgent("hello", { extensionVersion: VERSION }).reply;
  if (!reply.ok) {
    const code = reply.error && reply.error.code;
    if (code === "unknown-command") return { ok: false, error: failure("agent-too-old") };
    return { ok: false, error: failure("agent-missing") };
  }
  const r = reply.result || {};
  const caps = Array.isArray(r.capabilities) ? r.capabilities : [];
  if (typeof r.protocol !== "number" || r.protocol < PROTOCOL || !NEEDED.every((c) => caps.includes(c))) {
    return { ok: false, error: failure("agent-too-old") };
  }
  return { ok: true, agent: { version: r.version, protocol: r.protocol, capabilities: caps } };
}

// ---------------------------------------------------------------- confirmations (5.4)

const sessions = new Map(); // sid -> session
const byTab = new Map(); // tabId -> sid

function newSid() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Ends a session once: answers the page, cancels agent work, closes the window. */
function finish(session, response) {
  if (session.done) return;
  session.done = true;
  clearTimeout(session.timer);
  sessions.delete(session.sid);
  if (byTab.get(session.tabId) === session.sid) byTab.delete(session.tabId);
  for (const id of session.agentCalls) cancelAgent(id);
  session.agentCalls.clear();
  if (session.windowPort) {
    try {
      session.windowPort.postMessage({ type: "closing" });
    } catch (e) {
      /* window already gone */
    }
  }
  if (session.windowId !== null) chrome.windows.remove(session.windowId).catch(() => {});
  session.respond(response);
}

function challengeLooksValid(c) {
  return (
    c && typeof c === "object" && !Array.isArray(c) && c.version === 1 &&
    typeof c.nonce === "string" && typeof c.origin === "string" && typeof c.account === "string" &&
    typeof c.purpose === "string" && typeof c.issuedAt === "string" && typeof c.expiresAt === "string"
  );
}

async function confirm(request, origin, tabId, respond) {
  const lang = request.lang === undefined ? "ru" : request.lang;
  const timeoutMs = request.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : request.timeoutMs;
  if ((lang !== "ru" && lang !== "en") || !Number.isInteger(timeoutMs) || timeoutMs < 1000 || timeoutMs > MAX_TIMEOUT_MS) {
    return respond({ error: failure("invalid-request") });
  }
  if (!challengeLooksValid(request.challenge)) return respond({ error: failure("invalid-challenge") });
  if (request.challenge.origin !== origin) return respond({ error: failure("origin-mismatch") });
  if (byTab.has(tabId)) return respond({ error: failure("busy") });
  const sid = newSid();
  const session = {
    sid, tabId, origin, lang, respond, challenge: request.challenge,
    windowId: null, windowPort: null, agentCalls: new Set(), done: false, timer: null, prefetch: null,
    waitCall: null, waitForToken: false,
  };
  sessions.set(sid, session);
  byTab.set(tabId, sid);
  session.timer = setTimeout(() => finish(session, { error: failure("timeout") }), timeoutMs);
  const hi = await hello();
  if (!hi.ok) return finish(session, { error: hi.error });
  if (session.done) return undefined;
  // The agent asks for the PIN itself when configured so (capability `pin-dialog-agent`).
  session.pinDialog = hi.agent.capabilities.includes("pin-dialog-agent") ? "agent" : "window";
  // The window may wait for reader and card events instead of polling (6.5.5).
  session.waitForToken = hi.agent.capabilities.includes("wait-for-token");
  // Scan the tokens while the window opens: its first `list` gets this answer.
  session.prefetch = callAgent("list-certificates", {});
  session.agentCalls.add(session.prefetch.id);
  try {
    const win = await chrome.windows.create({
      url: chrome.runtime.getURL("confirm.html?session=" + sid),
      type: "popup",
      width: 480,
      height: 660,
      focused: true,
    });
    session.windowId = win.id;
    if (session.done) chrome.windows.remove(win.id).catch(() => {});
  } catch (e) {
    finish(session, { error: failure("internal") });
  }
  return undefined;
}

/** The window's port: init, list, sign, cancel (see confirm.js). */
function attachWindow(port) {
  const sid = port.name.slice("confirm:".length);
  const session = sessions.get(sid);
  const senderUrl = port.sender && port.sender.url;
  if (!session || session.windowPort || !senderUrl || !senderUrl.startsWith(chrome.runtime.getURL("confirm.html"))) {
    port.disconnect();
    return;
  }
  session.windowPort = port;
  const send = (msg) => {
    try {
      port.postMessage(msg);
    } catch (e) {
      /* window closed */
    }
  };
  send({
    type: "init",
    origin: session.origin,
    purpose: session.challenge.purpose,
    account: session.challenge.account,
    expiresAt: session.challenge.expiresAt,
    pinDialog: session.pinDialog,
    waitForToken: session.waitForToken,
  });
  port.onDisconnect.addListener(() => {
    session.windowPort = null;
    finish(session, { error: failure("cancelled") });
  });
  port.onMessage.addListener(async (msg) => {
    if (session.done || !msg || typeof msg.type !== "string") return;
    if (msg.type === "cancel") return finish(session, { error: failure("cancelled") });
    if (msg.type === "list") {
      const call = session.prefetch || callAgent("list-certificates", {});
      session.prefetch = null;
      session.agentCalls.add(call.id);
      const reply = await call.reply;
      session.agentCalls.delete(call.id);
      if (session.done) return undefined;
      if (reply.ok) return send({ type: "list-result", ok: true, result: reply.result });
      const error = { ...fromAgent(reply.error), retriable: !!(reply.error && reply.error.retriable) };
      // `no-modules` carries the hints about known cards whose driver is missing.
      if (reply.error && reply.error.details && typeof reply.error.details === "object") error.details = reply.error.details;
      return send({ type: "list-result", ok: false, error });
    }
    if (msg.type === "wait") {
      // Wait for a reader or card change (only when the agent can; one wait at a time). `seq`
      // is echoed so the window can tell the answer to its current wait from a stopped one.
      const seq = Number.isInteger(msg.seq) ? msg.seq : 0;
      if (!session.waitForToken) return send({ type: "wait-result", seq, ok: false, error: failure("agent-too-old") });
      if (session.waitCall) return undefined;
      const params = {
        timeoutMs: Number.isInteger(msg.timeoutMs) && msg.timeoutMs >= 0 && msg.timeoutMs <= WAIT_MAX_MS ? msg.timeoutMs : WAIT_DEFAULT_MS,
      };
      if (typeof msg.since === "string" && msg.since.length > 0 && msg.since.length <= 64) params.since = msg.since;
      const call = callAgent("wait-for-token", params);
      session.waitCall = call;
      session.agentCalls.add(call.id);
      const reply = await call.reply;
      session.agentCalls.delete(call.id);
      if (session.waitCall === call) session.waitCall = null;
      if (session.done) return undefined;
      if (reply.ok) return send({ type: "wait-result", seq, ok: true, result: reply.result });
      return send({ type: "wait-result", seq, ok: false, error: fromAgent(reply.error) });
    }
    if (msg.type === "stop-wait") {
      if (session.waitCall) {
        cancelAgent(session.waitCall.id);
        session.waitCall = null;
      }
      return undefined;
    }
    if (msg.type === "sign" && typeof msg.certificateId === "string") {
      const params = { challenge: session.challenge, origin: session.origin, certificateId: msg.certificateId, lang: session.lang };
      if (typeof msg.pin === "string") params.pin = msg.pin;
      send({ type: "busy", busy: true });
      const call = callAgent("sign", params);
      delete params.pin;
      session.agentCalls.add(call.id);
      const reply = await call.reply;
      session.agentCalls.delete(call.id);
      if (session.done) return undefined;
      send({ type: "busy", busy: false });
      if (reply.ok) {
        return finish(session, { envelope: reply.result.envelope, certificateId: reply.result.certificateId });
      }
      const error = reply.error || {};
      if (error.retriable) {
        const out = { ...fromAgent(error), retriable: true };
        if (error.details) out.details = error.details;
        return send({ type: "sign-result", ok: false, error: out });
      }
      return finish(session, { error: fromAgent(error) });
    }
    return undefined;
  });
}

chrome.runtime.onConnect.addListener((port) => {
  if (typeof port.name === "string" && port.name.startsWith("confirm:")) attachWindow(port);
  else port.disconnect();
});

// ---------------------------------------------------------------- page requests (5.2)

const REQUEST_ID = /^.{1,64}$/su;

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  const tabId = sender && sender.tab ? sender.tab.id : null;
  if (message && message.tokenconfirmPageGone === true) {
    const sid = byTab.get(tabId);
    if (sid && sessions.has(sid)) finish(sessions.get(sid), { error: failure("cancelled") });
    return false;
  }
  const request = message && message.relay;
  if (!request || typeof request !== "object") return false;
  const base = { tokenconfirm: 1, type: "response", requestId: request.requestId, command: request.command };
  const respond = (body) => sendResponse({ ...base, ...body });
  if (typeof request.requestId !== "string" || !REQUEST_ID.test(request.requestId)) {
    respond({ error: failure("invalid-request") });
    return false;
  }
  const origin = senderOrigin(sender);
  if (!origin) {
    respond({ error: failure("origin-not-allowed") });
    return false;
  }
  if (request.command === "status") {
    hello().then((hi) => {
      respond({
        extension: { version: VERSION },
        agent: hi.ok ? { version: hi.agent.version, protocol: hi.agent.protocol } : null,
      });
    });
    return true;
  }
  if (request.command === "confirm") {
    confirm(request, origin, tabId, respond);
    return true;
  }
  respond({ error: failure("invalid-request") });
  return false;
});

chrome.tabs.onRemoved.addListener((tabId) => {
  const sid = byTab.get(tabId);
  if (sid && sessions.has(sid)) finish(sessions.get(sid), { error: failure("cancelled") });
});
