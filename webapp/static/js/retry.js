/* "Microsoft is busy" page: ask again by itself after the wait Microsoft named, with a button to
   stop that (WCAG 2.2.1: a timed refresh the user can turn off). Without JavaScript the page
   offers only the "Try again now" button. */
(function () {
  "use strict";
  var note = document.getElementById("auto-retry");
  var stop = document.getElementById("auto-retry-stop");
  var again = document.getElementById("try-again");
  if (!note || !stop || !again) {
    return;
  }
  var seconds = parseInt(note.getAttribute("data-seconds"), 10);
  if (!(seconds > 0)) {
    return;
  }
  var timer = window.setTimeout(function () {
    window.location.assign(again.getAttribute("href"));
  }, seconds * 1000);
  note.hidden = false;
  stop.hidden = false;
  stop.addEventListener("click", function () {
    window.clearTimeout(timer);
    note.textContent = stop.getAttribute("data-stopped");
    stop.hidden = true;
    again.focus();
  });
})();
