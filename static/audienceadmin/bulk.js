// Live progress of a bulk job: polls progress.json and updates the bar, the counts and the rows.
// An external script (the CSP forbids inline ones); the page works without it, one reload at a time.
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job || job.dataset.active !== "true") return;
  var url = job.dataset.progressUrl;
  var cursor = job.dataset.cursor || "0";  // what the page already shows; each poll asks for what changed since
  var rows = {};
  var settled = false;
  document.querySelectorAll("#job-items tbody tr").forEach(function (tr) { rows[tr.dataset.position] = tr; });

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function update(data) {
    document.getElementById("job-progress").value = data.percent;
    setText("job-percent", data.percent + "% done");
    setText("job-state", data.state_label);
    if (data.summary) setText("job-summary", data.summary);
    document.getElementById("job-progress").className = "state-" + data.state;
    ["deleted", "not_found", "rejected", "failed", "unknown", "not_sent", "skipped", "remaining"].forEach(function (k) {
      setText("count-" + k, Number(data[k]).toLocaleString("en-US"));
    });
    cursor = String(data.cursor);
    data.items.forEach(function (item) {
      var tr = rows[item.position];
      if (!tr) return;  // on another page of items
      // The badge as the server rendered it (the same template tag as the page's own rows).
      tr.querySelector(".item-outcome").innerHTML = item.badge;
      var answer = tr.querySelector(".item-answer"), text = item.answer ? item.answer + " " : "";
      if (answer.firstChild && answer.firstChild.nodeType === Node.TEXT_NODE) answer.firstChild.textContent = text;
      else answer.insertBefore(document.createTextNode(text), answer.firstChild);
      tr.querySelector(".item-message").textContent = item.message;
    });
    if (data.more) return true;  // more changes waiting: the next poll takes them
    if (data.state === "done" || data.state === "cancelled") {
      // The job has ended: one last pass over every row (items not attempted change without an
      // audit event), then the page stops polling.
      if (!settled) {
        settled = true;
        cursor = "0";
        return true;
      }
      var cancel = document.getElementById("cancel-button");
      if (cancel) cancel.closest("form").remove();
      // Messages of the running job ("queued", "cancelling…") are stale once it has ended.
      document.querySelectorAll(".messages .message").forEach(function (m) { m.remove(); });
      return false;
    }
    return true;
  }

  function poll() {
    fetch(url + "?since=" + encodeURIComponent(cursor), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data === null || update(data)) setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
