// Signup page: send a code, verify it, then create the account with the verification token.
// Served as a static file so the page runs under a Content-Security-Policy of script-src 'self'.
"use strict";

(function () {
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
  const defaultCooldown = parseInt(page.dataset.cooldown, 10) || 60;
  let countdownTimer = null;
  let busy = false;

  function show(text, ok) {
    status.textContent = text;
    status.className = ok ? "ok" : "error";
    status.hidden = !text;
  }

  function contact() {
    const value = recipient.value.trim();
    // A number typed without + is still a phone number attempt: the API answers with a hint.
    if (value.startsWith("+") || /^[0-9 ().-]+$/.test(value)) return { phone: value };
    return { email: value };
  }

  // Every error message in words, without field names.
  function describe(statusCode, body) {
    if (statusCode === 429) return "Too many requests. " + waitText(body.retry_after);
    if (body.detail) return body.detail;
    const messages = [];
    Object.values(body).forEach((value) => messages.push(...[].concat(value)));
    return messages.join("\n") || "Something went wrong. Try again.";
  }

  function waitText(seconds) {
    return "You can ask for a new code in " + (seconds || "a few") + " s.";
  }

  async function post(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      credentials: "omit",
      body: JSON.stringify(payload),
    });
    let body = {};
    try { body = await response.json(); } catch (e) { body = { detail: "Unexpected answer (" + response.status + ")." }; }
    const retryAfter = parseInt(response.headers.get("Retry-After") || "", 10);
    return { status: response.status, body, retryAfter: Number.isNaN(retryAfter) ? null : retryAfter };
  }

  function startCountdown(seconds) {
    clearInterval(countdownTimer);
    let left = seconds;
    const tick = () => {
      if (left <= 0) {
        clearInterval(countdownTimer);
        cooldown.textContent = "";
        resendButton.disabled = false;
        return;
      }
      cooldown.textContent = waitText(left);
      resendButton.disabled = true;
      left -= 1;
    };
    tick();
    countdownTimer = setInterval(tick, 1000);
  }

  function openCodeForm() {
    verifyForm.hidden = false;
    sendButton.hidden = true;
    organisation.readOnly = true;
    codeInput.value = "";
    codeInput.focus();
  }

  function closeCodeForm() {
    clearInterval(countdownTimer);
    cooldown.textContent = "";
    resendButton.disabled = false;
    verifyForm.hidden = true;
    sendButton.hidden = false;
    organisation.readOnly = false;
    recipient.readOnly = false;
  }

  async function sendCode() {
    if (busy) return;
    if (!organisation.value.trim()) { show("Enter your organisation's name.", false); organisation.focus(); return; }
    if (!recipient.value.trim()) { show("Enter your email address or phone number.", false); recipient.focus(); return; }
    busy = true;
    show("Sending…", true);
    try {
      const answer = await post(page.dataset.sendUrl, { ...contact(), purpose: "signup" });
      if (answer.status === 202) {
        show(answer.body.detail, true);
        openCodeForm();
        startCountdown(defaultCooldown);
      } else {
        show(describe(answer.status, answer.body), false);
        if (answer.status === 429 && !verifyForm.hidden) startCountdown(answer.retryAfter || answer.body.retry_after);
      }
    } catch (e) {
      show("The service could not be reached. Try again.", false);
    } finally {
      busy = false;
    }
  }

  async function verifyAndSignUp() {
    if (busy) return;
    const code = codeInput.value.trim();
    if (!/^[0-9]{6,10}$/.test(code)) { show("Enter the digits you received.", false); codeInput.focus(); return; }
    busy = true;
    try {
      const verified = await post(page.dataset.verifyUrl, { ...contact(), purpose: "signup", code });
      if (verified.status !== 200) { show(describe(verified.status, verified.body), false); return; }
      const account = await post(page.dataset.signupUrl, {
        ...contact(),
        organisation_name: organisation.value.trim(),
        verification_token: verified.body.verification_token,
      });
      closeCodeForm();
      sendButton.hidden = true;
      organisation.readOnly = true;
      recipient.readOnly = true;
      if (account.status === 201) {
        show("Your account for " + account.body.organisation_name + " is ready. Welcome!", true);
      } else {
        show(describe(account.status, account.body), false);
      }
    } catch (e) {
      show("The service could not be reached. Try again.", false);
    } finally {
      busy = false;
    }
  }

  sendForm.addEventListener("submit", (event) => { event.preventDefault(); sendCode(); });
  resendButton.addEventListener("click", () => sendCode());
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
