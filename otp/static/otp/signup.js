// Signup page: send a code, verify it, then create the account with the verification token.
// Shared helpers (posting, waits in words, countdowns) are in codeflow.js, loaded first.
// Served as a static file so the page runs under a Content-Security-Policy of script-src 'self'.
"use strict";

(function () {
  const flow = window.CodeFlow;
  const page = document.getElementById("signup");
  const sendForm = document.getElementById("send-form");
  const verifyForm = document.getElementById("verify-form");
  const organisation = document.getElementById("organisation");
  const recipient = document.getElementById("recipient");
  const codeInput = document.getElementById("code");
  const sendButton = document.getElementById("send-button");
  const resendButton = document.getElementById("resend-button");
  const changeButton = document.getElementById("change-button");
  const cooldown = document.getElementById("cooldown");
  const status = document.getElementById("status");
  const next = document.getElementById("next");
  const defaultCooldown = parseInt(page.dataset.cooldown, 10) || 60;
  const codeLifetime = (parseInt(page.dataset.ttl, 10) || 600) * 1000;
  const maxAttempts = parseInt(page.dataset.maxAttempts, 10) || 5;
  // When this page last had a code sent to each contact: such a code stays usable for its
  // lifetime, also after "Change address", and a new one cannot be asked for during the cooldown.
  const sentAt = new Map();
  let guesses = 0;
  let busy = false;

  function show(text, ok) {
    if (status.stopCountdown) status.stopCountdown();
    status.textContent = text;
    status.className = ok ? "ok" : "error";
    status.hidden = !text;
  }

  function showWait(prefix, seconds) {
    show(prefix, false);
    flow.countdown(status, seconds || 60, (left) => prefix + " Try again in " + flow.duration(left) + ".", () => show("", true));
  }

  function keyOf(payload) { return JSON.stringify(payload); }

  function cooldownLeft(key) {
    const at = sentAt.get(key);
    return at === undefined ? 0 : Math.ceil((at + defaultCooldown * 1000 - Date.now()) / 1000);
  }

  function hasUsableCode(key) {
    const at = sentAt.get(key);
    return at !== undefined && Date.now() - at < codeLifetime;
  }

  function startCooldown(seconds) {
    resendButton.disabled = true;
    flow.countdown(cooldown, seconds, flow.waitText, () => { cooldown.textContent = ""; resendButton.disabled = false; });
  }

  function openCodeForm() {
    verifyForm.hidden = false;
    sendButton.hidden = true;
    organisation.readOnly = true;
    codeInput.value = "";
    codeInput.focus();
  }

  function closeCodeForm() {
    if (cooldown.stopCountdown) cooldown.stopCountdown();
    cooldown.textContent = "";
    resendButton.disabled = false;
    verifyForm.hidden = true;
    sendButton.hidden = false;
    organisation.readOnly = false;
    recipient.readOnly = false;
  }

  // The code sent earlier to this contact still works: back to the code field, no new request.
  function reopenForEarlierCode(key, prefix) {
    const address = recipient.value.trim();
    const minutes = Math.round(codeLifetime / 60000);
    const earlier = hasUsableCode(key)
      ? "The code already sent to " + address + " still works: enter it below."
      : "If a code was sent to " + address + " in the last " + minutes + " minutes, it still works: enter it below.";
    show(prefix + earlier, true);
    openCodeForm();
    const left = cooldownLeft(key);
    if (left > 0) startCooldown(left);
  }

  function checkFields() {
    if (!organisation.value.trim()) { show("Enter your organisation's name.", false); organisation.focus(); return false; }
    if (!recipient.value.trim()) { show("Enter your email address or phone number.", false); recipient.focus(); return false; }
    return true;
  }

  async function sendCode(fromResend) {
    if (busy || !checkFields()) return;
    const payload = flow.contact(recipient.value);
    const key = keyOf(payload);
    if (!fromResend && cooldownLeft(key) > 0) { reopenForEarlierCode(key, ""); return; }
    busy = true;
    show("Sending…", true);
    try {
      const answer = await flow.post(page.dataset.sendUrl, { ...payload, purpose: "signup" });
      if (answer.status === 202) {
        sentAt.set(key, Date.now());
        guesses = 0;
        show(flow.sentText(payload, recipient.value.trim()), true);
        openCodeForm();
        startCooldown(defaultCooldown);
      } else if (answer.status === 429) {
        // No new code now, but one sent earlier (by this page or before a reload) still works.
        reopenForEarlierCode(key, "No new code yet. ");
        startCooldown(answer.retryAfter || 60);
      } else {
        show(flow.describe(answer.status, answer.body), false);
      }
    } catch (e) {
      show("The service could not be reached. Try again.", false);
    } finally {
      busy = false;
    }
  }

  function showNextStep(account) {
    if (page.dataset.successUrl) { window.location.assign(page.dataset.successUrl); return; }
    document.getElementById("next-tenant").textContent = account.tenant;
    document.getElementById("next-command").textContent = "python manage.py create_api_key " + account.tenant;
    next.hidden = false;
  }

  function offerSignIn(detail) {
    show(detail, false);
    // The sign-in page fills in the address from here (never from the URL, which logs keep).
    try { window.sessionStorage.setItem("otp-contact", recipient.value.trim()); } catch (e) { /* private mode */ }
    const link = document.createElement("a");
    link.href = page.dataset.loginUrl;
    link.textContent = "Sign in with a code";
    status.append(" ", link);
  }

  async function verifyAndSignUp() {
    if (busy) return;
    const code = codeInput.value.trim();
    if (!/^[0-9]{6,10}$/.test(code)) { show("Enter the digits you received.", false); codeInput.focus(); return; }
    busy = true;
    try {
      const payload = flow.contact(recipient.value);
      const verified = await flow.post(page.dataset.verifyUrl, { ...payload, purpose: "signup", code });
      if (verified.status === 429) { showWait("Too many wrong codes.", verified.retryAfter); return; }
      if (verified.status === 400 && verified.body.verified === false) {
        guesses += 1;
        show(flow.wrongCodeText(verified.body.detail, guesses, maxAttempts), false);
        return;
      }
      if (verified.status !== 200) { show(flow.describe(verified.status, verified.body), false); return; }
      const account = await flow.post(page.dataset.signupUrl, {
        ...payload,
        organisation_name: organisation.value.trim(),
        verification_token: verified.body.verification_token,
      });
      closeCodeForm();
      sendButton.hidden = true;
      organisation.readOnly = true;
      recipient.readOnly = true;
      if (account.status === 201) {
        show("Your account for " + account.body.organisation_name + " is ready. Welcome!", true);
        showNextStep(account.body);
      } else if (account.status === 409) {
        offerSignIn(account.body.detail);
      } else {
        show(flow.describe(account.status, account.body), false);
      }
    } catch (e) {
      show("The service could not be reached. Try again.", false);
    } finally {
      busy = false;
    }
  }

  sendForm.addEventListener("submit", (event) => { event.preventDefault(); sendCode(false); });
  resendButton.addEventListener("click", () => sendCode(true));
  verifyForm.addEventListener("submit", (event) => { event.preventDefault(); verifyAndSignUp(); });
  changeButton.addEventListener("click", () => {
    closeCodeForm();
    show("", true);
    recipient.focus();
    recipient.select();
  });
  // A different address needs a new code: typing in the address closes the code form.
  recipient.addEventListener("input", () => { if (!verifyForm.hidden) closeCodeForm(); });
})();
