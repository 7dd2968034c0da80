/* The public log's check, done in the citizen's own browser (issue 15; DESIGN.md "The public log").
 *
 * The page holds, in data- attributes of #log-check, what the server answered: its signed checkpoint
 * (a C2SP signed note), its verifier key, and the inclusion proof of this receipt's rating. This script
 * trusts none of it: it checks the note's Ed25519 signature against the key (tweetnacl), then walks the
 * RFC 9162 §2.1.3.2 inclusion proof from the leaf hash to a root (SHA-256: js-sha256, since WebCrypto is
 * missing on a plain-http page) and compares it with the signed root. Nothing of the rating's level is
 * in any of it. Both libraries are served by this server (static/), never from the internet.
 */
(function () {
  "use strict";
  var box = document.getElementById("log-check");
  if (!box || !window.nacl || !window.sha256) { return; }

  function hex(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i++) { out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16); }
    return out;
  }
  function unhex(text) {
    if (!/^([0-9a-f]{2})*$/.test(text)) { throw new Error("hex"); }
    var out = new Uint8Array(text.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(text.substr(i * 2, 2), 16); }
    return out;
  }
  function unb64(text) {
    var bin = atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }
  function utf8(text) { return new TextEncoder().encode(text); }
  function concat(a, b, c) {
    var out = new Uint8Array(a.length + b.length + (c ? c.length : 0));
    out.set(a, 0); out.set(b, a.length); if (c) { out.set(c, a.length + b.length); }
    return out;
  }
  function node(left, right) {          // RFC 9162: SHA-256(0x01 || left || right)
    return new Uint8Array(sha256.arrayBuffer(concat(new Uint8Array([1]), left, right)));
  }
  function same(a, b) {
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) { if (a[i] !== b[i]) { return false; } }
    return true;
  }

  /* The signed note: "origin\nsize\nroot\n[ext…]\n\n— name base64(keyid||sig)\n". */
  function checkNote(note, vkey) {
    // <name>+<8 hex key id>+<base64(0x01 || key)>: the base64 may hold "+" itself, the name never does
    var first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
    if (first < 1 || second !== first + 9) { throw new Error("key"); }
    var name = vkey.slice(0, first), keyid = unhex(vkey.slice(first + 1, second)), raw = unb64(vkey.slice(second + 1));
    if (raw.length !== 33 || raw[0] !== 1) { throw new Error("key"); }
    var pub = raw.slice(1);
    var want = new Uint8Array(sha256.arrayBuffer(concat(utf8(name + "\n"), new Uint8Array([1]), pub))).slice(0, 4);
    if (!same(want, keyid)) { throw new Error("key id"); }
    var cut = note.indexOf("\n\n");
    if (cut < 0) { throw new Error("note"); }
    var text = note.slice(0, cut + 1), sigs = note.slice(cut + 2).split("\n");
    for (var i = 0; i < sigs.length; i++) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(sigs[i]);
      if (!m || m[1] !== name) { continue; }
      var blob = unb64(m[2]);
      if (blob.length === 68 && same(blob.slice(0, 4), keyid) &&
          nacl.sign.detached.verify(utf8(text), blob.slice(4), pub)) {
        var lines = text.split("\n");
        return {origin: lines[0], size: parseInt(lines[1], 10), root: unb64(lines[2])};
      }
    }
    throw new Error("signature");
  }

  /* RFC 9162 §2.1.3.2: the root an inclusion proof leads to from the leaf. */
  function rootFrom(index, size, leaf, hashes) {
    if (index >= size) { throw new Error("index"); }
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < hashes.length; i++) {
      var p = unhex(hashes[i]);
      if (sn === 0) { throw new Error("proof too long"); }
      if ((fn & 1) === 1 || fn === sn) {
        r = node(p, r);
        if ((fn & 1) === 0) { while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; } }
      } else {
        r = node(r, p);
      }
      fn >>= 1; sn >>= 1;
    }
    if (sn !== 0) { throw new Error("proof too short"); }
    return r;
  }

  var ok = box.querySelector("[data-ok]"), bad = box.querySelector("[data-bad]");
  try {
    var proof = JSON.parse(box.getAttribute("data-proof"));
    var cp = checkNote(box.getAttribute("data-note"), box.getAttribute("data-key"));
    if (cp.size !== proof.tree_size) { throw new Error("size"); }
    var root = rootFrom(proof.index, proof.tree_size, unhex(proof.leaf_hash), proof.hashes);
    if (!same(root, cp.root)) { throw new Error("root"); }
    box.setAttribute("data-verified", "yes");
    ok.hidden = false;
  } catch (e) {
    box.setAttribute("data-verified", "no");
    box.setAttribute("data-why", String(e && e.message));
    bad.hidden = false;
  }
}());
