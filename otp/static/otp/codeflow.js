// What the signup and sign-in pages share: posting JSON, waits in words, live countdowns,
// and the texts that depend on whether the contact is an email address or a phone number.
// Served as a static file so the pages run under a Content-Security-Policy of script-src 'self'.
"use strict";

window.CodeFlow = (function () {
  const NBSP = "\u00a0"; // keeps a number and its unit on one line

  function contact(value) {
    const text = value.trim();
    // A number typed without + is still a phone number attempt: the API answers with a hint.
    if (text.startsWith("+") || /^[0-9 ().-]+$/.test(text)) return { phone: text };
    return { email: text };
  }

  function isPhone(payload) {
    return Object.prototype.hasOwnProperty.call(payload, "phone");
  }

  // 56 -> "56 seconds", 420 -> "7 minutes", 61 -> "2 minutes": whole minutes once past a minute and a half.
  function duration(seconds) {
    const s = Math.max(1, Math.ceil(seconds));
    if (s === 1) return "1" + NBSP + "second";
    if (s <= 90) return s + NBSP + "seconds";
    return Math.ceil(s / 60) + NBSP + "minutes";
  }

  function waitText(seconds) {
    return seconds ? "You can ask for a new code in " + duration(seconds) + "." : "You can ask for a new code in a few minutes.";
  }

  function sentText(payload, address) {
    if (isPhone(payload)) {
      return "If " + address + " can receive text messages, a code is on its way by SMS. It can take a minute.";
    }
    return "If " + address + " can receive email, a code is on its way. It can take a minute; check your spam folder too.";
  }

  // Every error message in words, without field names.
  function describe(statusCode, body) {
    if (statusCode === 429) return "Too many requests.";
    if (body.detail) return body.detail;
    const messages = [];
    Object.values(body).forEach((value) => messages.push(...[].concat(value)));
    return messages.join("\n") || "Something went wrong. Try again.";
  }

  async function post(url, payload, headers) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json", ...(headers || {}) },
      credentials: headers ? "same-origin" : "omit",
      body: JSON.stringify(payload),
    });
    let body = {};
    try { body = await response.json(); } catch (e) { body = { detail: "Unexpected answer (" + response.status + ")." }; }
    const retryAfter = parseInt(response.headers.get("Retry-After") || "", 10);
    const wait = Number.isNaN(retryAfter) ? (body.retry_after || null) : retryAfter;
    return { status: response.status, body, retryAfter: wait };
  }

  // Shows render(secondsLeft) in `element` every second until zero, then calls done().
  // Returns a stop function; starting a new countdown on the same element stops the old one.
  function countdown(element, seconds, render, done) {
    if (element.stopCountdown) element.stopCountdown();
    const endsAt = Date.now() + seconds * 1000;
    let timer = null;
    const stop = () => { clearInterval(timer); element.stopCountdown = null; };
    const tick = () => {
      const left = Math.ceil((endsAt - Date.now()) / 1000);
      if (left <= 0) { stop(); if (done) done(); return; }
      element.textContent = render(left);
    };
    tick();
    if (Date.now() < endsAt) { timer = setInterval(tick, 1000); element.stopCountdown = stop; }
    return stop;
  }

  // After a wrong code: the page counts its own guesses since the last send (the API says only
  // "invalid or has expired", so that wrong, expired, used and unknown codes look alike).
  function wrongCodeText(detail, guesses, maxAttempts) {
    const left = maxAttempts - guesses;
    if (left <= 0) return detail + " This code no longer works after " + maxAttempts + " wrong tries: ask for a new one.";
    const tries = left === 1 ? "1 more try" : left + " more tries";
    return detail + " You have at most " + tries + " with this code, then ask for a new one.";
  }

  return { contact, isPhone, duration, waitText, sentText, describe, post, countdown, wrongCodeText };
})();
