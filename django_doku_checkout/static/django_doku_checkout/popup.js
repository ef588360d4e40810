// Pay buttons in pop-up mode ({% doku_pay_button order mode="popup" %}): the link comes from
// doku_checkout:api_pay and opens over the shop with DOKU's Checkout JS (loadJokulCheckout).
// The order's status is then polled; once it leaves "pending" the shopper goes to the return
// page. Anything unexpected falls back to the ordinary button: a POST that redirects to DOKU.
"use strict";
(function () {
  const FIRST_DELAY = 3000;
  const LONGEST_DELAY = 15000;
  const MOST_POLLS = 240; // about an hour at the longest delay, as on the waiting page
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

  // One poller per form: a second click restarts it rather than adding another.
  const pollers = new WeakMap();

  function payFrame(url) {
    return Array.from(document.querySelectorAll("iframe")).find(function (frame) {
      return frame.src.indexOf(url) === 0;
    });
  }

  // Polls until the order leaves "pending" (then goes to the return page), the pop-up showing
  // the pay page is closed, or MOST_POLLS, backing off from FIRST_DELAY to LONGEST_DELAY.
  function followStatus(form, url) {
    const previous = pollers.get(form);
    if (previous) {
      previous.stop();
    }
    let timer = null;
    let stopped = false;
    let frame = null;
    let delay = FIRST_DELAY;
    let polls = 0;
    const poller = {
      stop: function () {
        stopped = true;
        window.clearTimeout(timer);
      },
    };
    pollers.set(form, poller);
    const next = function (wait) {
      if (!stopped && polls < MOST_POLLS) {
        timer = window.setTimeout(poll, wait);
      }
    };
    const poll = function () {
      frame = frame || payFrame(url);
      if (stopped || (frame && !frame.isConnected)) {
        return; // the shopper closed DOKU's pop-up: nothing is waited for any more
      }
      polls += 1;
      fetch(form.dataset.dokuStatus, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (stopped) {
            return;
          }
          if (data && data.status !== "pending" && data.status !== "created") {
            window.location.assign(form.dataset.dokuReturn);
            return;
          }
          delay = Math.min(delay * 1.5, LONGEST_DELAY);
          next(delay);
        })
        .catch(function () { next(LONGEST_DELAY); });
    };
    next(delay);
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
        followStatus(form, results[0].payment_url);
      })
      .catch(function () {
        form.submit(); // the ordinary flow shows DOKU's page or the error page
      });
  });
})();
