// The contest paper: a countdown of the server's deadline (the server decides; at zero the
// page reloads and shows the closed paper) and a count of the times the page was left.
(function () {
  "use strict";
  var clock = document.getElementById("time-left");
  var paper = document.querySelector(".contest-paper");
  if (clock) {
    var ends = Date.now() + Number(clock.getAttribute("data-seconds")) * 1000;
    var tick = function () {
      var left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      clock.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left <= 0) {
        window.location.reload();
        return;
      }
      window.setTimeout(tick, 1000);
    };
    tick();
  }
  if (paper && navigator.sendBeacon) {
    var token = document.getElementById("csrf_token");
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState !== "hidden") return;
      var data = new FormData();
      data.append("paper", paper.getAttribute("data-paper"));
      if (token) data.append("csrf_token", token.value);
      navigator.sendBeacon(paper.getAttribute("data-away"), data);
    });
  }
})();
