// The execution page, live: each event of the server-sent stream goes into the log and
// moves its node (graph and step table) to the status it names. A step that records a turn
// (every step event but step_running) may have called models or tried again: the totals, the
// steps' attempts and turns and the model calls are fetched again from the console and
// swapped in. When the execution ends the page reloads once, to show outputs and errors as
// stored.
(function () {
  "use strict";
  var log = document.getElementById("events");
  if (!log || !log.dataset.stream) { return; }
  var STEP = ["queued", "running", "waiting", "completed", "failed", "skipped", "cancelled", "pending", "turn"];
  var EXECUTION = ["pending", "running", "paused", "completed", "failed", "cancelled", "timed_out"];
  var ENDED = ["completed", "failed", "cancelled", "timed_out"];
  var source = new EventSource(log.dataset.stream + "?after=" + encodeURIComponent(log.dataset.after));

  function badge(status) {
    var span = document.createElement("span");
    span.className = "status status-" + status;
    span.textContent = status;
    return span;
  }

  function text(tag, className, value) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    el.textContent = value == null ? "" : String(value);
    return el;
  }

  function moveNode(node, status, attempt) {
    var box = document.querySelector('svg.dag g[data-node="' + CSS.escape(node) + '"]');
    if (box) {
      box.setAttribute("class", "node status-" + status);
      box.querySelector(".node-status").textContent = status;
    }
    var body = document.querySelector("#steps tbody");
    var row = body.querySelector('tr[data-node="' + CSS.escape(node) + '"]');
    if (!row) {
      row = document.createElement("tr");
      row.dataset.node = node;
      [node, box ? box.querySelector(".node-meta").firstChild.textContent.split(" ")[0] : "", "", "", "", "", ""]
        .forEach(function (value) { row.appendChild(text("td", "", value)); });
      body.appendChild(row);
    }
    row.cells[2].replaceChildren(badge(status));
    if (attempt) { row.cells[3].textContent = attempt; }
  }

  // One fetch at a time; events that arrive meanwhile ask for one more after it.
  var fetching = false, again = false;
  function refreshCalls() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetch(log.dataset.growing, {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html) { swap(html); } })
      .catch(function () { /* the next event or the reload at the end brings them */ })
      .finally(function () {
        fetching = false;
        if (again) { again = false; refreshCalls(); }
      });
  }

  // Each element of the fragment replaces the page's element of the same id; what the reader
  // opened (a call's content, a step's attempts) stays open.
  function swap(html) {
    var open = Array.prototype.map.call(document.querySelectorAll("details[data-keep][open]"),
                                        function (d) { return d.dataset.keep; });
    var fragment = document.createElement("template");
    fragment.innerHTML = html;
    Array.prototype.slice.call(fragment.content.children).forEach(function (fresh) {
      var old = fresh.id && document.getElementById(fresh.id);
      if (old) {
        window.Console.localTimes(fresh);
        old.replaceWith(fresh);
      }
    });
    open.forEach(function (key) {
      var details = document.querySelector('details[data-keep="' + CSS.escape(key) + '"]');
      if (details) { details.open = true; }
    });
  }

  function show(event) {
    var item = document.createElement("li");
    item.appendChild(text("span", "seq", event.seq));
    item.appendChild(document.createTextNode(" "));
    var time = text("time", "time", window.Console.local(new Date(event.created_at)));
    time.setAttribute("datetime", event.created_at);
    time.title = event.created_at;
    item.appendChild(time);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(text("span", "type", event.event_type));
    item.appendChild(document.createTextNode(" " + (event.node_id || "") + " "));
    item.appendChild(text("span", "msg", event.message || ""));
    log.appendChild(item);
  }

  function onEvent(message) {
    var event = JSON.parse(message.data);
    show(event);
    var kind = event.event_type;
    if (kind.indexOf("step_") === 0 && event.node_id) {
      var step = kind.slice(5);
      moveNode(event.node_id, step === "turn" ? "queued" : step, event.attempt);    // the next turn waits
      if (step !== "running") { refreshCalls(); }
    } else if (kind.indexOf("execution_") === 0) {
      var status = kind.slice(10);
      document.getElementById("execution-status").replaceChildren(badge(status));
      if (ENDED.indexOf(status) >= 0) {
        source.close();
        document.getElementById("live").textContent = "ended";
        setTimeout(function () { window.location.reload(); }, 400);
      }
    }
  }

  STEP.forEach(function (s) { source.addEventListener("step_" + s, onEvent); });
  EXECUTION.forEach(function (s) { source.addEventListener("execution_" + s, onEvent); });
  source.addEventListener("message", onEvent);
})();
