// The Verify page, enhanced: the form still works without JavaScript (it posts to the
// verifier's /verify page); with it, the file goes to /api/v1/verify and the JSON answer is
// shown here, in place, with the three steps moving along.
"use strict";

(function () {
  const C = window.Certseal;
  const form = document.getElementById("verify-form");
  if (!C || !form || !window.fetch || !window.FormData) return;
  const t = C.t;
  const el = C.el;
  const input = document.getElementById("file");
  const zone = document.getElementById("dropzone");
  const status = document.getElementById("file-status");
  const error = document.getElementById("form-error");
  const button = document.getElementById("verify-button");
  const steps = document.getElementById("steps");
  const title = document.getElementById("result-title");
  const verdict = document.getElementById("verdict");
  const result = document.getElementById("result");
  const again = document.getElementById("again");
  const lang = form.querySelector("input[name=lang]").value;
  let chosen = null;
  let busy = false;
  // The script reports a missing file itself, also for a dropped file the input cannot hold.
  form.noValidate = true;

  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  function choose(file) {
    chosen = file;
    showError("");
    if (!file) {
      status.hidden = true;
      C.setStep(steps, 1);
      return;
    }
    const pdf = C.looksLikePdf(file);
    status.textContent =
      t("file_chosen", { name: file.name, size: C.formatSize(file.size) }) +
      (pdf ? "" : " " + t("file_not_pdf_hint"));
    status.classList.toggle("warn", !pdf);
    status.hidden = false;
    C.setStep(steps, 2);
  }

  C.setupDropzone(zone, input, choose);

  function setBusy(on) {
    busy = on;
    button.disabled = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy) return;
    const file = chosen || (input.files && input.files[0]);
    if (!file) {
      showError(t("missing_file"));
      input.focus();
      return;
    }
    const body = new FormData();
    body.append("lang", lang);
    body.append("file", file, file.name);
    setBusy(true);
    C.setStep(steps, 2);
    hideResult();
    C.clear(verdict);
    verdict.appendChild(C.verdictBox("pending", t("verifying")));
    fetch(form.getAttribute("data-api"), {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      credentials: "omit",
      cache: "no-store",
    })
      .then(
        function (response) {
          const type = response.headers.get("Content-Type") || "";
          if (type.indexOf("application/json") < 0) throw new Error("not JSON");
          return response.json();
        },
        function () {
          // The verifier cannot be reached from script (offline, or another origin without
          // CORS): let the browser post the form itself, as it would without JavaScript.
          C.clear(verdict);
          setBusy(false);
          if (input.files && input.files[0]) {
            form.submit();
            return null;
          }
          throw new Error("network");
        }
      )
      .then(function (data) {
        if (data === null) return;
        if (!data || typeof data.result !== "string") throw new Error("bad answer");
        render(data);
      })
      .catch(function (e) {
        C.clear(verdict);
        showError(e && e.message === "network" ? t("network_error") : t("bad_response"));
        C.setStep(steps, chosen ? 2 : 1);
      })
      .then(function () {
        setBusy(false);
      });
  });

  document.getElementById("verify-another").addEventListener("click", function () {
    form.reset();
    chosen = null;
    status.hidden = true;
    C.clear(verdict);
    hideResult();
    C.setStep(steps, 1);
    input.focus();
  });

  function hideResult() {
    title.hidden = true;
    result.hidden = true;
    again.hidden = true;
    C.clear(result);
  }

  /** What the person should do: the shared rules (common.js NEXT_STEPS, as the verifier's). */
  function nextSteps(data) {
    const codes = (data.reasons || []).map(function (r) {
      return r.code;
    });
    return C.nextSteps(data.result, codes).map(function (key) {
      return t(key);
    });
  }

  function render(data) {
    const kind = ["success", "warning", "failure"].indexOf(data.result) >= 0 ? data.result : "failure";
    C.clear(verdict);
    verdict.appendChild(C.verdictBox(kind, t("verdict_" + kind), t("summary_" + kind)));

    const parts = [];
    const next = nextSteps(data);
    parts.push(
      C.panel(
        t("next"),
        next.length === 1
          ? el("p", { class: "next-step" }, next[0])
          : el("ul", null, next.map(function (s) { return el("li", { class: "next-step" }, s); })),
        "next"
      )
    );
    if (data.reasons && data.reasons.length) {
      parts.push(
        C.panel(
          t("reasons"),
          el(
            "ul",
            { class: "reasons" },
            data.reasons.map(function (r) {
              return el("li", { "data-code": r.code }, r.message);
            })
          )
        )
      );
    }
    const doc = data.document;
    if (doc && doc.type) {
      const rows = [
        [t("doc_type"), doc.type_name || doc.type],
        [t("doc_issuer"), doc.issuer],
        [t("doc_issued"), C.peopleTime(doc.issued_at, lang)],
        [t("doc_state"), doc.state ? t("state_" + doc.state) : null],
        [t("doc_superseded_at"), C.peopleTime(doc.superseded_at, lang)],
        [t("doc_revoked_at"), C.peopleTime(doc.revoked_at, lang)],
        [
          t("doc_revocation_reason"),
          doc.revocation_reason
            ? C.i18n.revocationReasons[doc.revocation_reason] || doc.revocation_reason
            : null,
        ],
        [t("doc_records_kept_by"), doc.records_kept_by ? doc.records_kept_by.name : null],
      ];
      if (data.verifications) {
        rows.push([t("doc_verifications"), t("verifications_value", data.verifications)]);
      }
      rows.push([t("doc_sha256"), doc.sha256, { class: "hex" }]);
      parts.push(C.panel(t("document"), C.facts(rows)));
    }
    const twin = data.twin;
    if (twin) {
      // What the document's machine-readable credential says, beside the verdict (never part of it).
      const panel = C.panel(
        t("twin"),
        el("div", null, [
          el("p", { class: "twin-intro" }, t("twin_intro")),
          C.facts([
            [
              t("twin_proof"),
              t(twin.verified ? "twin_verified" : "twin_not_verified"),
              { class: "twin-proof" },
            ],
            [
              t("twin_holder"),
              (twin.holder || []).filter(Boolean).join(lang === "zh-TW" ? "、" : ", "),
            ],
            [t("twin_student_id"), twin.student_id],
            [t("twin_achievement"), twin.achievement],
            [t("twin_achievement_description"), twin.achievement_description],
            [t("twin_completed"), twin.completed ? String(twin.completed).slice(0, 10) : null],
            [t("twin_credits"), twin.credits_earned === undefined ? null : String(twin.credits_earned)],
            [t("twin_issuer"), twin.issuer],
          ]),
        ]),
        "twin"
      );
      panel.setAttribute("data-verified", twin.verified ? "true" : "false");
      // Its own class: ".facts" is the document's facts, one per result.
      panel.querySelector("dl").className = "twin-facts";
      parts.push(panel);
    }
    parts.push(
      C.panel(
        t("checks"),
        el(
          "ul",
          { class: "checks" },
          (data.checks || []).map(function (c) {
            // A check this site does not know yet still shows, under its own name.
            const name = C.has("check_" + c.name) ? t("check_" + c.name) : c.name.replace(/_/g, " ");
            // A failed check that only warns (superseded, limit, stale list) looks like one.
            const shown = c.severity === "warning" ? "warning" : c.status;
            return C.checkItem(shown, t("status_" + shown), name, c.detail);
          })
        )
      )
    );
    if (data.status_list) {
      const s = data.status_list;
      parts.push(
        el(
          "p",
          { class: "status-list-line" },
          t("status_list_line", {
            version: s.version,
            issued_at: C.peopleTime(s.issued_at, lang),
            expires: C.peopleTime(s.expires, lang),
          })
        )
      );
    }
    parts.forEach(function (p) {
      result.appendChild(p);
    });
    title.hidden = false;
    result.hidden = false;
    again.hidden = false;
    C.setStep(steps, 3);
    // The verdict comes into view at the top, and the focus follows it for keyboard users.
    title.focus({ preventScroll: true });
    title.scrollIntoView({ block: "start" });
  }
})();
