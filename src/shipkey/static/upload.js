// Streams the chosen file to the server as the request body, showing progress.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (!form) { return; }
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var input = form.querySelector("input[type=file]");
    var file = input.files && input.files[0];
    if (!file) { input.focus(); return; }
    var button = form.querySelector("button");
    var xhr = new XMLHttpRequest();
    xhr.open("PUT", form.dataset.url + "?filename=" + encodeURIComponent(file.name));
    xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    bar.hidden = false;
    bar.value = 0;
    button.disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        status.textContent = bar.value + " %";
      }
    });
    xhr.addEventListener("load", function () {
      button.disabled = false;
      if (xhr.status >= 200 && xhr.status < 300) {
        var body = JSON.parse(xhr.responseText);
        bar.value = 100;
        status.textContent = form.dataset.done + " " + body.fileName + " (" + body.fileSize + " B)";
        var current = document.querySelector("[data-current-file]");
        if (current) { current.textContent = body.fileName + " · " + body.fileSize + " B"; }
      } else {
        var reason = xhr.statusText;
        try { reason = JSON.parse(xhr.responseText).error || reason; } catch (e) { /* not JSON */ }
        status.textContent = form.dataset.failed + " " + reason;
      }
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      status.textContent = form.dataset.failed + " " + "network error";
    });
    xhr.send(file);
  });
})();
