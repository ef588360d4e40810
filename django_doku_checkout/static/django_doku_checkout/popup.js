// Pay buttons in pop-up mode ({% doku_pay_button order mode="popup" %}): the link comes from
// doku_checkout:api_pay and opens over the shop with DOKU's Checkout JS (loadJokulCheckout).
// The order's status is then polled; once it leaves "pending" the shopper goes to the return
// page, and once the shopper closes the pop-up polling stops. Anything unexpected falls back to
// the ordinary button: a POST that redirects to DOKU.
//
// DOKU's script appends a div#jokul_checkout_modal framing the page, shows it, and closing it
// (closeJokul) only hides it (display: none): it stays in the page. A second call appends
// another modal with the same id and shows the first one again, so the old one is removed first.
"use strict";
(function () {
  const FIRST_DELAY = 3000;
  const LONGEST_DELAY = 15000;
  const MOST_POLLS = 240; // about an hour at the longest delay, as on the waiting page
  const MODAL = "jokul_checkout_modal";
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

  // Whether DOKU's pop-up was closed: its modal hidden (closeJokul) or gone. Without a modal
  // (a script unlike DOKU's) nothing tells, and polling runs its course.
  function closed(modal) {
    return modal !== null && (!modal.isConnected || window.getComputedStyle(modal).display === "none");
  }

  // Polls until the order leaves "pending" (then goes to the return page), the pop-up showing
  // the pay page is closed, or MOST_POLLS, backing off from FIRST_DELAY to LONGEST_DELAY.
  // A close is seen at once (a MutationObserver on the modal) and asks once more: DOKU's page
  // also closes the pop-up after a payment, and the shopper should then see the return page.
  function followStatus(form, modal) {
    const previous = pollers.get(form);
    if (previous) {
      previous.stop();
    }
    let timer = null;
    let stopped = false;
    let delay = FIRST_DELAY;
    let polls = 0;
    const poller = {
      stop: function () {
        stopped = true;
        window.clearTimeout(timer);
        if (watcher) {
          watcher.disconnect();
        }
      },
    };
    const ask = function () {
      return fetch(form.dataset.dokuStatus, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          const settled = Boolean(data && data.status !== "pending" && data.status !== "created");
          if (settled) {
            window.location.assign(form.dataset.dokuReturn);
          }
          return settled;
        });
    };
    const watcher = modal && new MutationObserver(function () {
      if (!stopped && closed(modal)) {
        poller.stop(); // the shopper closed the pop-up: nothing is waited for any more
        ask().catch(function () {});
      }
    });
    pollers.set(form, poller);
    if (watcher) {
      watcher.observe(modal, { attributes: true, attributeFilter: ["style", "class", "hidden"] });
      watcher.observe(document.body, { childList: true });
    }
    const next = function (wait) {
      if (!stopped && polls < MOST_POLLS) {
        timer = window.setTimeout(poll, wait);
      }
    };
    const poll = function () {
      if (stopped || closed(modal)) {
        return;
      }
      polls += 1;
      ask()
        .then(function (settled) {
          if (settled) {
            poller.stop();
          } else if (!stopped) {
            delay = Math.min(delay * 1.5, LONGEST_DELAY);
            next(delay);
          }
        })
        .catch(function () { next(LONGEST_DELAY); });
    };
    next(delay);
  }

  // Opens the link in DOKU's pop-up and returns its modal (null if DOKU's script made none).
  function openPopup(url) {
    const old = document.getElementById(MODAL);
    if (old) {
      old.remove(); // a closed pop-up: DOKU's script would show it again instead of the new one
    }
    window.loadJokulCheckout(url);
    return document.getElementById(MODAL);
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
        const modal = openPopup(results[0].payment_url);
        if (button) {
          button.disabled = false;
        }
        followStatus(form, modal);
      })
      .catch(function () {
        form.submit(); // the ordinary flow shows DOKU's page or the error page
      });
  });
})();
