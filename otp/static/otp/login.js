// Sign-in page: send a code (purpose "login"), verify it, then post the verification token to
// /login/, which starts a session. Helpers are in codeflow.js, loaded first.
"use strict";

(function () {
  const flow = window.CodeFlow;
  const page = document.getElementById("login");
  const sendForm = document.getElementById("send-form");
  const verifyForm = document.getElementById("verify-form");
  const recipient = document.getElementById("recipient");
  const codeInput = document.getElementById("code");
  const sendButton = document.getElementById("send-button");
  const resendButton = document.getElementById("resend-button");
  const cooldown = document.getElementById("cooldown");
  const status = document.getElementById("status");
  const cooldownSeconds = parseInt(page.dataset.cooldown, 10) || 60;
  const maxAttempts = parseInt(page.dataset.maxAttempts, 10) || 5;
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

  function startCooldown(seconds) {
    resendButton.disabled = true;
    flow.countdown(cooldown, seconds, flow.waitText, () => { cooldown.textContent = ""; resendButton.disabled = false; });
  }

  function setCodeForm(open) {
    verifyForm.hidden = !open;
    sendButton.hidden = open;
    if (open) { codeInput.value = ""; codeInput.focus(); return; }
    if (cooldown.stopCountdown) cooldown.stopCountdown();
    cooldown.textContent = "";
    resendButton.disabled = false;
  }

  function cooldownLeft(key) {
    const at = sentAt.get(key);
    return at === undefined ? 0 : Math.ceil((at + cooldownSeconds * 1000 - Date.now()) / 1000);
  }

  async function sendCode(fromResend) {
    if (busy) return;
    if (!recipient.value.trim()) { show("Enter your email address or phone number.", false); recipient.focus(); return; }
    const payload = flow.contact(recipient.value);
    const key = JSON.stringify(payload);
    if (!fromResend && cooldownLeft(key) > 0) {
      show("The code already sent to " + recipient.value.trim() + " still works: enter it below.", true);
      setCodeForm(true);
      startCooldown(cooldownLeft(key));
      return;
    }
    busy = true;
    show("Sending…", true);
    try {
      const answer = await flow.post(page.dataset.sendUrl, { ...payload, purpose: "login" });
      if (answer.status === 202) {
        sentAt.set(key, Date.now());
        guesses = 0;
        show(flow.sentText(payload, recipient.value.trim()), true);
        setCodeForm(true);
        startCooldown(cooldownSeconds);
      } else if (answer.status === 429) {
        // No new code now, but one sent earlier (by this page or before a reload) still works.
        show("No new code yet. If a code was sent to " + recipient.value.trim() + " in the last few minutes, it still works: enter it below.", true);
        setCodeForm(true);
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

  async function verifyAndSignIn() {
    if (busy) return;
    const code = codeInput.value.trim();
    if (!/^[0-9]{6,10}$/.test(code)) { show("Enter the digits you received.", false); codeInput.focus(); return; }
    busy = true;
    try {
      const payload = flow.contact(recipient.value);
      const verified = await flow.post(page.dataset.verifyUrl, { ...payload, purpose: "login", code });
      if (verified.status === 429) { showWait("Too many wrong codes.", verified.retryAfter); return; }
      if (verified.status === 400 && verified.body.verified === false) {
        guesses += 1;
        show(flow.wrongCodeText(verified.body.detail, guesses, maxAttempts), false);
        return;
      }
      if (verified.status !== 200) { show(flow.describe(verified.status, verified.body), false); return; }
      const session = await flow.post(
        page.dataset.loginUrl,
        { ...payload, verification_token: verified.body.verification_token, next: page.dataset.next },
        { "X-CSRFToken": page.dataset.csrf },
      );
      setCodeForm(false);
      if (session.status === 200) {
        show("You are signed in as " + session.body.username + ".", true);
        window.location.assign(session.body.next);
      } else {
        show(flow.describe(session.status, session.body), false);
      }
    } catch (e) {
      show("The service could not be reached. Try again.", false);
    } finally {
      busy = false;
    }
  }

  try {
    const remembered = window.sessionStorage.getItem("otp-contact");
    if (remembered && !recipient.value) recipient.value = remembered;
  } catch (e) { /* private mode */ }
  sendForm.addEventListener("submit", (event) => { event.preventDefault(); sendCode(false); });
  resendButton.addEventListener("click", () => sendCode(true));
  verifyForm.addEventListener("submit", (event) => { event.preventDefault(); verifyAndSignIn(); });
  document.getElementById("change-button").addEventListener("click", () => {
    setCodeForm(false);
    show("", true);
    recipient.focus();
    recipient.select();
  });
  recipient.addEventListener("input", () => { if (!verifyForm.hidden) setCodeForm(false); });
})();
