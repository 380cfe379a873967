// Upload forms: refuses a file over the limit before sending it, which saves a long wait for a file
// the server would refuse anyway (the server checks again). The limit and the message come from the
// file input's data attributes.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var input = document.getElementById("id_file");
  if (!form || !input) return;
  form.addEventListener("submit", function (event) {
    var limit = parseInt(input.dataset.maxBytes, 10);
    if (input.files.length && input.files[0].size > limit) {
      event.preventDefault();
      document.getElementById("file-help").textContent = input.dataset.tooLarge;
    }
  });
})();
