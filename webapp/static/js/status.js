/* Follow-through: while the server says it is still checking, poll the status JSON and update
   the page; when the checks end, reload it so the final buttons appear. Without this script the
   "Check again" link does the same by hand. */
(function () {
  "use strict";
  var section = document.getElementById("op-status");
  if (!section || section.getAttribute("data-following") !== "true" || !window.fetch) {
    return;
  }
  var url = section.getAttribute("data-status-url");
  var headline = document.getElementById("status-headline");
  var next = document.getElementById("status-next");
  var served = document.getElementById("status-served");
  var progress = document.getElementById("status-progress");
  var outcome = section.getAttribute("data-outcome");
  var INTERVAL = 3000;

  function showSides(sides) {
    sides.forEach(function (side) {
      var item = section.querySelector('li[data-service="' + side.service + '"] span');
      if (item) {
        item.textContent = side.label;
        item.setAttribute("data-state", side.state);
      }
    });
  }

  function showSteps(steps) {
    while (next.firstChild) {
      next.removeChild(next.firstChild);
    }
    steps.forEach(function (step) {
      var paragraph = document.createElement("p");
      paragraph.textContent = step;
      next.appendChild(paragraph);
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (data) {
        if (headline.textContent !== data.headline) {
          headline.textContent = data.headline;
        }
        showSides(data.sides);
        if (served) {
          served.textContent = data.served || "";
          served.hidden = !data.served;
        }
        showSteps(data.next_steps);
        if (progress) {
          progress.value = Math.min(data.elapsed, data.limit);
        }
        if (!data.following || data.outcome !== outcome) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, INTERVAL);
      })
      .catch(function () {
        window.setTimeout(poll, INTERVAL * 2);
      });
  }

  window.setTimeout(poll, INTERVAL);
})();
