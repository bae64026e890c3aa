// tokenconfirm content script: relays page ⇄ extension messages (docs/protocol.md 5.1).
// It neither interprets nor alters requests and never adds an origin: the background takes the
// origin from the browser's description of this frame.
"use strict";

(() => {
  if (window.top !== window) return;
  const post = (response) => window.postMessage(response, window.location.origin);
  const missing = (request) => ({
    tokenconfirm: 1,
    type: "response",
    requestId: request.requestId,
    command: request.command,
    error: {
      code: "extension-missing",
      message: {
        en: "The tokenconfirm browser extension is not installed or is disabled. Install it and reload the page.",
        ru: "Расширение браузера tokenconfirm не установлено или отключено. Установите его и обновите страницу.",
      },
    },
  });

  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.source !== window || !data || typeof data !== "object") return;
    if (data.tokenconfirm !== 1 || data.type !== "request") return;
    // Copy only JSON data: nothing the page passes can reach the extension as a live object.
    let request;
    try {
      request = JSON.parse(JSON.stringify(data));
    } catch (e) {
      return;
    }
    try {
      chrome.runtime.sendMessage({ relay: request }, (response) => {
        if (chrome.runtime.lastError || !response) {
          post(missing(request));
          return;
        }
        post(response);
      });
    } catch (e) {
      // The extension was reloaded or removed: this script is orphaned.
      post(missing(request));
    }
  });

  // Leaving the page cancels its pending confirmation (5.4 step 7).
  window.addEventListener("pagehide", () => {
    try {
      chrome.runtime.sendMessage({ tokenconfirmPageGone: true });
    } catch (e) {
      /* extension gone */
    }
  });
})();
