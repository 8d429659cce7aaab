// Switchboard chat widget.
//
// Served as /widget.js inside one function scope after static/i18n.js and
// static/markdown.js (see web.go: buildWidget), so MESSAGES, pickLang,
// translator, renderMarkdown and TextBuffer are in scope. Embedded on any site with
//
//   <script src="https://chat.example.com/widget.js" data-widget-key="…" async></script>
//
// Everything lives in a Shadow DOM so the host page's CSS cannot reach it.
// The API base is the directory of the script's own URL, so the widget works
// on other origins. Model and agent text is rendered with renderMarkdown,
// which builds DOM nodes only: no innerHTML of message text anywhere.

const WIDGET_CSS = `
:host {
  --sb-accent: #2f5bea;
  --sb-accent-contrast: #ffffff;
  --sb-accent-soft: color-mix(in srgb, var(--sb-accent) 10%, #ffffff);
  --sb-bg: #ffffff;
  --sb-fg: #1c2230;
  --sb-muted: #5b6475;
  --sb-border: #e3e6ec;
  --sb-bubble-bot: #f2f4f7;
  --sb-bubble-agent: #eef6ee;
  --sb-danger: #b42318;
  --sb-radius: 16px;
  --sb-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
  --sb-mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  all: initial;
}
*, *::before, *::after { box-sizing: border-box; }
.root { font-family: var(--sb-font); font-size: 15px; line-height: 1.5; color: var(--sb-fg); -webkit-font-smoothing: antialiased; }
button, textarea, input { font: inherit; color: inherit; }
:focus-visible { outline: 3px solid color-mix(in srgb, var(--sb-accent) 55%, #ffffff); outline-offset: 2px; }
[hidden] { display: none !important; }
.sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }

.launcher {
  position: fixed; right: 20px; bottom: 20px; width: 60px; height: 60px; border-radius: 50%;
  border: 0; cursor: pointer; background: var(--sb-accent); color: var(--sb-accent-contrast);
  box-shadow: 0 6px 24px rgba(16, 24, 40, .22), 0 2px 6px rgba(16, 24, 40, .12);
  display: grid; place-items: center; transition: transform .18s ease, box-shadow .18s ease;
}
.launcher:hover { transform: translateY(-2px) scale(1.03); box-shadow: 0 10px 28px rgba(16, 24, 40, .26); }
.launcher svg { width: 28px; height: 28px; }
.launcher .badge {
  position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px;
  background: #d92d20; color: #fff; font-size: 12px; font-weight: 700; line-height: 20px; text-align: center;
  box-shadow: 0 0 0 2px #fff;
}

.panel {
  position: fixed; right: 20px; bottom: 92px; width: 392px; height: min(640px, calc(100vh - 120px));
  display: flex; flex-direction: column; overflow: hidden;
  background: var(--sb-bg); border-radius: var(--sb-radius);
  box-shadow: 0 18px 50px rgba(16, 24, 40, .22), 0 4px 12px rgba(16, 24, 40, .08);
  border: 1px solid rgba(16, 24, 40, .06);
  transform-origin: bottom right; animation: sb-pop .2s ease-out;
}
@keyframes sb-pop { from { opacity: 0; transform: translateY(8px) scale(.98); } to { opacity: 1; transform: none; } }

.header {
  display: flex; align-items: center; gap: 12px; padding: 14px 12px 14px 16px;
  background: var(--sb-accent); color: var(--sb-accent-contrast);
}
.avatar {
  flex: none; width: 40px; height: 40px; border-radius: 50%; display: grid; place-items: center;
  background: rgba(255, 255, 255, .18); font-weight: 700; font-size: 16px; position: relative;
}
.avatar svg { width: 22px; height: 22px; }
.avatar .dot { position: absolute; right: 0; bottom: 0; width: 11px; height: 11px; border-radius: 50%; background: #12b76a; box-shadow: 0 0 0 2px var(--sb-accent); }
.avatar .dot.off { background: #98a2b3; }
.titles { flex: 1; min-width: 0; }
.title { font-weight: 650; font-size: 16px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.subtitle { font-size: 13px; opacity: .9; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.icon-btn {
  flex: none; width: 36px; height: 36px; border-radius: 10px; border: 0; background: transparent; color: inherit;
  display: grid; place-items: center; cursor: pointer;
}
.icon-btn:hover { background: rgba(255, 255, 255, .16); }
.icon-btn svg { width: 20px; height: 20px; }

.banner {
  padding: 10px 16px; font-size: 13.5px; background: var(--sb-accent-soft); color: var(--sb-fg);
  border-bottom: 1px solid var(--sb-border); display: flex; gap: 8px; align-items: center;
}
.banner .spinner { width: 14px; height: 14px; border-radius: 50%; border: 2px solid var(--sb-border); border-top-color: var(--sb-accent); animation: sb-spin 1s linear infinite; flex: none; }
.banner.warn { background: #fffaeb; color: #7a2e0e; }
@keyframes sb-spin { to { transform: rotate(360deg); } }

.log { flex: 1; overflow-y: auto; padding: 16px 14px 8px; display: flex; flex-direction: column; gap: 10px; overscroll-behavior: contain; scroll-behavior: auto; }
.list { display: flex; flex-direction: column; gap: 10px; }
.msg { display: flex; flex-direction: column; max-width: 86%; align-self: flex-start; }
.msg.contact { align-self: flex-end; align-items: flex-end; }
.who { font-size: 12px; color: var(--sb-muted); margin: 0 4px 3px; }
.bubble {
  padding: 9px 13px; border-radius: 16px; background: var(--sb-bubble-bot); overflow-wrap: anywhere;
  border-bottom-left-radius: 6px; min-width: 0; max-width: 100%;
}
.msg.contact .bubble { background: var(--sb-accent); color: var(--sb-accent-contrast); border-bottom-left-radius: 16px; border-bottom-right-radius: 6px; white-space: pre-wrap; }
.msg.agent .bubble { background: var(--sb-bubble-agent); }
.msg.sending .bubble { opacity: .7; }
.msg.failed .bubble { opacity: .6; }
.bubble > :first-child { margin-top: 0; }
.bubble > :last-child { margin-bottom: 0; }
.bubble p { margin: 0 0 .6em; }
.bubble h3, .bubble h4, .bubble h5, .bubble h6 { margin: .6em 0 .3em; font-size: 1em; font-weight: 700; }
.bubble ul, .bubble ol { margin: .2em 0 .6em; padding-left: 1.3em; }
.bubble li { margin: .15em 0; }
.bubble li > p { margin: 0 0 .3em; }
.bubble code { font-family: var(--sb-mono); font-size: .88em; background: rgba(16, 24, 40, .07); padding: .1em .35em; border-radius: 5px; }
.bubble pre { margin: .5em 0; padding: 10px 12px; background: #101828; color: #f2f4f7; border-radius: 10px; overflow-x: auto; font-size: 13px; line-height: 1.45; }
.bubble pre code { background: none; padding: 0; color: inherit; font-size: inherit; white-space: pre; }
.bubble a { color: var(--sb-accent); text-decoration: underline; text-underline-offset: 2px; }
.msg.contact .bubble a { color: inherit; }
.bubble blockquote { margin: .4em 0; padding-left: 10px; border-left: 3px solid var(--sb-border); color: var(--sb-muted); }
.bubble hr { border: 0; border-top: 1px solid var(--sb-border); margin: .7em 0; }
.bubble .md-table { overflow-x: auto; margin: .4em 0; }
.bubble table { border-collapse: collapse; font-size: 13.5px; }
.bubble th, .bubble td { border: 1px solid var(--sb-border); padding: 4px 8px; text-align: left; }
.caret { display: inline-block; width: 7px; height: 1.05em; vertical-align: text-bottom; margin-left: 1px; background: currentColor; opacity: .55; animation: sb-blink 1s steps(2) infinite; }
@keyframes sb-blink { 50% { opacity: 0; } }
.dots { display: inline-flex; gap: 4px; align-items: center; height: 1.3em; }
.dots i { width: 7px; height: 7px; border-radius: 50%; background: var(--sb-muted); opacity: .5; animation: sb-bounce 1.2s infinite ease-in-out; }
.dots i:nth-child(2) { animation-delay: .15s; }
.dots i:nth-child(3) { animation-delay: .3s; }
@keyframes sb-bounce { 0%, 80%, 100% { transform: translateY(0); opacity: .35; } 40% { transform: translateY(-4px); opacity: .9; } }
.meta { font-size: 12px; color: var(--sb-muted); margin: 4px 4px 0; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.meta.err { color: var(--sb-danger); }
.link-btn { border: 0; background: none; padding: 0; color: var(--sb-accent); font-weight: 600; cursor: pointer; font-size: 12px; text-decoration: underline; text-underline-offset: 2px; }
.sources { margin: 6px 4px 0; display: flex; flex-wrap: wrap; gap: 6px; align-items: center; font-size: 12px; color: var(--sb-muted); }
.chip { display: inline-flex; align-items: center; gap: 4px; max-width: 100%; padding: 3px 9px; border-radius: 999px; background: var(--sb-bg); border: 1px solid var(--sb-border); color: var(--sb-fg); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.chip-text { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0; }
.chip svg { width: 12px; height: 12px; flex: none; color: var(--sb-muted); }
.event { align-self: center; font-size: 12.5px; color: var(--sb-muted); text-align: center; padding: 2px 10px; max-width: 90%; }
.event::before, .event::after { content: "—"; margin: 0 6px; opacity: .5; }
.typing { align-self: flex-start; font-size: 12.5px; color: var(--sb-muted); padding: 0 4px; display: flex; gap: 6px; align-items: center; }

.offline { margin: 4px 0; padding: 14px; border: 1px solid var(--sb-border); border-radius: 14px; background: var(--sb-bg); display: flex; flex-direction: column; gap: 8px; align-self: stretch; }
.offline h3 { margin: 0; font-size: 15px; }
.offline p { margin: 0; font-size: 13.5px; color: var(--sb-muted); }
.offline label { font-size: 12.5px; font-weight: 600; display: flex; flex-direction: column; gap: 4px; }
.offline input, .offline textarea { border: 1px solid var(--sb-border); border-radius: 10px; padding: 8px 10px; font-size: 14px; background: #fff; resize: vertical; }
.offline .primary { align-self: flex-end; }
.offline .ok { color: #067647; font-size: 13.5px; }
.offline .bad { color: var(--sb-danger); font-size: 12.5px; }
.primary { border: 0; border-radius: 10px; padding: 8px 14px; background: var(--sb-accent); color: var(--sb-accent-contrast); font-weight: 600; cursor: pointer; }
.primary:disabled { opacity: .5; cursor: default; }

.footer { border-top: 1px solid var(--sb-border); padding: 8px 12px 6px; background: var(--sb-bg); }
.actions { display: flex; gap: 8px; margin: 0 2px 8px; }
.pill {
  border: 1px solid var(--sb-border); background: var(--sb-bg); border-radius: 999px; padding: 5px 12px;
  font-size: 13px; cursor: pointer; display: inline-flex; gap: 6px; align-items: center; color: var(--sb-fg);
}
.pill:hover { border-color: var(--sb-accent); color: var(--sb-accent); }
.pill svg { width: 15px; height: 15px; }
.composer { display: flex; align-items: flex-end; gap: 8px; border: 1px solid var(--sb-border); border-radius: 14px; padding: 6px 6px 6px 12px; background: var(--sb-bg); }
.composer:focus-within { border-color: var(--sb-accent); box-shadow: 0 0 0 3px color-mix(in srgb, var(--sb-accent) 18%, transparent); }
.composer textarea { flex: 1; border: 0; outline: none; resize: none; background: transparent; max-height: 140px; min-height: 24px; padding: 5px 0; line-height: 1.45; font-size: 15px; }
.composer textarea::placeholder { color: #8a93a3; }
.send {
  flex: none; width: 38px; height: 38px; border-radius: 11px; border: 0; cursor: pointer;
  background: var(--sb-accent); color: var(--sb-accent-contrast); display: grid; place-items: center;
}
.send:disabled { background: #d0d5dd; cursor: default; }
.send.stop { background: var(--sb-fg); }
.send svg { width: 18px; height: 18px; }
.powered { text-align: center; font-size: 11px; color: #8a93a3; padding-top: 6px; }

.toast {
  position: absolute; left: 12px; right: 12px; bottom: 118px; padding: 10px 12px; border-radius: 12px;
  background: #101828; color: #fff; font-size: 13.5px; display: flex; gap: 10px; align-items: flex-start;
  box-shadow: 0 8px 24px rgba(16, 24, 40, .25); animation: sb-pop .18s ease-out;
}
.toast span { flex: 1; }
.toast button { border: 0; background: none; color: #fff; opacity: .8; cursor: pointer; padding: 0; width: 20px; height: 20px; }
.toast svg { width: 16px; height: 16px; }

@media (max-width: 480px) {
  .panel { inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; border: 0; }
  .launcher.open { display: none; }
  .msg { max-width: 92%; }
}
@media (prefers-reduced-motion: reduce) {
  .panel, .toast, .launcher { animation: none; transition: none; }
  .dots i, .caret, .banner .spinner { animation: none; }
}
@media (forced-colors: active) {
  .bubble, .launcher, .send, .composer { border: 1px solid CanvasText; }
}
`;

// Icons: constant SVG path data, drawn with createElementNS.
const ICONS = {
  chat: 'M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6A.5.5 0 0 1 5 19.2V16h-.5A.5.5 0 0 1 4 15.5z',
  close: 'M6 6l12 12M18 6L6 18',
  send: 'M4 12l16-8-6 16-2.5-6.5z',
  stop: 'M7 7h10v10H7z',
  person: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 8a7 7 0 0 1 14 0',
  doc: 'M7 3h7l5 5v13H7zM14 3v5h5',
  spark: 'M12 3l1.8 5.2L19 10l-5.2 1.8L12 17l-1.8-5.2L5 10l5.2-1.8z',
};

const SVG_NS = 'http://www.w3.org/2000/svg';

function icon(name, filled) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const p = document.createElementNS(SVG_NS, 'path');
  p.setAttribute('d', ICONS[name]);
  if (filled) {
    p.setAttribute('fill', 'currentColor');
  } else {
    p.setAttribute('fill', 'none');
    p.setAttribute('stroke', 'currentColor');
    p.setAttribute('stroke-width', '2');
    p.setAttribute('stroke-linecap', 'round');
    p.setAttribute('stroke-linejoin', 'round');
  }
  svg.appendChild(p);
  return svg;
}

// h creates an element: h('div', {class: 'x', 'aria-label': '…'}, child…).
// Strings become text nodes.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

function uuid() {
  if (crypto.randomUUID) {
    try {
      return crypto.randomUUID(); // needs a secure context
    } catch {}
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class APIError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code || 'HTTP ' + status);
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter || 0;
  }
}

function retryAfterSeconds(header) {
  if (!header) return 0;
  const n = Number(header);
  if (Number.isFinite(n)) return Math.max(0, n);
  const d = Date.parse(header);
  return Number.isFinite(d) ? Math.max(0, (d - Date.now()) / 1000) : 0;
}


// Close codes the server uses (DESIGN.md, Resilience).
const CLOSE_POLICY = 1008;
const CLOSE_RESTART = 1012;
const CLOSE_TRY_LATER = 1013;
const CLOSE_UNAUTHORIZED = 4001;
const CLOSE_RATE_LIMITED = 4429;

const PING_INTERVAL = 20000;
const TYPING_INTERVAL = 3000;

class Widget {
  constructor(opts) {
    this.key = opts.key;
    this.base = opts.base;
    this.t = translator(opts.lang);
    this.lang = opts.lang;
    this.storeKey = 'switchboard:' + this.key;

    this.token = '';
    this.conversationId = '';
    this.inbox = { name: '', greeting: '' };
    this.status = 'bot';
    this.owner = 'bot';
    this.assignee = null;
    this.queuePos = 0;
    this.queueWait = 0;

    this.views = []; // message views in display order
    this.byId = new Map();
    this.byClientId = new Map();
    this.outbox = []; // contact messages not yet echoed by the server
    this.streaming = new Set(); // ids of bot messages still streaming
    this.lastSeq = 0;
    this.lastUserText = '';
    this.unread = 0;

    this.ws = null;
    this.ready = false;
    this.everReady = false;
    this.attempt = 0;
    this.reconnectTimer = 0;
    this.pingTimer = 0;
    this.leaving = false;
    this.needSession = false;
    this.started = null;
    this.lastTypingSent = 0;
    this.typingTimer = 0;
    this.renderQueued = new Set();
    this.rafPending = false;
  }

  // ---- storage ----

  load() {
    try {
      return JSON.parse(localStorage.getItem(this.storeKey) || 'null') || {};
    } catch {
      return {};
    }
  }

  save() {
    try {
      localStorage.setItem(this.storeKey, JSON.stringify({ token: this.token, conversation_id: this.conversationId }));
    } catch {}
  }

  setOpenFlag(open) {
    try {
      if (open) sessionStorage.setItem(this.storeKey + ':open', '1');
      else sessionStorage.removeItem(this.storeKey + ':open');
    } catch {}
  }

  openFlag() {
    try {
      return sessionStorage.getItem(this.storeKey + ':open') === '1';
    } catch {
      return false;
    }
  }

  // ---- REST ----

  async api(method, path, body, retries = 2) {
    const url = new URL(path, this.base);
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.token) headers.Authorization = 'Bearer ' + this.token;
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: 'omit',
          cache: 'no-store',
        });
      } catch (err) {
        if (attempt < retries) {
          await sleep(500 * 2 ** attempt);
          continue;
        }
        throw new APIError(0, 'network', String(err));
      }
      const ra = retryAfterSeconds(res.headers.get('Retry-After'));
      if (res.status === 503 && attempt < retries) {
        await sleep(Math.min(10000, Math.max(ra * 1000, 1000 * 2 ** attempt)));
        continue;
      }
      let data = null;
      try {
        data = await res.json();
      } catch {}
      if (!res.ok) {
        const e = (data && data.error) || {};
        throw new APIError(res.status, e.code, e.message, ra);
      }
      return data;
    }
  }

  // ---- DOM ----

  mount() {
    this.host = document.createElement('switchboard-widget');
    // Inline styles through the CSSOM (allowed by strict CSPs); !important so
    // host page rules cannot move or hide the widget's container.
    const hs = this.host.style;
    hs.setProperty('position', 'fixed', 'important');
    hs.setProperty('z-index', '2147483000', 'important');
    hs.setProperty('inset', 'auto 0 0 auto', 'important');
    hs.setProperty('width', '0', 'important');
    hs.setProperty('height', '0', 'important');
    hs.setProperty('display', 'block', 'important');
    this.shadow = this.host.attachShadow({ mode: 'open' });
    this.installStyles();

    const t = this.t;
    this.root = h('div', { class: 'root', lang: this.lang });

    this.badge = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
    this.launcher = h(
      'button',
      {
        class: 'launcher',
        type: 'button',
        'aria-label': t('w.open'),
        'aria-expanded': 'false',
        'aria-controls': 'sb-panel',
        onclick: () => (this.isOpen() ? this.close() : this.open()),
      },
      icon('chat', true),
      this.badge,
    );

    // Header.
    this.avatarDot = h('span', { class: 'dot' });
    this.avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' }, icon('spark', true), this.avatarDot);
    this.titleEl = h('div', { class: 'title', id: 'sb-title' });
    this.subtitleEl = h('div', { class: 'subtitle', 'aria-live': 'polite' });
    const closeBtn = h(
      'button',
      { class: 'icon-btn', type: 'button', 'aria-label': t('w.close'), onclick: () => this.close() },
      icon('close'),
    );
    const header = h('div', { class: 'header' }, this.avatar, h('div', { class: 'titles' }, this.titleEl, this.subtitleEl), closeBtn);

    this.banner = h('div', { class: 'banner', role: 'status', hidden: true });

    this.log = h('div', {
      class: 'log',
      role: 'log',
      'aria-live': 'polite',
      'aria-relevant': 'additions',
      'aria-labelledby': 'sb-title',
      tabindex: '0',
    });
    this.list = h('div', { class: 'list' });
    this.typingEl = h('div', { class: 'typing', hidden: true });
    this.log.append(this.list, this.typingEl);
    this.offlineEl = null;

    // Composer.
    this.humanBtn = h(
      'button',
      { class: 'pill', type: 'button', onclick: () => this.requestHuman() },
      icon('person'),
      t('w.human'),
    );
    this.actions = h('div', { class: 'actions' }, this.humanBtn);
    this.input = h('textarea', {
      rows: '1',
      placeholder: t('w.placeholder'),
      'aria-label': t('w.input'),
      maxlength: '4000',
      enterkeyhint: 'send',
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => {
      this.autosize();
      this.updateSendButton();
      this.sendTyping();
    });
    this.sendBtn = h('button', { class: 'send', type: 'button', onclick: () => this.onSendButton() });
    const composer = h('div', { class: 'composer' }, this.input, this.sendBtn);
    const powered = h('div', { class: 'powered', text: t('w.powered') });
    const footer = h('div', { class: 'footer' }, this.actions, composer, powered);

    this.toastEl = h('div', { class: 'toast', role: 'alert', hidden: true });

    this.panel = h(
      'div',
      { class: 'panel', id: 'sb-panel', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'sb-title', hidden: true },
      header,
      this.banner,
      this.log,
      footer,
      this.toastEl,
    );
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        this.close();
      }
    });

    this.root.append(this.panel, this.launcher);
    this.shadow.appendChild(this.root);
    (document.body || document.documentElement).appendChild(this.host);

    this.renderHeader();
    this.updateSendButton();

    window.addEventListener('pagehide', () => this.leave());
    window.addEventListener('pageshow', (e) => {
      if (e.persisted && this.started) {
        this.leaving = false;
        this.connectNow();
      }
    });
    window.addEventListener('online', () => this.started && this.connectNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.started && !this.ws) this.connectNow();
    });

    const stored = this.load();
    if (this.openFlag()) this.open(false);
    else if (stored.token) this.start(); // pick up unread replies
  }

  installStyles() {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(WIDGET_CSS);
      this.shadow.adoptedStyleSheets = [sheet];
    } catch {
      const style = document.createElement('style');
      style.textContent = WIDGET_CSS;
      this.shadow.appendChild(style);
    }
  }

  isOpen() {
    return !this.panel.hidden;
  }

  open(focus = true) {
    this.panel.hidden = false;
    this.launcher.classList.add('open');
    this.launcher.setAttribute('aria-expanded', 'true');
    this.launcher.setAttribute('aria-label', this.t('w.close'));
    this.launcher.replaceChildren(icon('close'), this.badge);
    this.unread = 0;
    this.renderBadge();
    this.setOpenFlag(true);
    this.start();
    this.scrollToBottom(true);
    if (focus) requestAnimationFrame(() => this.input.focus());
  }

  close() {
    this.panel.hidden = true;
    this.launcher.classList.remove('open');
    this.launcher.setAttribute('aria-expanded', 'false');
    this.launcher.setAttribute('aria-label', this.t('w.open'));
    this.launcher.replaceChildren(icon('chat', true), this.badge);
    this.setOpenFlag(false);
    this.launcher.focus();
  }

  renderBadge() {
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = this.unread > 9 ? '9+' : String(this.unread);
    this.launcher.setAttribute(
      'aria-label',
      this.isOpen() ? this.t('w.close') : this.unread ? `${this.t('w.open')} (${this.t('w.newMessages', { n: this.unread })})` : this.t('w.open'),
    );
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = Math.min(140, this.input.scrollHeight) + 'px';
  }

  renderHeader() {
    const t = this.t;
    this.titleEl.textContent = this.inbox.name || t('w.defaultName');
    this.panel.setAttribute('aria-label', t('w.dialog', { name: this.inbox.name || t('w.defaultName') }));
    let sub;
    if (!this.ready && this.everReady) sub = t('w.status.reconnecting');
    else if (!this.ready && !this.conversationId) sub = t('w.status.connecting');
    else if (this.status === 'queued') sub = t('w.status.queued');
    else if (this.status === 'assigned') sub = t('w.status.assigned', { name: (this.assignee && this.assignee.name) || t('w.agent') });
    else if (this.status === 'pending') sub = t('w.status.pending');
    else if (this.status === 'resolved') sub = t('w.status.resolved');
    else sub = t('w.status.bot');
    this.subtitleEl.textContent = sub;
    this.avatarDot.classList.toggle('off', !this.ready || this.status === 'pending');
    // Avatar: the agent's initial when a human owns the conversation.
    const human = this.status === 'assigned' && this.assignee && this.assignee.name;
    const first = this.avatar.firstChild;
    if (human) {
      const initial = h('span', { text: Array.from(this.assignee.name.trim())[0] || '?' });
      if (first !== this.avatarDot) this.avatar.replaceChild(initial, first);
    } else if (!(first instanceof SVGElement)) {
      this.avatar.replaceChild(icon('spark', true), first);
    }

    // Queue banner.
    if (this.status === 'queued') {
      let text = t('w.queueWaiting');
      if (this.queuePos > 0) {
        text = this.queueWait > 0
          ? t('w.queue', { pos: this.queuePos, min: Math.max(1, Math.round(this.queueWait / 60)) })
          : t('w.queueNoEta', { pos: this.queuePos });
      }
      this.banner.replaceChildren(h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', { text }));
      this.banner.className = 'banner';
      this.banner.hidden = false;
    } else if (!this.ready && this.everReady) {
      this.banner.replaceChildren(h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', { text: t('w.err.connect') }));
      this.banner.className = 'banner warn';
      this.banner.hidden = false;
    } else {
      this.banner.hidden = true;
    }
    this.humanBtn.hidden = !(this.status === 'bot' && this.owner !== 'human');
    this.actions.hidden = this.humanBtn.hidden;
    this.renderOffline();
  }

  updateSendButton() {
    const t = this.t;
    const stop = this.streaming.size > 0 && !this.input.value.trim();
    this.sendBtn.classList.toggle('stop', stop);
    this.sendBtn.replaceChildren(icon(stop ? 'stop' : 'send', true));
    this.sendBtn.setAttribute('aria-label', stop ? t('w.stop') : t('w.send'));
    this.sendBtn.title = stop ? t('w.stop') : t('w.send');
    this.sendBtn.disabled = !stop && !this.input.value.trim();
  }

  toast(text) {
    clearTimeout(this.toastTimer);
    const dismiss = h('button', { type: 'button', 'aria-label': this.t('w.dismiss'), onclick: () => (this.toastEl.hidden = true) }, icon('close'));
    this.toastEl.replaceChildren(h('span', { text }), dismiss);
    this.toastEl.hidden = false;
    this.toastTimer = setTimeout(() => (this.toastEl.hidden = true), 6000);
  }

  nearBottom() {
    const l = this.log;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 80;
  }

  scrollToBottom(force) {
    if (force || this.stick) this.log.scrollTop = this.log.scrollHeight;
  }

  // ---- messages ----

  // view returns the view of a message, creating its element.
  makeView(m) {
    const v = {
      id: m.id || '',
      clientId: m.client_msg_id || '',
      seq: m.seq || 0,
      sender: m.sender || 'bot',
      kind: m.kind || 'text',
      state: m.state || 'complete',
      tb: new TextBuffer(m.content || ''),
      text: m.content || '',
      rendered: '',
      sources: m.sources || [],
      createdAt: m.created_at ? new Date(m.created_at) : new Date(),
      errorText: '',
      local: !!m.local,
    };
    this.buildView(v);
    return v;
  }

  setText(v, text) {
    v.tb.set(text);
    v.text = text;
  }

  buildView(v) {
    const t = this.t;
    if (v.kind === 'event' || v.sender === 'system') {
      v.el = h('div', { class: 'event', role: 'note' });
      v.body = v.el;
      return;
    }
    v.el = h('div', { class: 'msg ' + v.sender });
    if (v.kind === 'note') v.el.hidden = true; // private notes never reach visitors; be safe
    if (v.sender === 'agent') v.whoEl = h('div', { class: 'who' });
    v.body = h('div', { class: 'bubble' });
    v.metaEl = h('div', { class: 'meta', hidden: true });
    v.sourcesEl = h('div', { class: 'sources', hidden: true });
    if (v.whoEl) v.el.appendChild(v.whoEl);
    v.el.append(v.body, v.sourcesEl, v.metaEl);
    v.el.title = v.createdAt.toLocaleTimeString(this.lang, { hour: '2-digit', minute: '2-digit' });
    if (v.sender === 'bot') v.el.setAttribute('aria-label', t('w.assistant'));
  }

  insertView(v) {
    // Stored messages in seq order after the greeting; optimistic messages
    // (no seq yet) stay at the end until the server echoes them.
    let idx = this.views.length;
    if (v.seq) {
      while (idx > 0) {
        const p = this.views[idx - 1];
        if (p.greeting || (p.seq && p.seq <= v.seq)) break;
        idx--;
      }
    }
    const before = this.views[idx];
    this.views.splice(idx, 0, v);
    this.list.insertBefore(v.el, before ? before.el : null);
    if (v.id) this.byId.set(v.id, v);
    if (v.clientId) this.byClientId.set(v.clientId, v);
  }

  // applyMessage merges a stored message (REST history or a message frame).
  applyMessage(m) {
    if (!m || !m.id) return;
    if (m.kind === 'note') return;
    let v = this.byId.get(m.id);
    if (!v && m.client_msg_id) {
      v = this.byClientId.get(m.client_msg_id);
      if (v) {
        v.id = m.id;
        this.byId.set(m.id, v);
        this.outbox = this.outbox.filter((o) => o !== v);
        if (v.seq !== m.seq) {
          // Move to its place in seq order.
          this.views = this.views.filter((o) => o !== v);
          v.el.remove();
          v.seq = m.seq;
          this.insertView(v);
        }
      }
    }
    const isNew = !v;
    if (!v) {
      v = this.makeView(m);
      this.insertView(v);
    }
    v.seq = m.seq || v.seq;
    v.state = m.state || v.state;
    if (m.sources && m.sources.length) v.sources = m.sources;
    if (m.author_name) v.author = m.author_name;
    // Stored content is authoritative when final or when it is ahead of us.
    if (v.state !== 'streaming' || TextBuffer.byteLength(m.content) > v.tb.length) this.setText(v, m.content || '');
    if (v.state === 'streaming') this.streaming.add(v.id);
    else this.streaming.delete(v.id);
    this.renderView(v, true);
    if (isNew && (v.sender === 'agent' || v.sender === 'bot') && !this.isOpen() && !this.loadingHistory) {
      this.unread++;
      this.renderBadge();
    }
    this.updateSendButton();
  }

  ensureBotView(id, seq) {
    let v = this.byId.get(id);
    if (!v) {
      v = this.makeView({ id, seq, sender: this.owner === 'human' ? 'agent' : 'bot', kind: 'text', state: 'streaming', content: '' });
      this.insertView(v);
    }
    return v;
  }

  // appendDelta applies payload at byte offset, skipping what we already
  // have: a resumed stream re-sends the message from offset 0.
  appendDelta(v, offset, payload) {
    const r = v.tb.apply(offset, payload);
    if (r === 'gap') {
      this.resync();
      return;
    }
    if (!r) return;
    v.text = v.tb.text;
    // Show the new text at once in the tail text node; markdown is rebuilt
    // at most once per animation frame.
    if (v.tail && v.text.startsWith(v.rendered)) {
      // Markdown drops trailing whitespace of what it rendered; keep words apart.
      const rest = v.text.slice(v.rendered.length);
      v.tail.data = /\s$/.test(v.rendered) ? ' ' + rest.replace(/^\s+/, '') : rest;
      if (v.thinking) {
        v.thinking.remove();
        v.thinking = null;
      }
    }
    this.scheduleRender(v);
  }

  scheduleRender(v) {
    this.renderQueued.add(v);
    if (this.rafPending) return;
    this.rafPending = true;
    const run = () => {
      this.rafPending = false;
      const stick = this.nearBottom();
      for (const q of this.renderQueued) this.renderView(q, false);
      this.renderQueued.clear();
      if (stick) this.scrollToBottom(true);
    };
    // Hidden tabs get no animation frames; fall back to a timer.
    if (document.visibilityState === 'hidden') setTimeout(run, 250);
    else requestAnimationFrame(run);
  }

  renderView(v, scroll) {
    const t = this.t;
    const stick = scroll && this.nearBottom();
    if (v.kind === 'event' || v.sender === 'system') {
      v.body.textContent = v.text;
      if (stick) this.scrollToBottom(true);
      return;
    }
    if (v.whoEl) v.whoEl.textContent = v.author || (this.assignee && this.assignee.name) || t('w.agent');
    const streaming = v.state === 'streaming';
    if (v.id) v.el.dataset.id = v.id;
    v.el.dataset.state = v.state;
    v.el.classList.toggle('streaming', streaming);
    v.el.setAttribute('aria-busy', streaming ? 'true' : 'false');
    v.el.classList.toggle('sending', v.state === 'sending');
    v.el.classList.toggle('failed', v.state === 'failed');
    if (v.sender === 'contact') {
      v.body.textContent = v.text; // the visitor's own text, shown as typed
    } else {
      const frag = renderMarkdown(v.text, document);
      v.rendered = v.text;
      v.tail = document.createTextNode('');
      v.thinking = null;
      // The tail goes inside the last text block so streamed text continues it.
      const tailParent = tailTarget(frag);
      tailParent.appendChild(v.tail);
      if (streaming) {
        if (v.tb.length === 0) {
          v.thinking = h('span', { class: 'dots', role: 'img', 'aria-label': t('w.thinking') }, h('i'), h('i'), h('i'));
          frag.appendChild(v.thinking);
        } else {
          tailParent.appendChild(h('span', { class: 'caret', 'aria-hidden': 'true' }));
        }
      }
      v.body.replaceChildren(frag);
      v.body.hidden = !streaming && v.tb.length === 0; // e.g. stopped before the first word
    }
    this.renderMeta(v);
    this.renderSources(v);
    if (stick) this.scrollToBottom(true);
  }

  renderMeta(v) {
    const t = this.t;
    const meta = v.metaEl;
    if (!meta) return;
    meta.replaceChildren();
    meta.className = 'meta';
    let text = '';
    let retry = false;
    switch (v.state) {
      case 'sending':
        text = t('w.sending');
        break;
      case 'failed':
        text = v.errorText || t('w.notSent');
        retry = true;
        meta.className = 'meta err';
        break;
      case 'cancelled':
        text = t('w.stopped');
        break;
      case 'interrupted':
        text = v.errorText || t('w.interrupted');
        retry = true;
        meta.className = 'meta err';
        break;
      case 'error':
        text = v.errorText || t('w.failed');
        retry = true;
        meta.className = 'meta err';
        break;
      case 'blocked':
        text = t('w.blockedMsg');
        meta.className = 'meta err';
        break;
    }
    if (retry && v.sender === 'bot' && !this.precedingUserText(v)) retry = false;
    if (text) meta.appendChild(h('span', { text }));
    if (retry) {
      meta.appendChild(h('button', { class: 'link-btn', type: 'button', onclick: () => this.retry(v) }, t('w.retry')));
    }
    meta.hidden = !text;
  }

  renderSources(v) {
    const el = v.sourcesEl;
    if (!el) return;
    const list = v.state === 'streaming' ? [] : dedupeSources(v.sources);
    el.replaceChildren();
    if (!list.length) {
      el.hidden = true;
      return;
    }
    el.appendChild(h('span', { text: this.t('w.sources') + ':' }));
    for (const s of list) {
      const tip = s.headings.length ? `${s.title} › ${s.headings.join(' · ')}` : s.title;
      el.appendChild(h('span', { class: 'chip', title: tip }, icon('doc'), h('span', { class: 'chip-text', text: s.title })));
    }
    el.hidden = false;
  }

  precedingUserText(v) {
    const i = this.views.indexOf(v);
    for (let k = i - 1; k >= 0; k--) {
      if (this.views[k].sender === 'contact') return this.views[k].text;
    }
    return this.lastUserText;
  }

  addEvent(key, text, seq) {
    if (this.byId.has(key)) return;
    const v = this.makeView({ id: key, seq: seq || this.lastSeq, sender: 'system', kind: 'event', content: text, local: true });
    this.insertView(v);
    this.renderView(v, true);
  }

  showGreeting() {
    if (!this.inbox.greeting || this.greetingView) return;
    const v = this.makeView({ id: '', sender: 'bot', kind: 'text', content: this.inbox.greeting, state: 'complete', local: true });
    v.greeting = true;
    this.greetingView = v;
    this.views.unshift(v);
    this.list.insertBefore(v.el, this.list.firstChild);
    this.renderView(v, false);
  }

  clearMessages() {
    this.views = [];
    this.byId.clear();
    this.byClientId.clear();
    this.streaming.clear();
    this.outbox = [];
    this.greetingView = null;
    this.list.replaceChildren();
    this.lastSeq = 0;
  }

  // ---- sending ----

  onSendButton() {
    if (this.sendBtn.classList.contains('stop')) this.stop();
    else this.submit();
  }

  submit() {
    const text = this.input.value.trim();
    if (!text) return;
    this.input.value = '';
    this.autosize();
    this.send(text);
    this.input.focus();
  }

  send(text) {
    const v = this.makeView({ sender: 'contact', kind: 'text', content: text, state: 'sending', client_msg_id: uuid() });
    this.insertView(v);
    this.renderView(v, false);
    this.scrollToBottom(true);
    this.outbox.push(v);
    this.lastUserText = text;
    this.flushOutbox();
    this.updateSendButton();
    this.start();
  }

  flushOutbox() {
    if (!this.ready) return;
    for (const v of this.outbox) {
      if (v.state === 'failed') continue;
      if (v.sentOn === this.ws) continue;
      if (this.wsSend({ type: 'message', client_msg_id: v.clientId, content: v.text })) v.sentOn = this.ws;
    }
  }

  retry(v) {
    if (v.sender === 'contact') {
      // Resend the same message with a fresh id.
      this.views = this.views.filter((o) => o !== v);
      this.outbox = this.outbox.filter((o) => o !== v);
      v.el.remove();
      this.send(v.text);
      return;
    }
    const text = this.precedingUserText(v);
    if (text) this.send(text);
  }

  stop() {
    this.wsSend({ type: 'stop' });
  }

  requestHuman() {
    if (this.wsSend({ type: 'handoff' })) {
      this.humanBtn.disabled = true;
      this.subtitleEl.textContent = this.t('w.humanRequested');
      setTimeout(() => (this.humanBtn.disabled = false), 3000);
    } else {
      this.pendingHandoff = true;
      this.start();
    }
  }

  sendTyping() {
    const now = Date.now();
    if (!this.ready || now - this.lastTypingSent < TYPING_INTERVAL || !this.input.value) return;
    this.lastTypingSent = now;
    this.wsSend({ type: 'typing' });
  }

  // ---- offline message form (status pending) ----

  renderOffline() {
    const show = this.status === 'pending';
    if (!show) {
      if (this.offlineEl) {
        this.offlineEl.remove();
        this.offlineEl = null;
      }
      return;
    }
    if (this.offlineEl) return;
    const t = this.t;
    const email = h('input', { type: 'email', autocomplete: 'email', required: true, name: 'email' });
    const text = h('textarea', { rows: '3', required: true, name: 'content' });
    const note = h('div', { class: 'bad', role: 'alert', hidden: true });
    const submit = h('button', { class: 'primary', type: 'submit' }, t('w.offline.submit'));
    const form = h(
      'form',
      { class: 'offline', 'aria-labelledby': 'sb-offline-title', novalidate: true },
      h('h3', { id: 'sb-offline-title', text: t('w.offline.title') }),
      h('p', { text: t('w.offline.body') }),
      h('label', {}, t('w.offline.email'), email),
      h('label', {}, t('w.offline.message'), text),
      note,
      submit,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const addr = email.value.trim();
      const content = text.value.trim();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(addr) || !content) {
        note.textContent = t('w.offline.invalid');
        note.hidden = false;
        return;
      }
      submit.disabled = true;
      try {
        await this.api('POST', `v1/conversations/${encodeURIComponent(this.conversationId)}/offline_message`, { email: addr, content });
        form.replaceChildren(h('div', { class: 'ok', role: 'status', text: t('w.offline.sent', { email: addr }) }));
      } catch (err) {
        note.textContent = errorText(t, err.code, err.message, err.retryAfter);
        note.hidden = false;
        submit.disabled = false;
      }
    });
    this.offlineEl = form;
    this.log.appendChild(form);
    this.scrollToBottom(true);
  }

  // ---- session and socket ----

  start() {
    if (!this.started) {
      this.started = this.startSession().catch(() => {});
    }
    return this.started;
  }

  async startSession() {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.createSession();
        await this.loadHistory();
        this.connectNow();
        return;
      } catch (err) {
        if (!this.everReady) {
          this.subtitleEl.textContent = this.t('w.err.connect');
        }
        await sleep(Math.min(10000, 500 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }

  async createSession() {
    const stored = this.load();
    this.token = stored.token || '';
    let res;
    try {
      res = await this.api('POST', 'v1/widget/session', { widget_key: this.key });
    } catch (err) {
      if (err.status !== 401 || !this.token) throw err;
      this.token = ''; // expired or revoked: start as a new visitor
      res = await this.api('POST', 'v1/widget/session', { widget_key: this.key });
    }
    const conv = res.conversation || {};
    if (this.conversationId && conv.id !== this.conversationId) this.clearMessages();
    this.token = res.token;
    this.conversationId = conv.id;
    this.contact = res.contact || {};
    this.inbox = res.inbox || this.inbox;
    this.status = conv.status || 'bot';
    this.owner = conv.owner || 'bot';
    this.needSession = false;
    this.save();
    this.renderHeader();
  }

  async loadHistory() {
    let after = 0;
    this.loadingHistory = true;
    try {
      for (let page = 0; page < 50; page++) {
        const res = await this.api('GET', `v1/conversations/${encodeURIComponent(this.conversationId)}/messages?after_seq=${after}`);
        const list = (res && res.messages) || [];
        for (const m of list) this.applyMessage(m);
        for (const m of list) after = Math.max(after, m.seq || 0);
        if (res && res.last_seq > this.lastSeq) this.lastSeq = res.last_seq;
        if (!list.length || after >= ((res && res.last_seq) || 0)) break;
      }
    } finally {
      this.loadingHistory = false;
    }
    if (!this.views.some((v) => !v.local)) this.showGreeting();
    this.scrollToBottom(true);
  }

  // resync reloads messages after a gap in a delta stream.
  async resync() {
    if (this.resyncing) return;
    this.resyncing = true;
    try {
      await this.loadHistory();
    } catch {}
    this.resyncing = false;
  }

  wsURL() {
    const u = new URL('v1/ws', this.base);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('token', this.token);
    return u.href;
  }

  connectNow() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = 0;
    if (this.ws || this.leaving || !this.token) return;
    let ws;
    try {
      ws = new WebSocket(this.wsURL());
    } catch {
      this.scheduleReconnect(0);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'hello', conversation_id: this.conversationId, last_seq: this.lastSeq }));
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.wsSend({ type: 'ping' }), PING_INTERVAL);
    };
    ws.onmessage = (e) => {
      let f;
      try {
        f = JSON.parse(e.data);
      } catch {
        return;
      }
      if (this.ws === ws) this.onFrame(f);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      clearInterval(this.pingTimer);
      this.renderHeader();
      if (!this.leaving) this.scheduleReconnect(e.code);
    };
    ws.onerror = () => {}; // a close event follows
  }

  scheduleReconnect(code) {
    if (this.reconnectTimer) return;
    const n = this.attempt++;
    let delay;
    if (code === CLOSE_POLICY || code === CLOSE_UNAUTHORIZED) {
      this.needSession = true;
      delay = Math.min(10000, 500 * 2 ** n);
    } else if (code === CLOSE_RESTART) {
      delay = 250 + Math.random() * 750;
    } else if (code === CLOSE_TRY_LATER || code === CLOSE_RATE_LIMITED) {
      delay = Math.min(60000, 5000 * 2 ** n);
    } else {
      delay = Math.min(10000, 500 * 2 ** n);
    }
    delay = Math.max(250, delay * (0.5 + Math.random() * 0.5)); // jitter
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = 0;
      if (this.needSession) {
        try {
          await this.createSession();
        } catch {
          this.scheduleReconnect(code);
          return;
        }
      }
      this.connectNow();
    }, delay);
  }

  wsSend(frame) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  leave() {
    this.leaving = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = 0;
    clearInterval(this.pingTimer);
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      try {
        ws.send(JSON.stringify({ type: 'bye' }));
        ws.close(1000, 'bye');
      } catch {}
    }
    this.ws = null;
    this.ready = false;
  }

  seen(seq) {
    if (seq && seq > this.lastSeq) this.lastSeq = seq;
  }

  onFrame(f) {
    const t = this.t;
    switch (f.type) {
      case 'ready':
        this.seen(f.last_seq);
        this.ready = true;
        this.everReady = true;
        this.attempt = 0;
        this.renderHeader();
        this.flushOutbox();
        if (this.pendingHandoff) {
          this.pendingHandoff = false;
          this.requestHuman();
        }
        break;
      case 'message':
        this.applyMessage(f.message);
        this.seen(f.seq);
        break;
      case 'start': {
        this.seen(f.seq);
        const v = this.ensureBotView(f.message_id, f.seq);
        if (v.tb.length === 0 && v.state !== 'streaming') v.state = 'streaming';
        if (v.state === 'streaming') this.streaming.add(v.id);
        this.hideTyping();
        this.renderView(v, true);
        this.updateSendButton();
        break;
      }
      case 'delta': {
        this.seen(f.seq);
        const v = this.ensureBotView(f.message_id, f.seq);
        if (v.state !== 'streaming' && (f.offset || 0) + TextBuffer.byteLength(f.payload) <= v.tb.length) break;
        v.state = 'streaming';
        this.streaming.add(v.id);
        this.appendDelta(v, f.offset || 0, f.payload);
        this.updateSendButton();
        break;
      }
      case 'done': {
        this.seen(f.seq);
        const v = this.byId.get(f.message_id);
        if (!v) {
          this.resync();
          break;
        }
        v.state = finishState(f.finish_reason);
        if (f.sources) v.sources = f.sources;
        this.streaming.delete(v.id);
        this.renderQueued.delete(v);
        this.renderView(v, true);
        this.updateSendButton();
        if (!this.isOpen()) {
          this.unread++;
          this.renderBadge();
        }
        break;
      }
      case 'error': {
        this.seen(f.seq);
        const text = errorText(t, f.code, f.message, f.retry_after);
        if (f.message_id) {
          const v = this.byId.get(f.message_id);
          if (v) {
            v.state = f.code === 'interrupted' ? 'interrupted' : f.code === 'blocked' ? 'blocked' : 'error';
            v.errorText = f.code === 'interrupted' ? '' : text;
            this.streaming.delete(v.id);
            this.renderQueued.delete(v);
            this.renderView(v, true);
            this.updateSendButton();
          }
          break;
        }
        // Not about a stored message: the socket stays open.
        const pending = this.outbox.find((o) => o.sentOn && o.state === 'sending');
        if (pending && ['blocked', 'rate_limited', 'too_large', 'invalid', 'budget_exceeded'].includes(f.code)) {
          pending.state = 'failed';
          pending.errorText = f.code === 'blocked' ? t('w.notSent') : '';
          this.outbox = this.outbox.filter((o) => o !== pending);
          this.renderView(pending, false);
        }
        this.toast(text);
        break;
      }
      case 'status':
        this.seen(f.seq);
        this.applyStatus(f);
        break;
      case 'typing':
        if (f.from === 'agent') this.showTyping();
        break;
      case 'pong':
        break;
    }
  }

  applyStatus(f) {
    const t = this.t;
    const prevOwner = this.owner;
    const prevStatus = this.status;
    if (f.status) this.status = f.status;
    if (f.owner) this.owner = f.owner;
    this.assignee = f.assignee || (this.status === 'assigned' ? this.assignee : null);
    this.queuePos = f.queue_position || 0;
    this.queueWait = f.queue_wait_seconds || 0;
    // Local event lines, keyed by seq so a replayed frame adds nothing.
    const key = 'status:' + (f.seq || Date.now());
    const prevAssignee = this.lastAssigneeId;
    this.lastAssigneeId = this.assignee ? this.assignee.id : '';
    if (this.status === 'assigned' && this.assignee && this.assignee.name && (prevStatus !== 'assigned' || prevAssignee !== this.assignee.id)) {
      this.addEvent(key, t('w.joined', { name: this.assignee.name }), f.seq);
    } else if (this.status === 'bot' && prevOwner === 'human') {
      this.addEvent(key, t('w.handedBack'), f.seq);
    } else if (this.status === 'resolved' && prevStatus !== 'resolved') {
      this.addEvent(key, t('w.resolvedNote'), f.seq);
    }
    this.renderHeader();
    for (const v of this.views) if (v.sender === 'agent' && v.whoEl && !v.author) this.renderView(v, false);
  }

  showTyping() {
    const name = (this.assignee && this.assignee.name) || this.t('w.agent');
    this.typingEl.replaceChildren(h('span', { class: 'dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), h('span', { text: this.t('w.typing', { name }) }));
    this.typingEl.hidden = false;
    const stick = this.nearBottom();
    if (stick) this.scrollToBottom(true);
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.hideTyping(), 5000);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.typingEl.hidden = true;
  }
}

// tailTarget returns the element streamed text should continue: the last
// paragraph, heading or list item of frag, else frag itself.
function tailTarget(frag) {
  let el = frag.lastChild;
  while (el && el.nodeType === 1) {
    const n = el.nodeName;
    if (n === 'P' || /^H[1-6]$/.test(n)) return el;
    if (n === 'UL' || n === 'OL' || n === 'BLOCKQUOTE') {
      el = el.lastChild;
      continue;
    }
    if (n === 'LI') {
      const last = el.lastChild;
      if (last && last.nodeType === 1 && /^(P|UL|OL|BLOCKQUOTE)$/.test(last.nodeName)) {
        el = last;
        continue;
      }
      return el;
    }
    break;
  }
  return frag;
}

function finishState(reason) {
  switch (reason) {
    case 'cancelled':
    case 'canceled':
    case 'stopped':
    case 'stop_requested':
      return 'cancelled';
    case 'interrupted':
      return 'interrupted';
    case 'blocked':
    case 'content_filter':
      return 'blocked';
    case 'error':
      return 'error';
    default:
      return 'complete';
  }
}

// dedupeSources groups sources by document title; headings go in the tooltip.
function dedupeSources(list) {
  const byTitle = new Map();
  for (const s of list || []) {
    if (!s || !s.title) continue;
    let e = byTitle.get(s.title);
    if (!e) {
      e = { title: s.title, headings: [] };
      byTitle.set(s.title, e);
    }
    if (s.heading && !e.headings.includes(s.heading)) e.headings.push(s.heading);
  }
  return [...byTitle.values()].slice(0, 4);
}

function errorText(t, code, message, retryAfter) {
  switch (code) {
    case 'rate_limited':
      return retryAfter ? t('w.err.rate', { s: Math.ceil(retryAfter) }) : t('w.err.rateNoTime');
    case 'blocked':
      return t('w.err.blocked');
    case 'too_large':
      return t('w.err.tooLarge');
    case 'budget_exceeded':
      return t('w.err.budget');
    case 'upstream_unavailable':
      return t('w.err.unavailable');
    case 'network':
      return t('w.err.connect');
  }
  return typeof message === 'string' && message ? message : t('w.err.generic');
}

function boot() {
  const script =
    document.currentScript ||
    Array.from(document.querySelectorAll('script[data-widget-key]')).find((s) => /widget\.js(\?|#|$)/.test(s.src));
  if (!script) return;
  const key = script.getAttribute('data-widget-key');
  if (!key) {
    console.warn('Switchboard: the widget script needs a data-widget-key attribute.');
    return;
  }
  const registry = (window.__switchboardWidgets = window.__switchboardWidgets || {});
  if (registry[key]) return; // loaded twice
  const base = new URL('./', script.src || location.href);
  const langAttr = script.getAttribute('data-lang');
  const lang = pickLang(langAttr ? [langAttr] : navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
  const w = new Widget({ key, base, lang });
  registry[key] = w;
  const mount = () => w.mount();
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
}

boot();
