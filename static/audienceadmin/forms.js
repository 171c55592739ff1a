// Forms that call Batch: the submit button says what is happening and cannot be pressed twice; the
// first field with an error takes focus; a long list of names can be searched. An external script
// (the CSP forbids inline ones); every form works without it.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // A form with data-busy="Deleting…": once submitted, its button is disabled and says so.
    document.querySelectorAll("form[data-busy]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.submitted === "true") { event.preventDefault(); return; }
        form.dataset.submitted = "true";
        form.setAttribute("aria-busy", "true");
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          button.dataset.label = button.textContent;
          button.textContent = form.dataset.busy;
          // Disabled after the submit has started, so that its own name/value still goes with it.
          setTimeout(function () { button.disabled = true; }, 0);
        });
      });
    });
    // Back from the cache (the browser's Back button): the buttons work again.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) return;
      document.querySelectorAll("form[data-submitted]").forEach(function (form) {
        delete form.dataset.submitted;
        form.removeAttribute("aria-busy");
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          if (button.dataset.label) button.textContent = button.dataset.label;
          button.disabled = false;
        });
      });
    });
    // Errors take focus (the messages themselves are announced: role=alert).
    var invalid = document.querySelector(".has-error input, .has-error select, .has-error textarea");
    if (invalid) invalid.focus();
    // A list of names filtered as one types (substring, any case).
    document.querySelectorAll("input[data-filter]").forEach(function (input) {
      var list = document.querySelector(input.dataset.filter);
      var counter = document.getElementById(input.id + "-count");
      if (!list) return;
      var items = Array.prototype.slice.call(list.children);
      input.addEventListener("input", function () {
        var needle = input.value.trim().toLowerCase(), shown = 0;
        items.forEach(function (li) {
          var hit = !needle || li.textContent.toLowerCase().indexOf(needle) !== -1;
          li.hidden = !hit;
          if (hit) shown += 1;
        });
        if (counter) counter.textContent = needle ? shown + " of " + items.length + " names match." : "";
      });
    });
  });
})();
