// Pay buttons in pop-up mode ({% doku_pay_button order mode="popup" %}): the link comes from
// doku_checkout:api_pay and opens over the shop with DOKU's Checkout JS (loadJokulCheckout).
// The order's status is then polled; once it leaves "pending" the shopper goes to the return
// page. Anything unexpected falls back to the ordinary button: a POST that redirects to DOKU.
"use strict";
(function () {
  const POLL_DELAY = 3000;
  const loading = {};

  function loadCheckoutJs(src) {
    if (typeof window.loadJokulCheckout === "function") {
      return Promise.resolve();
    }
    if (!loading[src]) {
      loading[src] = new Promise(function (resolve, reject) {
        const script = document.createElement("script");
        script.src = src;
        script.addEventListener("load", resolve);
        script.addEventListener("error", reject);
        document.head.appendChild(script);
      });
    }
    return loading[src];
  }

  function payLink(form) {
    const token = form.querySelector("input[name=csrfmiddlewaretoken]");
    return fetch(form.dataset.dokuPopup, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" },
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    });
  }

  function followStatus(form) {
    const poll = function () {
      fetch(form.dataset.dokuStatus, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (data && data.status !== "pending" && data.status !== "created") {
            window.location.assign(form.dataset.dokuReturn);
          } else {
            window.setTimeout(poll, POLL_DELAY);
          }
        })
        .catch(function () { window.setTimeout(poll, POLL_DELAY); });
    };
    window.setTimeout(poll, POLL_DELAY);
  }

  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-doku-popup]");
    if (!form || typeof window.fetch !== "function") {
      return;
    }
    event.preventDefault();
    const button = form.querySelector("button");
    if (button) {
      button.disabled = true;
    }
    Promise.all([payLink(form), loadCheckoutJs(form.dataset.dokuCheckoutJs)])
      .then(function (results) {
        window.loadJokulCheckout(results[0].payment_url);
        if (button) {
          button.disabled = false;
        }
        followStatus(form);
      })
      .catch(function () {
        form.submit(); // the ordinary flow shows DOKU's page or the error page
      });
  });
})();
