// The review queue as a working tool: decisions without a page reload, keys by their place on the
// keyboard (ev.code: the Russian layout works the same), a type-ahead for sector and category,
// undo of the last decision, the next cards loaded as the operator goes.
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  if (!queue) return;
  var canAct = queue.getAttribute("data-can-act") === "1";
  var csrf = queue.getAttribute("data-csrf") || "";
  var editor = document.getElementById("review-editor");
  var statusEl = document.getElementById("review-status");
  var countEl = document.getElementById("review-count");
  var classes = document.getElementById("review-classes");
  var SKIPPED = "cur-review-skipped";
  var current = null;
  var loading = false;
  var undoStack = [];
  var editing = null;

  var pager = document.querySelector("nav.pager");
  if (pager) pager.hidden = true; // the next cards come by themselves

  // ------------------------------------------------------------------ skipped posts go to the end
  function loadSkipped() {
    try { return JSON.parse(sessionStorage.getItem(SKIPPED) || "[]"); } catch (e) { return []; }
  }
  var skipped = loadSkipped();
  function saveSkipped() {
    try { sessionStorage.setItem(SKIPPED, JSON.stringify(skipped.slice(-500))); } catch (e) { /* private mode */ }
  }
  function isSkipped(card) { return skipped.indexOf(card.getAttribute("data-post-id")) >= 0; }
  function markSkipped(card) {
    var id = card.getAttribute("data-post-id");
    if (skipped.indexOf(id) < 0) { skipped.push(id); saveSkipped(); }
  }
  function unmarkSkipped(card) {
    var i = skipped.indexOf(card.getAttribute("data-post-id"));
    if (i >= 0) { skipped.splice(i, 1); saveSkipped(); }
  }
  function skippedTail() {
    var all = cards();
    var anchor = null;
    for (var i = all.length - 1; i >= 0 && isSkipped(all[i]); i--) anchor = all[i];
    return anchor;
  }
  cards().filter(isSkipped).forEach(function (c) { queue.appendChild(c); });

  // ------------------------------------------------------------------ cards and focus
  function cards() { return Array.prototype.slice.call(queue.querySelectorAll("article.review:not(.done)")); }

  function select(card) {
    if (!card) return;
    if (current && current !== card) current.classList.remove("current");
    current = card;
    card.classList.add("current");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
  }

  function step(delta) {
    var all = cards();
    var i = all.indexOf(current);
    var next = all[i + delta];
    if (next) select(next);
    moreIfNeeded();
  }

  queue.addEventListener("focusin", function (ev) {
    var card = ev.target.closest ? ev.target.closest("article.review") : null;
    if (card && card !== current && !card.classList.contains("done")) {
      if (current) current.classList.remove("current");
      current = card;
      card.classList.add("current");
    }
  });

  function setCount(delta) {
    if (!countEl) return;
    var n = parseInt(countEl.textContent, 10);
    if (!isNaN(n)) countEl.textContent = String(Math.max(0, n + delta));
  }

  function say(text, bad) {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.className = bad ? "flash err" : "flash ok";
    statusEl.setAttribute("role", bad ? "alert" : "status");
    statusEl.hidden = false;
  }

  function emptyCheck() {
    if (cards().length === 0 && !queue.getAttribute("data-next")) {
      var p = document.getElementById("review-empty");
      if (!p) {
        p = document.createElement("p");
        p.id = "review-empty";
        p.className = "empty";
        p.textContent = "Очередь пуста: все посты на этой странице проверены.";
        queue.parentNode.insertBefore(p, queue);
      }
    }
  }

  // ------------------------------------------------------------------ server calls
  function post(url, fields) {
    var body = new URLSearchParams();
    Object.keys(fields).forEach(function (k) { if (fields[k] !== undefined && fields[k] !== null) body.set(k, fields[k]); });
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8" },
      body: body.toString()
    }).then(function (r) {
      var type = r.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") >= 0) return r.json();
      if (r.status === 403) return { ok: false, error: "Нет прав или форма устарела. Обновите страницу." };
      return { ok: false, error: "Не удалось сохранить: ответ сервера " + r.status + ". Обновите страницу и повторите." };
    }, function () {
      return { ok: false, error: "Нет связи с сервером: решение не сохранено." };
    });
  }

  function cardStatus(card, text) {
    var s = card.querySelector(".card-status");
    if (s) s.textContent = text || "";
  }

  function decide(card, decision, extra) {
    if (!card || card.classList.contains("done")) return;
    var all = cards();
    var i = all.indexOf(card);
    var next = all[i + 1] || all[i - 1] || null;
    card.classList.add("done");
    card.setAttribute("data-state", "sending");
    card.classList.remove("current");
    cardStatus(card, "");
    setCount(-1);
    if (next) select(next); else { current = null; emptyCheck(); }
    var fields = { decision: decision };
    if (extra) Object.keys(extra).forEach(function (k) { fields[k] = extra[k]; });
    post("/review/" + card.getAttribute("data-post-id"), fields).then(function (r) {
      if (r && r.ok) {
        card.setAttribute("data-state", "saved");
        unmarkSkipped(card);
        undoStack.push({ id: r.decision_id, card: card });
        say(r.message + " Отменить — клавиша U.", false);
      } else {
        card.classList.remove("done");
        card.removeAttribute("data-state");
        setCount(1);
        var text = (r && r.error) || "Решение не сохранено.";
        cardStatus(card, text);
        say(text, true);
        select(card);
      }
      moreIfNeeded();
    });
  }

  function undo() {
    var last = undoStack.length ? undoStack[undoStack.length - 1] : null;
    post("/review/undo", { decision_id: last ? last.id : "" }).then(function (r) {
      if (!r || !r.ok) { say((r && r.error) || "Не удалось отменить решение.", true); return; }
      if (last && last.id === r.decision_id) undoStack.pop();
      var card = last && last.id === r.decision_id ? last.card : queue.querySelector('article.review[data-post-id="' + r.post_id + '"]');
      say(r.message, false);
      if (card) {
        card.classList.remove("done");
        card.removeAttribute("data-state");
        setCount(1);
        var empty = document.getElementById("review-empty");
        if (empty) empty.parentNode.removeChild(empty);
        select(card);
      } else {
        say(r.message + " Обновите страницу, чтобы увидеть пост.", false);
      }
    });
  }

  function moreIfNeeded() {
    var next = queue.getAttribute("data-next");
    if (loading || !next) return;
    var all = cards();
    if (all.length - all.indexOf(current) > 10) return;
    loading = true;
    var base = queue.getAttribute("data-more") || "/review/more";
    var url = base + (base.indexOf("?") >= 0 ? "&" : "?") + "cursor=" + encodeURIComponent(next);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        loading = false;
        if (!d) return;
        var box = document.createElement("div");
        box.innerHTML = d.html;
        var anchor = skippedTail();
        Array.prototype.slice.call(box.querySelectorAll("article.review")).forEach(function (c) {
          if (document.getElementById(c.id)) return;
          queue.insertBefore(c, anchor);
        });
        queue.setAttribute("data-next", d.next || "");
        if (!current) select(cards()[0]);
        emptyCheck();
      }, function () { loading = false; });
  }

  // ------------------------------------------------------------------ the editor (type-ahead, reason, incident)
  function nameOf(code) {
    if (!classes) return "";
    var o = classes.querySelector('option[data-code="' + code + '"]');
    return o ? o.value : "";
  }

  function codeOf(text) {
    if (!classes) return null;
    var t = text.trim().toLowerCase();
    if (!t) return null;
    var opts = Array.prototype.slice.call(classes.options);
    var exact = opts.filter(function (o) { return o.value.toLowerCase() === t; });
    if (exact.length) return exact[0].getAttribute("data-code");
    var partial = opts.filter(function (o) { return o.value.toLowerCase().indexOf(t) >= 0; });
    return partial.length === 1 ? partial[0].getAttribute("data-code") : null;
  }

  function field(name) { return editor.querySelector('[name="' + name + '"]'); }

  function openEditor(card, mode) {
    if (!editor || !card) return;
    editing = { card: card, mode: mode };
    editor.className = "review-editor mode-" + mode;
    editor.querySelector(".ed-error").textContent = "";
    card.appendChild(editor);
    editor.hidden = false;
    var input;
    if (mode === "correct") {
      input = field("classification");
      input.value = nameOf(card.getAttribute("data-class"));
      field("urgency").value = card.getAttribute("data-urgency") === "high" ? "high" : "normal";
    } else if (mode === "not_problem") {
      input = field("comment");
      input.value = "";
    } else {
      input = field("incident_id");
      input.value = "";
    }
    input.focus();
    input.select();
  }

  function closeEditor(refocus) {
    if (!editor || !editing) return;
    var card = editing.card;
    editing = null;
    editor.hidden = true;
    document.body.appendChild(editor);
    if (refocus) select(card);
  }

  function saveEditor() {
    if (!editing) return;
    var card = editing.card, mode = editing.mode, err = editor.querySelector(".ed-error");
    var extra = {};
    if (mode === "correct") {
      var code = codeOf(field("classification").value);
      if (!code) { err.textContent = "Выберите направление и категорию из списка."; return; }
      extra = { classification: code, urgency: field("urgency").value };
    } else if (mode === "not_problem") {
      var reason = field("comment").value.trim();
      if (!reason) { err.textContent = "Укажите причину: почему это не проблема."; return; }
      extra = { comment: reason };
    } else {
      var n = field("incident_id").value.trim();
      if (!/^\d+$/.test(n)) { err.textContent = "Укажите номер инцидента цифрами."; return; }
      extra = { incident_id: n };
    }
    closeEditor(false);
    decide(card, mode, extra);
  }

  if (editor) {
    editor.querySelector(".ed-save").addEventListener("click", saveEditor);
    editor.querySelector(".ed-cancel").addEventListener("click", function () { closeEditor(true); });
  }

  // ------------------------------------------------------------------ buttons and keys
  function act(card, decision) {
    if (decision === "confirm" && (card.getAttribute("data-class") || ":").charAt(0) === ":") {
      // nothing to confirm: the model named no sector; choose one instead
      openEditor(card, "correct");
      editor.querySelector(".ed-error").textContent = "Модель не определила направление: выберите его.";
      return;
    }
    if (decision === "correct" || decision === "not_problem" || decision === "merge") openEditor(card, decision);
    else decide(card, decision, null);
  }

  queue.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("button[data-decision]") : null;
    if (!btn || !canAct) return;
    ev.preventDefault();
    var card = btn.closest("article.review");
    if (editing) closeEditor(false);
    select(card);
    act(card, btn.getAttribute("data-decision"));
  });

  var undoButton = document.getElementById("review-undo");
  if (undoButton) undoButton.addEventListener("click", undo);

  var KEYS = {
    Enter: "confirm", NumpadEnter: "confirm", Digit1: "confirm", Numpad1: "confirm",
    KeyE: "correct", Digit2: "correct", Numpad2: "correct",
    KeyN: "not_problem", Digit3: "not_problem", Numpad3: "not_problem",
    KeyF: "fake", Digit4: "fake", Numpad4: "fake",
    KeyM: "merge", Digit5: "merge", Numpad5: "merge"
  };

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    if (editing && editor.contains(t)) {
      if (ev.code === "Escape") { ev.preventDefault(); closeEditor(true); }
      else if ((ev.code === "Enter" || ev.code === "NumpadEnter") && t.tagName !== "BUTTON") { ev.preventDefault(); saveEditor(); }
      return;
    }
    var tag = (t.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || t.isContentEditable) return;
    if (ev.code === "KeyJ" || ev.code === "ArrowDown") {
      if (ev.code === "ArrowDown" && !current) return;
      ev.preventDefault();
      if (current) markSkipped(current);
      step(1);
      return;
    }
    if (ev.code === "KeyK" || ev.code === "ArrowUp") { ev.preventDefault(); step(-1); return; }
    if (!canAct) return;
    if (ev.code === "KeyU") { ev.preventDefault(); undo(); return; }
    var decision = KEYS[ev.code];
    if (!decision || !current) return;
    if ((ev.code === "Enter" || ev.code === "NumpadEnter") && (tag === "a" || tag === "button")) return;
    ev.preventDefault();
    act(current, decision);
  });

  select(cards()[0]);
  moreIfNeeded();
})();
