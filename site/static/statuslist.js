// The published status list, read in the browser: the same rules as the reader side of
// certseal/statuslist.py, with Web Crypto for hashes and signatures. As there, every trust rule
// lives in one object without I/O (TrustedSet); loadTrusted and lookup only fetch and feed it.
// Both readers pass the same conformance vectors (tests/vectors/). docs/status-list.md
// describes the format.
"use strict";

(function () {
  const SPEC_MAJOR = "1";
  const STATES = ["active", "superseded", "revoked"];
  const REASONS = ["degree_revoked", "issued_in_error", "obtained_by_fraud", "record_corrected", "other", "replaced"];
  // The most read of each file, as in statuslist.MAX_BYTES: a hostile host cannot make us
  // download without end.
  const MAX_BYTES = { timestamp: 64 * 1024, snapshot: 8 << 20, bucket: 2 << 20, shard: 8 << 20 };
  const HEX64 = /^[0-9a-f]{64}$/;
  const PREFIX = /^[0-9a-f]{1,8}$/;
  const DOC_TYPE = /^[a-z][a-z0-9_]{1,40}$/;
  const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
  const INTEGER = /^-?(0|[1-9][0-9]*)$/;

  /**
   * kind: "signature", "pin", "rollback", "below_pin", "expired", "version_mismatch",
   * "format" or "fetch": the error kinds of the conformance vectors' manifest.
   */
  function StatusListError(kind, message) {
    const e = new Error(message);
    e.name = "StatusListError";
    e.kind = kind;
    return e;
  }

  function formatError(message) {
    return StatusListError("format", message);
  }

  // -- canonical JSON (certseal/canonical.py) ----------------------------------------------
  /** Compare two strings by Unicode code point, as Python sorts dict keys. */
  function compareCodePoints(a, b) {
    const ia = a[Symbol.iterator]();
    const ib = b[Symbol.iterator]();
    for (;;) {
      const x = ia.next();
      const y = ib.next();
      if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
      const cx = x.value.codePointAt(0);
      const cy = y.value.codePointAt(0);
      if (cx !== cy) return cx < cy ? -1 : 1;
    }
  }

  /** json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False), integers only. */
  function canonicalJSON(value) {
    if (value === null) return "null";
    switch (typeof value) {
      case "boolean":
        return value ? "true" : "false";
      case "number":
        if (!Number.isSafeInteger(value)) {
          throw formatError("only integers are allowed in canonical JSON");
        }
        return String(value);
      case "string":
        // JSON.stringify escapes exactly what Python's json escapes with ensure_ascii=False:
        // the quote, the backslash and control characters (as \b \f \n \r \t or \u00xx).
        return JSON.stringify(value);
      case "object":
        if (Array.isArray(value)) return "[" + value.map(canonicalJSON).join(",") + "]";
        return (
          "{" +
          Object.keys(value)
            .sort(compareCodePoints)
            .map(function (k) {
              return JSON.stringify(k) + ":" + canonicalJSON(value[k]);
            })
            .join(",") +
          "}"
        );
      default:
        throw formatError("not a JSON value");
    }
  }

  const utf8 = new TextEncoder();
  // A string token, or a number token, of JSON text (strings first, so digits inside them are
  // skipped).
  const TOKENS = /"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*/g;
  const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/;

  /** Refuse what Python's reader refuses and JSON.parse lets by: any number that is not an
   * integer (3.0 included), an integer beyond 2**53 - 1, text with a lone surrogate. */
  function checkStrict(text, value) {
    const numbers = text.match(TOKENS) || [];
    for (let i = 0; i < numbers.length; i++) {
      const t = numbers[i];
      if (t.charAt(0) === '"') continue;
      if (!INTEGER.test(t) || !Number.isSafeInteger(Number(t))) {
        throw formatError("only integers up to 2**53 - 1 are allowed, not " + t.slice(0, 20));
      }
    }
    (function walk(v) {
      if (typeof v === "string") {
        if (LONE_SURROGATE.test(v)) throw formatError("text that is not valid Unicode");
      } else if (v && typeof v === "object") {
        Object.keys(v).forEach(function (k) {
          walk(k);
          walk(v[k]);
        });
      }
    })(value);
  }

  function parseObject(bytes, what) {
    let text;
    let obj;
    try {
      // fatal: invalid UTF-8 is an error; ignoreBOM: a BOM stays and fails the parse, as in Python.
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
      obj = JSON.parse(text);
    } catch (e) {
      throw formatError(what + " is not valid JSON");
    }
    if (!isObject(obj)) throw formatError(what + " must be a JSON object");
    checkStrict(text, obj);
    return obj;
  }

  function isObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }

  // -- bytes, hashes, keys -------------------------------------------------------------------
  function hex(buffer) {
    return Array.prototype.map
      .call(new Uint8Array(buffer), function (b) {
        return b.toString(16).padStart(2, "0");
      })
      .join("");
  }

  function sha256Hex(data) {
    return crypto.subtle.digest("SHA-256", data).then(hex);
  }

  function base64Bytes(text) {
    if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      throw StatusListError("signature", "the signature is not base64");
    }
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  /**
   * Import the keys built into the page: [{keyid, spki (base64 DER)}]. Each key id is checked
   * against the SHA-256 of its SPKI, so a page cannot claim one key and hold another.
   */
  function importKeys(list) {
    return Promise.all(
      list.map(function (k) {
        const der = base64Bytes(k.spki);
        return sha256Hex(der).then(function (kid) {
          if (kid !== k.keyid) throw StatusListError("signature", "the built-in key id is wrong");
          return crypto.subtle
            .importKey("spki", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])
            .then(function (key) {
              return { keyid: kid, key: key };
            });
        });
      })
    );
  }

  /** Check the envelope's signature by a trusted key; resolve to the signed body. */
  function openEnvelope(bytes, what, keys) {
    const d = parseObject(bytes, what);
    const signed = d.signed;
    const sigs = d.signatures;
    if (!isObject(signed) || !Array.isArray(sigs) || !sigs.length) {
      throw formatError(what + " must have 'signed' and 'signatures'");
    }
    const payload = utf8.encode(canonicalJSON(signed));
    for (let i = 0; i < sigs.length; i++) {
      const s = sigs[i];
      if (!isObject(s) || typeof s.keyid !== "string") {
        throw formatError(what + " has a malformed signature entry");
      }
      const trusted = keys.filter(function (k) {
        return k.keyid === s.keyid;
      })[0];
      if (!trusted) continue;
      if (typeof s.sig !== "string") throw formatError(what + " signature must be a string");
      const raw = base64Bytes(s.sig);
      if (raw.length !== 64) {
        throw StatusListError("signature", "the signature has the wrong length");
      }
      return crypto.subtle
        .verify({ name: "ECDSA", hash: "SHA-256" }, trusted.key, raw, payload)
        .then(function (ok) {
          if (!ok) throw StatusListError("signature", "the " + what + " signature does not verify");
          return { signed: signed, keyid: trusted.keyid };
        });
    }
    throw StatusListError("signature", "the " + what + " is not signed by a trusted status-list key");
  }

  // -- the format (Entry, Shard, Bucket, Snapshot, Timestamp in certseal/statuslist.py) ------
  function checkInt(v, what, low) {
    if (!Number.isSafeInteger(v) || v < low) throw formatError(what + " must be an integer ≥ " + low);
    return v;
  }

  function checkHex64(v, what) {
    if (typeof v !== "string" || !HEX64.test(v)) throw formatError(what + " must be 64 lower-case hex digits");
    return v;
  }

  function checkPrefix(v) {
    if (typeof v !== "string" || !PREFIX.test(v)) throw formatError("a prefix must be 1 to 8 lower-case hex digits");
    return v;
  }

  /** Milliseconds since 1970 of an RFC 3339 UTC time like 2026-06-20T00:00:00Z (a real date). */
  function parseTime(v, what) {
    const ms = typeof v === "string" && TIME.test(v) ? Date.parse(v) : NaN;
    if (isNaN(ms) || new Date(ms).toISOString() !== v.replace("Z", ".000Z")) {
      throw formatError(what + " must be an RFC 3339 UTC time like 2026-06-20T00:00:00Z");
    }
    return ms;
  }

  function given(v) {
    return v !== undefined && v !== null;
  }

  function checkSpec(d, type) {
    if (d._type !== type) throw formatError("expected a " + type + " document");
    if (typeof d.spec_version !== "string" || d.spec_version.split(".")[0] !== SPEC_MAJOR) {
      throw formatError("unsupported status-list spec_version");
    }
  }

  /** A document's entry, in the form Python's Entry.to_dict gives. */
  function checkEntry(e) {
    if (!isObject(e)) throw formatError("an entry must be an object");
    checkHex64(e.sha256, "entry sha256");
    if (typeof e.type !== "string" || !DOC_TYPE.test(e.type)) throw formatError("entry type is not a document type code");
    parseTime(e.issued_at, "entry issued_at");
    if (given(e.limit)) checkInt(e.limit, "entry limit", 1);
    if (STATES.indexOf(e.state) < 0) throw formatError("entry state is not one of " + STATES.join(", "));
    if (given(e.successor)) checkHex64(e.successor, "entry successor");
    if (given(e.successor) !== given(e.superseded_at)) throw formatError("successor and superseded_at go together");
    if (e.state === "superseded" && !given(e.successor)) throw formatError("a superseded entry must name its successor");
    if (e.state === "active" && (e.successor || e.reason || e.revoked_at)) {
      throw formatError("an active entry has no successor and no revocation");
    }
    if (given(e.superseded_at)) parseTime(e.superseded_at, "entry superseded_at");
    if ((e.state === "revoked") !== given(e.reason)) throw formatError("a revoked entry, and only it, carries a reason");
    if (e.state === "revoked") {
      if (REASONS.indexOf(e.reason) < 0) throw formatError("unknown reason code");
      parseTime(e.revoked_at, "entry revoked_at");
    } else if (given(e.revoked_at)) {
      throw formatError("only a revoked entry has revoked_at");
    }
    const out = { sha256: e.sha256, type: e.type, issued_at: e.issued_at, limit: given(e.limit) ? e.limit : null, state: e.state };
    ["successor", "superseded_at", "reason", "revoked_at"].forEach(function (k) {
      if (given(e[k])) out[k] = e[k];
    });
    // The signature digest (docs/status-list.md): optional, absent from lists made before it.
    if (given(e.sig)) out.sig = checkHex64(e.sig, "entry sig");
    if (given(e.log)) {
      const log = e.log;
      if (!Array.isArray(log) || !log.every(function (i) { return Number.isSafeInteger(i) && i >= 0; })) {
        throw formatError("entry log must be a list of leaf indexes");
      }
      const events = 1 + (given(e.successor) ? 1 : 0) + (e.state === "revoked" ? 1 : 0);
      if (log.length !== events) throw formatError("a " + e.state + " entry has " + events + " log leaves");
      for (let i = 1; i < log.length; i++) {
        if (log[i] <= log[i - 1]) throw formatError("entry log indexes must be ascending");
      }
      out.log = log.slice();
    }
    return out;
  }

  function checkShard(d, expected) {
    if (d._type !== "certseal/shard") throw formatError("expected a certseal/shard document");
    if (!Array.isArray(d.entries)) throw formatError("shard entries must be a list");
    const prefix = checkPrefix(d.prefix);
    let previous = "";
    const entries = d.entries.map(function (raw) {
      const e = checkEntry(raw);
      if (e.sha256.slice(0, prefix.length) !== prefix) throw formatError("an entry does not belong in shard " + prefix);
      if (e.sha256 <= previous) throw formatError("shard entries must be sorted and unique");
      previous = e.sha256;
      return e;
    });
    if (prefix !== expected) throw formatError("the shard pinned for " + expected + " is the one for " + prefix);
    return entries;
  }

  function checkBucket(d, expected) {
    if (d._type !== "certseal/bucket") throw formatError("expected a certseal/bucket document");
    if (!isObject(d.shards)) throw formatError("bucket shards must be an object");
    const prefix = checkPrefix(d.prefix);
    Object.keys(d.shards).forEach(function (p) {
      checkPrefix(p);
      checkHex64(d.shards[p], "shard " + p + " sha256");
      if (p.slice(0, prefix.length) !== prefix) throw formatError("shard " + p + " does not belong in bucket " + prefix);
    });
    if (prefix !== expected) throw formatError("the bucket pinned for " + expected + " is the one for " + prefix);
    return d.shards;
  }

  function checkSnapshot(d) {
    checkSpec(d, "certseal/snapshot");
    if (!isObject(d.buckets) || !isObject(d.counts)) throw formatError("snapshot buckets and counts must be objects");
    const issuer = d.issuer;
    if (!isObject(issuer) || !["code", "name_zh", "name_en"].every(function (k) { return typeof issuer[k] === "string"; })) {
      throw formatError("issuer must have code, name_zh and name_en");
    }
    checkInt(d.version, "snapshot version", 1);
    const issued = parseTime(d.issued_at, "snapshot issued_at");
    const expires = parseTime(d.expires, "snapshot expires");
    const b = checkInt(d.bucket_prefix_len, "bucket_prefix_len", 1);
    const s = checkInt(d.shard_prefix_len, "shard_prefix_len", 1);
    Object.keys(d.counts).forEach(function (k) {
      checkInt(d.counts[k], "count " + k, 0);
    });
    Object.keys(d.buckets).forEach(function (p) {
      checkPrefix(p);
      checkHex64(d.buckets[p], "bucket " + p + " sha256");
    });
    if (expires <= issued) throw formatError("snapshot expires before it is issued");
    if (!(1 <= b && b <= s && s <= 8)) throw formatError("prefix lengths must satisfy 1 ≤ bucket ≤ shard ≤ 8");
    Object.keys(d.buckets).forEach(function (p) {
      if (p.length !== b) throw formatError("bucket " + p + " has the wrong prefix length");
    });
    return { version: d.version, issuedAt: issued, expires: expires };
  }

  function checkTimestamp(d) {
    checkSpec(d, "certseal/timestamp");
    const snap = d.snapshot;
    if (!isObject(snap) || typeof snap.path !== "string") throw formatError("timestamp snapshot must name its path");
    checkInt(d.version, "timestamp version", 1);
    const issued = parseTime(d.issued_at, "timestamp issued_at");
    const expires = parseTime(d.expires, "timestamp expires");
    checkHex64(snap.sha256, "timestamp snapshot sha256");
    checkInt(snap.length, "timestamp snapshot length", 1);
    if (snap.count !== undefined) checkInt(snap.count, "timestamp snapshot count", 0);
    if (expires <= issued) throw formatError("timestamp expires before it is issued");
    if (snap.path !== "snapshot/" + d.version + ".json") {
      throw formatError("timestamp points to a snapshot of another version");
    }
    return { version: d.version, issuedAt: issued, expires: expires };
  }

  // -- the client's trust rules --------------------------------------------------------------
  /** A file whose hash (and length, if pinned) a signed parent names; resolves to its bytes. */
  function checkPinned(data, ref, path, what) {
    if (ref.length && data.length !== ref.length) {
      return Promise.reject(StatusListError("pin", "the " + what + " " + path + " does not match the hash its signed parent pins"));
    }
    return sha256Hex(data).then(function (digest) {
      if (digest !== ref.sha256) {
        throw StatusListError("pin", "the " + what + " " + path + " does not match the hash its signed parent pins");
      }
      return data;
    });
  }

  function iso(ms) {
    return new Date(ms).toISOString().replace(".000Z", "Z");
  }

  /**
   * Every trust rule of the client, without I/O (TrustedSet in certseal/statuslist.py).
   * options: now (ms), seen {version, issuedAt (ms)}: the newest publication trusted before,
   * pin {minVersion, notBefore (ms)}: an operator's floor, allowExpired.
   */
  function TrustedSet(keys, options) {
    const o = options || {};
    const seen = o.seen || {};
    const pin = o.pin || {};
    const now = o.now;
    let timestamp = null;
    let snapshot = null;
    let keyid = null;

    function checkExpiry(expires, what) {
      if (!o.allowExpired && now >= expires) {
        throw StatusListError("expired", "the " + what + " expired at " + iso(expires));
      }
    }

    /** Verify timestamp.json; resolves to its signed body. */
    function updateTimestamp(bytes) {
      return Promise.resolve()
        .then(function () {
          if (timestamp) throw new Error("the timestamp is already updated");
          if (bytes.length > MAX_BYTES.timestamp) throw formatError("the timestamp is larger than " + MAX_BYTES.timestamp + " bytes");
          return openEnvelope(bytes, "timestamp", keys);
        })
        .then(function (opened) {
          const t = checkTimestamp(opened.signed);
          const seenVersion = seen.version || 0;
          if (t.version < seenVersion) {
            throw StatusListError("rollback", "version " + t.version + " is older than version " + seenVersion + " seen before: refused as a rollback");
          }
          if (t.version === seenVersion && seen.issuedAt && t.issuedAt < seen.issuedAt) {
            throw StatusListError("rollback", "the timestamp was signed before the one seen before: refused as a rollback");
          }
          if (t.version < (pin.minVersion || 0)) {
            throw StatusListError("below_pin", "version " + t.version + " is below the pinned minimum version " + pin.minVersion);
          }
          checkExpiry(t.expires, "status list's timestamp");
          timestamp = { body: opened.signed, parsed: t };
          keyid = opened.keyid;
          return opened.signed;
        });
    }

    /** Verify the snapshot the trusted timestamp pins; resolves to its signed body. */
    function updateSnapshot(bytes) {
      if (!timestamp) return Promise.reject(new Error("update the timestamp before the snapshot"));
      const ref = timestamp.body.snapshot;
      return checkPinned(bytes, ref, ref.path, "snapshot")
        .then(function () {
          return openEnvelope(bytes, "snapshot", keys);
        })
        .then(function (opened) {
          const s = checkSnapshot(opened.signed);
          if (s.version !== timestamp.parsed.version) {
            throw StatusListError("version_mismatch", "the snapshot is version " + s.version + " but the timestamp names version " + timestamp.parsed.version);
          }
          if (pin.notBefore && s.issuedAt < pin.notBefore) {
            throw StatusListError("below_pin", "the list was issued at " + iso(s.issuedAt) + ", before the pinned " + iso(pin.notBefore));
          }
          checkExpiry(s.expires, "status list's snapshot");
          snapshot = { body: opened.signed, parsed: s };
          return opened.signed;
        });
    }

    /** The trusted publication, as lookup and the page use it. */
    function state() {
      if (!timestamp || !snapshot) throw new Error("the timestamp and the snapshot are not both trusted yet");
      const expires = Math.min(timestamp.parsed.expires, snapshot.parsed.expires);
      return {
        keyid: keyid,
        timestamp: timestamp.body,
        snapshot: snapshot.body,
        version: timestamp.parsed.version,
        issuedAt: timestamp.parsed.issuedAt,
        expires: iso(expires),
        expired: now >= expires,
      };
    }

    return { updateTimestamp: updateTimestamp, updateSnapshot: updateSnapshot, state: state };
  }

  // -- fetching ------------------------------------------------------------------------------
  /** Read at most `limit` bytes of a response, and stop downloading past them. */
  function readLimited(response, limit) {
    if (!response.body || !response.body.getReader) {
      return response.arrayBuffer().then(function (b) {
        return new Uint8Array(b).subarray(0, limit);
      });
    }
    const reader = response.body.getReader();
    const chunks = [];
    let size = 0;
    function pump() {
      return reader.read().then(function (r) {
        if (r.done) return;
        chunks.push(r.value);
        size += r.value.length;
        if (size >= limit) {
          reader.cancel();
          return;
        }
        return pump();
      });
    }
    return pump().then(function () {
      // Like the Python reader, keep at most `limit` bytes (one more than a file may hold): a
      // longer file is then seen to be longer.
      size = Math.min(size, limit);
      const out = new Uint8Array(size);
      let at = 0;
      chunks.forEach(function (c) {
        const part = c.subarray(0, size - at);
        out.set(part, at);
        at += part.length;
      });
      return out;
    });
  }

  function fetchBytes(url, limit, cacheMode) {
    return fetch(url, { cache: cacheMode || "default", credentials: "omit" }).then(
      function (response) {
        if (!response.ok) throw StatusListError("fetch", "cannot fetch " + url + ": " + response.status);
        return readLimited(response, limit);
      },
      function () {
        throw StatusListError("fetch", "cannot fetch " + url);
      }
    );
  }

  /** How much to read of a pinned file: one byte more than it may hold. */
  function readLimit(ref, what) {
    return ref.length ? ref.length + 1 : MAX_BYTES[what] + 1;
  }

  // -- what this browser saw before ----------------------------------------------------------
  function seenKeys(issuer) {
    return { version: "certseal:last-seen-version:" + issuer, time: "certseal:last-seen-timestamp:" + issuer };
  }

  function readSeen(issuer) {
    try {
      const k = seenKeys(issuer);
      return {
        version: Number(window.localStorage.getItem(k.version)) || 0,
        issuedAt: Number(window.localStorage.getItem(k.time)) || 0,
      };
    } catch (e) {
      return { version: 0, issuedAt: 0 }; // storage disabled: no memory, nothing to compare
    }
  }

  function writeSeen(issuer, version, issuedAt) {
    try {
      const before = readSeen(issuer);
      if (version > before.version || (version === before.version && issuedAt > before.issuedAt)) {
        const k = seenKeys(issuer);
        window.localStorage.setItem(k.version, String(version));
        window.localStorage.setItem(k.time, String(issuedAt));
      }
    } catch (e) {
      // storage disabled
    }
  }

  /**
   * Fetch and verify the current timestamp and snapshot: a thin loop over TrustedSet. An
   * expired list is returned with expired: true (the verifier calls it "stale"), unless
   * options.allowExpired is false; a publication older than one this browser saw before is
   * refused. options may give seen and pin (as TrustedSet takes them) instead.
   */
  function loadTrusted(base, keys, now, issuer, options) {
    const o = options || {};
    const remember = !o.seen;
    const trust = TrustedSet(keys, {
      now: now,
      seen: o.seen || readSeen(issuer),
      pin: o.pin,
      allowExpired: o.allowExpired === undefined ? true : o.allowExpired,
    });
    return fetchBytes(base + "timestamp.json", MAX_BYTES.timestamp + 1, "no-cache")
      .then(trust.updateTimestamp)
      .then(function (ts) {
        return fetchBytes(base + ts.snapshot.path, readLimit(ts.snapshot, "snapshot"));
      })
      .then(trust.updateSnapshot)
      .then(function () {
        const state = trust.state();
        if (remember) writeSeen(issuer, state.version, state.issuedAt);
        state.base = base;
        return state;
      });
  }

  function own(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
  }

  /**
   * Find one document's entry, fetching only its bucket and its shard (lookup). Resolves to
   * {entry, bucket, shard}: entry is null when the list does not hold the hash.
   */
  function lookup(state, sha256) {
    if (!HEX64.test(sha256)) return Promise.reject(formatError("not a SHA-256"));
    const snap = state.snapshot;
    const bp = sha256.slice(0, snap.bucket_prefix_len);
    const sp = sha256.slice(0, snap.shard_prefix_len);
    const bref = own(snap.buckets, bp);
    if (bref === undefined) return Promise.resolve({ entry: null, bucket: null, shard: null });
    const bpath = "buckets/" + bref + ".json";
    return fetchBytes(state.base + bpath, MAX_BYTES.bucket + 1)
      .then(function (bytes) {
        return checkPinned(bytes, { sha256: bref, length: 0 }, bpath, "bucket");
      })
      .then(function (bytes) {
        const sref = own(checkBucket(parseObject(bytes, "bucket"), bp), sp);
        if (sref === undefined) return { entry: null, bucket: bp, shard: null };
        const spath = "shards/" + sref + ".json";
        return fetchBytes(state.base + spath, MAX_BYTES.shard + 1)
          .then(function (shardBytes) {
            return checkPinned(shardBytes, { sha256: sref, length: 0 }, spath, "shard");
          })
          .then(function (shardBytes) {
            const entries = checkShard(parseObject(shardBytes, "shard"), sp);
            const entry = entries.filter(function (e) {
              return e.sha256 === sha256;
            })[0] || null;
            return { entry: entry, bucket: bp, shard: sp };
          });
      });
  }

  window.CertsealStatusList = {
    canonicalJSON: canonicalJSON,
    compareCodePoints: compareCodePoints,
    sha256Hex: sha256Hex,
    importKeys: importKeys,
    openEnvelope: openEnvelope,
    TrustedSet: TrustedSet,
    parseTime: parseTime,
    parseObject: parseObject,
    fetchBytes: fetchBytes,
    loadTrusted: loadTrusted,
    lookup: lookup,
    StatusListError: StatusListError,
  };
})();
