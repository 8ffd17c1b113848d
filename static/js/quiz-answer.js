/* Progressive enhancement: answer a question without reloading the page.
 *
 * The answer is posted with fetch and the server replies with the next question
 * itself, so a question costs one request instead of a POST and a redirected GET.
 * The new page's <main> replaces the old one. Without JavaScript, or when anything
 * here fails, the form posts the ordinary way (Post/Redirect/Get).
 */
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !window.fetch || !window.DOMParser) return;

  function encode(form) {
    var pairs = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      pairs.push(encodeURIComponent(el.name) + "=" + encodeURIComponent(el.value));
    });
    return pairs.join("&");
  }

  function pathOf(url) {
    var a = document.createElement("a");
    a.href = url;
    return a.pathname;
  }

  function show(html, url) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var next = doc.getElementById("main");
    if (!next) throw new Error("no <main> in the reply");
    document.title = doc.title;
    main.innerHTML = next.innerHTML;
    if (url && url !== window.location.href) window.history.replaceState(null, "", url);
    window.scrollTo(0, 0);
    // Move focus to what changed so that a screen reader announces it: a refusal
    // first, else the new question's progress line or the result's heading.
    var target = main.querySelector("[role=alert]") || main.querySelector(".progress, h1");
    if (target) {
      target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  main.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-answer-fetch")) return;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) {
      if (button.disabled) return; // a second tap while the first is on its way
      button.disabled = true;
    }
    // Pages that can be shown in place; any other reply (the campaign page after an
    // expired session, say) is loaded as a page of its own.
    var inPlace = (form.getAttribute("data-answer-fetch") || "").split(" ");
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Quiz-Answer-Fetch": "1"
      },
      body: encode(form)
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("text/html") !== 0) throw new Error("not a page");
      if (inPlace.indexOf(pathOf(response.url)) < 0) {
        window.location.assign(response.url);
        return null;
      }
      return response.text().then(function (html) { show(html, response.url); });
    }).catch(function () {
      form.submit(); // posting the same answer again is harmless
    });
  });
})();
