// Generation job page: the server pushes the rendered progress over a websocket.
// The page itself rendered from the database, so a reload or a lost socket loses nothing;
// the socket reconnects with backoff and the server sends the current state on every connect.
(function () {
  "use strict";
  var box = document.getElementById("job-progress");
  var status = document.getElementById("job-connection");
  if (!box || !box.dataset.socket || !window.WebSocket) return;
  var delay = 1000;

  function show(text) { if (status) status.textContent = text; }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + box.dataset.socket);
    socket.onopen = function () { delay = 1000; show("live"); };
    socket.onmessage = function (event) { box.innerHTML = event.data; };
    socket.onclose = function (event) {
      if (event.code === 4403) { show("not allowed to watch this job"); return; }
      show("reconnecting…");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }

  connect();
})();
