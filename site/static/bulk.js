// The Bulk page: a folder's worth of files sent to the verifier's batch endpoint
// (POST /api/v1/verify/batch), in as many requests as the batch limits need, with a table of
// every file's answer, a CSV of it and, when the verifier has a receipt key, its signed
// receipts. The page needs JavaScript (a <noscript> note points to the Verify page).
"use strict";

(function () {
  const C = window.Certseal;
  const SL = window.CertsealStatusList;
  const form = document.getElementById("bulk-form");
  if (!C || !form || !window.fetch || !window.FormData || !window.Blob) return;
  const t = C.t;
  const el = C.el;
  const MB = 1024 * 1024;
  // The verifier refuses these as the whole batch, before checking or counting anything: the
  // page sends the part again in halves (a verifier configured below the documented limits).
  const SPLIT_CODES = ["batch_too_many", "batch_too_large"];
  // What folders hold besides documents; the verifier skips __MACOSX/ inside ZIP files too.
  const JUNK = /(^|\/)(\.[^/]*|__MACOSX|thumbs\.db|desktop\.ini)(\/|$)/i;
  const ZIP_MAGIC = ["PK\u0003\u0004", "PK\u0005\u0006", "PK\u0007\u0008"];
  const VERDICT_ICONS = { success: "✓", warning: "!", failure: "✕", unchecked: "–" };

  const api = form.getAttribute("data-api");
  const certificateUrl = form.getAttribute("data-certificate");
  const maxFiles = Number(form.getAttribute("data-max-files")) || 100;
  const maxBytes = Number(form.getAttribute("data-max-bytes")) || 20 * MB;
  const maxMb = Math.floor(maxBytes / MB);
  const lang = form.querySelector("input[name=lang]").value;
  const filesInput = document.getElementById("bulk-files");
  const folderInput = document.getElementById("bulk-folder");
  const zone = document.getElementById("bulk-dropzone");
  const selectionText = document.getElementById("bulk-selection");
  const error = document.getElementById("bulk-error");
  const button = document.getElementById("bulk-button");
  const receiptBox = document.getElementById("bulk-receipt-box");
  const receiptWanted = document.getElementById("bulk-receipt");
  const progressBox = document.getElementById("bulk-progress-box");
  const progress = document.getElementById("bulk-progress");
  const progressText = document.getElementById("bulk-progress-text");
  const results = document.getElementById("bulk-results");
  const resultsTitle = document.getElementById("bulk-results-title");
  const summary = document.getElementById("bulk-summary");
  const tbody = document.getElementById("bulk-rows");
  const downloads = document.getElementById("bulk-downloads");
  const downloadList = document.getElementById("bulk-download-list");
  const receiptHowto = document.getElementById("bulk-receipt-howto");
  const again = document.getElementById("bulk-another");

  let selection = null; // {entries: [{file, name, zip}], skipped, tooBig: [...], parts: [[...]]}
  let choosing = Promise.resolve(); // reading the chosen files' first bytes (ZIP or not)
  let busy = false;
  let objectUrls = [];
  form.hidden = false;

  // Whether the verifier signs receipts: it publishes its receipt certificate only then.
  let certificate = null;
  const probed = fetch(certificateUrl, { credentials: "omit", cache: "no-store" })
    .then(function (r) {
      return r.ok ? r.text() : null;
    })
    .then(
      function (text) {
        certificate = text && text.indexOf("-----BEGIN CERTIFICATE-----") >= 0 ? text : null;
        receiptBox.hidden = !certificate;
      },
      function () {
        certificate = null;
      }
    );

  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  // -- choosing --------------------------------------------------------------------------
  function fromInput(input) {
    return Array.prototype.map.call(input.files || [], function (f) {
      return { file: f, name: f.webkitRelativePath || f.name };
    });
  }

  filesInput.addEventListener("change", function () {
    folderInput.value = "";
    choose(fromInput(filesInput));
  });
  folderInput.addEventListener("change", function () {
    filesInput.value = "";
    choose(fromInput(folderInput));
  });
  C.onDrop(zone, function (transfer) {
    if (busy || !transfer) return;
    filesInput.value = "";
    folderInput.value = "";
    dropped(transfer).then(choose, function () {
      choose(Array.prototype.map.call(transfer.files || [], function (f) {
        return { file: f, name: f.name };
      }));
    });
  });

  /** The files of a drop, folders walked; the entries must be taken during the drop event. */
  function dropped(transfer) {
    const items = Array.prototype.slice.call(transfer.items || []);
    const entries = items.map(function (item) {
      return item.kind === "file" && item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    });
    if (!entries.length || entries.some(function (e) { return !e; })) {
      return Promise.resolve(
        Array.prototype.map.call(transfer.files || [], function (f) {
          return { file: f, name: f.name };
        })
      );
    }
    return Promise.all(entries.map(walk)).then(flatten);
  }

  function walk(entry) {
    const name = entry.fullPath ? entry.fullPath.replace(/^\/+/, "") : entry.name;
    if (entry.isFile) {
      return new Promise(function (resolve, reject) {
        entry.file(function (f) { resolve([{ file: f, name: name }]); }, reject);
      });
    }
    if (!entry.isDirectory) return Promise.resolve([]);
    const reader = entry.createReader();
    // readEntries hands a folder over in pieces (100 at a time in Chromium) until it is empty.
    function rest(acc) {
      return new Promise(function (resolve, reject) {
        reader.readEntries(resolve, reject);
      }).then(function (list) {
        return list.length ? rest(acc.concat(list)) : acc;
      });
    }
    return rest([]).then(function (list) {
      return Promise.all(list.map(walk)).then(flatten);
    });
  }

  function flatten(lists) {
    return [].concat.apply([], lists);
  }

  function isZip(file) {
    if (!file.size || !file.slice || !file.arrayBuffer) return Promise.resolve(false);
    return file.slice(0, 4).arrayBuffer().then(
      function (buf) {
        const head = String.fromCharCode.apply(null, new Uint8Array(buf));
        return ZIP_MAGIC.indexOf(head) >= 0;
      },
      function () {
        return false;
      }
    );
  }

  function choose(list) {
    choosing = inspect(list).catch(function () {
      selection = null;
    });
    return choosing;
  }

  function inspect(list) {
    showError("");
    const usable = list.filter(function (e) { return !JUNK.test(e.name); });
    usable.sort(function (a, b) {
      return a.name.localeCompare(b.name, undefined, { numeric: true });
    });
    const skipped = list.length - usable.length;
    if (!list.length) {
      selection = null;
      selectionText.textContent = "";
      return Promise.resolve();
    }
    return Promise.all(usable.map(function (e) { return isZip(e.file); })).then(function (zips) {
      const entries = usable.map(function (e, i) {
        return { file: e.file, name: e.name, zip: zips[i] };
      });
      selection = plan(entries, skipped);
      describe(selection);
    });
  }

  /** Split the files into requests within the limits: a ZIP file alone (its entries count
   *  only once the verifier opens it), the others packed in order; too large ones kept out. */
  function plan(entries, skipped) {
    const parts = [];
    const tooBig = [];
    let current = [];
    let bytes = 0;
    entries.forEach(function (e) {
      if (e.file.size > maxBytes) {
        tooBig.push(e);
        return;
      }
      if (e.zip) {
        if (current.length) parts.push(current);
        parts.push([e]);
        current = [];
        bytes = 0;
        return;
      }
      if (current.length >= maxFiles || bytes + e.file.size > maxBytes) {
        parts.push(current);
        current = [];
        bytes = 0;
      }
      current.push(e);
      bytes += e.file.size;
    });
    if (current.length) parts.push(current);
    return { entries: entries, skipped: skipped, tooBig: tooBig, parts: parts };
  }

  function describe(sel) {
    const size = sel.entries.reduce(function (sum, e) { return sum + e.file.size; }, 0);
    const lines = [];
    if (sel.entries.length) {
      lines.push(t("bulk_selected", { count: sel.entries.length, size: C.formatSize(size) }));
    }
    if (sel.parts.length > 1) {
      lines.push(
        t("bulk_selected_parts", { max_files: maxFiles, max_mb: maxMb, parts: sel.parts.length })
      );
    }
    if (sel.tooBig.length) {
      lines.push(t("bulk_selected_too_big", { count: sel.tooBig.length, max_mb: maxMb }));
    }
    if (sel.skipped) lines.push(t("bulk_selected_skipped", { count: sel.skipped }));
    if (!sel.entries.length) lines.push(t("bulk_nothing_usable"));
    C.clear(selectionText);
    lines.forEach(function (line) {
      selectionText.appendChild(el("p", null, line));
    });
    selectionText.classList.toggle("warn", sel.tooBig.length > 0 || !sel.entries.length);
  }

  // -- sending ---------------------------------------------------------------------------
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy) return;
    setBusy(true);
    Promise.all([choosing, probed]).then(function () {
      if (!selection || !selection.entries.length) {
        setBusy(false);
        showError(selection ? t("bulk_nothing_usable") : t("bulk_missing"));
        filesInput.focus();
        return;
      }
      showError("");
      resetResults();
      run(selection, Boolean(certificate) && receiptWanted.checked).then(finish, finish);
    });
  });

  function setBusy(on) {
    busy = on;
    button.disabled = on;
    filesInput.disabled = on;
    folderInput.disabled = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
    results.setAttribute("aria-busy", on ? "true" : "false");
  }

  // The run under way: its rows (the CSV's too), receipts, and files done of the total.
  const state = { rows: [], receipts: [], done: 0, total: 0, part: 0, parts: 0, wantReceipt: false };

  function run(sel, wantReceipt) {
    state.rows = [];
    state.receipts = [];
    state.done = sel.tooBig.length;
    state.total = sel.entries.length;
    state.part = 0;
    state.parts = sel.parts.length;
    state.wantReceipt = wantReceipt;
    sel.tooBig.forEach(function (e) {
      addRow(unchecked(e, t("bulk_reason_too_big", { max_mb: maxMb })));
    });
    progress.max = Math.max(state.total, 1);
    progressBox.hidden = false;
    results.hidden = false;
    showProgress();
    return next(sel.parts.slice());
  }

  function showProgress() {
    progress.value = state.done;
    progressText.textContent = t("bulk_progress", {
      done: state.done,
      total: state.total,
      part: Math.min(state.part + 1, state.parts),
      parts: state.parts,
    });
  }

  function next(queue) {
    if (!queue.length) return Promise.resolve();
    const part = queue.shift();
    return send(part, state.wantReceipt).then(
      function (answer) {
        const data = answer.data;
        const codes = data && data.reasons ? data.reasons.map(function (r) { return r.code; }) : [];
        const refused = !answer.ok || !Array.isArray(data.files) || !data.files.length;
        if (refused && part.length > 1 && (answer.tooLarge || overlaps(codes, SPLIT_CODES))) {
          const half = Math.ceil(part.length / 2);
          queue.unshift(part.slice(0, half), part.slice(half));
          state.parts += 1;
          showProgress();
          return next(queue);
        }
        if (refused && codes.indexOf("receipt_unavailable") >= 0 && state.wantReceipt) {
          // The certificate is published but the service signs no receipts: go on without.
          state.wantReceipt = false;
          queue.unshift(part);
          return next(queue);
        }
        return record(part, answer).catch(function () {
          // An answer this page cannot read: its files are still listed, as not checked.
          part.forEach(function (entry) { addRow(unchecked(entry, t("bulk_reason_bad_response"))); });
        }).then(function () {
          state.done += part.length;
          state.part += 1;
          showProgress();
          return next(queue);
        });
      },
      function (e) {
        // Nothing more can be sent: this part and the ones after it are listed as not checked.
        const reason = e && e.message === "network" ? "bulk_reason_network" : "bulk_reason_bad_response";
        [part].concat(queue).forEach(function (p) {
          p.forEach(function (entry) { addRow(unchecked(entry, t(reason))); });
          state.done += p.length;
        });
        showProgress();
      }
    );
  }

  function overlaps(a, b) {
    return a.some(function (x) { return b.indexOf(x) >= 0; });
  }

  function send(part, wantReceipt) {
    const body = new FormData();
    body.append("lang", lang);
    if (wantReceipt) body.append("receipt", "1");
    part.forEach(function (e) {
      body.append("file", e.file, e.name);
    });
    return fetch(api, {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      credentials: "omit",
      cache: "no-store",
    }).then(
      function (response) {
        const type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") < 0) {
          // A front (nginx) refusing the body by its size answers in HTML.
          if (response.status === 413) return { ok: false, tooLarge: true, data: {} };
          throw new Error("bad answer");
        }
        return response.json().then(function (data) {
          if (!data || typeof data.result !== "string") throw new Error("bad answer");
          return { ok: response.ok, tooLarge: response.status === 413, data: data };
        });
      },
      function () {
        throw new Error("network");
      }
    );
  }

  /** Turn one request's answer into rows; a refused batch lists each of its files with why. */
  function record(part, answer) {
    const data = answer.data;
    const files = Array.isArray(data.files) ? data.files : [];
    if (!files.length) {
      const why = (data.reasons || []).map(function (r) { return r.message; }).join(" ");
      const text = why ? t("bulk_reason_refused", { reason: why }) : t("bulk_reason_bad_response");
      part.forEach(function (entry) { addRow(unchecked(entry, text)); });
      return Promise.resolve();
    }
    if (data.receipt) {
      state.receipts.push({ part: state.receipts.length + 1, count: files.length, receipt: data.receipt });
    }
    // Without a ZIP file, the answer lists the files in the order they were sent.
    const oneToOne = files.length === part.length && !part.some(function (e) { return e.zip; });
    return Promise.all(
      files.map(function (f, i) {
        const row = answered(f);
        if (row.sha256 || !oneToOne) return row;
        return localSha256(part[i].file).then(function (digest) {
          row.sha256 = digest;
          return row;
        });
      })
    ).then(function (rows) {
      rows.forEach(addRow);
    });
  }

  /** The SHA-256 of a file the verifier found no document in, computed here (when the
   *  browser offers Web Crypto), so that every CSV row can be matched to its file. */
  function localSha256(file) {
    if (!SL || !window.crypto || !window.crypto.subtle || !file.arrayBuffer) {
      return Promise.resolve("");
    }
    return file.arrayBuffer().then(SL.sha256Hex).catch(function () {
      return "";
    });
  }

  function answered(f) {
    const verdict = ["success", "warning", "failure"].indexOf(f.result) >= 0 ? f.result : "failure";
    const doc = f.document || {};
    return {
      name: String(f.name || ""),
      verdict: verdict,
      codes: (f.reasons || []).map(function (r) { return r.code; }),
      reason: (f.reasons || []).map(function (r) { return r.message; }).join(" "),
      type: doc.type ? doc.type_name || doc.type : "",
      school: doc.type ? doc.issuer || "" : "",
      issued: doc.type ? C.peopleTime(doc.issued_at, lang) : "",
      sha256: doc.sha256 || "",
    };
  }

  function unchecked(entry, reason) {
    return {
      name: entry.name,
      verdict: "unchecked",
      codes: [],
      reason: reason,
      type: "",
      school: "",
      issued: "",
      sha256: "",
    };
  }

  function verdictWord(verdict) {
    return verdict === "unchecked" ? t("bulk_verdict_unchecked") : t("verdict_" + verdict);
  }

  function addRow(row) {
    state.rows.push(row);
    tbody.appendChild(
      el(
        "tr",
        { "data-verdict": row.verdict, "data-codes": row.codes.join(" ") },
        el("th", { scope: "row", class: "bulk-name" }, row.name),
        el(
          "td",
          null,
          el(
            "span",
            { class: "bulk-verdict bulk-verdict-" + row.verdict },
            el("span", { class: "bulk-verdict-icon", "aria-hidden": "true" }, VERDICT_ICONS[row.verdict]),
            " ",
            verdictWord(row.verdict)
          )
        ),
        el("td", { class: "bulk-reason" }, row.reason),
        el("td", { class: "bulk-type" }, row.type),
        el("td", { class: "bulk-school" }, row.school),
        el("td", { class: "bulk-issued" }, row.issued)
      )
    );
  }

  // -- the end of a run ------------------------------------------------------------------
  function finish() {
    const counts = { success: 0, warning: 0, failure: 0, unchecked: 0 };
    state.rows.forEach(function (r) { counts[r.verdict] += 1; });
    summary.textContent = t("bulk_summary", {
      total: state.rows.length,
      success: counts.success,
      warning: counts.warning,
      failure: counts.failure,
      unchecked: counts.unchecked,
    });
    progress.value = progress.max;
    progressText.textContent = t("bulk_progress_done", { total: state.total });
    offerDownloads();
    setBusy(false);
    results.hidden = false;
    document.getElementById("bulk-again").hidden = false;
    resultsTitle.focus({ preventScroll: true });
    resultsTitle.scrollIntoView({ block: "start" });
  }

  function stamp() {
    return new Date().toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
  }

  function download(label, name, data, type) {
    const url = URL.createObjectURL(new Blob([data], { type: type }));
    objectUrls.push(url);
    return el("li", null, el("a", { class: "download", href: url, download: name }, label));
  }

  function offerDownloads() {
    C.clear(downloadList);
    const when = stamp();
    downloadList.appendChild(
      download(t("bulk_download_csv"), "certseal-bulk-" + when + ".csv", csv(state.rows), "text/csv;charset=utf-8")
    );
    state.receipts.forEach(function (r) {
      downloadList.appendChild(
        download(
          t("bulk_download_receipt", { part: r.part, count: r.count }),
          "certseal-receipt-" + when + "-" + r.part + ".json",
          JSON.stringify(r.receipt, null, 1) + "\n",
          "application/json"
        )
      );
    });
    if (state.receipts.length && certificate) {
      downloadList.appendChild(
        download(t("bulk_download_certificate"), "verifier-receipt.pem", certificate, "application/x-pem-file")
      );
    }
    receiptHowto.hidden = !state.receipts.length;
    downloads.hidden = false;
  }

  /** One CSV field: quoted when needed, and never read by a spreadsheet as a formula (a file
   *  name is the sender's text). */
  function csvField(value) {
    let s = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  /** The table as CSV: UTF-8 with a byte-order mark (so Excel reads the Chinese), CRLF lines,
   *  the table's columns plus each file's SHA-256. */
  function csv(rows) {
    const columns = ["name", "verdict", "reason", "type", "school", "issued", "sha256"];
    const lines = [columns.map(function (c) { return csvField(t("bulk_col_" + c)); }).join(",")];
    rows.forEach(function (r) {
      lines.push(
        [r.name, verdictWord(r.verdict), r.reason, r.type, r.school, r.issued, r.sha256]
          .map(csvField)
          .join(",")
      );
    });
    return "\ufeff" + lines.join("\r\n") + "\r\n";
  }

  function resetResults() {
    objectUrls.forEach(function (u) { URL.revokeObjectURL(u); });
    objectUrls = [];
    C.clear(tbody);
    C.clear(downloadList);
    C.clear(summary);
    downloads.hidden = true;
    receiptHowto.hidden = true;
    document.getElementById("bulk-again").hidden = true;
    results.hidden = true;
    progressBox.hidden = true;
  }

  again.addEventListener("click", function () {
    resetResults();
    filesInput.value = "";
    folderInput.value = "";
    selection = null;
    C.clear(selectionText);
    showError("");
    filesInput.focus();
  });
})();
