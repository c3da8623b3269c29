// Streams the file chosen in a form[data-upload] to the server as the request body (PUT to
// data-url?filename=…, with the form's fields named in data-query added), showing progress
// in the form's <progress> and [role=status]. Once stored: data-then="reload" shows the page
// again; otherwise the status says data-done with the stored file, and [data-current-file]
// shows it. A failure says data-failed with the reason.
(function () {
  "use strict";
  function upload(form) {
    var bar = form.querySelector("progress");
    var status = form.querySelector("[role=status]");
    var fields = (form.dataset.query || "").split(" ").filter(Boolean);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = form.querySelector("input[type=file]");
      var file = input.files && input.files[0];
      if (!file) { input.focus(); return; }
      var button = form.querySelector("button");
      var query = "?filename=" + encodeURIComponent(file.name);
      fields.forEach(function (name) {
        query += "&" + name + "=" + encodeURIComponent(form.elements[name].value);
      });
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", form.dataset.url + query);
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
          if (form.dataset.then === "reload") { window.location.reload(); return; }
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
        status.textContent = form.dataset.failed + " network error";
      });
      xhr.send(file);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("form[data-upload]"), upload);
})();
