// The contest paper: a countdown of the server's deadline (the server decides; at zero the
// page reloads and shows the closed paper) and a count of the times the page was left.
// quiz-answer.js swaps each next question into <main> in place, so both look the page's
// elements up again each time rather than holding on to the first question's.
(function () {
  "use strict";
  var shown = null;
  var ends = 0;
  var tick = function () {
    var clock = document.getElementById("time-left");
    if (clock) {
      if (clock !== shown) {
        // A new page came in: its own count of seconds is the server's latest word.
        shown = clock;
        ends = Date.now() + Number(clock.getAttribute("data-seconds")) * 1000;
      }
      var left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      clock.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left <= 0) {
        window.location.reload();
        return;
      }
    }
    window.setTimeout(tick, 1000);
  };
  tick();
  if (navigator.sendBeacon) {
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState !== "hidden") return;
      var paper = document.querySelector(".contest-paper");
      if (!paper) return;
      var token = document.getElementById("csrf_token");
      var data = new FormData();
      data.append("paper", paper.getAttribute("data-paper"));
      if (token) data.append("csrf_token", token.value);
      navigator.sendBeacon(paper.getAttribute("data-away"), data);
    });
  }
})();
