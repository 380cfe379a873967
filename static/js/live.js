// Live battle: the server pushes the rendered panel over a websocket when both answers are ready.
// The socket carries only the opaque battle code; a reload renders the same state from the database.
//
// While the models write, a clock shows how long the voter has waited (the same for both sides).
// When a turn's answers arrive, both are shown progressively, side by side, at the same number of
// characters per second and starting in the same frame, so the reveal tells nothing but each answer's
// own length (which the page shows anyway); with prefers-reduced-motion they appear at once.
(function () {
  "use strict";
  var panel = document.getElementById("battle-panel");
  if (!panel || !panel.dataset.liveSocket) return;
  var path = panel.dataset.liveSocket;
  var announcer = document.getElementById("live-announcer");
  var FOLLOW_UP_KEY = "arena-pending-follow-up";
  var RELOAD_KEY = "arena-live-reloaded-at";
  var CHARS_PER_SECOND = 240;
  var delay = 1000;
  var socket = null;
  var renderedAt = Date.now();
  // A push that arrives while both answers are being revealed waits for the reveal to end: replacing the
  // panel mid-reveal would cut the animation short and show the rest at once.
  var deferredPush = null;

  function waitingTurn() {
    var section = panel.querySelector("[data-waiting]");
    return section ? section.getAttribute("data-waiting") : null;
  }

  function announce(text) {
    if (!announcer) return;
    announcer.textContent = "";
    // A fresh text node after a tick: screen readers announce a change, not a node they already read.
    setTimeout(function () { announcer.textContent = text; }, 60);
  }

  // ---- The waiting clock -------------------------------------------------------------------
  function formatElapsed(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + " s";
    var rest = seconds % 60;
    return Math.floor(seconds / 60) + " min " + (rest < 10 ? "0" : "") + rest + " s";
  }

  function tick() {
    var status = panel.querySelector(".waiting-status");
    var clock = status && status.querySelector("[data-elapsed]");
    if (!clock) return;
    // Server times only: the voter's clock may be off, the time since this panel arrived is not.
    var started = Number(status.getAttribute("data-started"));
    var rendered = Number(status.getAttribute("data-rendered"));
    clock.textContent = formatElapsed(rendered - started + (Date.now() - renderedAt) / 1000);
  }
  setInterval(tick, 1000);

  // ---- The progressive reveal ---------------------------------------------------------------
  function prepare(md) {
    var blocks = Array.prototype.slice.call(md.children);
    var walker = document.createTreeWalker(md, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) {
      var node = walker.currentNode;
      var block = node.parentNode === md ? null : node.parentNode;
      while (block && block.parentNode !== md) block = block.parentNode;
      nodes.push({ node: node, text: node.data, block: block });
    }
    nodes.forEach(function (item) { item.node.data = ""; });
    blocks.forEach(function (block) { block.hidden = true; });
    return { nodes: nodes, next: 0, blocks: blocks };
  }

  // Shows the first `count` characters of a side; true once it is shown in full.
  function show(side, count) {
    var remaining = count;
    for (var i = 0; i < side.nodes.length; i++) {
      var item = side.nodes[i];
      if (remaining <= 0) return false;
      var take = Math.min(item.text.length, remaining);
      if (item.node.data.length !== take) item.node.data = item.text.slice(0, take);
      if (item.block && item.block.hidden) item.block.hidden = false;
      remaining -= take;
    }
    side.blocks.forEach(function (block) { block.hidden = false; });
    return true;
  }

  function reveal(answers) {
    var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    if (reduce) return;
    var sides = Array.prototype.map.call(answers.querySelectorAll(".md"), prepare);
    var controls = document.createElement("p");
    controls.className = "reveal-controls";
    var skip = document.createElement("button");
    skip.type = "button";
    skip.className = "link reveal-skip";
    skip.textContent = "Show both answers in full";
    controls.appendChild(skip);
    answers.parentNode.insertBefore(controls, answers.nextSibling);
    answers.setAttribute("aria-busy", "true");
    answers.setAttribute("data-revealing", "1");
    var finished = false;
    function finish() {
      if (finished) return;
      finished = true;
      sides.forEach(function (side) { show(side, Infinity); });
      answers.removeAttribute("aria-busy");
      answers.removeAttribute("data-revealing");
      if (controls.parentNode) controls.parentNode.removeChild(controls);
      if (deferredPush !== null) {
        var html = deferredPush;
        deferredPush = null;
        replacePanel(html);
      }
    }
    skip.addEventListener("click", finish);
    var start = null;
    function frame(now) {
      if (finished || !answers.isConnected) return;
      if (start === null) start = now;
      var count = Math.floor(((now - start) / 1000) * CHARS_PER_SECOND);
      var all = true;
      // The same count for both sides, in the same frame: neither starts or runs ahead of the other.
      sides.forEach(function (side) { if (!show(side, count)) all = false; });
      if (all) finish();
      else window.requestAnimationFrame(frame);
    }
    window.requestAnimationFrame(frame);
  }

  function replacePanel(html) {
    var wasWaiting = waitingTurn();
    panel.innerHTML = html;
    renderedAt = Date.now();
    tick();
    var nowWaiting = waitingTurn();
    if (nowWaiting && nowWaiting !== wasWaiting) {
      announce("Both models are writing. Both answers appear together when both are complete.");
    }
    if (wasWaiting && !nowWaiting) {
      var answers = panel.querySelector('.answers[data-turn="' + wasWaiting + '"]');
      if (answers) {
        announce("Both answers are ready and shown side by side, Model A then Model B. The vote buttons follow them.");
        reveal(answers);
      } else if (panel.querySelector(".error")) {
        announce(panel.querySelector(".error").textContent);
      }
    }
  }

  // ---- The socket ---------------------------------------------------------------------------
  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + path);
    socket.onopen = function () { delay = 1000; };
    socket.onmessage = function (event) {
      if (panel.querySelector("[data-revealed]")) return;  // already voted on this page
      if (panel.querySelector("[data-revealing]")) { deferredPush = event.data; return; }
      var typing = document.activeElement && document.activeElement.closest && document.activeElement.closest("#battle-panel form");
      var hadForm = !!panel.querySelector("#vote-form");
      if (typing && hadForm && !waitingTurn()) return;  // nothing new: keep what the voter is typing
      replacePanel(event.data);
    };
    socket.onclose = function (event) {
      if (event.code === 4403) {
        // Refused: the session expired. Reloading goes through the login page and back here; once only
        // in a while, so a socket refused for another reason cannot loop.
        var last = Number(window.sessionStorage.getItem(RELOAD_KEY) || 0);
        if (Date.now() - last > 60000) {
          window.sessionStorage.setItem(RELOAD_KEY, String(Date.now()));
          window.location.reload();
        }
        return;
      }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }

  // ---- The follow-up --------------------------------------------------------------------------
  function followUpProblem(form, text) {
    var status = form.querySelector(".follow-up-status");
    if (!status) {
      status = document.createElement("p");
      status.className = "follow-up-status error";
      status.setAttribute("role", "alert");
      form.appendChild(status);
    }
    status.textContent = text;
    form.querySelector("button").disabled = false;
  }

  function restoreFollowUp() {
    var saved = null;
    try { saved = JSON.parse(window.sessionStorage.getItem(FOLLOW_UP_KEY) || "null"); } catch (e) { saved = null; }
    var form = document.getElementById("follow-up-form");
    var battle = panel.querySelector("[data-battle]");
    if (!saved || !form || !battle || saved.battle !== battle.getAttribute("data-battle")) return;
    window.sessionStorage.removeItem(FOLLOW_UP_KEY);
    form.querySelector("textarea").value = saved.text;
    form.querySelector("textarea").focus();  // keeps the socket's first panel from replacing it
    followUpProblem(form, "Your session had expired, so your follow-up was not sent. It is filled in again: send it now.");
  }

  panel.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "follow-up-form") return;
    event.preventDefault();
    var data = new FormData(form);
    var meta = document.querySelector('meta[name="csrf-token"]');
    form.querySelector("button").disabled = true;
    fetch(form.action, {
      method: "POST", body: data, credentials: "same-origin", redirect: "manual",
      headers: { "X-Arena-Fragment": "1", "X-CSRFToken": meta ? meta.getAttribute("content") : "" }
    }).then(function (response) {
      if (response.type === "opaqueredirect" || response.status === 403) {
        var battle = panel.querySelector("[data-battle]");
        try {
          window.sessionStorage.setItem(FOLLOW_UP_KEY, JSON.stringify({
            battle: battle ? battle.getAttribute("data-battle") : "", text: data.get("prompt") || ""
          }));
        } catch (e) {
          followUpProblem(form, "Your session expired, so the follow-up was not sent. Sign in again and send it once more.");
          return;
        }
        if (response.status === 403) {
          window.location.reload();
          return;
        }
        var here = window.location.pathname + window.location.search;
        window.location.assign((panel.getAttribute("data-login-url") || "/accounts/login/") + "?next=" + encodeURIComponent(here));
        return;
      }
      if (response.ok) {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send("refresh");
        else window.location.reload();
        return;
      }
      return response.text().then(function (html) {
        var tmp = document.createElement("div");
        tmp.innerHTML = html;
        var error = tmp.querySelector("[data-vote-error]");
        followUpProblem(form, error ? error.textContent.trim() : "The follow-up was not sent (error " + response.status + ").");
      });
    }).catch(function () { followUpProblem(form, "Could not reach the server; the follow-up was not sent."); });
  });

  tick();
  if (waitingTurn()) announce("Both models are writing. Both answers appear together when both are complete.");
  restoreFollowUp();
  connect();
})();
