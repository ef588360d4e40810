// The waiting page of a pending order: polls the order's status (doku_checkout:api_status)
// and, when it changes, swaps in the page's new content, so the shopper never reloads.
// Without JavaScript the page refreshes itself instead (a bounded <noscript> meta refresh).
"use strict";
(function () {
  const FIRST_DELAY = 2000;
  const LONGEST_DELAY = 15000;
  const MOST_POLLS = 240; // about an hour at the longest delay

  function stateOf(data) {
    return data.status + (data.attempt_failed ? ":failed" : "");
  }

  function swapIn(section) {
    return fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html").querySelector(".doku-checkout-status");
        if (fresh) {
          section.replaceWith(document.importNode(fresh, true));
          watch();
        }
      });
  }

  function watch() {
    const section = document.querySelector(".doku-checkout-status[data-doku-poll]");
    if (!section) {
      return;
    }
    let delay = FIRST_DELAY;
    let polls = 0;
    const poll = function () {
      polls += 1;
      fetch(section.dataset.dokuPoll, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (data && stateOf(data) !== section.dataset.dokuState) {
            return swapIn(section);
          }
          delay = Math.min(delay * 1.5, LONGEST_DELAY);
          if (polls < MOST_POLLS) {
            window.setTimeout(poll, delay);
          }
        })
        .catch(function () {
          if (polls < MOST_POLLS) {
            window.setTimeout(poll, LONGEST_DELAY);
          }
        });
    };
    window.setTimeout(poll, delay);
  }

  watch();
})();
