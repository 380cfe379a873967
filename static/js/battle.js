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
  var inFlight = false;

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
      // Panels pushed over the websocket are rendered without a request, so without a form token.
      headers: { "X-Arena-Fragment": "1", "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      return response.text().then(function (html) {
        return {
          ok: response.ok, status: response.status, html: html,
          today: response.headers.get("X-Arena-Votes-Today"),
          total: response.headers.get("X-Arena-Votes-Total")
        };
      });
    }).then(function (result) {
      if (result.ok) {
        panel.innerHTML = result.html;
        updateProgress(result.today, result.total);
        var next = document.getElementById("next-battle");
        if (next) next.focus();
        return;
      }
      var tmp = document.createElement("div");
      tmp.innerHTML = result.html;
      var message = tmp.textContent.trim() || "Your vote was not stored (error " + result.status + ").";
      if (result.status === 403 && !tmp.querySelector("[data-vote-error]")) {
        message = "Your session or the page expired, so your vote was not stored. Reload the page and vote again.";
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
