// In DOKU's pop-up (the stand-in Checkout JS frames this page), paying, cancelling and going
// back leave the frame: the shop's pages then load in the whole window, as after a redirect.
// Close asks the shop's window to hide the pop-up, as DOKU's framed page does: a message
// naming closeJokul, which DOKU's Checkout JS runs.
"use strict";
if (window.top !== window.self) {
  document.querySelectorAll("form, a").forEach(function (element) {
    element.target = "_top";
  });
  const close = document.getElementById("close-popup");
  if (close) {
    close.addEventListener("click", function () {
      window.parent.postMessage({ func: "closeJokul" }, "*");
    });
  }
}
