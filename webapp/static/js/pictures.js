/* A picture the page links to but the app cannot send (no photo, or Microsoft did not answer)
   becomes its text instead of a broken image. Without this script the browser shows the
   picture's alt text. */
(function () {
  "use strict";
  function replace(img) {
    var text = document.createElement("p");
    text.className = "no-picture";
    text.textContent = img.getAttribute("data-missing");
    img.parentNode.replaceChild(text, img);
  }
  var images = document.querySelectorAll("img[data-missing]");
  for (var i = 0; i < images.length; i += 1) {
    var img = images[i];
    if (img.complete && img.naturalWidth === 0) {
      replace(img);
    } else {
      img.addEventListener("error", replace.bind(null, img));
    }
  }
})();
