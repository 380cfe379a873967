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
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { "X-Arena-Fragment": "1" } })
      .then(function (response) {
        if (response.ok) {
          if (socket && socket.readyState === WebSocket.OPEN) socket.send("refresh");
          else window.location.reload();
          return;
        }
        return response.text().then(function (html) {
          var tmp = document.createElement("div");
          tmp.innerHTML = html;
          alert(tmp.textContent.trim() || "The follow-up was not sent.");
        });
      })
      .catch(function () { alert("Could not reach the server; the follow-up was not sent."); });
  });

  connect();
})();
