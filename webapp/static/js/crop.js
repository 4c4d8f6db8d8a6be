/* Square crop with keyboard, pointer and touch, previewed as round avatars at the sizes where
   the photo appears. Without this script the server uses the centred square. */
(function () {
  "use strict";
  var input = document.getElementById("photo");
  var section = document.getElementById("crop");
  if (!input || !section || !window.URL || !URL.createObjectURL) {
    return;
  }
  var stage = document.getElementById("crop-stage");
  var image = document.getElementById("crop-image");
  var box = document.getElementById("crop-box");
  var unavailable = document.getElementById("crop-unavailable");
  var centreNote = document.getElementById("centre-note");
  var position = document.getElementById("crop-position");
  var fields = {
    x: document.getElementById("crop-x"),
    y: document.getElementById("crop-y"),
    size: document.getElementById("crop-size")
  };
  var previews = Array.prototype.slice.call(section.querySelectorAll("canvas.avatar"));
  var minSide = parseInt(section.getAttribute("data-min-side"), 10) || 96;
  var template = section.getAttribute("data-position-template") || "";
  var crop = null; /* {x, y, size} in pixels of the upright photo */
  var objectUrl = null;
  var drag = null;

  function clamp(value, low, high) {
    return Math.max(low, Math.min(high, value));
  }

  function natural() {
    return { w: image.naturalWidth, h: image.naturalHeight };
  }

  function fit(next) {
    var n = natural();
    var largest = Math.min(n.w, n.h);
    var size = Math.round(clamp(next.size, Math.min(minSide, largest), largest));
    return {
      size: size,
      x: Math.round(clamp(next.x, 0, n.w - size)),
      y: Math.round(clamp(next.y, 0, n.h - size))
    };
  }

  function centred() {
    var n = natural();
    var size = Math.min(n.w, n.h);
    return { size: size, x: Math.floor((n.w - size) / 2), y: Math.floor((n.h - size) / 2) };
  }

  function render() {
    if (!crop) {
      return;
    }
    var scale = image.clientWidth / image.naturalWidth;
    box.style.left = crop.x * scale + "px";
    box.style.top = crop.y * scale + "px";
    box.style.width = crop.size * scale + "px";
    box.style.height = crop.size * scale + "px";
    fields.x.value = String(crop.x);
    fields.y.value = String(crop.y);
    fields.size.value = String(crop.size);
    previews.forEach(function (canvas) {
      var context = canvas.getContext("2d");
      context.imageSmoothingQuality = "high";
      context.clearRect(0, 0, canvas.width, canvas.height);
      context.drawImage(image, crop.x, crop.y, crop.size, crop.size, 0, 0, canvas.width, canvas.height);
    });
    position.textContent = template
      .replace("{size}", crop.size)
      .replace("{x}", crop.x)
      .replace("{y}", crop.y);
  }

  function set(next) {
    crop = fit(next);
    render();
  }

  function clearCrop() {
    crop = null;
    fields.x.value = "";
    fields.y.value = "";
    fields.size.value = "";
  }

  function resize(factor) {
    if (!crop) {
      return;
    }
    var size = crop.size * factor;
    var centre = { x: crop.x + crop.size / 2, y: crop.y + crop.size / 2 };
    set({ size: size, x: centre.x - size / 2, y: centre.y - size / 2 });
  }

  input.addEventListener("change", function () {
    clearCrop();
    if (objectUrl) {
      URL.revokeObjectURL(objectUrl);
      objectUrl = null;
    }
    var file = input.files && input.files[0];
    if (!file) {
      section.hidden = true;
      centreNote.hidden = false;
      return;
    }
    objectUrl = URL.createObjectURL(file);
    image.src = objectUrl;
  });

  image.addEventListener("load", function () {
    section.hidden = false;
    stage.hidden = false;
    unavailable.hidden = true;
    centreNote.hidden = true;
    set(centred());
  });

  image.addEventListener("error", function () {
    /* e.g. HEIC, which most browsers cannot show: the server crops the centre. */
    clearCrop();
    section.hidden = false;
    stage.hidden = true;
    unavailable.hidden = false;
    centreNote.hidden = true;
  });

  box.addEventListener("keydown", function (event) {
    if (!crop) {
      return;
    }
    var n = natural();
    var step = Math.max(1, Math.round(Math.min(n.w, n.h) * (event.shiftKey ? 0.1 : 0.02)));
    var moves = {
      ArrowLeft: [-step, 0],
      ArrowRight: [step, 0],
      ArrowUp: [0, -step],
      ArrowDown: [0, step]
    };
    if (moves[event.key]) {
      set({ size: crop.size, x: crop.x + moves[event.key][0], y: crop.y + moves[event.key][1] });
    } else if (event.key === "+" || event.key === "=") {
      resize(1.05);
    } else if (event.key === "-" || event.key === "_") {
      resize(1 / 1.05);
    } else {
      return;
    }
    event.preventDefault();
  });

  section.addEventListener("click", function (event) {
    var action = event.target.getAttribute && event.target.getAttribute("data-crop");
    if (action === "larger") {
      resize(1.1);
    } else if (action === "smaller") {
      resize(1 / 1.1);
    } else if (action === "centre") {
      set(centred());
    }
  });

  box.addEventListener("pointerdown", function (event) {
    if (!crop) {
      return;
    }
    drag = { id: event.pointerId, startX: event.clientX, startY: event.clientY, from: crop };
    box.setPointerCapture(event.pointerId);
    box.focus();
    event.preventDefault();
  });

  box.addEventListener("pointermove", function (event) {
    if (!drag || drag.id !== event.pointerId) {
      return;
    }
    var scale = image.naturalWidth / image.clientWidth;
    set({
      size: drag.from.size,
      x: drag.from.x + (event.clientX - drag.startX) * scale,
      y: drag.from.y + (event.clientY - drag.startY) * scale
    });
  });

  function endDrag(event) {
    if (drag && drag.id === event.pointerId) {
      drag = null;
    }
  }
  box.addEventListener("pointerup", endDrag);
  box.addEventListener("pointercancel", endDrag);
  window.addEventListener("resize", render);
})();
