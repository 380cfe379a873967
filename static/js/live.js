// Live battle: the server pushes the rendered panel over a websocket when both answers are ready.
// The socket carries only the opaque battle code; a reload renders the same state from the database.
(function () {
  "use strict";
  var panel = document.getElementById("battle-panel");
  if (!panel || !panel.dataset.liveSocket) return;
  var path = panel.dataset.liveSocket;
  var delay = 1000;
  var socket = null;

  function waiting() { return !!panel.querySelector("[data-waiting]"); }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + path);
    socket.onopen = function () { delay = 1000; };
    socket.onmessage = function (event) {
      if (panel.querySelector("[data-revealed]")) return;  // already voted on this page
      var typing = document.activeElement && document.activeElement.closest && document.activeElement.closest("#battle-panel form");
      var hadForm = !!panel.querySelector("#vote-form");
      if (typing && hadForm && !waiting()) return;  // nothing new: keep what the voter is typing
      panel.innerHTML = event.data;
    };
    socket.onclose = function (event) {
      if (event.code === 4403) return;  // not allowed: do not retry
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }

  panel.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "follow-up-form") return;
    event.preventDefault();
    var data = new FormData(form);
    var meta = document.querySelector('meta[name="csrf-token"]');
    var button = form.querySelector("button");
    function problem(text) {
      var status = form.querySelector(".follow-up-status");
      if (!status) {
        status = document.createElement("p");
        status.className = "follow-up-status error";
        form.appendChild(status);
      }
      status.textContent = text;
      button.disabled = false;
    }
    button.disabled = true;
    fetch(form.action, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-Arena-Fragment": "1", "X-CSRFToken": meta ? meta.getAttribute("content") : "" }
    }).then(function (response) {
      if (response.ok) {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send("refresh");
        else window.location.reload();
        return;
      }
      if (response.status === 403) {
        problem("Your session expired, so the follow-up was not sent. Reload the page and try again.");
        return;
      }
      return response.text().then(function (html) {
        var tmp = document.createElement("div");
        tmp.innerHTML = html;
        var error = tmp.querySelector("[data-vote-error]");
        problem(error ? error.textContent.trim() : "The follow-up was not sent (error " + response.status + ").");
      });
    }).catch(function () { problem("Could not reach the server; the follow-up was not sent."); });
  });

  connect();
})();
