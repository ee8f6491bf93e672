// Shared helpers of the site's pages: strings, formatting, DOM building, the three steps and
// the drop zone. No framework; everything degrades to the plain HTML form without JavaScript.
"use strict";

(function () {
  const I18N = window.CERTSEAL_I18N || { strings: {}, docTypes: {}, revocationReasons: {} };

  /** A catalog string with {name} placeholders filled; unknown keys show as themselves. */
  function t(key, params) {
    const template = Object.prototype.hasOwnProperty.call(I18N.strings, key)
      ? I18N.strings[key]
      : key;
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return params && params[name] !== undefined && params[name] !== null
        ? String(params[name])
        : whole;
    });
  }

  function has(key) {
    return Object.prototype.hasOwnProperty.call(I18N.strings, key);
  }

  /** "2026-06-22T02:00:00Z" -> "2026-06-22 02:00 UTC", as the pages print times. */
  function formatTime(iso) {
    if (typeof iso !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z$/.test(iso)) {
      return iso || "";
    }
    return iso.slice(0, 10) + " " + iso.slice(11, 16) + " UTC";
  }

  // Times written for people, as certseal/timeutil.py people_time writes them: the reader's
  // language, the school's time zone (the page's data-time-zone, else Taipei). The shared cases
  // are tests/vectors/people_times.json.
  const DEFAULT_TIME_ZONE = "Asia/Taipei";
  const ZONE_NAMES = { "Asia/Taipei": ["Taipei time", "臺北時間"], UTC: ["UTC", "UTC"] };
  const MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
  ];

  function pageTimeZone() {
    const root = document.documentElement;
    return (root && root.getAttribute("data-time-zone")) || DEFAULT_TIME_ZONE;
  }

  /** "2026-11-30T08:46:39Z" -> "30 November 2026, 4:46 pm Taipei time" (or in Chinese). */
  function peopleTime(iso, lang, zone) {
    if (typeof iso !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(iso)) {
      return iso || "";
    }
    lang = lang || I18N.lang || "zh-TW";
    zone = zone || pageTimeZone();
    const ms = Date.parse(iso);
    let parts;
    try {
      parts = new Intl.DateTimeFormat("en-US", {
        timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
        hour: "numeric", minute: "numeric", second: "numeric",
      }).formatToParts(new Date(ms));
    } catch (e) {
      return formatTime(iso); // a zone this browser does not know: UTC, said so
    }
    const p = {};
    parts.forEach(function (part) {
      p[part.type] = Number(part.value);
    });
    let name = ZONE_NAMES[zone];
    if (!name) {
      const minutes = Math.round(
        (Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - ms) / 60000
      );
      const abs = Math.abs(minutes);
      const label = "UTC" + (minutes >= 0 ? "+" : "\u2212") + Math.floor(abs / 60) +
        (abs % 60 ? ":" + String(abs % 60).padStart(2, "0") : "");
      name = [label, label];
    }
    const hour = p.hour % 12 || 12;
    const minute = String(p.minute).padStart(2, "0");
    if (lang === "zh-TW") {
      return p.year + "年" + p.month + "月" + p.day + "日 " + (p.hour < 12 ? "上午" : "下午") +
        hour + ":" + minute + "（" + name[1] + "）";
    }
    return p.day + " " + MONTHS[p.month - 1] + " " + p.year + ", " + hour + ":" + minute + " " +
      (p.hour < 12 ? "am" : "pm") + " " + name[0];
  }

  // What the person should do next, from the reason codes: the same table as
  // verifier/messages.py NEXT_STEPS (a test compares them); the first rule that applies first.
  const NEXT_STEPS = [
    [["zip_archive"], "next_zip"],
    [["not_pdf", "empty_file", "too_large"], "next_not_pdf"],
    [["revoked"], "next_revoked"],
    [["superseded"], "next_superseded"],
    [["verification_limit_reached"], "next_limit"],
    [
      ["not_issued", "signature_invalid", "modified_after_signing", "no_signature",
        "malformed_pdf", "encrypted", "untrusted_signer", "resaved_copy"],
      "next_resaved",
    ],
    [["school_not_in_trust_list"], "next_not_member"],
    [
      ["school_not_active", "key_not_valid_at_issuance", "key_compromised", "long_term_unproven",
        "signed_after_revocation"],
      "next_new_document",
    ],
    [["status_list_of_another_school", "listed_by_another_school"], "next_ask_school"],
    [["school_suspended"], "next_suspended"],
    [["status_unavailable"], "next_unavailable"],
    [["busy"], "next_busy"],
    [["status_stale"], "next_stale"],
  ];

  /** The string keys of the advice for a verdict and its reason codes, each once, in order. */
  function nextSteps(verdict, codes) {
    if (verdict === "success") return ["next_success"];
    const out = [];
    NEXT_STEPS.forEach(function (rule) {
      const applies = rule[0].some(function (c) {
        return codes.indexOf(c) >= 0;
      });
      if (applies && out.indexOf(rule[1]) < 0) out.push(rule[1]);
    });
    return out.length ? out : ["next_failure"];
  }

  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  /** el("p", {class: "x"}, "text", otherNode): text is always text, never HTML. */
  function el(tag, attrs) {
    const node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        const value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "class") node.className = value;
        else node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    for (let i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
    else node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  const ICONS = { success: "✓", warning: "!", failure: "✕", pending: "…" };
  const CHECK_ICONS = { passed: "✓", failed: "✕", warning: "!", skipped: "–" };

  /** The verdict box: icon + words + colour, never colour alone. */
  function verdictBox(kind, title, summary, extra) {
    return el(
      "div",
      { class: "verdict verdict-" + kind, "data-verdict": kind },
      el("span", { class: "verdict-icon", "aria-hidden": "true" }, ICONS[kind] || "?"),
      el(
        "div",
        { class: "verdict-text" },
        el("p", { class: "verdict-title" }, title),
        summary ? el("p", { class: "verdict-summary" }, summary) : null,
        (extra || []).map(function (line) {
          return el("p", { class: "verdict-extra" }, line);
        })
      )
    );
  }

  /** One line of the checks list: icon, status word, name, detail. */
  function checkItem(status, statusWord, name, detail) {
    return el(
      "li",
      { class: "check check-" + status, "data-status": status },
      el("span", { class: "check-icon", "aria-hidden": "true" }, CHECK_ICONS[status] || "?"),
      el("span", { class: "check-status" }, statusWord),
      el(
        "span",
        { class: "check-text" },
        el("span", { class: "check-name" }, name),
        detail ? ": " : "",
        detail || ""
      )
    );
  }

  function panel(title, body, cls) {
    return el("section", { class: "panel" + (cls ? " " + cls : "") }, el("h3", null, title), body);
  }

  function facts(rows) {
    const dl = el("dl", { class: "facts" });
    rows.forEach(function (row) {
      if (row[1] === null || row[1] === undefined || row[1] === "") return;
      dl.appendChild(el("dt", null, row[0]));
      dl.appendChild(el("dd", row[2] || null, row[1]));
    });
    return dl;
  }

  /** Mark step n (1-3) current and the ones before it done, for eyes and screen readers. */
  function setStep(list, n) {
    if (!list) return;
    Array.prototype.forEach.call(list.querySelectorAll(".step"), function (li) {
      const k = Number(li.getAttribute("data-step"));
      const state = li.querySelector(".step-state");
      li.classList.toggle("done", k < n);
      if (k === n) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
      if (state) state.textContent = k < n ? t("step_done") : k === n ? t("step_current") : "";
    });
  }

  /** Let a zone take a dropped file into its file input; call onChange with the file. */
  function setupDropzone(zone, input, onChange) {
    input.addEventListener("change", function () {
      onChange(input.files && input.files[0] ? input.files[0] : null);
    });
    if (!zone) return;
    onDrop(zone, function (transfer) {
      const files = transfer && transfer.files;
      if (!files || !files.length) return;
      try {
        const copy = new DataTransfer();
        copy.items.add(files[0]);
        input.files = copy.files;
      } catch (e) {
        // Old browsers cannot set a file input; the file is still passed on below.
      }
      onChange(files[0]);
    });
  }

  /** Make a zone a drop target that shows when something is dragged over it; the page's
   *  handler gets the drop's DataTransfer (a single file, or many files and folders). */
  function onDrop(zone, handler) {
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (ev) {
        ev.preventDefault();
        if (ev.dataTransfer) ev.dataTransfer.dropEffect = "copy";
        zone.classList.add("dragover");
      });
    });
    ["dragleave", "dragend"].forEach(function (type) {
      zone.addEventListener(type, function (ev) {
        if (ev.target === zone) zone.classList.remove("dragover");
      });
    });
    zone.addEventListener("drop", function (ev) {
      ev.preventDefault();
      zone.classList.remove("dragover");
      handler(ev.dataTransfer);
    });
  }

  function looksLikePdf(file) {
    return /\.pdf$/i.test(file.name) || file.type === "application/pdf";
  }

  window.Certseal = {
    i18n: I18N,
    t: t,
    has: has,
    formatTime: formatTime,
    peopleTime: peopleTime,
    NEXT_STEPS: NEXT_STEPS,
    nextSteps: nextSteps,
    formatSize: formatSize,
    el: el,
    clear: clear,
    verdictBox: verdictBox,
    checkItem: checkItem,
    panel: panel,
    facts: facts,
    setStep: setStep,
    setupDropzone: setupDropzone,
    onDrop: onDrop,
    looksLikePdf: looksLikePdf,
  };
})();
