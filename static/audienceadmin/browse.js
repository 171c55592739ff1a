// The audience browser: select every audience on the page at once, and the bar at the top says how
// many are selected. An external script (the CSP forbids inline ones); without it, ticking works.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("browse-form");
    if (!form) return;
    var all = document.getElementById("select-page");
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=picked]"));
    var count = document.getElementById("selected-count");
    var submit = form.querySelector("#bulk-bar button[type=submit]");
    all.hidden = false;

    function update() {
      var n = boxes.filter(function (b) { return b.checked; }).length;
      count.textContent = n === 0 ? "Tick the audiences to delete." : n + " selected";
      all.checked = n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
      submit.disabled = n === 0;
    }
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      update();
    });
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
  });
})();
