/* Sends the new photo with a progress bar and the saving steps (issue 17).

   When the browser can read the file, it sends a JPEG of the chosen square, at most
   data-send-side pixels wide, instead of the camera file (6-12 MB): on a slow phone link that is
   seconds instead of a minute. The server trusts none of it: it checks, decodes, crops and
   re-encodes what arrives exactly as it does a camera file. A file the browser cannot read
   (HEIC in most browsers) goes as it is. Without this script the form posts the file itself. */
(function () {
  "use strict";
  var form = document.getElementById("photo-form");
  var panel = document.getElementById("upload-progress");
  if (
    !form ||
    !panel ||
    !window.FormData ||
    !window.Promise ||
    !window.XMLHttpRequest ||
    !("upload" in new XMLHttpRequest())
  ) {
    return;
  }
  var input = document.getElementById("photo");
  var button = document.getElementById("save-photo");
  var image = document.getElementById("crop-image");
  var bar = document.getElementById("upload-bar");
  var announce = document.getElementById("upload-announce");
  var failed = document.getElementById("upload-failed");
  var retry = document.getElementById("upload-retry");
  var title = document.getElementById("upload-progress-title");
  var sendSide = parseInt(form.getAttribute("data-send-side"), 10) || 1296;
  var maxPixels = parseInt(form.getAttribute("data-max-pixels"), 10) || 0;
  var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10) || 0;
  var language = document.documentElement.lang || undefined;
  var QUALITY = 0.9;
  var POLL_INTERVAL = 1000;
  var MEGABYTE = 1024 * 1024; /* as the server counts its "20 MB" */
  /* Major brands of the HEIF stills the server takes (webapp/imaging/pipeline.py, _ISO_BRANDS). */
  var HEIF_BRANDS = ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"];
  var reduced = null; /* {blob, side} of the copy being sent, kept for "Try again" */
  var polling = null;

  /* -- the steps -------------------------------------------------------------------------- */

  function stepItem(name) {
    return panel.querySelector('li[data-step="' + name + '"]');
  }

  /* Show a step's state; `quiet` keeps screen readers from hearing every byte count. */
  function setStep(name, state, text, quiet) {
    var item = stepItem(name);
    if (!item) {
      return;
    }
    var label = text || panel.getAttribute("data-state-" + state) || state;
    var node = item.querySelector(".step-state");
    if (item.getAttribute("data-state") === state && node.textContent === label) {
      return;
    }
    var changed = item.getAttribute("data-state") !== state;
    item.setAttribute("data-state", state);
    node.textContent = label;
    if (changed && !quiet) {
      announce.textContent = item.querySelector(".step-name").textContent + " " + label;
    }
  }

  function megabytes(bytes, digits) {
    return (bytes / MEGABYTE).toLocaleString(language, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits
    });
  }

  function amount(sent, total) {
    /* A copy is often below 1 MB: two decimals so that the figure moves too. */
    var digits = total < MEGABYTE ? 2 : 1;
    return (panel.getAttribute("data-amount-template") || "")
      .replace("{sent}", megabytes(sent, digits))
      .replace("{total}", megabytes(total, digits));
  }

  /* -- a smaller copy --------------------------------------------------------------------- */

  function ascii(bytes, at, length) {
    return String.fromCharCode.apply(null, bytes.subarray(at, at + length));
  }

  function uint32(bytes, at) {
    return ((bytes[at] << 24) >>> 0) + (bytes[at + 1] << 16) + (bytes[at + 2] << 8) + bytes[at + 3];
  }

  /* Only a still picture of a type the server takes becomes a JPEG copy: an animation, an AVIF
     or a GIF goes as it is, and the server refuses it with its own message. */
  function stillPhoto(bytes) {
    if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
      return true;
    }
    if (bytes[0] === 0x89 && ascii(bytes, 1, 3) === "PNG") {
      /* An APNG has its acTL chunk before the first IDAT (PNG spec, APNG extension). */
      for (var at = 8; at + 8 <= bytes.length; at += 12 + uint32(bytes, at)) {
        var type = ascii(bytes, at + 4, 4);
        if (type === "acTL") {
          return false;
        }
        if (type === "IDAT") {
          return true;
        }
      }
      return false;
    }
    if (ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 4) === "WEBP") {
      /* VP8X flags byte: 0x02 is the animation flag (WebP container specification). */
      var chunk = ascii(bytes, 12, 4);
      return chunk === "VP8 " || chunk === "VP8L" || (chunk === "VP8X" && !(bytes[20] & 0x02));
    }
    return ascii(bytes, 4, 4) === "ftyp" && HEIF_BRANDS.indexOf(ascii(bytes, 8, 4)) !== -1;
  }

  function field(name) {
    return form.elements.namedItem(name);
  }

  /* The square chosen in crop.js (upright pixels), or the centred one the server would use. */
  function chosenSquare(width, height) {
    var x = parseInt(field("x").value, 10);
    var y = parseInt(field("y").value, 10);
    var size = parseInt(field("size").value, 10);
    if (isNaN(x) || isNaN(y) || isNaN(size)) {
      size = Math.min(width, height);
      x = Math.floor((width - size) / 2);
      y = Math.floor((height - size) / 2);
    }
    if (x < 0 || y < 0 || size < 1 || x + size > width || y + size > height) {
      return null;
    }
    return { x: x, y: y, size: size };
  }

  /* The picture upright, as {source, width, height, close}. The preview crop.js shows is this
     file already decoded and turned (the square was chosen on it, and the previews are drawn
     from it), so drawing from it costs no second decode; without a preview, the browser decodes
     the file itself with the camera's orientation applied. */
  function upright(file) {
    if (field("size").value !== "" && image.complete && image.naturalWidth) {
      return Promise.resolve({
        source: image,
        width: image.naturalWidth,
        height: image.naturalHeight,
        close: function () {}
      });
    }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      return {
        source: bitmap,
        width: bitmap.width,
        height: bitmap.height,
        close: function () {
          bitmap.close();
        }
      };
    });
  }

  /* Cut the square, scale it to at most sendSide, encode as JPEG. Resolves to null whenever
     the file should go as it is. */
  function reduce(file) {
    if (!window.createImageBitmap || !file.slice(0, 1).arrayBuffer) {
      return Promise.resolve(null);
    }
    return file
      .slice(0, 65536)
      .arrayBuffer()
      .then(function (head) {
        return stillPhoto(new Uint8Array(head)) ? upright(file) : null;
      })
      .then(function (picture) {
        if (!picture) {
          return null;
        }
        var square = chosenSquare(picture.width, picture.height);
        /* Over the pixel limit the server refuses the file, with or without a copy. */
        if (!square || (maxPixels && picture.width * picture.height > maxPixels)) {
          picture.close();
          return null;
        }
        var side = Math.min(square.size, sendSide);
        var canvas = document.createElement("canvas");
        canvas.width = side;
        canvas.height = side;
        var context = canvas.getContext("2d");
        /* Transparency on white, as the server does; JPEG has none. */
        context.fillStyle = "#fff";
        context.fillRect(0, 0, side, side);
        context.imageSmoothingQuality = "high";
        context.drawImage(
          picture.source,
          square.x,
          square.y,
          square.size,
          square.size,
          0,
          0,
          side,
          side
        );
        picture.close();
        return new Promise(function (resolve) {
          canvas.toBlob(resolve, "image/jpeg", QUALITY);
        }).then(function (blob) {
          /* A copy is only worth sending when it is smaller than the file. */
          return blob && blob.size < file.size ? { blob: blob, side: side } : null;
        });
      })
      .catch(function () {
        /* The browser cannot read it (e.g. HEIC): the server will. */
        return null;
      });
  }

  /* -- sending ---------------------------------------------------------------------------- */

  function showError(message) {
    var box = document.getElementById("upload-errors");
    if (!box) {
      box = document.createElement("div");
      box.id = "upload-errors";
      box.className = "notice notice-error";
      box.setAttribute("role", "alert");
      form.parentNode.insertBefore(box, form);
    }
    box.textContent = "";
    var paragraph = document.createElement("p");
    paragraph.textContent = message;
    box.appendChild(paragraph);
    input.focus();
  }

  /* Show what the server answered as the browser would have: the status page after the 303,
     or the upload page with its refusal (422), the limit page (429) ... at the answer's URL. */
  function showAnswer(html, url) {
    var moved = url && url !== window.location.href;
    if (moved) {
      window.history.pushState(null, "", url);
    }
    document.open();
    document.write(html);
    document.close();
    if (moved) {
      /* Back returns to the upload page's URL in this same document: load that page. */
      window.addEventListener("popstate", function () {
        window.location.reload();
      });
    }
  }

  function stopPolling() {
    window.clearTimeout(polling);
    polling = null;
  }

  function saving() {
    return window
      .fetch(panel.getAttribute("data-saving-url"), {
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      })
      .then(function (response) {
        return response.status === 200 ? response.json() : null;
      });
  }

  /* While the server works, show each service's own state as the status page names it. */
  function poll() {
    if (!window.fetch) {
      return;
    }
    polling = window.setTimeout(function () {
      saving()
        .then(function (data) {
          if (polling === null) {
            return;
          }
          if (data) {
            setStep("check", "done");
            data.sides.forEach(function (side) {
              setStep(side.service, side.state, side.label);
            });
          }
          poll();
        })
        .catch(function () {
          if (polling !== null) {
            poll();
          }
        });
    }, POLL_INTERVAL);
  }

  /* No answer reached the browser. If the change started, its status page says how it went
     (and a sign-in Microsoft asks for happens there); otherwise offer to send again. */
  function broken() {
    stopPolling();
    var ask = window.fetch ? saving() : Promise.resolve(null);
    ask
      .then(function (data) {
        if (data && data.status_url) {
          window.location.assign(data.status_url);
          return;
        }
        throw new Error("not started");
      })
      .catch(function () {
        failed.hidden = false;
        retry.focus();
      });
  }

  function send(data) {
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    setStep("send", "working");
    request.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        bar.max = event.total;
        bar.value = event.loaded;
        setStep("send", "working", amount(event.loaded, event.total), true);
      }
    });
    request.upload.addEventListener("load", function () {
      bar.value = bar.max;
      setStep("send", "done");
      setStep("check", "working");
      poll();
    });
    request.addEventListener("load", function () {
      stopPolling();
      showAnswer(request.responseText, request.responseURL);
    });
    request.addEventListener("error", broken);
    request.addEventListener("timeout", broken);
    request.send(data);
  }

  /* "Try again" posts the form the plain way, with the same one-time token: the server never
     saves one submission twice, and the browser follows any sign-in by itself. */
  retry.addEventListener("click", function () {
    input.disabled = false;
    if (reduced && window.DataTransfer && window.File) {
      try {
        var files = new DataTransfer();
        files.items.add(new File([reduced.blob], "photo.jpg", { type: "image/jpeg" }));
        input.files = files.files;
        field("x").value = "0";
        field("y").value = "0";
        field("size").value = String(reduced.side);
      } catch (error) {
        /* The original file and its square go instead. */
      }
    }
    form.submit();
  });

  form.addEventListener("submit", function (event) {
    var file = input.files && input.files[0];
    if (!file) {
      return; /* the browser's own check asks for a photo */
    }
    event.preventDefault();
    if (maxBytes && file.size > maxBytes) {
      showError(form.getAttribute("data-too-large"));
      return;
    }
    var data = new FormData(form);
    button.disabled = true;
    input.disabled = true;
    panel.hidden = false;
    title.focus();
    setStep("prepare", "working");
    reduce(file).then(function (copy) {
      reduced = copy;
      if (copy) {
        data.set("photo", copy.blob, "photo.jpg");
        data.set("x", "0");
        data.set("y", "0");
        data.set("size", String(copy.side));
        setStep("prepare", "done");
      } else {
        setStep("prepare", "skipped");
      }
      send(data);
    });
  });
})();
