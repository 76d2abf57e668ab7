// The executions list, live: its rows are fetched again every few seconds (while the tab is
// visible) for the same filters and swapped in when they changed, so new executions appear
// and statuses move without a reload. One poll of one indexed query serves the whole list;
// the per-execution event streams would need a stream per row and miss new executions.
// Also: the custom time range's fields, in local time, sent as instants (from, to).
(function () {
  "use strict";
  var EVERY_MS = 2000;
  var table = document.getElementById("executions");

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function localValue(date) {                   // what a datetime-local input takes
    return date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate()) + "T" +
      two(date.getHours()) + ":" + two(date.getMinutes()) + ":" + two(date.getSeconds());
  }

  var form = document.getElementById("filters");
  var range = document.getElementById("range");
  var custom = document.getElementById("custom-range");
  if (form && range && custom) {
    Array.prototype.forEach.call(custom.querySelectorAll("[data-instant]"), function (input) {
      var hidden = form.elements[input.dataset.instant];
      var date = hidden.value ? new Date(hidden.value) : null;
      if (date && !isNaN(date)) { input.value = localValue(date); }
      input.addEventListener("change", function () {
        var chosen = input.value ? new Date(input.value) : null;     // a local wall time
        hidden.value = chosen && !isNaN(chosen) ? chosen.toISOString() : "";
      });
    });
    range.addEventListener("change", function () { custom.hidden = range.value !== "custom"; });
    form.addEventListener("submit", function () {
      if (range.value !== "custom") { form.elements.from.value = ""; form.elements.to.value = ""; }
    });
  }

  if (!table || !table.dataset.live) { return; }
  var last = null, busy = false, stamp = document.getElementById("live-list");
  function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(table.dataset.source, {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        if (stamp) { stamp.title = "Fetched at " + window.Console.local(new Date()); }
        if (html === last) { return; }
        last = html;
        var fragment = document.createElement("template");
        fragment.innerHTML = html;
        var rows = fragment.content.querySelector("tbody");
        if (rows) {
          window.Console.localTimes(rows);
          table.tBodies[0].replaceWith(rows);
        }
      })
      .catch(function () { /* the next poll tries again */ })
      .finally(function () { busy = false; });
  }
  setInterval(poll, EVERY_MS);
})();
