// Submits the form_post answer to the app at once, as Entra's page does; the visible
// Continue button covers browsers without JavaScript.
"use strict";
document.getElementById("form-post").submit();
