// star-pipeline dashboard: reloads the pages of running runs (unless the
// reader turns it off) and asks before a run action.
(function () {
  "use strict";
  var key = "star-auto-refresh";
  var box = document.getElementById("auto-refresh");
  var secs = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (box && secs > 0) {
    box.checked = window.localStorage.getItem(key) !== "off";
    box.addEventListener("change", function () {
      window.localStorage.setItem(key, box.checked ? "on" : "off");
      if (box.checked) { schedule(); }
    });
    var timer = null;
    var schedule = function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () {
        if (box.checked && !document.hidden) { window.location.reload(); } else { schedule(); }
      }, secs * 1000);
    };
    schedule();
  }
  var forms = document.querySelectorAll("form[data-confirm]");
  for (var i = 0; i < forms.length; i++) {
    forms[i].addEventListener("submit", function (ev) {
      if (!window.confirm(this.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  }
})();
