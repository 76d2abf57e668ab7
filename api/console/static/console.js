// What every page shares: each <time datetime="..."> shown in the browser's time zone, with
// the zone's name (its ISO value stays on hover), and the footer naming the zone. Scripts that
// swap parts of a page in call Console.localTimes(part) on what they bring.
(function () {
  "use strict";
  function two(n) { return (n < 10 ? "0" : "") + n; }

  function zoneName(date) {
    var part = new Intl.DateTimeFormat(undefined, {timeZoneName: "short"}).formatToParts(date)
      .filter(function (p) { return p.type === "timeZoneName"; })[0];
    return part ? part.value : "";
  }

  // "2025-03-30 14:05:09 CEST": digits as written everywhere, the zone as the browser names it.
  function local(date) {
    return date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate()) + " " +
      two(date.getHours()) + ":" + two(date.getMinutes()) + ":" + two(date.getSeconds()) + " " + zoneName(date);
  }

  function localTimes(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("time[datetime]"), function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date)) { el.textContent = local(date); }
    });
  }

  window.Console = {local: local, localTimes: localTimes};
  localTimes(document);
  var footer = document.getElementById("zone");
  if (footer) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone, name = zoneName(new Date());
    footer.textContent = "Times are in your time zone, " + zone + (name !== zone ? " (" + name + ")" : "") +
      "; hover one for its ISO value.";
  }
})();
