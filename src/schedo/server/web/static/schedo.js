/* Schedo dashboard: small progressive enhancements. Every page works without this file.
   - schedule preset buttons fill in the cron expression (and so refresh the live preview);
   - live regions (data-live) skip a refresh while the tab is hidden, while a run's output is
     open, or while keyboard focus is inside them, so nothing collapses under the reader;
   - the one-time API key is selected on focus, ready to copy;
   - the new-job form shows only the fieldsets of the chosen type;
   - copy buttons (button[data-copy="<field id>"], hidden without script) copy a one-time
     secret to the clipboard and say so in the field's status line. */
(function () {
  "use strict";

  document.addEventListener("click", function (ev) {
    var target = ev.target;
    var btn = target && target.closest ? target.closest("button.preset") : null;
    if (!btn) { return; }
    var input = document.getElementById("schedule");
    if (!input) { return; }
    input.value = btn.getAttribute("data-schedule") || "";
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
    input.focus();
  });

  document.addEventListener("htmx:beforeRequest", function (ev) {
    var elt = ev.detail && ev.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-live")) { return; }
    var active = document.activeElement;
    if (document.hidden || elt.querySelector("details[open]") ||
        (active && active !== document.body && elt.contains(active))) {
      ev.preventDefault();
    }
  });

  // the new-job form: show only the fieldsets of the chosen type (all show without script)
  function showKind() {
    var picked = document.querySelector('.kinds input[name="type"]:checked');
    if (!picked) { return; }
    document.querySelectorAll(".for-kind").forEach(function (fs) {
      fs.hidden = (fs.getAttribute("data-kind") || "").split(" ").indexOf(picked.value) < 0;
    });
  }
  document.addEventListener("change", function (ev) {
    if (ev.target && ev.target.matches && ev.target.matches('.kinds input[name="type"]')) { showKind(); }
  });
  document.addEventListener("DOMContentLoaded", showKind);

  document.addEventListener("focusin", function (ev) {
    var t = ev.target;
    if (t && t.matches && t.matches("[data-select-on-focus]")) { t.select(); }
  });

  // copy buttons of one-time secrets: shown only with script (they need it)
  function showCopyButtons() {
    document.querySelectorAll("button[data-copy][hidden]").forEach(function (b) { b.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", showCopyButtons);
  document.addEventListener("htmx:afterSwap", showCopyButtons);
  document.addEventListener("click", function (ev) {
    var btn = ev.target && ev.target.closest ? ev.target.closest("button[data-copy]") : null;
    if (!btn) { return; }
    var field = document.getElementById(btn.getAttribute("data-copy") || "");
    if (!field) { return; }
    var row = btn.closest(".copyrow");
    var status = row && row.nextElementSibling && row.nextElementSibling.matches(".copied")
      ? row.nextElementSibling : null;
    function say(copied) {
      if (status) {
        status.textContent = copied ? "Copied to the clipboard."
          : "Could not copy: the value is selected, press Ctrl+C (\u2318C on a Mac).";
      }
    }
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { say(true); },
        function () { say(document.execCommand("copy")); });
    } else {
      say(document.execCommand("copy"));
    }
  });
})();
