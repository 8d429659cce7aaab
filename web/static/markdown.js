// Safe markdown for chat messages.
//
// renderMarkdown builds DOM nodes with createElement and text nodes only:
// model and agent text never becomes live HTML. Supported: paragraphs, line
// breaks, headings, **bold**, *italic*, ~~strike~~, `code`, fenced code
// blocks, bullet and numbered lists (nested), block quotes, rules, simple
// tables, and links whose scheme is http, https or mailto.
//
// This file is an ES module for the console and admin, and is inlined into
// widget.js: `export` may appear only at the start of a line.

const SAFE_SCHEMES = ['http:', 'https:', 'mailto:'];

// safeURL returns the normalised absolute URL when its scheme is allowed, else "".
export function safeURL(raw) {
  let s = String(raw || '').trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1);
  if (!s) return '';
  let u;
  try {
    u = new URL(s);
  } catch {
    return '';
  }
  return SAFE_SCHEMES.includes(u.protocol) ? u.href : '';
}

// renderMarkdown returns a DocumentFragment for src.
export function renderMarkdown(src, doc) {
  doc = doc || document;
  const frag = doc.createDocumentFragment();
  const lines = String(src || '').replace(/\r\n?/g, '\n').split('\n');
  renderBlocks(lines, frag, doc, 0);
  return frag;
}

const RE_FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const RE_HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const RE_HR = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const RE_QUOTE = /^ {0,3}>\s?(.*)$/;
const RE_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const RE_TABLE_SEP = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

function isBlank(l) {
  return /^\s*$/.test(l);
}

function startsBlock(l) {
  return RE_FENCE.test(l) || RE_HEADING.test(l) || RE_HR.test(l) || RE_QUOTE.test(l) || RE_ITEM.test(l);
}

function indentOf(l) {
  const m = /^\s*/.exec(l)[0];
  return m.replace(/\t/g, '    ').length;
}

function renderBlocks(lines, parent, doc, depth) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i++;
      continue;
    }
    let m = RE_FENCE.exec(line);
    if (m) {
      const fence = m[1];
      const lang = m[2];
      const body = [];
      i++;
      while (i < lines.length) {
        const l = lines[i];
        const t = l.trim();
        if (t.startsWith(fence[0].repeat(fence.length)) && /^[`~]+$/.test(t)) {
          i++;
          break;
        }
        body.push(l);
        i++;
      }
      const pre = doc.createElement('pre');
      const code = doc.createElement('code');
      if (/^[\w+#.-]{1,20}$/.test(lang)) code.setAttribute('data-lang', lang);
      code.textContent = body.join('\n');
      pre.appendChild(code);
      parent.appendChild(pre);
      continue;
    }
    m = RE_HEADING.exec(line);
    if (m) {
      const level = Math.min(6, m[1].length + 2);
      const h = doc.createElement('h' + level);
      renderInline(m[2], h, doc);
      parent.appendChild(h);
      i++;
      continue;
    }
    if (RE_HR.test(line)) {
      parent.appendChild(doc.createElement('hr'));
      i++;
      continue;
    }
    if (RE_QUOTE.test(line) && depth < 8) {
      const body = [];
      while (i < lines.length && !isBlank(lines[i])) {
        const q = RE_QUOTE.exec(lines[i]);
        body.push(q ? q[1] : lines[i]);
        i++;
      }
      const bq = doc.createElement('blockquote');
      renderBlocks(body, bq, doc, depth + 1);
      parent.appendChild(bq);
      continue;
    }
    m = RE_ITEM.exec(line);
    if (m && depth < 8) {
      i = renderList(lines, i, parent, doc, depth);
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && RE_TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      i = renderTable(lines, i, parent, doc);
      continue;
    }
    // Paragraph: up to a blank line or the start of another block.
    const body = [line.trim()];
    i++;
    while (i < lines.length && !isBlank(lines[i]) && !startsBlock(lines[i])) {
      body.push(lines[i].trim());
      i++;
    }
    const p = doc.createElement('p');
    renderInline(body.join('\n'), p, doc);
    parent.appendChild(p);
  }
}

function renderList(lines, i, parent, doc, depth) {
  const first = RE_ITEM.exec(lines[i]);
  const baseIndent = indentOf(first[1]);
  const ordered = /\d/.test(first[2]);
  const list = doc.createElement(ordered ? 'ol' : 'ul');
  if (ordered) {
    const start = parseInt(first[2], 10);
    if (start !== 1) list.setAttribute('start', String(start));
  }
  let item = null; // lines of the current item
  let loose = false;
  const items = [];
  while (i < lines.length) {
    const l = lines[i];
    const m = RE_ITEM.exec(l);
    if (m && indentOf(m[1]) <= baseIndent + 1) {
      if (/\d/.test(m[2]) !== ordered) break;
      item = [m[3]];
      items.push(item);
      i++;
      continue;
    }
    if (isBlank(l)) {
      // A blank line continues the list only if more of it follows.
      const next = lines[i + 1];
      if (next === undefined || isBlank(next)) break;
      const nm = RE_ITEM.exec(next);
      if ((nm && indentOf(nm[1]) <= baseIndent + 1) || indentOf(next) > baseIndent) {
        loose = true;
        item.push('');
        i++;
        continue;
      }
      break;
    }
    if (indentOf(l) > baseIndent) {
      item.push(l.replace(/^\s{1,4}/, '').replace(new RegExp('^ {0,' + baseIndent + '}'), ''));
      i++;
      continue;
    }
    if (!startsBlock(l)) {
      item.push(l.trim()); // lazy continuation
      i++;
      continue;
    }
    break;
  }
  for (const lines of items) {
    const li = doc.createElement('li');
    const simple = !loose && !lines.some((l, k) => k > 0 && (startsBlock(l) || isBlank(l)));
    if (simple) {
      renderInline(lines.join('\n'), li, doc);
    } else {
      renderBlocks(lines, li, doc, depth + 1);
    }
    list.appendChild(li);
  }
  parent.appendChild(list);
  return i;
}

function splitRow(l) {
  let s = l.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells = [];
  let cur = '';
  for (let k = 0; k < s.length; k++) {
    if (s[k] === '\\' && s[k + 1] === '|') {
      cur += '|';
      k++;
    } else if (s[k] === '|') {
      cells.push(cur.trim());
      cur = '';
    } else {
      cur += s[k];
    }
  }
  cells.push(cur.trim());
  return cells;
}

function renderTable(lines, i, parent, doc) {
  const head = splitRow(lines[i]);
  const aligns = splitRow(lines[i + 1]).map((c) =>
    c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : '',
  );
  i += 2;
  const wrap = doc.createElement('div');
  wrap.className = 'md-table';
  const table = doc.createElement('table');
  const thead = doc.createElement('thead');
  const tr = doc.createElement('tr');
  head.forEach((c, k) => {
    const th = doc.createElement('th');
    if (aligns[k]) th.setAttribute('align', aligns[k]);
    renderInline(c, th, doc);
    tr.appendChild(th);
  });
  thead.appendChild(tr);
  table.appendChild(thead);
  const tbody = doc.createElement('tbody');
  while (i < lines.length && !isBlank(lines[i]) && lines[i].includes('|')) {
    const row = doc.createElement('tr');
    const cells = splitRow(lines[i]);
    for (let k = 0; k < head.length; k++) {
      const td = doc.createElement('td');
      if (aligns[k]) td.setAttribute('align', aligns[k]);
      renderInline(cells[k] || '', td, doc);
      row.appendChild(td);
    }
    tbody.appendChild(row);
    i++;
  }
  table.appendChild(tbody);
  wrap.appendChild(table);
  parent.appendChild(wrap);
  return i;
}

const ESCAPABLE = '\\`*_{}[]()#+-.!~>|<';

// findClose finds delim after from whose preceding char is not whitespace.
function findClose(text, delim, from) {
  let k = text.indexOf(delim, from);
  while (k >= 0) {
    if (k > from && !/\s/.test(text[k - 1]) && text[k - 1] !== '\\') {
      if (delim.length === 1 && (text[k + 1] === delim || text[k - 1] === delim)) {
        k = text.indexOf(delim, k + 2);
        continue;
      }
      return k;
    }
    k = text.indexOf(delim, k + 1);
  }
  return -1;
}

function appendLink(parent, doc, href, labelText, renderLabel) {
  const a = doc.createElement('a');
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer nofollow';
  if (renderLabel) renderInline(labelText, a, doc);
  else a.textContent = labelText;
  parent.appendChild(a);
}

// renderInline appends the inline content of text to parent.
export function renderInline(text, parent, doc, depth) {
  doc = doc || document;
  depth = depth || 0;
  let buf = '';
  const flush = () => {
    if (buf) parent.appendChild(doc.createTextNode(buf));
    buf = '';
  };
  const wrap = (tag, inner) => {
    flush();
    const el = doc.createElement(tag);
    if (depth < 10) renderInline(inner, el, doc, depth + 1);
    else el.textContent = inner;
    parent.appendChild(el);
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '\\' && next !== undefined && ESCAPABLE.includes(next)) {
      buf += next;
      i += 2;
      continue;
    }
    if (c === '\n') {
      flush();
      parent.appendChild(doc.createElement('br'));
      i++;
      continue;
    }
    if (c === '`') {
      const run = /^`+/.exec(text.slice(i))[0];
      const close = text.indexOf(run, i + run.length);
      if (close >= 0) {
        flush();
        const code = doc.createElement('code');
        let inner = text.slice(i + run.length, close);
        if (inner.length > 2 && inner.startsWith(' ') && inner.endsWith(' ')) inner = inner.slice(1, -1);
        code.textContent = inner;
        parent.appendChild(code);
        i = close + run.length;
        continue;
      }
      buf += run;
      i += run.length;
      continue;
    }
    if ((c === '*' || c === '_') && next === c && text[i + 2] && !/\s/.test(text[i + 2])) {
      const close = findClose(text, c + c, i + 2);
      if (close > i + 2 && (c === '*' || !/\w/.test(text[i - 1] || ''))) {
        wrap('strong', text.slice(i + 2, close));
        i = close + 2;
        continue;
      }
    }
    if (c === '~' && next === '~' && text[i + 2] && !/\s/.test(text[i + 2])) {
      const close = findClose(text, '~~', i + 2);
      if (close > i + 2) {
        wrap('del', text.slice(i + 2, close));
        i = close + 2;
        continue;
      }
    }
    if ((c === '*' || c === '_') && next !== c && next && !/\s/.test(next)) {
      const close = findClose(text, c, i + 1);
      const okLeft = c === '*' || !/\w/.test(text[i - 1] || '');
      const okRight = close >= 0 && (c === '*' || !/\w/.test(text[close + 1] || ''));
      if (close > i + 1 && okLeft && okRight) {
        wrap('em', text.slice(i + 1, close));
        i = close + 1;
        continue;
      }
    }
    if (c === '[') {
      const link = parseLink(text, i);
      if (link) {
        flush();
        const href = safeURL(link.url);
        if (href) appendLink(parent, doc, href, link.label, depth < 10);
        else renderInline(link.label, parent, doc, depth + 1);
        i = link.end;
        continue;
      }
    }
    if (c === '<') {
      const m = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/.exec(text.slice(i));
      if (m) {
        const href = safeURL(m[1]);
        if (href) {
          flush();
          appendLink(parent, doc, href, m[1], false);
          i += m[0].length;
          continue;
        }
      }
    }
    if ((c === 'h' || c === 'H') && (i === 0 || /[\s(（：:，,]/.test(text[i - 1]))) {
      const m = /^https?:\/\/[^\s<>"'`]+/i.exec(text.slice(i));
      if (m) {
        let url = m[0];
        // Trailing punctuation belongs to the sentence, not the URL.
        while (/[.,;:!?'"）。，；：！？]$/.test(url) || (url.endsWith(')') && !url.includes('('))) {
          url = url.slice(0, -1);
        }
        const href = safeURL(url);
        if (href) {
          flush();
          appendLink(parent, doc, href, url, false);
          i += url.length;
          continue;
        }
      }
    }
    buf += c;
    i++;
  }
  flush();
}

// parseLink parses [label](url "title") at text[i] == '['.
function parseLink(text, i) {
  let depth = 0;
  let k = i;
  for (; k < text.length; k++) {
    const ch = text[k];
    if (ch === '\\') {
      k++;
      continue;
    }
    if (ch === '[') depth++;
    else if (ch === ']') {
      depth--;
      if (depth === 0) break;
    } else if (ch === '\n' && text[k + 1] === '\n') return null;
  }
  if (depth !== 0 || text[k + 1] !== '(') return null;
  const label = text.slice(i + 1, k);
  let p = k + 2;
  let parens = 0;
  let j = p;
  for (; j < text.length; j++) {
    const ch = text[j];
    if (ch === '(') parens++;
    else if (ch === ')') {
      if (parens === 0) break;
      parens--;
    } else if (ch === '\n') return null;
  }
  if (j >= text.length) return null;
  let url = text.slice(p, j).trim();
  const t = /^(\S+)\s+["'(].*["')]$/.exec(url);
  if (t) url = t[1];
  return { label, url, end: j + 1 };
}
