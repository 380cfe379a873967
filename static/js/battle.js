// Battle page: choose with a click or a key, optionally say why, submit, see the reveal in place.
// Works without this script too: the forms post and the server renders whole pages.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  // Choosing a category opens a battle of it at once (an inline handler would break the CSP).
  var categorySelect = document.getElementById("category-select");
  if (categorySelect) {
    categorySelect.addEventListener("change", function () { categorySelect.form.submit(); });
  }
  var panel = document.getElementById("battle-panel");
  if (!panel) return;
  // A battle served at "/" shows its own address, so that Reload reopens this battle (its reveal once
  // voted) rather than a new one, and Back from the next battle comes back to it.
  var ownUrl = panel.getAttribute("data-battle-url");
  if (ownUrl && window.location.pathname + window.location.search !== ownUrl) {
    window.history.replaceState(window.history.state, "", ownUrl);
  }
  var inFlight = false;
  // A vote the server never took (the session had expired) is kept here, in this tab only, across the
  // login page, and filled in again on the battle's page: the voter sends it with one key.
  var PENDING_KEY = "arena-pending-vote";

  function form() { return document.getElementById("vote-form"); }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function status(text, isError) {
    var el = document.getElementById("vote-status");
    if (!el) return;
    el.textContent = text;
    el.className = "vote-status" + (isError ? " error" : "");
  }

  function setDisabled(f, disabled) {
    f.querySelectorAll("button, input, textarea").forEach(function (el) { el.disabled = disabled; });
  }

  function choose(f, outcome) {
    f.querySelector("#chosen-outcome").value = outcome;
    f.classList.add("chosen");
    f.querySelectorAll("button.choice").forEach(function (b) {
      b.classList.toggle("selected", b.value === outcome);
    });
    status("Optional: tick reasons or add a comment, then press Enter to submit.", false);
    var submit = document.getElementById("submit-vote");
    if (submit) submit.focus();
  }

  function unchoose(f) {
    f.querySelector("#chosen-outcome").value = "";
    f.classList.remove("chosen");
    f.querySelectorAll("button.choice").forEach(function (b) { b.classList.remove("selected"); });
    status("", false);
  }

  function battleCode() {
    var battle = panel.querySelector("[data-battle]");
    return battle ? battle.getAttribute("data-battle") : "";
  }

  // `data` was read before the form was disabled: disabled fields are not in a FormData.
  function keepPendingVote(f, data) {
    try {
      window.sessionStorage.setItem(PENDING_KEY, JSON.stringify({
        battle: battleCode(),
        outcome: f.querySelector("#chosen-outcome").value,
        reasons_a: data.getAll("reasons_a"),
        reasons_b: data.getAll("reasons_b"),
        comment: data.get("comment") || ""
      }));
      return true;
    } catch (e) {
      return false;  // storage disabled: the voter is told the vote was not stored
    }
  }

  // Back on the battle after signing in again: fill the choice in and say it still has to be sent.
  function restorePendingVote() {
    var saved = null;
    try {
      saved = JSON.parse(window.sessionStorage.getItem(PENDING_KEY) || "null");
    } catch (e) {
      saved = null;
    }
    var f = form();
    if (!saved || !f || saved.battle !== battleCode()) return;
    window.sessionStorage.removeItem(PENDING_KEY);
    ["reasons_a", "reasons_b"].forEach(function (field) {
      (saved[field] || []).forEach(function (tag) {
        var box = f.querySelector('input[name="' + field + '"][value="' + CSS.escape(tag) + '"]');
        if (box) box.checked = true;
      });
    });
    var comment = f.querySelector('textarea[name="comment"]');
    if (comment) comment.value = saved.comment || "";
    if (saved.outcome) choose(f, saved.outcome);
    status("Your session had expired, so your vote was not stored. Your choice is filled in again: " +
      "press Enter or Submit vote to send it.", true);
  }

  // The server answered with a redirect (to the login page: the session expired) or refused the page's
  // token. Never show what it redirected to inside the panel: keep the vote and reopen this battle's own
  // page, through the login page when needed; "next" brings the voter back to it.
  function sessionExpired(f, data, signIn) {
    var kept = keepPendingVote(f, data);
    var here = window.location.pathname + window.location.search;
    var loginUrl = panel.getAttribute("data-login-url") || "/accounts/login/";
    status(kept ? "Your session expired, so your vote was not stored yet. Taking you to sign in again; " +
      "your choice will be kept." : "Your session expired, so your vote was not stored. Sign in again and vote once more.", true);
    if (!kept) {
      setDisabled(f, false);
      inFlight = false;
      return;
    }
    if (signIn) window.location.assign(loginUrl + "?next=" + encodeURIComponent(here));
    else window.location.reload();
  }

  function updateProgress(today, total) {
    var progress = document.getElementById("progress");
    if (!progress || total === null) return;
    var counts = progress.querySelectorAll("strong");
    counts[0].textContent = today;
    counts[1].textContent = total;
  }

  function send(f) {
    if (inFlight || !f.querySelector("#chosen-outcome").value) return;
    inFlight = true;
    var data = new FormData(f);  // read before disabling: disabled fields are not sent
    setDisabled(f, true);
    status("Saving your vote…", false);
    fetch(f.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      // A redirect here can only be to the login page: it must not be followed into the panel.
      redirect: "manual",
      // Panels pushed over the websocket are rendered without a request, so without a form token.
      headers: { "X-Arena-Fragment": "1", "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      if (response.type === "opaqueredirect") {
        return { expired: true };
      }
      return response.text().then(function (html) {
        return {
          ok: response.ok, status: response.status, html: html,
          today: response.headers.get("X-Arena-Votes-Today"),
          total: response.headers.get("X-Arena-Votes-Total")
        };
      });
    }).then(function (result) {
      if (result.expired) {
        sessionExpired(f, data, true);
        return;
      }
      if (result.ok) {
        panel.innerHTML = result.html;
        var heading = document.getElementById("page-heading");
        if (heading) heading.textContent = "Your vote, and which models answered";
        updateProgress(result.today, result.total);
        var next = document.getElementById("next-battle");
        if (next) next.focus();
        return;
      }
      var tmp = document.createElement("div");
      tmp.innerHTML = result.html;
      var message = tmp.textContent.trim() || "Your vote was not stored (error " + result.status + ").";
      if (result.status === 403 && !tmp.querySelector("[data-vote-error]")) {
        // The page's form token is stale (signed in again elsewhere): a fresh copy of the page has a valid one.
        sessionExpired(f, data, false);
        return;
      }
      status(message, true);
      setDisabled(f, false);
      inFlight = false;
    }).catch(function () {
      // No answer: the vote may or may not have arrived. Sending the same
      // choice again is safe, the server never counts a battle twice.
      status("We could not reach the server, so your vote is not confirmed. Press Enter to send the same choice again; it will never be counted twice.", true);
      setDisabled(f, false);
      inFlight = false;
    });
  }

  restorePendingVote();

  panel.addEventListener("click", function (event) {
    var f = form();
    if (!f) return;
    var button = event.target.closest("button.choice");
    if (button) {
      event.preventDefault();
      choose(f, button.value);
    } else if (event.target.closest("#submit-vote")) {
      event.preventDefault();
      send(f);
    } else if (event.target.closest("#change-choice")) {
      event.preventDefault();
      unchoose(f);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey) return;
    if (panel.querySelector("[data-revealed]")) {
      if (!event.ctrlKey && !event.metaKey && (event.key === "Enter" || event.key === "n")) {
        event.preventDefault();
        // The link keeps the chosen category.
        var next = document.getElementById("next-battle");
        window.location.assign(next ? next.href : "/");
      }
      return;
    }
    var f = form();
    if (!f) return;
    var target = event.target;
    var typing = target && (target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
      (target.tagName === "INPUT" && target.type !== "checkbox"));
    var chosen = f.classList.contains("chosen");
    if (event.key === "Enter" && chosen && (!typing || event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send(f);
      return;
    }
    if (event.key === "Escape" && chosen) {
      event.preventDefault();
      unchoose(f);
      return;
    }
    if (typing || event.ctrlKey || event.metaKey) return;
    var button = f.querySelector('button.choice[data-key="' + event.key + '"]');
    if (button) {
      event.preventDefault();
      choose(f, button.value);
    }
  });
})();
