// Confirmation of destructive actions: a form with data-confirm="question" asks in a <dialog> before it is sent.
// (A static file, so it runs under the Content-Security-Policy; the form's own checks, e.g. a required reason, come first.)
(function () {
  var forms = document.querySelectorAll("form[data-confirm]");
  if (!forms.length) return;
  var dlg = document.createElement("dialog");
  dlg.className = "confirm";
  dlg.setAttribute("aria-labelledby", "confirm-text");
  dlg.innerHTML = '<form method="dialog"><p id="confirm-text" class="confirm-text"></p>' +
    '<p class="confirm-buttons"><button value="cancel" class="quiet confirm-cancel">Отмена</button> <button value="ok" class="danger confirm-ok">Да</button></p></form>';
  document.body.appendChild(dlg);
  var pending = null;
  forms.forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      if (f.getAttribute("data-confirmed") === "1") return;
      ev.preventDefault();
      pending = f;
      dlg.querySelector(".confirm-text").textContent = f.getAttribute("data-confirm");
      dlg.querySelector(".confirm-ok").textContent = f.getAttribute("data-confirm-button") || "Да";
      dlg.returnValue = "";
      dlg.showModal();
      dlg.querySelector(".confirm-cancel").focus(); // the safe answer is the default
    });
  });
  dlg.addEventListener("close", function () {
    var f = pending;
    pending = null;
    if (dlg.returnValue !== "ok" || !f) return;
    f.setAttribute("data-confirmed", "1");
    if (f.requestSubmit) f.requestSubmit(); else f.submit();
  });
})();
