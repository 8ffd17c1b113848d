/* Progressive enhancement: free-text address -> cascading province/city/district selects. */
(function () {
  "use strict";
  var LEVELS = [
    ["province_code", "省/直辖市/自治区"],
    ["city_code", "市"],
    ["district_code", "区/县"]
  ];

  function option(select, value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
  }

  function fill(select, items) {
    select.length = 0;
    option(select, "", "请选择");
    (items || []).forEach(function (it) { option(select, it[0], it[1]); });
    select.disabled = !items || !items.length;
    // A level with no entries (仙桃, 东莞: no districts) is hidden, not required.
    select.parentNode.hidden = select.disabled && select.name === "district_code";
  }

  function enhance(form, data) {
    var text = form.elements.namedItem("address");
    if (!text || text.tagName !== "INPUT") return;
    // Codes sent back by the server after a refused submission, to select them again.
    var initial = LEVELS.map(function (lv) {
      var el = form.elements.namedItem(lv[0]);
      return (el && el.value) || "";
    });
    var wrap = document.createElement("div");
    wrap.className = "region-select";
    var selects = LEVELS.map(function (lv) {
      var old = form.elements.namedItem(lv[0]);
      if (old && old.parentNode && old.tagName !== "SELECT") old.parentNode.removeChild(old);
      var label = document.createElement("label");
      var select = old && old.tagName === "SELECT" ? old : document.createElement("select");
      select.name = lv[0];
      select.id = select.id || "region-" + lv[0];
      label.htmlFor = select.id;
      label.textContent = lv[1];
      var field = document.createElement("span");
      field.className = "region-field";
      field.appendChild(label);
      field.appendChild(select);
      wrap.appendChild(field);
      return select;
    });
    selects[0].required = selects[1].required = text.required;
    var textLabel = text.id && form.querySelector('label[for="' + text.id + '"]');
    if (textLabel) textLabel.hidden = true;
    text.parentNode.insertBefore(wrap, text);
    text.type = "hidden";
    text.required = false;
    // The selects give the district; the street and number go in the detail field.
    var detail = form.querySelector('[data-region="detail"]');
    if (detail) {
      detail.hidden = false;
      var detailInput = detail.querySelector("input");
      if (detailInput) detailInput.required = selects[0].required;
    }

    var level = [data.p, [], []];
    function pick(i) {
      var s = selects[i];
      var item = level[i][s.selectedIndex - 1];
      if (i < 2) {
        level[i + 1] = item ? item[2] : [];
        fill(selects[i + 1], level[i + 1]);
        if (i === 0) fill(selects[2], []);
        if (i === 0 && level[1].length === 1) {
          selects[1].selectedIndex = 1; // municipalities: one city, preselect it
          pick(1);
          return;
        }
      }
      // Keep the text field in sync so the server stores the names as well as codes.
      var names = [];
      selects.forEach(function (sel) {
        var n = sel.selectedIndex > 0 ? sel.options[sel.selectedIndex].text : "";
        if (n && names[names.length - 1] !== n) names.push(n);
      });
      text.value = names.join("");
    }
    selects.forEach(function (s, i) {
      s.addEventListener("change", function () { pick(i); });
    });
    fill(selects[0], data.p);
    fill(selects[1], []);
    fill(selects[2], []);
    initial.forEach(function (code, i) {
      var s = selects[i];
      for (var k = 1; code && k < s.options.length; k++) {
        if (s.options[k].value === code) {
          s.selectedIndex = k;
          pick(i);
          break;
        }
      }
    });
  }

  function init() {
    // Any form with both an `address` and a `province_code` field is enhanced.
    var forms = Array.prototype.filter.call(document.forms, function (f) {
      return f.elements.namedItem("address") && f.elements.namedItem("province_code");
    });
    if (!forms.length || !window.fetch) return;
    var url = forms[0].getAttribute("data-regions-url") || "/static/regions.json";
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) { forms.forEach(function (f) { enhance(f, data); }); })
      .catch(function () { /* keep the free-text field */ });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
