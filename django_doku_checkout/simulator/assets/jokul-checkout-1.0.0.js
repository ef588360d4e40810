// The simulator's stand-in for DOKU's Checkout JS (jokul-checkout-1.0.0.js), served at DOKU's
// path under the simulator so that pop-up mode works offline. It behaves as DOKU's script does
// (as integrators' copies of it show; docs/going-live.md, open questions):
// - loading it adds DOKU's stylesheet (jokul-checkout-1.0.0.css, from the script's own host) to
//   the page: a shop's style-src must allow it;
// - loadJokulCheckout(url) appends a div#jokul_checkout_modal.jokul-modal holding
//   div.jokul-content > iframe[src=url + "?view=iframe"], then shows the first element with that
//   id (a second call appends a second modal and shows the first one again, as DOKU's does);
// - closeJokul() hides the modal (display: none): it stays in the page;
// - the framed page closes it by posting {func: "closeJokul"} to the shop's window. DOKU's script
//   calls any global function a message names; the stand-in takes closeJokul only.
"use strict";
(function () {
  const MODAL = "jokul_checkout_modal";
  const script = document.currentScript;
  const stylesheet = document.createElement("link");
  stylesheet.rel = "stylesheet";
  stylesheet.href = new URL("jokul-checkout-1.0.0.css", script ? script.src : document.baseURI).href;
  document.head.appendChild(stylesheet);

  window.loadJokulCheckout = function (url) {
    const modal = document.createElement("div");
    modal.className = "jokul-modal";
    modal.id = MODAL;
    const content = document.createElement("div");
    content.className = "jokul-content";
    const frame = document.createElement("iframe");
    frame.src = url + "?view=iframe";
    content.appendChild(frame);
    modal.appendChild(content);
    document.body.appendChild(modal);
    document.getElementById(MODAL).style.display = "block";
  };

  window.closeJokul = function () {
    document.getElementById(MODAL).style.display = "none";
  };

  window.addEventListener("message", function (event) {
    if (event.data && event.data.func === "closeJokul") {
      window.closeJokul();
    }
  });
})();
