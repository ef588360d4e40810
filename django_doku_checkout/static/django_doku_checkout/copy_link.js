// "Copy link" buttons in the DOKU admin: put the payment URL on the clipboard so staff
// can paste it to the customer. Falls back to selecting a text field where the
// Clipboard API is unavailable (plain http on a host other than localhost).
"use strict";
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-doku-copy]");
  if (!button) {
    return;
  }
  event.preventDefault();
  const url = button.dataset.dokuCopy;
  const done = function () {
    button.classList.add("doku-copied");
    button.setAttribute("aria-label", "Copied");
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(url).then(done);
    return;
  }
  const field = document.createElement("textarea");
  field.value = url;
  field.setAttribute("readonly", "");
  field.style.position = "absolute";
  field.style.left = "-9999px";
  document.body.appendChild(field);
  field.select();
  document.execCommand("copy");
  field.remove();
  done();
});
