/* "Copy" buttons on every page: a button[data-copy-target] copies the text of the control it
   names and says how that went in its status element (the one its data-copy-status names,
   else the .copy-status beside it), whose data-copied and data-failed hold the sentences.
   Without JavaScript the buttons stay hidden and the text can be selected by hand. */
(function () {
  "use strict";

  function fallbackCopy(control) {
    control.focus();
    control.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function setUp(button) {
    var control = document.getElementById(button.getAttribute("data-copy-target"));
    var named = button.getAttribute("data-copy-status");
    var status = named
      ? document.getElementById(named)
      : button.parentNode.querySelector(".copy-status");
    if (!control || !status) {
      return;
    }
    function report(ok) {
      status.textContent = status.getAttribute(ok ? "data-copied" : "data-failed") || "";
      if (!ok) {
        control.focus();
        control.select();
      }
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = "";
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(control.value).then(
          function () { report(true); },
          function () { report(fallbackCopy(control)); }
        );
      } else {
        report(fallbackCopy(control));
      }
    });
    if (control.readOnly) {
      // Text that is only there to be copied is selected whole when it gets the focus.
      control.addEventListener("focus", function () { control.select(); });
    }
  }

  document.querySelectorAll("button[data-copy-target]").forEach(setUp);
})();
