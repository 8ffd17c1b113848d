/* Reload the export progress page every few seconds until the job has finished. */
(function () {
  "use strict";
  var el = document.querySelector("[data-refresh-seconds]");
  if (!el) { return; }
  var seconds = parseInt(el.getAttribute("data-refresh-seconds"), 10) || 2;
  window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
})();
