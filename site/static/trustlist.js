// The federation's trust list (TUF metadata, docs/trust-list.md), read in the browser with the
// client rules python-tuf applies (certseal/trustlist.py's TrustListClient): a root pinned in
// the page, rotated only by roots signed by the old and the new threshold; timestamp, snapshot,
// targets and each school's role signed by their role's threshold, pinned by length and hash
// where the parent pins them, versions that never go back, nothing expired. Signatures are
// ECDSA P-256 over TUF's canonical JSON (securesystemslib's encode_canonical: only " and \ are
// escaped), carried as hex DER, which Web Crypto wants as raw r||s. Both readers pass the same
// conformance vectors (tests/vectors/trustlist/). Needs statuslist.js (its JSON and fetching).
"use strict";

(function () {
  const SL = window.CertsealStatusList;
  if (!SL) return;
  const MAX_BYTES = {
    root: 256 * 1024,
    timestamp: 16 * 1024,
    snapshot: 1 << 20,
    targets: 4 << 20,
    school: 1 << 20,
  };
  const MAX_ROOT_ROTATIONS = 32;
  const SCHEME = "ecdsa-sha2-nistp256";
  const HEX = /^(?:[0-9a-f]{2})+$/;
  const SCHOOL_ID = /^[A-Z][A-Z0-9]{1,9}$/;
  const utf8 = new TextEncoder();

  function fail(kind, message) {
    return SL.StatusListError(kind, message);
  }

  function isObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }

  function own(obj, key) {
    return isObject(obj) && Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
  }

  // -- TUF's canonical JSON -------------------------------------------------------------------
  /** securesystemslib.formats.encode_canonical: sorted keys, no spaces, only " and \ escaped. */
  function tufCanonical(value) {
    if (value === null) return "null";
    switch (typeof value) {
      case "boolean":
        return value ? "true" : "false";
      case "number":
        if (!Number.isSafeInteger(value)) throw fail("format", "only integers can be signed");
        return String(value);
      case "string":
        return '"' + value.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
      case "object":
        if (Array.isArray(value)) return "[" + value.map(tufCanonical).join(",") + "]";
        return (
          "{" +
          Object.keys(value)
            .sort(SL.compareCodePoints)
            .map(function (k) {
              return tufCanonical(k) + ":" + tufCanonical(value[k]);
            })
            .join(",") +
          "}"
        );
      default:
        throw fail("format", "not a JSON value");
    }
  }

  // -- keys and signatures --------------------------------------------------------------------
  function bytesOfHex(text) {
    if (typeof text !== "string" || !HEX.test(text)) return null;
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  /** A DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs) as Web Crypto's raw r||s, or null. */
  function derToRaw(der) {
    if (!der || der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return null;
    const out = new Uint8Array(64);
    let at = 2;
    for (let part = 0; part < 2; part++) {
      if (der[at] !== 0x02) return null;
      let len = der[at + 1];
      let start = at + 2;
      if (len < 1 || len > 33 || start + len > der.length) return null;
      at = start + len;
      while (len > 0 && der[start] === 0) {
        start++;
        len--;
      }
      if (len > 32) return null;
      out.set(der.subarray(start, start + len), part * 32 + 32 - len);
    }
    return at === der.length ? out : null;
  }

  /** A TUF key (keytype ecdsa, the P-256 scheme, PEM SubjectPublicKeyInfo) for Web Crypto. */
  function importTufKey(key) {
    const pem = own(own(key, "keyval"), "public");
    if (own(key, "scheme") !== SCHEME || typeof pem !== "string") return Promise.resolve(null);
    const body = pem
      .replace(/-----BEGIN PUBLIC KEY-----/, "")
      .replace(/-----END PUBLIC KEY-----/, "")
      .replace(/\s+/g, "");
    let der;
    try {
      der = Uint8Array.from(atob(body), function (c) {
        return c.charCodeAt(0);
      });
    } catch (e) {
      return Promise.resolve(null);
    }
    return crypto.subtle
      .importKey("spki", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])
      .then(
        function (k) {
          return k;
        },
        function () {
          return null; // an unusable key verifies nothing, as in securesystemslib
        }
      );
  }

  /**
   * How many of the role's keys signed: distinct key ids named by the role, each with a valid
   * signature over TUF's canonical JSON of `signed` (python-tuf's verify_delegate).
   */
  function countSignatures(md, keys, role) {
    const payload = utf8.encode(tufCanonical(md.signed));
    const wanted = Array.isArray(role.keyids) ? role.keyids : [];
    return Promise.all(
      md.signatures.map(function (s) {
        if (wanted.indexOf(s.keyid) < 0 || !own(keys, s.keyid)) return false;
        const raw = derToRaw(bytesOfHex(s.sig));
        if (!raw) return false;
        return importTufKey(keys[s.keyid]).then(function (key) {
          return key ? crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, payload) : false;
        });
      })
    ).then(function (ok) {
      return ok.filter(Boolean).length;
    });
  }

  function verifyRole(md, keys, role, what) {
    const threshold = own(role, "threshold");
    if (!Number.isSafeInteger(threshold) || threshold < 1) {
      return Promise.reject(fail("format", what + "'s threshold is not a positive integer"));
    }
    return countSignatures(md, keys, role).then(function (n) {
      if (n < threshold) {
        throw fail("signature", "the trust list's " + what + " is signed by " + n + " of the " + threshold + " keys it needs");
      }
    });
  }

  // -- metadata -------------------------------------------------------------------------------
  /** Parse one metadata file of the given TUF type: {signed, signatures}. */
  function parseMetadata(bytes, type, what) {
    const md = SL.parseObject(bytes, what);
    const signed = md.signed;
    if (!isObject(signed) || !Array.isArray(md.signatures)) {
      throw fail("format", what + " must have 'signed' and 'signatures'");
    }
    const ids = {};
    md.signatures.forEach(function (s) {
      if (!isObject(s) || typeof s.keyid !== "string" || typeof s.sig !== "string") {
        throw fail("format", what + " has a malformed signature");
      }
      if (ids[s.keyid]) throw fail("format", what + " has two signatures by one key");
      ids[s.keyid] = true;
    });
    if (signed._type !== type) throw fail("format", what + " is not " + type + " metadata");
    if (typeof signed.spec_version !== "string" || signed.spec_version.split(".")[0] !== "1") {
      throw fail("format", what + " has an unsupported spec_version");
    }
    if (!Number.isSafeInteger(signed.version) || signed.version < 1) {
      throw fail("format", what + " version must be a positive integer");
    }
    md.expires = SL.parseTime(signed.expires, what + " expires");
    return md;
  }

  function checkExpiry(md, now, what) {
    if (now >= md.expires) throw fail("expired", "the trust list's " + what + " has expired");
  }

  /** A file a parent pins (MetaFile: version, optional length and sha256). */
  function checkMeta(bytes, meta, what) {
    const length = own(meta, "length");
    const sha = own(own(meta, "hashes"), "sha256");
    if (length !== undefined && bytes.length !== length) {
      return Promise.reject(fail("signature", "the trust list's " + what + " is not the file its parent signed"));
    }
    if (sha === undefined) return Promise.resolve(bytes);
    return SL.sha256Hex(bytes).then(function (digest) {
      if (digest !== sha) throw fail("signature", "the trust list's " + what + " is not the file its parent signed");
      return bytes;
    });
  }

  function checkVersion(md, expected, what) {
    if (md.signed.version !== expected) {
      throw fail("rollback", "the trust list's " + what + " is version " + md.signed.version + ", not " + expected);
    }
  }

  function rootRole(root, name) {
    const role = own(own(root.signed, "roles"), name);
    if (!isObject(role)) throw fail("format", "the root has no " + name + " role");
    return role;
  }

  // -- groups of schools ----------------------------------------------------------------------
  const GROUP = /^schools-[0-9a-f]$/;

  function profilePath(sid) {
    return "schools/" + sid + ".json";
  }

  function keysPattern(sid) {
    return "schools/" + sid + "/keys/*";
  }

  /** A role's delegations by name (python-tuf's Delegations.roles; no hash-bin delegations). */
  function delegatedRoles(md, what) {
    const delegations = own(md.signed, "delegations");
    if (delegations === undefined) return {};
    if (!isObject(delegations) || own(delegations, "succinct_roles") !== undefined || !Array.isArray(delegations.roles)) {
      throw fail("format", what + " has malformed delegations");
    }
    const roles = {};
    delegations.roles.forEach(function (r) {
      if (!isObject(r) || typeof r.name !== "string" || own(roles, r.name)) {
        throw fail("format", what + " has a malformed delegation");
      }
      roles[r.name] = r;
    });
    return roles;
  }

  /** The schools targets gives a group: its paths are each school's profile and keys, sorted. */
  function groupSchools(role) {
    const paths = role.paths;
    const ok =
      GROUP.test(role.name) &&
      role.terminating === true &&
      Array.isArray(paths) &&
      paths.length > 0 &&
      paths.length % 2 === 0;
    const ids = [];
    if (ok) {
      for (let i = 0; i < paths.length; i += 2) {
        const m = /^schools\/([A-Z][A-Z0-9]{1,9})\.json$/.exec(paths[i]);
        if (!m || paths[i + 1] !== keysPattern(m[1]) || (ids.length && ids[ids.length - 1] >= m[1])) {
          throw fail("format", "group " + role.name + " is delegated paths other than its schools' profiles and keys");
        }
        ids.push(m[1]);
      }
      return ids;
    }
    throw fail("format", "the list of schools delegates " + role.name + ", which is not a group of schools");
  }

  // -- one school -----------------------------------------------------------------------------
  const SCHOOL_STATES = ["active", "suspended", "merged", "closed"];

  /** The profile (its group → custom.school), checked against its signed hash. */
  function schoolProfile(group, sid) {
    const target = own(group.signed.targets, profilePath(sid));
    const profile = own(own(target, "custom"), "school");
    if (!isObject(profile) || profile.id !== sid) {
      return Promise.reject(fail("format", "school " + sid + " has no profile of its own"));
    }
    const ok =
      ["name_zh", "name_en", "status_list_url", "log_url"].every(function (k) {
        return typeof profile[k] === "string" && profile[k];
      }) &&
      /^https?:\/\//.test(profile.status_list_url) &&
      Array.isArray(profile.lifecycle) &&
      profile.lifecycle.length > 0 &&
      profile.lifecycle.every(function (s) {
        return isObject(s) && SCHOOL_STATES.indexOf(s.state) >= 0 && typeof s.at === "string";
      });
    if (!ok) return Promise.reject(fail("format", "school " + sid + "'s profile is malformed"));
    profile.lifecycle.forEach(function (s) {
      SL.parseTime(s.at, "state change time");
    });
    const data = utf8.encode(SL.canonicalJSON(profile));
    return checkMeta(data, { length: target.length, hashes: target.hashes }, "profile of " + sid).then(
      function () {
        return profile;
      },
      function () {
        throw fail("format", "school " + sid + "'s profile does not match its signed hash");
      }
    );
  }

  /** The school's key history: every target under schools/<ID>/keys/, described by its hash. */
  function schoolKeys(role, sid) {
    const out = [];
    Object.keys(role.signed.targets || {}).forEach(function (path) {
      const target = role.signed.targets[path];
      const key = own(own(target, "custom"), "key");
      const sha = own(key, "cert_sha256");
      if (!isObject(key) || typeof sha !== "string" || !/^[0-9a-f]{64}$/.test(sha)) {
        throw fail("format", sid + "'s key history has a malformed key");
      }
      if (path !== "schools/" + sid + "/keys/" + sha + ".der") {
        throw fail("format", sid + "'s role lists " + path + ", outside schools/" + sid + "/keys/");
      }
      if (own(own(target, "hashes"), "sha256") !== sha) {
        throw fail("format", "target " + path + " is not described by its own hash");
      }
      ["valid_from", "valid_to"].forEach(function (k) {
        SL.parseTime(key[k], "key " + k);
      });
      if (key.revoked_at !== undefined) SL.parseTime(key.revoked_at, "key revoked_at");
      if (key.role !== "signing" && key.role !== "statuslist") throw fail("format", "unknown key role");
      out.push(key);
    });
    return out;
  }

  // -- the whole reading ----------------------------------------------------------------------
  /**
   * Fetch and verify the trust list from the pinned root (bytes), as of `now` (ms).
   * options.fetch(path, limit, cacheMode) returns bytes (default: from `base`);
   * options.seen is what this reader trusted before ({timestamp, snapshot, meta}); refused if
   * the list goes back; options.schools: the ids whose roles to read (default: every school).
   * Resolves to {rootVersion, timestampVersion, snapshotVersion, targetsVersion, expires,
   * seen (to remember), profiles {ID: profile}, schools {ID: {profile, keys, roleVersion}}}.
   */
  function load(base, rootBytes, now, options) {
    const o = options || {};
    const seen = o.seen || {};
    const get =
      o.fetch ||
      function (path, limit, cacheMode) {
        return SL.fetchBytes(base + path, limit, cacheMode);
      };
    function fetchFile(path, limit, cacheMode) {
      return get(path, limit + 1, cacheMode).then(function (bytes) {
        if (bytes.length > limit) throw fail("format", path + " is larger than " + limit + " bytes");
        return bytes;
      });
    }
    let root;
    let timestamp;
    let snapshot;
    let targets;
    return Promise.resolve()
      .then(function () {
        root = parseMetadata(rootBytes, "root", "root");
        return verifyRole(root, root.signed.keys, rootRole(root, "root"), "root");
      })
      .then(function rotate() {
        const next = root.signed.version + 1;
        if (next > 1 + MAX_ROOT_ROTATIONS) return null;
        const cache = next <= (seen.root || 0) ? "default" : "no-cache";
        return fetchFile("metadata/" + next + ".root.json", MAX_BYTES.root, cache).then(
          function (bytes) {
            const md = parseMetadata(bytes, "root", "root v" + next);
            return verifyRole(md, root.signed.keys, rootRole(root, "root"), "root v" + next)
              .then(function () {
                return verifyRole(md, md.signed.keys, rootRole(md, "root"), "root v" + next);
              })
              .then(function () {
                checkVersion(md, next, "root");
                root = md;
                return rotate();
              });
          },
          function (e) {
            if (e && e.kind === "fetch") return null; // no newer root: the chain ends here
            throw e;
          }
        );
      })
      .then(function () {
        checkExpiry(root, now, "root");
        return fetchFile("metadata/timestamp.json", MAX_BYTES.timestamp, "no-cache");
      })
      .then(function (bytes) {
        timestamp = parseMetadata(bytes, "timestamp", "timestamp");
        return verifyRole(timestamp, root.signed.keys, rootRole(root, "timestamp"), "timestamp");
      })
      .then(function () {
        const meta = own(own(timestamp.signed, "meta"), "snapshot.json");
        if (!isObject(meta) || !Number.isSafeInteger(meta.version)) {
          throw fail("format", "the timestamp names no snapshot");
        }
        if (timestamp.signed.version < (seen.timestamp || 0) || meta.version < (seen.snapshot || 0)) {
          throw fail("rollback", "the trust list is older than one this browser saw before");
        }
        checkExpiry(timestamp, now, "timestamp");
        return fetchFile("metadata/" + meta.version + ".snapshot.json", MAX_BYTES.snapshot).then(
          function (b) {
            return checkMeta(b, meta, "snapshot");
          }
        );
      })
      .then(function (bytes) {
        snapshot = parseMetadata(bytes, "snapshot", "snapshot");
        return verifyRole(snapshot, root.signed.keys, rootRole(root, "snapshot"), "snapshot");
      })
      .then(function () {
        const meta = snapshot.signed.meta;
        if (!isObject(meta)) throw fail("format", "the snapshot lists no roles");
        Object.keys(seen.meta || {}).forEach(function (name) {
          const listed = own(meta, name);
          if (!isObject(listed)) throw fail("format", "the snapshot no longer lists " + name);
          if (listed.version < seen.meta[name]) throw fail("rollback", name + " went back to an older version");
        });
        checkExpiry(snapshot, now, "snapshot");
        checkVersion(snapshot, own(timestamp.signed.meta, "snapshot.json").version, "snapshot");
        return readRole("targets", root.signed.keys, rootRole(root, "targets"));
      })
      .then(function (md) {
        targets = md;
        if (Object.keys(targets.signed.targets).length) {
          throw fail("format", "the list of schools lists targets of its own: schools are in its groups");
        }
        // targets gives each group of schools its schools' paths; a school is in one group.
        const groups = delegatedRoles(targets, "the list of schools");
        const groupOf = {};
        Object.keys(groups).forEach(function (name) {
          groupSchools(groups[name]).forEach(function (sid) {
            if (groupOf[sid]) throw fail("format", "group " + name + " lists a school another group lists");
            groupOf[sid] = name;
          });
        });
        const ids = Object.keys(groupOf).sort();
        const wanted = o.schools ? o.schools : ids;
        wanted.forEach(function (sid) {
          if (!groupOf[sid]) throw fail("format", "the trust list has no school " + sid);
        });
        const needed = ids
          .map(function (sid) {
            return groupOf[sid];
          })
          .filter(function (name, i, all) {
            return all.indexOf(name) === i && wanted.some(function (sid) {
              return groupOf[sid] === name;
            });
          })
          .sort();
        const profiles = {};
        const schools = {};
        const read = {};
        return Promise.all(
          needed.map(function (name) {
            return readRole(name, targets.signed.delegations.keys || {}, groups[name]).then(function (group) {
              const members = groupSchools(groups[name]);
              const roles = delegatedRoles(group, "group " + name);
              if (
                Object.keys(roles).sort().join("\n") !== members.join("\n") ||
                Object.keys(group.signed.targets).sort().join("\n") !==
                  members.map(profilePath).sort().join("\n")
              ) {
                throw fail("format", "group " + name + " does not hold exactly the schools the list gives it");
              }
              read[name] = { md: group, roles: roles };
              return Promise.all(
                members.map(function (sid) {
                  return schoolProfile(group, sid).then(function (p) {
                    profiles[sid] = p;
                  });
                })
              );
            });
          })
        )
          .then(function () {
            return Promise.all(
              wanted.map(function (sid) {
                const group = read[groupOf[sid]];
                const delegation = group.roles[sid];
                const paths = delegation.paths;
                if (!Array.isArray(paths) || paths.length !== 1 || paths[0] !== keysPattern(sid) || delegation.terminating !== true) {
                  throw fail("format", "school " + sid + " is delegated more than its own keys");
                }
                return readRole(sid, group.md.signed.delegations.keys || {}, delegation).then(function (role) {
                  schools[sid] = { profile: profiles[sid], keys: schoolKeys(role, sid), roleVersion: role.signed.version };
                });
              })
            );
          })
          .then(function () {
            const metaVersions = {};
            Object.keys(snapshot.signed.meta).forEach(function (name) {
              metaVersions[name] = snapshot.signed.meta[name].version;
            });
            return {
              rootVersion: root.signed.version,
              timestampVersion: timestamp.signed.version,
              snapshotVersion: snapshot.signed.version,
              targetsVersion: targets.signed.version,
              expires: Math.min(root.expires, timestamp.expires, snapshot.expires, targets.expires),
              seen: {
                root: root.signed.version,
                timestamp: timestamp.signed.version,
                snapshot: snapshot.signed.version,
                meta: metaVersions,
              },
              schoolIds: ids,
              profiles: profiles,
              schools: schools,
            };
          });
      });

    /** targets or a school's role: pinned by the snapshot, signed by its delegator's keys. */
    function readRole(name, keys, role) {
      const meta = own(snapshot.signed.meta, name + ".json");
      if (!isObject(meta) || !Number.isSafeInteger(meta.version)) {
        return Promise.reject(fail("format", "the snapshot does not list " + name));
      }
      const limit = SCHOOL_ID.test(name) ? MAX_BYTES.school : MAX_BYTES.targets;
      return fetchFile("metadata/" + meta.version + "." + name + ".json", limit)
        .then(function (bytes) {
          return checkMeta(bytes, meta, name);
        })
        .then(function (bytes) {
          const md = parseMetadata(bytes, "targets", name);
          const what = name === "targets" ? "list of schools" : SCHOOL_ID.test(name) ? "role of " + name : "group " + name;
          return verifyRole(md, keys, role, what).then(
            function () {
              checkVersion(md, meta.version, name);
              checkExpiry(md, now, name);
              if (!isObject(md.signed.targets)) throw fail("format", name + " lists no targets");
              return md;
            }
          );
        });
    }
  }

  // -- what this browser saw before -----------------------------------------------------------
  const SEEN_KEY = "certseal:trust-list-seen";

  function readSeen() {
    try {
      const v = JSON.parse(window.localStorage.getItem(SEEN_KEY) || "null");
      return isObject(v) ? v : {};
    } catch (e) {
      return {}; // storage disabled or damaged: nothing to compare
    }
  }

  function writeSeen(seen) {
    try {
      window.localStorage.setItem(SEEN_KEY, JSON.stringify(seen));
    } catch (e) {
      // storage disabled
    }
  }

  /** load() with what this browser saw before, remembered after a successful reading. */
  function loadRemembered(base, rootBytes, now, options) {
    const o = Object.assign({}, options || {}, { seen: readSeen() });
    return load(base, rootBytes, now, o).then(function (tl) {
      writeSeen(tl.seen);
      return tl;
    });
  }

  /** The lifecycle step in force at `ms` (null before admission). */
  function stateAt(profile, ms) {
    let found = null;
    profile.lifecycle.forEach(function (s) {
      if (SL.parseTime(s.at, "state change time") <= ms) found = s;
    });
    return found;
  }

  /** The school's status-list keys usable at `ms`: listed for that use, in validity, unrevoked. */
  function statusKeys(school, ms) {
    return school.keys
      .filter(function (k) {
        return (
          k.role === "statuslist" &&
          SL.parseTime(k.valid_from, "valid_from") <= ms &&
          ms < SL.parseTime(k.valid_to, "valid_to") &&
          (k.revoked_at === undefined || ms < SL.parseTime(k.revoked_at, "revoked_at"))
        );
      })
      .map(function (k) {
        return SL.sha256Hex(Uint8Array.from(atob(k.spki), function (c) {
          return c.charCodeAt(0);
        })).then(function (keyid) {
          return { keyid: keyid, spki: k.spki };
        });
      });
  }

  window.CertsealTrustList = {
    tufCanonical: tufCanonical,
    derToRaw: derToRaw,
    load: load,
    loadRemembered: loadRemembered,
    stateAt: stateAt,
    statusKeys: function (school, ms) {
      return Promise.all(statusKeys(school, ms));
    },
  };
})();
