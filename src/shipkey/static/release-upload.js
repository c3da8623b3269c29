// Streams a release file to the server as the request body, then shows the page again.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-release-upload]");
  Array.prototype.forEach.call(forms, function (form) {
    var bar = form.querySelector("progress");
    var status = form.querySelector("[role=status]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = form.querySelector("input[type=file]");
      var file = input.files && input.files[0];
      if (!file) { input.focus(); return; }
      var button = form.querySelector("button");
      var query = "?filename=" + encodeURIComponent(file.name) +
        "&platform=" + encodeURIComponent(form.elements.platform.value) +
        "&arch=" + encodeURIComponent(form.elements.arch.value);
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
          window.location.reload();
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
  });
})();
