// The check without uploading: the file is hashed here, the signed status list is verified
// here with the key built into the page, and only the one bucket and shard the hash needs are
// downloaded. Nothing about the file is sent anywhere. On the national site (the form carries
// the pinned trust root) the person picks the school; the browser first verifies the trust
// list (trustlist.js), then that school's status list with the keys the trust list gives.
"use strict";

(function () {
  const C = window.Certseal;
  const SL = window.CertsealStatusList;
  const form = document.getElementById("check-form");
  if (!C || !SL || !form) return;
  const t = C.t;
  const el = C.el;
  if (!window.crypto || !window.crypto.subtle || !window.fetch) {
    document.getElementById("no-crypto").hidden = false;
    return;
  }
  form.hidden = false;
  form.noValidate = true;
  const input = document.getElementById("check-file");
  const zone = document.getElementById("check-dropzone");
  const status = document.getElementById("check-file-status");
  const error = document.getElementById("check-error");
  const button = document.getElementById("check-button");
  const title = document.getElementById("check-result-title");
  const verdict = document.getElementById("check-verdict");
  const result = document.getElementById("check-result");
  const again = document.getElementById("check-again");
  const TL = window.CertsealTrustList;
  const trustRoot = form.getAttribute("data-trust-root");
  const national = Boolean(trustRoot && TL);
  const trustBase = form.getAttribute("data-trust-base");
  const schoolSelect = document.getElementById("check-school");
  const base = form.getAttribute("data-status-base");
  const issuer = form.getAttribute("data-issuer");
  const builtInKeys = Array.prototype.map.call(document.querySelectorAll("[data-spki]"), function (li) {
    return { keyid: li.getAttribute("data-keyid"), spki: li.getAttribute("data-spki") };
  });
  let chosen = null;
  let busy = false;

  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  C.setupDropzone(zone, input, function (file) {
    chosen = file;
    showError("");
    status.hidden = !file;
    if (file) status.textContent = t("check_file_chosen", { name: file.name, size: C.formatSize(file.size) });
  });

  function hideResult() {
    title.hidden = true;
    result.hidden = true;
    again.hidden = true;
    C.clear(result);
  }

  document.getElementById("check-another").addEventListener("click", function () {
    form.reset();
    chosen = null;
    status.hidden = true;
    C.clear(verdict);
    hideResult();
    input.focus();
  });

  function readFile(file) {
    if (file.arrayBuffer) return file.arrayBuffer();
    return new Promise(function (resolve, reject) {
      const reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsArrayBuffer(file);
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy) return;
    const file = chosen || (input.files && input.files[0]);
    if (national && !schoolSelect.value) {
      showError(t("cerr_no_school"));
      schoolSelect.focus();
      return;
    }
    if (!file) {
      showError(t("missing_file"));
      input.focus();
      return;
    }
    busy = true;
    button.disabled = true;
    showError("");
    hideResult();
    C.clear(verdict);
    verdict.appendChild(C.verdictBox("pending", t("check_working")));
    run(file).then(
      function (outcome) {
        render(outcome);
      },
      function (e) {
        render({ error: e, steps: e.steps || [] });
      }
    ).then(function () {
      busy = false;
      button.disabled = false;
    });
  });

  /** Every step, recorded as it passes, so a failure still shows how far it got. */
  function run(file) {
    const steps = [];
    let sha256;
    let state;
    let school = null;
    const chosen = national ? schoolSelect.options[schoolSelect.selectedIndex] : null;
    function fail(e) {
      e.steps = steps;
      throw e;
    }
    return readFile(file)
      .catch(function () {
        throw SL.StatusListError("read", "cannot read the file");
      })
      .then(function (buffer) {
        return SL.sha256Hex(buffer);
      })
      .then(function (digest) {
        sha256 = digest;
        steps.push(["passed", "cstep_hash", t("cdetail_hash", { sha256: digest })]);
        if (!national) return { keys: SL.importKeys(builtInKeys), base: base, issuer: issuer };
        return trustedSchool(chosen.value, steps).then(function (found) {
          school = found;
          return {
            keys: TL.statusKeys(found, Date.now()).then(function (list) {
              if (!list.length) throw SL.StatusListError("keys", "no usable status-list key");
              return SL.importKeys(list);
            }),
            base: chosen.getAttribute("data-status-base"),
            issuer: chosen.value,
          };
        });
      })
      .then(function (source) {
        return source.keys.then(function (keys) {
          return SL.loadTrusted(source.base, keys, Date.now(), source.issuer);
        });
      })
      .then(function (loaded) {
        state = loaded;
        if (national && (loaded.snapshot.issuer || {}).code !== school.id) {
          throw SL.StatusListError("issuer", "the status list is another school's");
        }
        const ts = loaded.timestamp;
        steps.push([
          "passed",
          "cstep_timestamp",
          t("cdetail_timestamp", { version: ts.version, keyid: loaded.keyid.slice(0, 16) + "…" }),
        ]);
        const total = Object.keys(loaded.snapshot.counts).reduce(function (sum, k) {
          return sum + (Number(loaded.snapshot.counts[k]) || 0);
        }, 0);
        steps.push(["passed", "cstep_snapshot", t("cdetail_snapshot", { total: total })]);
        const times = {
          issued_at: C.peopleTime(ts.issued_at),
          // The earlier of the timestamp's expiry (hours) and the snapshot's (days).
          expires: C.peopleTime(loaded.expires),
        };
        steps.push(
          loaded.expired
            ? ["warning", "cstep_expiry", t("cdetail_expired", times)]
            : ["passed", "cstep_expiry", t("cdetail_valid", times)]
        );
        return SL.lookup(loaded, sha256);
      })
      .then(function (found) {
        if (found.shard) {
          steps.push(["passed", "cstep_lookup", t("cdetail_lookup", { bucket: found.bucket, shard: found.shard })]);
        } else {
          steps.push([
            "passed",
            "cstep_lookup",
            t("cdetail_lookup_none", { prefix: found.bucket ? sha256.slice(0, state.snapshot.shard_prefix_len) : sha256.slice(0, state.snapshot.bucket_prefix_len) }),
          ]);
        }
        const entry = found.entry;
        const stateKey = entry ? entry.state : "missing";
        steps.push([
          entry && entry.state === "active" ? "passed" : entry && entry.state === "superseded" ? "warning" : "failed",
          "cstep_state",
          t("state_" + stateKey),
        ]);
        let inactive = false;
        if (school && entry) {
          // Documents issued while the school was active stay valid after it merges or closes.
          const step = TL.stateAt(school.profile, SL.parseTime(entry.issued_at, "issued_at"));
          inactive = !step || step.state !== "active";
          const issued = C.peopleTime(entry.issued_at);
          steps.push(
            inactive
              ? ["failed", "cstep_school_at_issue", t("cdetail_school_inactive_at_issue", { issued: issued })]
              : ["passed", "cstep_school_at_issue", t("cdetail_school_active_at_issue", { issued: issued })]
          );
        }
        return { sha256: sha256, state: state, entry: entry, steps: steps, school: school, inactive: inactive };
      })
      .catch(fail);
  }

  /** The trust list, verified from the root built into the page; resolves to the school. */
  function trustedSchool(sid, steps) {
    const root = Uint8Array.from(atob(trustRoot), function (c) {
      return c.charCodeAt(0);
    });
    return TL.loadRemembered(trustBase, root, Date.now(), { schools: [sid] }).then(function (tl) {
      steps.push([
        "passed",
        "cstep_trust_list",
        t("cdetail_trust_list", {
          version: tl.targetsVersion,
          root: tl.rootVersion,
          schools: tl.schoolIds.length,
        }),
      ]);
      const found = tl.schools[sid];
      const p = found.profile;
      const current = p.lifecycle[p.lifecycle.length - 1];
      const zh = C.i18n.lang === "zh-TW";
      found.id = sid;
      found.name = zh ? p.name_zh : p.name_en;
      found.current = current;
      steps.push([
        current.state === "active" ? "passed" : "warning",
        "cstep_school",
        t("cdetail_school", {
          name: found.name,
          id: sid,
          state: t("school_state_" + current.state),
          since: t("school_since", { time: C.peopleTime(current.at) }),
          keys: found.keys.filter(function (k) {
            return k.role === "statuslist";
          }).length,
        }),
      ]);
      return found;
    });
  }

  const ERRORS = {
    expired: "cerr_expired",
    issuer: "cerr_issuer",
    keys: "cerr_keys",
    signature: "cerr_signature",
    pin: "cerr_pin",
    format: "cerr_format",
    fetch: "cerr_fetch",
    rollback: "cerr_rollback",
    read: "cerr_read",
  };

  function render(outcome) {
    let kind;
    let heading;
    let summary;
    const extra = [];
    const entry = outcome.entry;
    if (outcome.error) {
      kind = "failure";
      heading = t("cverdict_error");
      summary = t(ERRORS[outcome.error.kind] || "cerr_format");
    } else if (!entry) {
      kind = "failure";
      heading = t("cverdict_missing");
      summary = t("csummary_missing");
    } else if (outcome.inactive) {
      kind = "failure";
      heading = t("cverdict_school_inactive");
      summary = t("csummary_school_inactive");
    } else {
      const reasons = C.i18n.revocationReasons;
      kind = { active: "success", superseded: "warning", revoked: "failure" }[entry.state];
      heading = t("cverdict_" + entry.state);
      summary = t("csummary_" + entry.state, {
        superseded_at: C.peopleTime(entry.superseded_at),
        revoked_at: C.peopleTime(entry.revoked_at),
        reason: reasons[entry.reason] || entry.reason,
      });
      if (outcome.state.expired) {
        extra.push(t("csummary_stale"));
        if (kind === "success") kind = "warning";
      }
      if (entry.limit) extra.push(t("csummary_limit", { limit: entry.limit }));
    }
    if (outcome.school && outcome.school.current.successor) {
      extra.push(
        t("csummary_successor", {
          state: t("school_state_" + outcome.school.current.state),
          successor: outcome.school.current.successor,
        })
      );
    }
    C.clear(verdict);
    const box = C.verdictBox(kind, heading, summary, extra);
    box.setAttribute(
      "data-state",
      outcome.error ? "error" : !entry ? "missing" : outcome.inactive ? "school_inactive" : entry.state
    );
    verdict.appendChild(box);

    if (entry) {
      const doc = C.i18n.docTypes[entry.type];
      const issuerInfo = outcome.state.snapshot.issuer || {};
      result.appendChild(
        C.panel(
          t("document"),
          C.facts([
            [t("doc_type"), doc ? doc.name : entry.type],
            [t("doc_issuer"), (C.i18n.lang === "zh-TW" ? issuerInfo.name_zh : issuerInfo.name_en) || issuerInfo.code],
            [t("doc_issued"), C.peopleTime(entry.issued_at)],
            [t("doc_state"), t("state_" + entry.state)],
            [t("doc_superseded_at"), C.peopleTime(entry.superseded_at)],
            [t("doc_revoked_at"), C.peopleTime(entry.revoked_at)],
            [t("doc_revocation_reason"), entry.reason ? C.i18n.revocationReasons[entry.reason] || entry.reason : null],
            [t("doc_sha256"), outcome.sha256, { class: "hex" }],
          ])
        )
      );
    }
    result.appendChild(
      C.panel(
        t("checks"),
        el(
          "ul",
          { class: "checks" },
          (outcome.steps || []).map(function (s) {
            return C.checkItem(s[0], t("status_" + s[0]), t(s[1]), s[2]);
          })
        )
      )
    );
    result.appendChild(
      el("p", { class: "status-list-line" }, t("check_limits_1"))
    );
    title.hidden = false;
    result.hidden = false;
    again.hidden = false;
    // The verdict comes into view at the top, and the focus follows it for keyboard users.
    title.focus({ preventScroll: true });
    title.scrollIntoView({ block: "start" });
  }
})();
