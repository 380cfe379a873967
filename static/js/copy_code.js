// A "Copy" button on every code block of an answer. Answers arrive in the page and later in
// fragments (vote reveal, next battle, live updates), so new blocks are watched for.
(function () {
  "use strict";

  function addButton(pre) {
    if (pre.querySelector(".copy-code") || !navigator.clipboard) {
      return;
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-code";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy this code");
    button.addEventListener("click", function () {
      var code = pre.querySelector("code");
      navigator.clipboard.writeText((code || pre).textContent).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      }, function () {
        button.textContent = "Select and copy";
      });
    });
    pre.appendChild(button);
  }

  function addButtons(root) {
    root.querySelectorAll(".md pre").forEach(addButton);
  }

  document.addEventListener("DOMContentLoaded", function () {
    addButtons(document);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) {
          if (node.nodeType === 1) {
            addButtons(node.matches && node.matches(".md pre") ? node.parentNode : node);
          }
        });
      });
    }).observe(document.body, { childList: true, subtree: true });
  });
})();
