// Agent console: conversation queues, a live conversation view, replies,
// private notes, canned responses and AI drafts.

import { Client } from '/static/api.js';
import { renderMarkdown } from '/static/markdown.js';
import { TextBuffer } from '/static/stream.js';
import {
  copyText,
  currentLang,
  errorMessage,
  h,
  icon,
  initials,
  langToggle,
  loginView,
  makeT,
  relTime,
  setTitle,
  toast,
} from '/static/ui.js';

const TABS = [
  { id: 'queued', status: 'queued', icon: 'queue' },
  { id: 'mine', status: 'assigned', icon: 'user' },
  { id: 'bot', status: 'bot', icon: 'bot' },
  { id: 'pending', status: 'pending', icon: 'clock' },
  { id: 'resolved', status: 'resolved', icon: 'check' },
];

const PING_INTERVAL = 20000;
const TYPING_INTERVAL = 3000;

const client = new Client();
const root = document.getElementById('app');
let t = makeT();

const state = {
  tab: 'queued',
  list: [],
  counts: {},
  known: new Map(), // conversation id -> last known status
  convId: '',
  conv: null,
  contact: null,
  views: [],
  byId: new Map(),
  lastSeq: 0,
  users: [],
  canned: [],
  unseenQueued: 0,
  ws: null,
  wsReady: false,
  attempt: 0,
  draft: null, // AbortController of a running AI draft
  lastTyping: 0,
};

let ui = {}; // elements of the current screen

client.onLogout = () => {
  closeSocket();
  render();
};

function me() {
  return client.user || {};
}

function contactName(c, id) {
  if (c && c.name) return c.name;
  if (c && c.email) return c.email;
  return t('c.visitor', { id: String((c && c.id) || id || '').slice(-4).toUpperCase() });
}

// ---- screens ----

function render() {
  t = makeT();
  if (!client.token) {
    setTitle(t('c.title'), 0);
    loginView(root, {
      t,
      client,
      title: t('c.loginTitle'),
      subtitle: t('c.loginSub'),
      onDone: () => {
        if ('Notification' in window && Notification.permission === 'default') {
          Notification.requestPermission().catch(() => {});
        }
        render();
      },
      rerender: render,
    });
    return;
  }
  renderApp();
  start();
}

function renderApp() {
  const user = me();
  const presence = h(
    'select',
    { class: 'presence', 'aria-label': t('c.presence'), onchange: (e) => setPresence(e.target.value) },
    h('option', { value: 'online', text: t('c.online'), selected: user.presence !== 'away' }),
    h('option', { value: 'away', text: t('c.away'), selected: user.presence === 'away' }),
  );
  ui.presence = presence;
  ui.presenceDot = h('span', { class: 'dot ' + (user.presence === 'away' ? 'away' : 'online'), 'aria-hidden': 'true' });
  ui.conn = h('span', { class: 'conn', role: 'status' });
  const topbar = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '/console' }, h('span', { class: 'brand-mark' }, icon('logo')), h('span', { text: 'Switchboard' }), h('small', { text: t('c.console') })),
    h('div', { class: 'spacer' }),
    ui.conn,
    h('label', { class: 'presence-wrap' }, ui.presenceDot, presence),
    langToggle(t, () => {
      renderApp();
      refreshList();
      if (state.convId) openConversation(state.convId, true);
    }),
    user.role === 'admin' ? h('a', { class: 'btn ghost small', href: '/admin' }, icon('shield'), t('c.admin')) : null,
    h('span', { class: 'who' }, h('span', { class: 'avatar small', text: initials(user.name || user.email) }), h('span', { text: user.name || user.email || '' })),
    h('button', { class: 'btn ghost small', type: 'button', onclick: () => client.logout() }, icon('logout'), t('ui.signOut')),
  );

  ui.nav = h('nav', { class: 'nav', 'aria-label': t('c.queues') });
  ui.listTitle = h('h2', { class: 'list-title' });
  ui.list = h('ul', { class: 'conv-list', role: 'list' });
  ui.listPane = h('section', { class: 'list-pane', 'aria-labelledby': 'list-title' }, ui.listTitle, ui.list);
  ui.listTitle.id = 'list-title';
  ui.main = h('section', { class: 'conv-pane', 'aria-label': t('c.conversation') });
  root.replaceChildren(h('div', { class: 'console' }, topbar, h('div', { class: 'console-body' }, ui.nav, ui.listPane, ui.main)));
  renderNav();
  renderList();
  renderConversation();
  renderConn();
}

function renderConn() {
  if (!ui.conn) return;
  ui.conn.textContent = state.wsReady ? '' : t('c.reconnecting');
  ui.conn.hidden = state.wsReady;
}

function renderNav() {
  const items = TABS.map((tab) => {
    const loaded = state.countsLoaded;
    const n = !loaded ? undefined : tab.id === 'mine' ? (state.counts.mine ?? state.counts.assigned ?? 0) : (state.counts[tab.status] ?? 0);
    return h(
      'button',
      {
        class: 'nav-item' + (state.tab === tab.id ? ' active' : ''),
        type: 'button',
        'aria-current': state.tab === tab.id ? 'page' : false,
        onclick: () => {
          state.tab = tab.id;
          if (tab.id === 'queued') {
            state.unseenQueued = 0;
            setTitle(t('c.title'), 0);
          }
          renderNav();
          refreshList();
        },
      },
      icon(tab.icon),
      h('span', { class: 'nav-label', text: t('c.tab.' + tab.id) }),
      n !== undefined ? h('span', { class: 'count' + (tab.id === 'queued' && n > 0 ? ' hot' : ''), text: String(n) }) : null,
    );
  });
  ui.nav.replaceChildren(h('div', { class: 'nav-head', text: t('c.queues') }), ...items);
}

function renderList() {
  ui.listTitle.textContent = t('c.tab.' + state.tab);
  if (!state.list.length) {
    ui.list.replaceChildren(h('li', { class: 'empty', text: t('c.emptyList') }));
    return;
  }
  ui.list.replaceChildren(
    ...state.list.map((c) => {
      const last = c.last_message || {};
      const who = last.sender === 'contact' ? '' : last.sender === 'bot' ? t('c.ai') + ': ' : last.sender === 'agent' ? t('c.agent') + ': ' : '';
      const name = contactName(c.contact, c.contact_id || c.id);
      return h(
        'li',
        {},
        h(
          'button',
          {
            class: 'conv-item' + (c.id === state.convId ? ' active' : ''),
            type: 'button',
            'aria-current': c.id === state.convId ? 'true' : false,
            onclick: () => openConversation(c.id),
          },
          h('span', { class: 'avatar', text: initials(name), 'aria-hidden': 'true' }),
          h(
            'span',
            { class: 'conv-item-body' },
            h('span', { class: 'conv-item-top' }, h('span', { class: 'name', text: name }), h('span', { class: 'time', text: relTime(t, (last && last.created_at) || c.updated_at) })),
            h('span', { class: 'conv-snippet', text: who + oneLine(last.content || '') }),
            state.tab !== 'queued' && c.status ? h('span', { class: 'badge ' + c.status, text: t('c.status.' + c.status) }) : null,
          ),
        ),
      );
    }),
  );
}

function oneLine(s) {
  s = String(s).replace(/\s+/g, ' ').trim();
  return s.length > 90 ? s.slice(0, 90) + '…' : s;
}

// ---- data ----

let started = false;
function start() {
  if (started) return;
  started = true;
  refreshList();
  connect();
  client
    .get('/v1/agent/canned')
    .then((r) => (state.canned = (r && r.canned) || []))
    .catch(() => {});
}

let listSeq = 0;
async function refreshList() {
  const tab = TABS.find((x) => x.id === state.tab);
  const mine = tab.id === 'mine';
  const q = `/v1/agent/conversations?status=${tab.status}` + (mine ? '&assignee=me' : '');
  const n = ++listSeq;
  try {
    const res = await client.get(q);
    if (n !== listSeq) return;
    let list = (res && res.conversations) || [];
    if (mine) list = list.filter((c) => !c.assignee_id || c.assignee_id === me().id);
    state.list = list;
    state.counts = { ...((res && res.counts) || {}) };
    state.countsLoaded = true;
    if (mine) state.counts.mine = list.length;
    for (const c of list) state.known.set(c.id, c.status);
  } catch (err) {
    if (err.status === 401) return;
    toast(errorMessage(t, err), 'error');
  }
  if (ui.list) {
    renderNav();
    renderList();
  }
}

let refreshTimer = 0;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshList, 250);
}

// ---- socket ----

function wsURL() {
  const u = new URL('/v1/ws', location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.searchParams.set('token', client.token);
  return u.href;
}

function connect() {
  if (state.ws || !client.token) return;
  const ws = new WebSocket(wsURL());
  state.ws = ws;
  ws.onopen = () => {
    clearInterval(state.pingTimer);
    state.pingTimer = setInterval(() => send({ type: 'ping' }), PING_INTERVAL);
    if (state.convId) send({ type: 'hello', conversation_id: state.convId, last_seq: state.lastSeq });
  };
  ws.onmessage = (e) => {
    let f;
    try {
      f = JSON.parse(e.data);
    } catch {
      return;
    }
    if (state.ws === ws) onFrame(f);
  };
  ws.onclose = (e) => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.wsReady = false;
    clearInterval(state.pingTimer);
    renderConn();
    if (!client.token) return;
    const n = state.attempt++;
    let delay = Math.min(10000, 500 * 2 ** n);
    if (e.code === 1012) delay = 500;
    if (e.code === 1013 || e.code === 4429) delay = Math.min(60000, 5000 * 2 ** n);
    delay = Math.max(250, delay * (0.5 + Math.random() * 0.5));
    state.reconnectTimer = setTimeout(async () => {
      if (e.code === 1008 || e.code === 4001) {
        try {
          await client.refresh();
        } catch {
          return;
        }
      }
      connect();
    }, delay);
  };
  // Before a socket is ready, count it as connected so the first paint
  // does not flash "reconnecting".
  state.wsReady = true;
  renderConn();
}

function closeSocket() {
  clearTimeout(state.reconnectTimer);
  clearInterval(state.pingTimer);
  const ws = state.ws;
  state.ws = null;
  started = false;
  if (ws) {
    try {
      ws.close(1000, 'logout');
    } catch {}
  }
}

function send(frame) {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

function seen(seq) {
  if (seq && seq > state.lastSeq) state.lastSeq = seq;
}

function onFrame(f) {
  if (f.type === 'ready') {
    state.wsReady = true;
    state.attempt = 0;
    seen(f.last_seq);
    renderConn();
    return;
  }
  if (f.type === 'pong') return;
  if (f.type === 'conversation') {
    onConversationFrame(f.conversation || {});
    return;
  }
  if (f.type === 'error' && !f.seq && !f.message_id) {
    toast(typeof f.message === 'string' && f.message ? f.message : f.code, 'error');
    return;
  }
  // Frames about one conversation: only the watched one matters here.
  if (f.conversation_id && f.conversation_id !== state.convId) return;
  if (!state.convId) return;
  switch (f.type) {
    case 'message':
      seen(f.seq);
      applyMessage(f.message);
      break;
    case 'start': {
      seen(f.seq);
      const v = ensureView(f.message_id, f.seq);
      v.state = 'streaming';
      renderView(v);
      break;
    }
    case 'delta': {
      seen(f.seq);
      const v = ensureView(f.message_id, f.seq);
      if (v.state !== 'streaming' && (f.offset || 0) + TextBuffer.byteLength(f.payload) <= v.tb.length) break;
      v.state = 'streaming';
      const r = v.tb.apply(f.offset || 0, f.payload);
      if (r === 'gap') openConversation(state.convId, true);
      else if (r) scheduleRender(v);
      break;
    }
    case 'done': {
      seen(f.seq);
      const v = state.byId.get(f.message_id);
      if (v) {
        v.state = /cancel|stop_requested|stopped/.test(f.finish_reason || '') ? 'cancelled' : 'complete';
        if (f.sources) v.sources = f.sources;
        renderView(v);
      }
      break;
    }
    case 'error': {
      seen(f.seq);
      const v = f.message_id && state.byId.get(f.message_id);
      if (v) {
        v.state = f.code === 'interrupted' ? 'interrupted' : 'error';
        v.error = typeof f.message === 'string' ? f.message : f.code;
        renderView(v);
      }
      break;
    }
    case 'status':
      seen(f.seq);
      if (state.conv) {
        state.conv.status = f.status || state.conv.status;
        state.conv.owner = f.owner || state.conv.owner;
        state.conv.assignee_id = f.assignee ? f.assignee.id : f.status === 'assigned' ? state.conv.assignee_id : '';
        state.conv.assignee = f.assignee || null;
        renderConvHeader();
      }
      refreshSoon();
      break;
    case 'typing':
      if (f.from === 'contact') showTyping();
      break;
  }
}

function onConversationFrame(c) {
  if (!c.id) return;
  const prev = state.known.get(c.id);
  state.known.set(c.id, c.status);
  if (c.status === 'queued' && prev !== 'queued') notifyQueued(c);
  if (c.id === state.convId && state.conv) {
    Object.assign(state.conv, c);
    renderConvHeader();
  }
  refreshSoon();
}

function notifyQueued(c) {
  const name = contactName(c.contact, c.contact_id || c.id);
  const body = t('c.notifyBody', { name });
  if (document.visibilityState !== 'visible' || state.tab !== 'queued') {
    state.unseenQueued++;
    setTitle(t('c.title'), state.unseenQueued);
  }
  if ('Notification' in window && Notification.permission === 'granted' && document.visibilityState !== 'visible') {
    try {
      const n = new Notification(t('c.notifyTitle'), { body, tag: 'switchboard-' + c.id });
      n.onclick = () => {
        window.focus();
        state.tab = 'queued';
        openConversation(c.id);
        n.close();
      };
      return;
    } catch {}
  }
  toast(t('c.notifyTitle') + ' — ' + body, 'info');
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.tab === 'queued') {
    state.unseenQueued = 0;
    setTitle(t('c.title'), 0);
  }
});

// ---- conversation ----

async function openConversation(id, keepDraft) {
  if (!keepDraft) stopDraft();
  const switching = id !== state.convId;
  state.convId = id;
  if (switching) {
    state.conv = null;
    state.views = [];
    state.byId = new Map();
    state.lastSeq = 0;
  }
  renderList();
  if (switching) renderConversation(true);
  let res;
  try {
    res = await client.get(`/v1/agent/conversations/${encodeURIComponent(id)}`);
  } catch (err) {
    toast(errorMessage(t, err), 'error');
    return;
  }
  if (state.convId !== id) return;
  state.conv = res.conversation || {};
  state.contact = res.contact || (res.conversation && res.conversation.contact) || null;
  state.views = [];
  state.byId = new Map();
  state.lastSeq = 0;
  renderConversation();
  for (const m of res.messages || []) applyMessage(m, true);
  seen(state.conv.last_seq);
  scrollToBottom(true);
  send({ type: 'hello', conversation_id: id, last_seq: state.lastSeq });
}

function makeView(m) {
  return {
    id: m.id,
    seq: m.seq || 0,
    sender: m.sender || 'bot',
    kind: m.kind || 'text',
    state: m.state || 'complete',
    tb: new TextBuffer(m.content || ''),
    sources: m.sources || [],
    createdAt: m.created_at,
    authorId: m.author_id || '',
    el: null,
  };
}

function applyMessage(m, bulk) {
  if (!m || !m.id) return;
  let v = state.byId.get(m.id);
  if (!v) {
    v = makeView(m);
    insertView(v);
  } else {
    v.state = m.state || v.state;
    if (m.sources) v.sources = m.sources;
    if (v.state !== 'streaming' || TextBuffer.byteLength(m.content) > v.tb.length) v.tb.set(m.content || '');
  }
  seen(m.seq);
  renderView(v, bulk);
  if (m.sender === 'contact') hideTyping();
}

function ensureView(id, seq) {
  let v = state.byId.get(id);
  if (!v) {
    v = makeView({ id, seq, sender: 'bot', state: 'streaming', content: '' });
    insertView(v);
  }
  return v;
}

function insertView(v) {
  let idx = state.views.length;
  while (idx > 0 && state.views[idx - 1].seq > v.seq) idx--;
  const before = state.views[idx];
  state.views.splice(idx, 0, v);
  state.byId.set(v.id, v);
  v.el = h('div', { class: 'cmsg' });
  if (ui.log) ui.log.insertBefore(v.el, before ? before.el : null);
}

const queued = new Set();
let rafPending = false;
function scheduleRender(v) {
  queued.add(v);
  if (rafPending) return;
  rafPending = true;
  const run = () => {
    rafPending = false;
    for (const q of queued) renderView(q);
    queued.clear();
  };
  if (document.visibilityState === 'hidden') setTimeout(run, 250);
  else requestAnimationFrame(run);
}

function senderLabel(v) {
  if (v.sender === 'contact') return contactName(state.contact, state.conv && state.conv.contact_id);
  if (v.sender === 'bot') return t('c.ai');
  if (v.sender === 'agent') {
    if (v.authorId && v.authorId === me().id) return me().name || t('c.you');
    const u = state.users.find((x) => x.id === v.authorId);
    return (u && u.name) || t('c.agent');
  }
  return '';
}

function renderView(v, bulk) {
  const stick = !bulk && nearBottom();
  const el = v.el;
  if (v.kind === 'event' || v.sender === 'system') {
    el.className = 'cmsg event';
    el.replaceChildren(h('span', { text: v.tb.text }));
    return;
  }
  const note = v.kind === 'note';
  el.className = `cmsg ${v.sender}${note ? ' note' : ''}${v.state === 'streaming' ? ' streaming' : ''}`;
  const body = h('div', { class: 'cbubble' });
  if (v.sender === 'contact') {
    body.textContent = v.tb.text;
  } else {
    body.appendChild(renderMarkdown(v.tb.text));
    if (v.state === 'streaming') {
      let last = body.lastElementChild;
      while (last && /^(UL|OL|BLOCKQUOTE)$/.test(last.nodeName) && last.lastElementChild) last = last.lastElementChild;
      const target = last && /^(P|LI|H\d)$/.test(last.nodeName) ? last : body;
      target.appendChild(v.tb.length ? h('span', { class: 'caret', 'aria-hidden': 'true' }) : h('span', { class: 'dots', 'aria-label': t('c.thinking') }, h('i'), h('i'), h('i')));
    }
  }
  const meta = h(
    'div',
    { class: 'cmeta' },
    note ? h('span', { class: 'note-tag' }, icon('lock'), t('c.privateNote')) : null,
    h('span', { class: 'cname', text: senderLabel(v) }),
    h('span', { class: 'ctime', text: v.createdAt ? new Date(v.createdAt).toLocaleTimeString(currentLang(), { hour: '2-digit', minute: '2-digit' }) : '' }),
    v.state === 'cancelled' ? h('span', { class: 'cstate', text: t('c.stopped') }) : null,
    v.state === 'interrupted' || v.state === 'error' ? h('span', { class: 'cstate err', text: v.error || t('c.interrupted') }) : null,
    v.state === 'blocked' ? h('span', { class: 'cstate err', text: t('c.blocked') }) : null,
  );
  const parts = v.tb.length || v.state === 'streaming' ? [meta, body] : [meta];
  if (v.sources && v.sources.length && v.state !== 'streaming') {
    parts.push(
      h(
        'div',
        { class: 'csources' },
        h('span', { text: t('c.sources') + ':' }),
        ...v.sources.slice(0, 4).map((s) => h('span', { class: 'chip', text: s.heading ? `${s.title} › ${s.heading}` : s.title })),
      ),
    );
  }
  el.replaceChildren(...parts);
  if (stick) scrollToBottom(true);
}

function nearBottom() {
  const l = ui.log;
  return !l || l.scrollHeight - l.scrollTop - l.clientHeight < 120;
}

function scrollToBottom() {
  if (ui.log) ui.log.scrollTop = ui.log.scrollHeight;
}

let typingTimer = 0;
function showTyping() {
  if (!ui.typing) return;
  ui.typing.hidden = false;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, 5000);
}
function hideTyping() {
  clearTimeout(typingTimer);
  if (ui.typing) ui.typing.hidden = true;
}

function renderConversation(loading) {
  if (!state.convId) {
    ui.main.replaceChildren(
      h('div', { class: 'empty-state' }, h('span', { class: 'empty-icon' }, icon('inbox')), h('h2', { text: t('c.pickTitle') }), h('p', { class: 'muted', text: t('c.pickBody') })),
    );
    ui.log = null;
    return;
  }
  ui.head = h('div', { class: 'conv-head' });
  ui.log = h('div', { class: 'clog', role: 'log', 'aria-live': 'polite', tabindex: '0', 'aria-label': t('c.messages') });
  ui.typing = h('div', { class: 'ctyping', hidden: true }, h('span', { class: 'dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), t('c.visitorTyping'));
  for (const v of state.views) ui.log.appendChild(v.el);
  if (loading) ui.log.appendChild(h('p', { class: 'muted center', text: t('ui.loading') }));
  ui.main.replaceChildren(ui.head, h('div', { class: 'clog-wrap' }, ui.log, ui.typing), composer());
  renderConvHeader();
}

function renderConvHeader() {
  if (!ui.head || !state.conv) {
    if (ui.head) ui.head.replaceChildren();
    return;
  }
  const c = state.conv;
  const name = contactName(state.contact, c.contact_id);
  const mine = c.assignee_id && c.assignee_id === me().id;
  const assignee = c.assignee || state.users.find((u) => u.id === c.assignee_id);
  const actions = [];
  if (c.status !== 'resolved' && !mine) {
    actions.push(h('button', { class: 'btn primary', type: 'button', onclick: () => act('assign', {}) }, icon('hand'), t('c.takeOver')));
  }
  actions.push(h('button', { class: 'btn', type: 'button', 'aria-haspopup': 'dialog', onclick: (e) => assignMenu(e.currentTarget) }, icon('user'), t('c.assignTo')));
  if (c.owner === 'human' || c.status === 'assigned' || c.status === 'queued') {
    actions.push(h('button', { class: 'btn', type: 'button', onclick: () => act('handback') }, icon('bot'), t('c.handBack')));
  }
  if (c.status !== 'resolved') {
    actions.push(h('button', { class: 'btn', type: 'button', onclick: () => act('resolve') }, icon('check'), t('c.resolve')));
  }
  const contact = state.contact || {};
  ui.head.replaceChildren(
    h('span', { class: 'avatar large', text: initials(name), 'aria-hidden': 'true' }),
    h(
      'div',
      { class: 'conv-who' },
      h('h2', { text: name }),
      h(
        'div',
        { class: 'conv-sub' },
        h('span', { class: 'badge ' + c.status, text: t('c.status.' + c.status) }),
        assignee && c.status === 'assigned' ? h('span', { text: t('c.assignedTo', { name: mine ? t('c.you') : assignee.name }) }) : null,
        contact.email ? h('span', { class: 'muted', text: contact.email }) : null,
      ),
    ),
    h('div', { class: 'conv-actions' }, ...actions),
  );
}

async function act(what, body) {
  const id = state.convId;
  try {
    await client.post(`/v1/agent/conversations/${encodeURIComponent(id)}/${what}`, body || {});
    const msg = { assign: body && body.user_id ? 'c.assigned' : 'c.tookOver', handback: 'c.handedBack', resolve: 'c.resolved' }[what];
    toast(t(msg), 'success');
    if (what === 'resolve' || what === 'handback') {
      // Leave the queue view consistent; keep the conversation open.
    }
  } catch (err) {
    toast(err.status === 409 ? t('c.taken') : errorMessage(t, err), 'error');
  }
  refreshList();
  if (state.convId === id) openConversation(id, true);
}

async function assignMenu(anchor) {
  closePopover();
  try {
    const res = await client.get('/v1/agent/users');
    state.users = (res && res.users) || [];
  } catch (err) {
    toast(errorMessage(t, err), 'error');
    return;
  }
  const items = state.users.map((u) =>
    h(
      'button',
      {
        class: 'menu-item',
        type: 'button',
        role: 'menuitem',
        onclick: () => {
          closePopover();
          act('assign', { user_id: u.id });
        },
      },
      h('span', { class: 'dot ' + (u.presence || 'offline'), 'aria-hidden': 'true' }),
      h('span', { class: 'menu-label', text: u.name || u.email || u.id }),
      h('span', { class: 'muted small', text: t('c.presence.' + (u.presence || 'offline')) }),
    ),
  );
  const pop = h('div', { class: 'popover', role: 'menu', 'aria-label': t('c.assignTo') }, items.length ? items : h('p', { class: 'muted', text: t('c.noAgents') }));
  const r = anchor.getBoundingClientRect();
  pop.style.top = r.bottom + 6 + 'px';
  pop.style.left = Math.max(8, Math.min(window.innerWidth - 270, r.left)) + 'px';
  document.body.appendChild(pop);
  ui.popover = pop;
  const first = pop.querySelector('button');
  if (first) first.focus();
  pop.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      closePopover();
      anchor.focus();
    }
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const list = [...pop.querySelectorAll('button')];
      const i = list.indexOf(document.activeElement);
      const n = list[(i + (e.key === 'ArrowDown' ? 1 : list.length - 1)) % list.length];
      if (n) n.focus();
    }
  });
  setTimeout(() => document.addEventListener('click', onDocClick), 0);
}

function onDocClick(e) {
  if (ui.popover && !ui.popover.contains(e.target)) closePopover();
}

function closePopover() {
  document.removeEventListener('click', onDocClick);
  if (ui.popover) ui.popover.remove();
  ui.popover = null;
}

// ---- composer ----

function composer() {
  const input = h('textarea', {
    class: 'reply-input',
    rows: '3',
    'aria-label': t('c.reply'),
    placeholder: t('c.replyPlaceholder'),
  });
  const privateToggle = h('input', { type: 'checkbox', id: 'private-toggle', class: 'switch' });
  const sendBtn = h('button', { class: 'btn primary', type: 'button' }, icon('send'), t('c.send'));
  const draftBtn = h('button', { class: 'btn', type: 'button' }, icon('spark'), t('c.aiDraft'));
  const suggest = h('ul', { class: 'suggest', role: 'listbox', hidden: true, 'aria-label': t('c.canned') });
  const wrap = h(
    'div',
    { class: 'composer' },
    suggest,
    input,
    h(
      'div',
      { class: 'composer-bar' },
      h('label', { class: 'toggle', for: 'private-toggle' }, privateToggle, h('span', { class: 'toggle-ui', 'aria-hidden': 'true' }), icon('lock'), t('c.privateNote')),
      draftBtn,
      h('span', { class: 'hint muted', text: t('c.cannedHint') }),
      h('div', { class: 'spacer' }),
      sendBtn,
    ),
  );
  ui.input = input;
  ui.draftBtn = draftBtn;

  const syncMode = () => {
    wrap.classList.toggle('private', privateToggle.checked);
    sendBtn.replaceChildren(icon(privateToggle.checked ? 'lock' : 'send'), privateToggle.checked ? t('c.addNote') : t('c.send'));
    input.placeholder = privateToggle.checked ? t('c.notePlaceholder') : t('c.replyPlaceholder');
  };
  privateToggle.addEventListener('change', syncMode);

  let matches = [];
  let active = 0;
  const showSuggest = () => {
    const m = /^\/(\S*)$/.exec(input.value);
    matches = m ? state.canned.filter((c) => c.shortcut.toLowerCase().startsWith(m[1].toLowerCase())).slice(0, 8) : [];
    if (!matches.length) {
      suggest.hidden = true;
      input.removeAttribute('aria-activedescendant');
      return;
    }
    active = Math.min(active, matches.length - 1);
    suggest.replaceChildren(
      ...matches.map((c, i) =>
        h(
          'li',
          {
            id: 'canned-' + i,
            role: 'option',
            class: i === active ? 'active' : '',
            'aria-selected': i === active ? 'true' : 'false',
            onmousedown: (e) => {
              e.preventDefault();
              pick(i);
            },
          },
          h('strong', { text: '/' + c.shortcut }),
          h('span', { text: oneLine(c.content) }),
        ),
      ),
    );
    suggest.hidden = false;
    input.setAttribute('aria-activedescendant', 'canned-' + active);
  };
  const pick = (i) => {
    input.value = matches[i].content;
    suggest.hidden = true;
    input.focus();
  };

  input.addEventListener('input', () => {
    active = 0;
    showSuggest();
    const now = Date.now();
    if (now - state.lastTyping > TYPING_INTERVAL && !privateToggle.checked) {
      state.lastTyping = now;
      send({ type: 'typing' });
    }
  });
  input.addEventListener('keydown', (e) => {
    if (!suggest.hidden) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        active = (active + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length;
        showSuggest();
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        pick(active);
        return;
      }
      if (e.key === 'Escape') {
        suggest.hidden = true;
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });

  const submit = async () => {
    const content = input.value.trim();
    if (!content) return;
    stopDraft();
    sendBtn.disabled = true;
    try {
      const res = await client.post(`/v1/agent/conversations/${encodeURIComponent(state.convId)}/messages`, { content, private: privateToggle.checked });
      input.value = '';
      if (res && res.message) applyMessage(res.message);
      else if (res && res.id) applyMessage(res);
      scrollToBottom();
    } catch (err) {
      toast(err.status === 409 ? t('c.taken') : errorMessage(t, err), 'error');
    }
    sendBtn.disabled = false;
    input.focus();
  };
  sendBtn.addEventListener('click', submit);
  draftBtn.addEventListener('click', () => (state.draft ? stopDraft() : startDraft()));
  syncMode();
  return wrap;
}

// startDraft streams an AI draft into the editor; it is never sent until
// the agent presses Send.
async function startDraft() {
  const input = ui.input;
  if (!input || !state.convId) return;
  const ctrl = new AbortController();
  state.draft = ctrl;
  ui.draftBtn.replaceChildren(icon('close'), t('c.stopDraft'));
  ui.draftBtn.classList.add('busy');
  input.value = '';
  input.classList.add('drafting');
  try {
    await client.stream(
      '/v1/agent/drafts',
      { conversation_id: state.convId },
      (ev) => {
        if (ev.type === 'delta' && typeof ev.payload === 'string') {
          input.value += ev.payload;
          input.scrollTop = input.scrollHeight;
        } else if (ev.type === 'error') {
          toast(ev.message || t('c.draftFailed'), 'error');
          return false;
        } else if (ev.type === 'done') {
          return false;
        }
      },
      ctrl.signal,
    );
  } catch (err) {
    if (err.name !== 'AbortError') toast(errorMessage(t, err), 'error');
  }
  if (state.draft === ctrl) {
    state.draft = null;
    if (ui.draftBtn) {
      ui.draftBtn.replaceChildren(icon('spark'), t('c.aiDraft'));
      ui.draftBtn.classList.remove('busy');
    }
    input.classList.remove('drafting');
    input.focus();
  }
}

function stopDraft() {
  if (state.draft) {
    state.draft.abort();
    state.draft = null;
  }
  if (ui.draftBtn) {
    ui.draftBtn.replaceChildren(icon('spark'), t('c.aiDraft'));
    ui.draftBtn.classList.remove('busy');
  }
  if (ui.input) ui.input.classList.remove('drafting');
}

async function setPresence(p) {
  try {
    await client.put('/v1/agent/presence', { presence: p });
    client.save({ ...client.auth, user: { ...me(), presence: p } });
    ui.presenceDot.className = 'dot ' + p;
  } catch (err) {
    toast(errorMessage(t, err), 'error');
  }
}

// Expose a copy helper for keyboard users on the conversation id (debugging aid).
document.addEventListener('keydown', (e) => {
  if (e.key === 'i' && e.altKey && state.convId) copyText(t, state.convId);
});

render();
