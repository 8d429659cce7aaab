// TextBuffer holds the text of a streaming message as UTF-8 bytes, so delta
// frames can be applied at their byte offsets: a delta that repeats bytes we
// already have (a resumed stream starts again at offset 0) adds only what is
// new, and nothing is ever shown twice.
//
// This file is an ES module for the console, and is inlined into widget.js:
// `export` may appear only at the start of a line.

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export class TextBuffer {
  constructor(text) {
    this.bytes = new Uint8Array(256);
    this.length = 0; // bytes in use
    this.text = '';
    this.set(text || '');
  }

  // set replaces the content (a stored message is authoritative).
  set(text) {
    const b = utf8Encoder.encode(text);
    if (b.length > this.bytes.length) this.bytes = new Uint8Array(Math.max(b.length, this.bytes.length * 2));
    this.bytes.set(b, 0);
    this.length = b.length;
    this.text = text;
  }

  // byteLength returns the UTF-8 length of s.
  static byteLength(s) {
    return utf8Encoder.encode(s || '').length;
  }

  // apply adds payload found at byte offset. It returns 'gap' when bytes
  // before offset are missing (the caller should reload the message), true
  // when text was added and false when the delta held nothing new.
  apply(offset, payload) {
    if (offset > this.length) return 'gap';
    const b = utf8Encoder.encode(payload || '');
    const skip = this.length - offset;
    if (skip >= b.length) return false;
    const add = b.subarray(skip);
    if (this.length + add.length > this.bytes.length) {
      const nb = new Uint8Array(Math.max(this.length + add.length, this.bytes.length * 2));
      nb.set(this.bytes.subarray(0, this.length));
      this.bytes = nb;
    }
    this.bytes.set(add, this.length);
    this.length += add.length;
    this.text = utf8Decoder.decode(this.bytes.subarray(0, this.length));
    return true;
  }
}
