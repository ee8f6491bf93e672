// The published status list, read in the browser: the same steps as the reader side of
// certseal/statuslist.py (load_trusted, lookup), with Web Crypto for hashes and signatures.
// docs/status-list.md describes the format.
"use strict";

(function () {
  const SPEC_MAJOR = "1";
  const STATES = ["active", "superseded", "revoked"];
  // The most read of each file, as in statuslist.MAX_BYTES: a hostile host cannot make us
  // download without end.
  const MAX_BYTES = { timestamp: 64 * 1024, snapshot: 8 << 20, bucket: 2 << 20, shard: 8 << 20 };
  const HEX64 = /^[0-9a-f]{64}$/;
  const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

  /** kind: "signature", "pin", "format", "fetch" or "rollback". */
  function StatusListError(kind, message) {
    const e = new Error(message);
    e.name = "StatusListError";
    e.kind = kind;
    return e;
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
          throw StatusListError("format", "only integers are allowed in canonical JSON");
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
        throw StatusListError("format", "not a JSON value");
    }
  }

  const utf8 = new TextEncoder();

  function parseObject(bytes, what) {
    let obj;
    try {
      // fatal: invalid UTF-8 is an error; ignoreBOM: a BOM stays and fails the parse, as in Python.
      const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
      obj = JSON.parse(text);
    } catch (e) {
      throw StatusListError("format", what + " is not valid JSON");
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      throw StatusListError("format", what + " must be a JSON object");
    }
    return obj;
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
    if (!signed || typeof signed !== "object" || Array.isArray(signed) || !Array.isArray(sigs) || !sigs.length) {
      return Promise.reject(StatusListError("format", what + " must have 'signed' and 'signatures'"));
    }
    let payload;
    try {
      payload = utf8.encode(canonicalJSON(signed));
    } catch (e) {
      return Promise.reject(e);
    }
    for (let i = 0; i < sigs.length; i++) {
      const s = sigs[i];
      if (!s || typeof s.keyid !== "string") {
        return Promise.reject(StatusListError("format", what + " has a malformed signature entry"));
      }
      const trusted = keys.filter(function (k) {
        return k.keyid === s.keyid;
      })[0];
      if (!trusted) continue;
      let raw;
      try {
        raw = base64Bytes(s.sig);
      } catch (e) {
        return Promise.reject(e);
      }
      if (raw.length !== 64) {
        return Promise.reject(StatusListError("signature", "the signature has the wrong length"));
      }
      return crypto.subtle
        .verify({ name: "ECDSA", hash: "SHA-256" }, trusted.key, raw, payload)
        .then(function (ok) {
          if (!ok) throw StatusListError("signature", "the " + what + " signature does not match");
          return { signed: signed, keyid: trusted.keyid };
        });
    }
    return Promise.reject(
      StatusListError("signature", "the " + what + " is not signed by a trusted status-list key")
    );
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
      // Like the Python reader, keep at most `limit` bytes: an oversized pinned file then fails
      // its length check, an oversized timestamp its parse.
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

  /**
   * A pinned reference: the timestamp pins its snapshot by hash and length; a snapshot pins
   * its buckets and a bucket its shards by hash alone (a hex string), read up to MAX_BYTES.
   */
  function checkRef(ref, what) {
    if (typeof ref === "string" && HEX64.test(ref)) return { sha256: ref, length: 0 };
    if (!ref || typeof ref !== "object" || !HEX64.test(ref.sha256) || !Number.isSafeInteger(ref.length) || ref.length < 1) {
      throw StatusListError("format", what + " must be pinned by its sha256");
    }
    return ref;
  }

  /** Fetch a file whose hash (and length, if given) its signed parent pins; refuse anything else. */
  function fetchPinned(base, path, ref, what) {
    const limit = ref.length ? ref.length + 1 : MAX_BYTES[what] + 1;
    return fetchBytes(base + path, limit).then(function (data) {
      if (ref.length && data.length !== ref.length) {
        throw StatusListError("pin", "the " + what + " " + path + " does not match its pinned length");
      }
      return sha256Hex(data).then(function (digest) {
        if (digest !== ref.sha256) {
          throw StatusListError("pin", "the " + what + " " + path + " does not match its pinned hash");
        }
        return data;
      });
    });
  }

  // -- the signed bodies ---------------------------------------------------------------------
  function checkCommon(d, type) {
    if (d._type !== type) throw StatusListError("format", "expected a " + type + " document");
    if (typeof d.spec_version !== "string" || d.spec_version.split(".")[0] !== SPEC_MAJOR) {
      throw StatusListError("format", "unsupported status-list spec_version");
    }
    if (!Number.isSafeInteger(d.version) || d.version < 1) {
      throw StatusListError("format", type + " version must be an integer ≥ 1");
    }
    if (!TIME.test(d.issued_at) || !TIME.test(d.expires) || Date.parse(d.expires) <= Date.parse(d.issued_at)) {
      throw StatusListError("format", type + " times are not valid");
    }
  }

  function lastSeenKey(issuer) {
    return "certseal:last-seen-version:" + issuer;
  }

  function readLastSeen(issuer) {
    try {
      return Number(window.localStorage.getItem(lastSeenKey(issuer))) || 0;
    } catch (e) {
      return 0; // storage disabled: no memory of earlier versions, nothing to compare
    }
  }

  function writeLastSeen(issuer, version) {
    try {
      if (version > readLastSeen(issuer)) {
        window.localStorage.setItem(lastSeenKey(issuer), String(version));
      }
    } catch (e) {
      // storage disabled
    }
  }

  /**
   * Fetch and verify the current timestamp and snapshot (load_trusted). An expired list is
   * returned with expired: true, as the verifier reports it "stale"; a version older than
   * one this browser saw before is refused.
   */
  function loadTrusted(base, keys, now, issuer) {
    let timestamp;
    let keyid;
    return fetchBytes(base + "timestamp.json", MAX_BYTES.timestamp, "no-cache")
      .then(function (bytes) {
        return openEnvelope(bytes, "timestamp", keys);
      })
      .then(function (opened) {
        timestamp = opened.signed;
        keyid = opened.keyid;
        checkCommon(timestamp, "certseal/timestamp");
        const snap = timestamp.snapshot;
        if (!snap || snap.path !== "snapshot/" + timestamp.version + ".json") {
          throw StatusListError("format", "the timestamp points to a snapshot of another version");
        }
        checkRef(snap, "timestamp snapshot");
        const seen = readLastSeen(issuer);
        if (timestamp.version < seen) {
          throw StatusListError(
            "rollback",
            "version " + timestamp.version + " is older than version " + seen + " seen before"
          );
        }
        return fetchPinned(base, snap.path, snap, "snapshot");
      })
      .then(function (bytes) {
        return openEnvelope(bytes, "snapshot", keys);
      })
      .then(function (opened) {
        const snapshot = opened.signed;
        checkCommon(snapshot, "certseal/snapshot");
        if (snapshot.version !== timestamp.version) {
          throw StatusListError("format", "the snapshot's version differs from the timestamp's");
        }
        const b = snapshot.bucket_prefix_len;
        const s = snapshot.shard_prefix_len;
        if (!Number.isSafeInteger(b) || !Number.isSafeInteger(s) || !(1 <= b && b <= s && s <= 8)) {
          throw StatusListError("format", "prefix lengths must satisfy 1 ≤ bucket ≤ shard ≤ 8");
        }
        if (!snapshot.buckets || typeof snapshot.buckets !== "object" || !snapshot.counts) {
          throw StatusListError("format", "snapshot buckets and counts must be objects");
        }
        writeLastSeen(issuer, snapshot.version);
        const expires = Math.min(Date.parse(timestamp.expires), Date.parse(snapshot.expires));
        return {
          base: base,
          keyid: keyid,
          timestamp: timestamp,
          snapshot: snapshot,
          expired: now >= expires,
        };
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
    if (!HEX64.test(sha256)) return Promise.reject(StatusListError("format", "not a SHA-256"));
    const snap = state.snapshot;
    const bp = sha256.slice(0, snap.bucket_prefix_len);
    const sp = sha256.slice(0, snap.shard_prefix_len);
    const bref = own(snap.buckets, bp);
    if (bref === undefined) return Promise.resolve({ entry: null, bucket: null, shard: null });
    const bpin = checkRef(bref, "bucket");
    return fetchPinned(state.base, "buckets/" + bpin.sha256 + ".json", bpin, "bucket")
      .then(function (bytes) {
        const bucket = parseObject(bytes, "bucket");
        if (bucket._type !== "certseal/bucket" || bucket.prefix !== bp || !bucket.shards || typeof bucket.shards !== "object") {
          throw StatusListError("format", "the bucket is not the one for " + bp);
        }
        const sref = own(bucket.shards, sp);
        if (sref === undefined) return { entry: null, bucket: bp, shard: null };
        const spin = checkRef(sref, "shard");
        return fetchPinned(state.base, "shards/" + spin.sha256 + ".json", spin, "shard").then(
          function (shardBytes) {
            const shard = parseObject(shardBytes, "shard");
            if (shard._type !== "certseal/shard" || shard.prefix !== sp || !Array.isArray(shard.entries)) {
              throw StatusListError("format", "the shard is not the one for " + sp);
            }
            const entry = shard.entries.filter(function (e) {
              return e && e.sha256 === sha256;
            })[0] || null;
            if (entry && STATES.indexOf(entry.state) < 0) {
              throw StatusListError("format", "the entry's state is not known");
            }
            return { entry: entry, bucket: bp, shard: sp };
          }
        );
      });
  }

  window.CertsealStatusList = {
    canonicalJSON: canonicalJSON,
    compareCodePoints: compareCodePoints,
    sha256Hex: sha256Hex,
    importKeys: importKeys,
    openEnvelope: openEnvelope,
    loadTrusted: loadTrusted,
    lookup: lookup,
    StatusListError: StatusListError,
  };
})();
