// In DOKU's pop-up (the stand-in Checkout JS frames this page), paying, cancelling and going
// back leave the frame: the shop's pages then load in the whole window, as after a redirect.
"use strict";
if (window.top !== window.self) {
  document.querySelectorAll("form, a").forEach(function (element) {
    element.target = "_top";
  });
}
