/* Helpdesk page: the ticket number goes into every link and reply as it is typed (copy.js
   copies them). Without JavaScript the form reloads the page with the number instead. */
(function () {
  "use strict";

  var form = document.getElementById("reference-form");
  var field = document.getElementById("reference");
  var status = document.getElementById("reference-status");
  if (!form || !field || !status) {
    return;
  }
  var pattern = new RegExp("^(?:" + form.getAttribute("data-pattern") + ")$");
  var parameter = form.getAttribute("data-parameter");
  var mark = form.getAttribute("data-link-mark");

  function linkFor(base, reference) {
    return reference ? base + "?" + parameter + "=" + encodeURIComponent(reference) : base;
  }

  function update() {
    var value = field.value.trim();
    var valid = pattern.test(value);
    var reference = valid ? value : "";
    status.textContent = value && !valid ? status.getAttribute("data-invalid") : "";
    field.setAttribute("aria-invalid", value && !valid ? "true" : "false");
    document.querySelectorAll(".link-field").forEach(function (input) {
      input.value = linkFor(input.getAttribute("data-base"), reference);
    });
    document.querySelectorAll(".open-link").forEach(function (anchor) {
      anchor.href = linkFor(anchor.getAttribute("data-base"), reference);
    });
    document.querySelectorAll(".reply-text").forEach(function (area) {
      var link = linkFor(area.getAttribute("data-base"), reference);
      area.value = area.getAttribute("data-template").split(mark).join(link);
    });
  }

  field.addEventListener("input", update);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    update();
  });
  update();
})();
