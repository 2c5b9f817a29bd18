'use strict';
/* smimehelper password package viewer (format version 1, docs/package-format.md).
 *
 * Runs inside the package file with a Content-Security-Policy of default-src 'none': it cannot
 * load or send anything; it only reads the data blocks of this page, asks for the passphrase
 * and decrypts with the browser's Web Crypto. Every text from the package is shown with
 * textContent, never as HTML. Nothing is offered for saving until every chunk has been
 * authenticated, so a damaged or altered package gives no file at all.
 */
(function () {
  var FORMAT = 'smimehelper-package';
  var CHUNK_SIZE = 1048576;
  var MIN_ITERATIONS = 600000;
  var MAX_ITERATIONS = 10000000;
  var MAX_MANIFEST = 64 * 1048576;
  var INFO_ENCRYPTION = 'smimehelper package v1 encryption key';
  var INFO_CHECK = 'smimehelper package v1 header check';
  var WHITESPACE = /[\t\n\u000b\u000c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+/g;
  var MAX_IMAGE_PREVIEW = 64 * 1048576;
  var DAMAGED = 'This file is damaged; ask the sender to send it again.';
  var WRONG = 'That passphrase does not open these documents. Check it with the sender and try again ' +
    '(upper or lower case and extra spaces do not matter).';

  var subtle = window.crypto && window.crypto.subtle;
  var encoder = new TextEncoder();
  var parsed = null;
  var busy = false;

  function $(id) { return document.getElementById(id); }

  function Damaged() { this.name = 'Damaged'; }

  function status(text) { $('status').textContent = text; }

  function showError(text) {
    var box = $('error');
    box.textContent = text;
    box.hidden = false;
  }

  function clearError() {
    var box = $('error');
    box.textContent = '';
    box.hidden = true;
  }

  /* Exactly what format.py's normalize_passphrase does: lower case, NFC, one space, trimmed. */
  function normalize(text) {
    return text.toLowerCase().normalize('NFC').replace(WHITESPACE, ' ').replace(/^ +| +$/g, '');
  }

  function unbase64(text) {
    var clean = text.replace(/[\t\n\f\r ]+/g, '');
    if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+\/]*={0,2}$/.test(clean)) { throw new Damaged(); }
    if (typeof Uint8Array.fromBase64 === 'function') { return Uint8Array.fromBase64(clean); }
    var binary = atob(clean);
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { out[i] = binary.charCodeAt(i); }
    return out;
  }

  function isInt(value, min, max) {
    return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
  }

  function chunksFor(length) { return Math.ceil(length / CHUNK_SIZE); }

  /* The clear-text part: header, check value, chunk elements. No passphrase needed. */
  function readStructure() {
    var headerElement = $('sh-header');
    var checkElement = $('sh-check');
    if (!headerElement || !checkElement) { throw new Damaged(); }
    var headerBytes = unbase64(headerElement.textContent);
    var check = unbase64(checkElement.textContent);
    var header;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
    } catch (e) { throw new Damaged(); }
    if (!header || header.format !== FORMAT || header.version !== 1 || header.kdf !== 'PBKDF2-HMAC-SHA256' ||
        header.cipher !== 'AES-256-GCM' || header.chunk_size !== CHUNK_SIZE ||
        !isInt(header.iterations, MIN_ITERATIONS, MAX_ITERATIONS) || !isInt(header.chunks, 1, 4294967295) ||
        check.length !== 64) {
      throw new Damaged();
    }
    var salt = unbase64(header.salt);
    var prefix = unbase64(header.nonce_prefix);
    if (salt.length !== 16 || prefix.length !== 7) { throw new Damaged(); }
    var chunks = document.querySelectorAll('script[type="application/vnd.smimehelper.chunk"]');
    if (chunks.length !== header.chunks) { throw new Damaged(); }
    return { headerBytes: headerBytes, check: check, header: header, salt: salt, prefix: prefix, chunks: chunks };
  }

  function concat(a, b) {
    var out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) { return false; }
    var diff = 0;
    for (var i = 0; i < a.length; i++) { diff |= a[i] ^ b[i]; }
    return diff === 0;
  }

  async function checkIntact(p) {
    var digest = new Uint8Array(await subtle.digest('SHA-256', concat(p.headerBytes, p.check.subarray(0, 32))));
    if (!equalBytes(digest, p.check.subarray(32))) { throw new Damaged(); }
  }

  /* PBKDF2 to the master secret, HKDF to the check key and the encryption key. */
  async function deriveKeys(passphrase, p) {
    var base = await subtle.importKey('raw', encoder.encode(normalize(passphrase)), 'PBKDF2', false, ['deriveBits']);
    var master = await subtle.deriveBits(
      { name: 'PBKDF2', hash: 'SHA-256', salt: p.salt, iterations: p.header.iterations }, base, 256);
    var hkdf = await subtle.importKey('raw', master, 'HKDF', false, ['deriveBits', 'deriveKey']);
    var empty = new Uint8Array(0);
    var checkBits = await subtle.deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt: empty, info: encoder.encode(INFO_CHECK) }, hkdf, 256);
    var macKey = await subtle.importKey('raw', checkBits, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    if (!(await subtle.verify('HMAC', macKey, p.check.subarray(0, 32), p.headerBytes))) { return null; }
    return subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt: empty, info: encoder.encode(INFO_ENCRYPTION) },
      hkdf, { name: 'AES-GCM', length: 256 }, false, ['decrypt']);
  }

  function ChunkReader(p, key, aad) {
    this.p = p;
    this.key = key;
    this.aad = aad;
    this.index = 0;
  }

  /* Chunk i: nonce = prefix || i (4 bytes, big-endian) || 1 if last else 0. */
  ChunkReader.prototype.next = async function (expectedLength) {
    var p = this.p;
    var index = this.index;
    if (index >= p.header.chunks) { throw new Damaged(); }
    var element = p.chunks[index];
    var data = unbase64(element.textContent);
    var iv = new Uint8Array(12);
    iv.set(p.prefix, 0);
    new DataView(iv.buffer).setUint32(7, index, false);
    iv[11] = index === p.header.chunks - 1 ? 1 : 0;
    var plain;
    try {
      plain = new Uint8Array(await subtle.decrypt(
        { name: 'AES-GCM', iv: iv, additionalData: this.aad, tagLength: 128 }, this.key, data));
    } catch (e) { throw new Damaged(); }
    if (expectedLength !== undefined && plain.length !== expectedLength) { throw new Damaged(); }
    element.textContent = '';  /* the page's copy of this chunk is no longer needed */
    this.index = index + 1;
    status('Decrypting\u2026 ' + Math.floor(100 * this.index / p.header.chunks) + ' %');
    return plain;
  };

  /* A segment of `length` bytes as a Blob built from one small Blob per chunk. */
  ChunkReader.prototype.segment = async function (length, type) {
    var parts = [];
    for (var j = 0; j < chunksFor(length); j++) {
      parts.push(new Blob([await this.next(Math.min(CHUNK_SIZE, length - j * CHUNK_SIZE))]));
    }
    return new Blob(parts, { type: type });
  };

  ChunkReader.prototype.manifest = async function () {
    var first = await this.next();
    if (first.length < 4) { throw new Damaged(); }
    var length = new DataView(first.buffer, first.byteOffset, 4).getUint32(0, false);
    if (length > MAX_MANIFEST) { throw new Damaged(); }
    var total = 4 + length;
    if (first.length !== Math.min(CHUNK_SIZE, total)) { throw new Damaged(); }
    var bytes = new Uint8Array(total);
    bytes.set(first, 0);
    for (var offset = first.length; offset < total; offset += CHUNK_SIZE) {
      bytes.set(await this.next(Math.min(CHUNK_SIZE, total - offset)), offset);
    }
    var manifest;
    try {
      manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(4)));
    } catch (e) { throw new Damaged(); }
    validateManifest(manifest);
    var chunks = chunksFor(total);
    manifest.files.forEach(function (f) {
      chunks += chunksFor(f.size) + (f.preview ? chunksFor(f.preview.size) : 0);
    });
    if (chunks !== this.p.header.chunks) { throw new Damaged(); }
    return manifest;
  };

  function validateManifest(m) {
    var texts = m && typeof m.sender === 'string' && typeof m.created === 'string' &&
      typeof m.subject === 'string' && typeof m.message === 'string' && Array.isArray(m.files);
    if (!texts) { throw new Damaged(); }
    m.files.forEach(function (f) {
      if (!f || typeof f.name !== 'string' || typeof f.type !== 'string' || !isInt(f.size, 0, Number.MAX_SAFE_INTEGER)) {
        throw new Damaged();
      }
      if (f.preview !== null && !(f.preview && (f.preview.type === 'image/jpeg' || f.preview.type === 'image/png') &&
          isInt(f.preview.size, 1, Number.MAX_SAFE_INTEGER))) {
        throw new Damaged();
      }
    });
  }

  function humanSize(bytes) {
    var units = ['bytes', 'KB', 'MB', 'GB'];
    var value = bytes;
    for (var i = 0; i < units.length; i++) {
      if (value < 1000 || i === units.length - 1) {
        return i === 0 ? value + ' bytes' : value.toFixed(1) + ' ' + units[i];
      }
      value /= 1000;
    }
    return bytes + ' bytes';
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function show(manifest, files) {
    $('subject').textContent = manifest.subject || 'Documents';
    var when = new Date(manifest.created);
    var date = isNaN(when.getTime()) ? manifest.created : when.toLocaleString();
    $('sender').textContent = 'From ' + manifest.sender + ', ' + date +
      '. The signed e-mail this came with shows whether the sender is verified.';
    $('message').textContent = manifest.message;
    var list = $('files');
    files.forEach(function (item) {
      var f = item.entry;
      var li = element('li');
      li.appendChild(element('div', 'name', f.name));
      li.appendChild(element('div', 'meta', f.type + ', ' + humanSize(f.size)));
      var previewBlob = item.preview;
      if (!previewBlob && (f.type === 'image/jpeg' || f.type === 'image/png') && f.size <= MAX_IMAGE_PREVIEW) {
        previewBlob = item.blob.slice(0, f.size, f.type);
      }
      if (previewBlob) {
        var img = element('img', 'preview');
        img.alt = 'Preview of ' + f.name;
        img.src = URL.createObjectURL(previewBlob);
        li.appendChild(img);
      }
      var link = element('a', 'save', 'Save ' + f.name);
      link.href = URL.createObjectURL(item.blob);
      link.download = f.name;
      li.appendChild(link);
      list.appendChild(li);
    });
    $('files-title').textContent = files.length === 1 ? '1 file' : files.length + ' files';
    $('save-all').hidden = files.length < 2;
    $('unlock').hidden = true;
    $('contents').hidden = false;
    $('subject').setAttribute('tabindex', '-1');
    $('subject').focus();
  }

  async function decryptAll(key) {
    var p = parsed;
    var aad = new Uint8Array(await subtle.digest('SHA-256', p.headerBytes));
    var reader = new ChunkReader(p, key, aad);
    var manifest = await reader.manifest();
    var files = [];
    for (var i = 0; i < manifest.files.length; i++) {
      var f = manifest.files[i];
      var blob = await reader.segment(f.size, 'application/octet-stream');
      var preview = f.preview ? await reader.segment(f.preview.size, f.preview.type) : null;
      files.push({ entry: f, blob: blob, preview: preview });
    }
    if (reader.index !== p.header.chunks) { throw new Damaged(); }
    return { manifest: manifest, files: files };
  }

  function damaged() {
    parsed = null;
    status('');
    showError(DAMAGED);
    $('passphrase').disabled = true;
    $('open').disabled = true;
  }

  async function onOpen(event) {
    event.preventDefault();
    if (busy || !parsed) { return; }
    var field = $('passphrase');
    if (!normalize(field.value)) { showError('Type the passphrase first.'); field.focus(); return; }
    busy = true;
    $('open').disabled = true;
    clearError();
    status('Checking the passphrase\u2026');
    try {
      var key = await deriveKeys(field.value, parsed);
      if (!key) {
        status('');
        showError(WRONG);
        field.focus();
        field.select();
        return;
      }
      field.value = '';
      var result = await decryptAll(key);
      status('');
      show(result.manifest, result.files);
    } catch (e) {
      if (e instanceof Damaged) {
        damaged();
      } else {
        status('');
        showError('This browser could not open the documents (' + (e && e.name ? e.name : 'error') +
          '). Try again, or open the file on a computer in Chrome, Edge, Firefox or Safari.');
      }
    } finally {
      busy = false;
      if (parsed) { $('open').disabled = false; }
    }
  }

  function saveAll() {
    var links = document.querySelectorAll('#files a[download]');
    var i = 0;
    (function next() {
      if (i < links.length) {
        links[i++].click();
        setTimeout(next, 400);
      }
    }());
  }

  async function start() {
    $('form').addEventListener('submit', onOpen);
    $('save-all').addEventListener('click', saveAll);
    $('show').addEventListener('change', function () {
      $('passphrase').type = $('show').checked ? 'text' : 'password';
    });
    if (!subtle) {
      status('');
      showError('This view cannot decrypt (the browser offers no Web Crypto here). Save the file, then open ' +
        'it in Chrome, Edge, Firefox or Safari.');
      return;
    }
    try {
      parsed = readStructure();
      await checkIntact(parsed);
    } catch (e) {
      damaged();
      return;
    }
    status('');
    $('passphrase').disabled = false;
    $('open').disabled = false;
    $('passphrase').focus();
  }

  start();
}());
