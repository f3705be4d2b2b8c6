// Live deadline countdowns; no external libraries.
(function () {
  function fmt(ms) {
    var m = Math.floor(Math.abs(ms) / 60000), d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60), mm = m % 60;
    var parts = [];
    if (d) parts.push(d + " дн");
    if (h) parts.push(h + " ч");
    if (!d) parts.push(mm + " мин");
    return parts.join(" ");
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = due - now;
      el.textContent = left >= 0 ? "осталось " + fmt(left) : "просрочено на " + fmt(left);
      el.classList.toggle("late", left < 0);
    });
  }
  if (document.querySelector(".countdown[data-due]")) { tick(); setInterval(tick, 30000); }
})();

// On a phone the filters of a list start folded (unless some are set): the rows come first.
(function () {
  if (!window.matchMedia || !window.matchMedia("(max-width: 640px)").matches) return;
  document.querySelectorAll("details.filters-box[data-fold-on-phone=yes]").forEach(function (d) { d.open = false; });
})();
