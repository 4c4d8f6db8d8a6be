/* "Your changes": show each <time data-local-time> in the browser's time zone and the page's
   language. Without JavaScript (or Intl) the UTC text the server wrote stays. */
(function () {
  "use strict";
  var format;
  try {
    format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      timeZoneName: "short"
    });
  } catch (e) {
    return;
  }
  var times = document.querySelectorAll("time[data-local-time]");
  for (var i = 0; i < times.length; i += 1) {
    var moment = new Date(times[i].getAttribute("datetime"));
    if (!isNaN(moment.getTime())) {
      times[i].textContent = format.format(moment);
    }
  }
})();
