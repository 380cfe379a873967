// Battle page: vote with a click or a key, show the reveal in place.
// Works without this script too: the forms post and the server renders pages.
(function () {
  "use strict";
  var panel = document.getElementById("battle-panel");
  if (!panel) return;
  var inFlight = false;

  function status(text, isError) {
    var el = document.getElementById("vote-status");
    if (!el) return;
    el.textContent = text;
    el.className = "vote-status" + (isError ? " error" : "");
  }

  function setDisabled(form, disabled) {
    form.querySelectorAll("button").forEach(function (b) { b.disabled = disabled; });
  }

  function send(form, outcome) {
    if (inFlight) return;
    inFlight = true;
    setDisabled(form, true);
    status("Saving your vote…", false);
    var data = new FormData(form);
    data.set("outcome", outcome);
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Arena-Fragment": "1" }
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
        var progress = document.getElementById("progress");
        if (progress && result.total !== null) {
          var counts = progress.querySelectorAll("strong");
          counts[0].textContent = result.today;
          counts[1].textContent = result.total;
        }
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
      setDisabled(form, false);
      inFlight = false;
    }).catch(function () {
      // No answer: the vote may or may not have arrived. Repeating the same
      // choice is safe, the server never counts a battle twice.
      status("We could not reach the server, so your vote is not confirmed. Press the same choice again to retry; it will never be counted twice.", true);
      setDisabled(form, false);
      inFlight = false;
    });
  }

  panel.addEventListener("click", function (event) {
    var button = event.target.closest("button.choice");
    if (!button) return;
    event.preventDefault();
    send(button.form, button.value);
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    if (panel.querySelector("[data-revealed]")) {
      if (event.key === "Enter" || event.key === "n" || event.key === " ") {
        event.preventDefault();
        window.location.assign("/");
      }
      return;
    }
    var form = document.getElementById("vote-form");
    if (!form) return;
    var button = form.querySelector('button.choice[data-key="' + event.key + '"]');
    if (button) {
      event.preventDefault();
      send(form, button.value);
    }
  });
})();
