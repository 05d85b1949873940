// approvald UI: live updates and two small conveniences. Every page works
// without this file; it only saves a reload.
(function () {
  "use strict";

  var root = document.documentElement;

  // Buttons and forms with data-confirm ask before they submit.
  document.addEventListener("submit", function (ev) {
    var b = ev.submitter;
    var msg = (b && b.getAttribute("data-confirm")) || ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      ev.preventDefault();
    }
  });

  // A field with data-required-for="<decisions>" is required only when the
  // form is sent with one of those decisions (the value of the button
  // clicked): the browser then refuses to send it without the field, as the
  // server would. The click comes before the browser checks the form.
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("button[type=submit][value]");
    if (!b || !b.form) {
      return;
    }
    Array.prototype.forEach.call(b.form.elements, function (el) {
      var needs = el.getAttribute && el.getAttribute("data-required-for");
      if (needs !== null && needs !== undefined) {
        el.required = needs.split(/\s+/).indexOf(b.value) >= 0;
      }
    });
  });

  // Buttons with data-copy="<id>" copy that element's text (secrets shown once).
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("[data-copy]");
    if (!b || !navigator.clipboard) {
      return;
    }
    var el = document.getElementById(b.getAttribute("data-copy"));
    if (el) {
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        b.textContent = "Copied";
      });
    }
  });

  // Live updates: an element with data-live-src names an event stream of
  // the UI; when a change arrives, the #live region is fetched again (from
  // data-live-refresh) and swapped in by htmx. What the reader was doing
  // survives: text typed into a form, unfolded sections, the focus.
  var src = document.querySelector("[data-live-src]");
  if (!src || !window.EventSource || !window.htmx) {
    return;
  }
  var single = src.hasAttribute("data-live-request");
  var refreshURL = src.getAttribute("data-live-refresh") || window.location.pathname + window.location.search;
  var announcer = document.getElementById("live-status");
  var timer = null;
  var connected = false;

  function shownVersion() {
    var live = document.getElementById("live");
    return live ? Number(live.getAttribute("data-version") || 0) : 0;
  }

  // snapshot records the reader's state in the live region.
  function snapshot() {
    var live = document.getElementById("live");
    var s = { open: {}, values: {}, checked: {}, focus: null, start: null, end: null };
    if (!live) {
      return s;
    }
    live.querySelectorAll("details[id]").forEach(function (d) {
      s.open[d.id] = d.open;
    });
    live.querySelectorAll("textarea[id], input[id]:not([type=hidden])").forEach(function (el) {
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked !== el.defaultChecked) {
          s.checked[el.id] = el.checked;
        }
      } else if (el.value !== el.defaultValue) {
        s.values[el.id] = el.value;
      }
    });
    var a = document.activeElement;
    if (a && a.id && live.contains(a)) {
      s.focus = a.id;
      if (typeof a.selectionStart === "number") {
        s.start = a.selectionStart;
        s.end = a.selectionEnd;
      }
    }
    return s;
  }

  // restore puts the reader's state back on the elements of the same ids.
  function restore(s) {
    Object.keys(s.open).forEach(function (id) {
      var d = document.getElementById(id);
      if (d && d.tagName === "DETAILS") {
        d.open = s.open[id];
      }
    });
    Object.keys(s.values).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && "value" in el) {
        el.value = s.values[id];
      }
    });
    Object.keys(s.checked).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && "checked" in el) {
        el.checked = s.checked[id];
      }
    });
    var f = s.focus && document.getElementById(s.focus);
    if (f) {
      f.focus();
      if (s.start !== null && typeof f.setSelectionRange === "function") {
        f.setSelectionRange(s.start, s.end);
      }
    }
  }

  function refresh() {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      var before = shownVersion();
      var kept = snapshot();
      window.htmx.ajax("GET", refreshURL, { target: "#live", select: "#live", swap: "outerHTML" }).then(function () {
        restore(kept);
        root.setAttribute("data-live-refreshes", String(Number(root.getAttribute("data-live-refreshes") || 0) + 1));
        var live = document.getElementById("live");
        var msg = live && live.getAttribute("data-announce");
        if (announcer && msg && (!single || shownVersion() !== before)) {
          announcer.textContent = msg;
        }
      });
    }, single ? 100 : 500);
  }

  var events = new EventSource(src.getAttribute("data-live-src"));
  events.addEventListener("open", function () {
    root.setAttribute("data-live", "connected");
    if (connected) {
      refresh(); // reconnected: a change may have been missed
    }
    connected = true;
  });
  events.addEventListener("error", function () {
    root.setAttribute("data-live", "reconnecting");
  });
  events.addEventListener("change", function (ev) {
    var c;
    try {
      c = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (single && c.version <= shownVersion()) {
      return; // this page shows that version already
    }
    refresh();
  });
  window.addEventListener("pagehide", function () {
    events.close();
  });
})();
