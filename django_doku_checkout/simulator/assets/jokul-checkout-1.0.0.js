// The simulator's stand-in for DOKU's Checkout JS (jokul-checkout-1.0.0.js), served at the same
// path under the simulator, so that pop-up mode works offline: loadJokulCheckout(url) shows the
// payment page in a frame over the shop. Styles are set through the DOM, which a Content
// Security Policy without 'unsafe-inline' allows.
"use strict";
window.loadJokulCheckout = function (url) {
  const previous = document.getElementById("jokul-checkout-overlay");
  if (previous) {
    previous.remove();
  }
  const overlay = document.createElement("div");
  overlay.id = "jokul-checkout-overlay";
  Object.assign(overlay.style, {
    position: "fixed",
    inset: "0",
    zIndex: "2147483000",
    display: "flex",
    alignItems: "center",
    justifyContent: "center",
    background: "rgba(0, 0, 0, 0.55)",
  });
  const frame = document.createElement("iframe");
  frame.id = "jokul-checkout-frame";
  frame.title = "DOKU Checkout";
  frame.src = url;
  Object.assign(frame.style, {
    width: "min(560px, 96vw)",
    height: "min(760px, 92vh)",
    border: "0",
    borderRadius: "8px",
    background: "#fff",
  });
  const close = document.createElement("button");
  close.type = "button";
  close.id = "jokul-checkout-close";
  close.textContent = "\u00d7";
  close.setAttribute("aria-label", "Close");
  Object.assign(close.style, {
    position: "absolute",
    top: "12px",
    right: "16px",
    fontSize: "28px",
    color: "#fff",
    background: "transparent",
    border: "0",
    cursor: "pointer",
  });
  close.addEventListener("click", function () {
    overlay.remove();
  });
  overlay.append(frame, close);
  document.body.appendChild(overlay);
};
