// Invisible bot check (ALTCHA proof of work): fetch a signed challenge, let the vendored
// worker search for its counter in the background while the form is filled, and put the
// payload in the hidden `altcha` field. Nothing to see or hear. A submit before the work
// is done waits for it. Without this script (or Web Crypto) the field stays empty and
// the server applies its stricter no-JavaScript limit instead (README, "Bot challenge").
(function () {
  "use strict";
  var form = document.getElementById("register-form");
  if (!form || !form.getAttribute("data-altcha-url") || !window.Worker || !window.fetch) return;
  var field = form.querySelector('input[name="altcha"]');
  var status = document.getElementById("bot-check-status");
  var pending = null; // the submitter waiting for the work, if any
  var working = false;
  var worker = null;

  function say(text) {
    if (status) status.textContent = text;
  }

  function solve() {
    working = true;
    field.value = "";
    fetch(form.getAttribute("data-altcha-url"), { credentials: "same-origin" })
      .then(function (reply) {
        if (!reply.ok) throw new Error("challenge " + reply.status);
        return reply.json();
      })
      .then(function (challenge) {
        if (worker) worker.terminate();
        worker = new Worker(form.getAttribute("data-altcha-worker"));
        worker.onmessage = function (message) {
          var solution = message.data;
          working = false;
          if (!solution || solution.error || typeof solution.counter !== "number") {
            say("");
            return release();
          }
          field.value = btoa(JSON.stringify({ challenge: challenge, solution: solution }));
          say("");
          release();
        };
        worker.postMessage({ type: "work", challenge: challenge, counterStart: 0, counterStep: 1, timeout: 90000 });
      })
      .catch(function () {
        working = false;
        release();
      });
  }

  function release() {
    if (!pending) return;
    var submitter = pending;
    pending = null;
    if (form.requestSubmit) form.requestSubmit(submitter === form ? undefined : submitter);
    else form.submit();
  }

  // A form with an empty required field goes at once: the server answers with the fields'
  // messages before it looks at the proof of work, so nothing is spent.
  function incomplete() {
    var required = form.querySelectorAll("[required]");
    for (var i = 0; i < required.length; i++) {
      if (!required[i].disabled && !String(required[i].value || "").trim()) return true;
    }
    return false;
  }

  form.addEventListener("submit", function (event) {
    var submitter = event.submitter || form;
    if (submitter.name === "send_code" || field.value || !working || incomplete()) return;
    event.preventDefault();
    pending = submitter;
    say("正在进行人机验证,请稍候…");
  });

  solve();
  // A challenge lasts 10 minutes: a fresh one before the old expires.
  setInterval(function () { if (!pending) solve(); }, 9 * 60 * 1000);
})();
