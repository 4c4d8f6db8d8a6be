// Profile page: "copy" buttons for the helpdesk texts. Without JavaScript the buttons stay
// hidden and the text can be selected by hand (strict CSP: this file, no inline script).
(function () {
  "use strict";
  var status = document.getElementById("copy-status");

  function say(key) {
    if (status) {
      status.textContent = status.getAttribute(key) || "";
    }
  }

  function fallback(source) {
    source.focus();
    source.select();
    try {
      say(document.execCommand("copy") ? "data-copied" : "data-failed");
    } catch (error) {
      say("data-failed");
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) {
        return;
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.value).then(
          function () { say("data-copied"); },
          function () { fallback(source); }
        );
      } else {
        fallback(source);
      }
    });
  });
})();
