/* Helpdesk page: the ticket number goes into every link and reply as it is typed, and copy
   buttons appear. Without JavaScript the form reloads the page with the number instead. */
(function () {
  "use strict";

  var form = document.getElementById("reference-form");
  var field = document.getElementById("reference");
  var status = document.getElementById("reference-status");
  var messages = document.querySelector(".copy-messages");
  if (!form || !field || !status || !messages) {
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

  function fallbackCopy(control) {
    control.focus();
    control.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function setUpCopy(button) {
    var control = document.getElementById(button.getAttribute("data-copy-target"));
    var report = button.parentNode.querySelector(".copy-status");
    if (!control || !report) {
      return;
    }
    function done(ok) {
      report.textContent = messages.getAttribute(ok ? "data-copied" : "data-failed");
      if (!ok) {
        control.focus();
        control.select();
      }
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      report.textContent = "";
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(control.value).then(
          function () { done(true); },
          function () { done(fallbackCopy(control)); }
        );
      } else {
        done(fallbackCopy(control));
      }
    });
  }

  field.addEventListener("input", update);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    update();
  });
  document.querySelectorAll(".copy-button").forEach(setUpCopy);
  update();
})();
