// Keyboard shortcuts of the review queue: j/k move, e edit, 1-5 decide.
(function () {
  var cards = Array.prototype.slice.call(document.querySelectorAll("article.review"));
  if (!cards.length) return;
  var current = 0;
  function select(i) {
    if (i < 0 || i >= cards.length) return;
    cards[current].classList.remove("current");
    current = i;
    cards[current].classList.add("current");
    cards[current].focus();
    cards[current].scrollIntoView({ block: "nearest" });
  }
  cards.forEach(function (c, i) { c.addEventListener("focusin", function () { if (current !== i) { cards[current].classList.remove("current"); current = i; c.classList.add("current"); } }); });
  select(0);
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var tag = (ev.target.tagName || "").toLowerCase();
    var typing = tag === "input" || tag === "textarea" || tag === "select";
    if (typing) {
      if (ev.key === "Escape") { cards[current].focus(); }
      return;
    }
    var card = cards[current];
    if (ev.key === "j") { select(current + 1); ev.preventDefault(); return; }
    if (ev.key === "k") { select(current - 1); ev.preventDefault(); return; }
    if (ev.key === "e") { var s = card.querySelector("select.classification"); if (s) { s.focus(); ev.preventDefault(); } return; }
    if (ev.key === "5") { var inp = card.querySelector("input.incident-id"); if (inp && !inp.value) { inp.focus(); ev.preventDefault(); return; } }
    var btn = card.querySelector('button[data-key="' + ev.key + '"]');
    if (btn) { ev.preventDefault(); btn.click(); }
  });
})();
