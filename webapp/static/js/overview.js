/* "Copy for helpdesk": copies the summary; without JavaScript the text stays selectable. */
(function () {
  "use strict";

  function fallbackCopy(area) {
    area.focus();
    area.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function setUp(button) {
    var area = document.getElementById(button.getAttribute("data-copy-target"));
    var status = button.parentNode.querySelector(".copy-status");
    if (!area || !status) {
      return;
    }
    function report(ok) {
      status.textContent = button.getAttribute(ok ? "data-copied" : "data-failed");
      if (!ok) {
        area.focus();
        area.select();
      }
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(area.value).then(
          function () { report(true); },
          function () { report(fallbackCopy(area)); }
        );
      } else {
        report(fallbackCopy(area));
      }
    });
    area.addEventListener("focus", function () { area.select(); });
  }

  document.querySelectorAll("[data-copy-target]").forEach(setUp);
})();
