// Admin: agents, inboxes, word lists, API keys, knowledge base, providers.

import { Client } from '/static/api.js';
import { copyButton, currentLang, errorMessage, h, icon, initials, langToggle, loginView, makeT, relTime, toast } from '/static/ui.js';

const TABS = [
  { id: 'agents', icon: 'user' },
  { id: 'inboxes', icon: 'inbox' },
  { id: 'words', icon: 'filter' },
  { id: 'keys', icon: 'key' },
  { id: 'kb', icon: 'book' },
  { id: 'providers', icon: 'chart' },
];

const client = new Client();
const root = document.getElementById('app');
let t = makeT();
let main = null;
let timer = 0;
const state = { tab: tabFromHash(), inboxes: null, inboxId: '' };

client.onLogout = () => render();

function tabFromHash() {
  const id = location.hash.slice(1);
  return TABS.some((x) => x.id === id) ? id : 'agents';
}

window.addEventListener('hashchange', () => {
  const id = tabFromHash();
  if (id !== state.tab) {
    state.tab = id;
    render();
  }
});

// list returns the first array in a response ({users:[…]}, {keys:[…]}…).
function list(res, ...names) {
  if (Array.isArray(res)) return res;
  for (const n of names) if (res && Array.isArray(res[n])) return res[n];
  for (const v of Object.values(res || {})) if (Array.isArray(v)) return v;
  return [];
}

function fail(err) {
  toast(errorMessage(t, err), 'error');
}

function field(label, input, help) {
  const id = input.id || 'f-' + Math.random().toString(36).slice(2, 9);
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label, help ? h('span', { class: 'help', text: ' — ' + help }) : null), input);
}

function fmtNum(n, digits = 0) {
  if (n === undefined || n === null || Number.isNaN(Number(n))) return t('ui.none');
  return Number(n).toLocaleString(currentLang(), { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function fmtDate(v) {
  if (!v) return t('ui.none');
  const d = new Date(v);
  return Number.isNaN(d.getTime()) || d.getFullYear() < 2000 ? t('ui.none') : d.toLocaleString(currentLang(), { dateStyle: 'medium', timeStyle: 'short' });
}

function lines(s) {
  return String(s || '')
    .split('\n')
    .map((x) => x.trim())
    .filter(Boolean);
}

// ---- shell ----

function render() {
  t = makeT();
  clearInterval(timer);
  if (!client.token) {
    document.title = t('a.title');
    loginView(root, { t, client, title: t('a.loginTitle'), subtitle: t('a.loginSub'), onDone: render, rerender: render });
    return;
  }
  const user = client.user || {};
  document.title = `${t('a.tab.' + state.tab)} · ${t('a.title')}`;
  const topbar = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '/admin' }, h('span', { class: 'brand-mark' }, icon('logo')), h('span', { text: 'Switchboard' }), h('small', { text: t('a.admin') })),
    h('div', { class: 'spacer' }),
    langToggle(t, render),
    h('a', { class: 'btn ghost small', href: '/console' }, icon('inbox'), t('c.console')),
    h('span', { class: 'who' }, h('span', { class: 'avatar small', text: initials(user.name || user.email) }), h('span', { text: user.name || user.email || '' })),
    h('button', { class: 'btn ghost small', type: 'button', onclick: () => client.logout() }, icon('logout'), t('ui.signOut')),
  );
  if (user.role && user.role !== 'admin') {
    root.replaceChildren(
      h('div', { class: 'admin' }, topbar, h('main', { class: 'admin-main' }, h('div', { class: 'notice' }, h('p', { text: t('a.adminsOnly') }), h('a', { href: '/console', text: t('a.toConsole') })))),
    );
    return;
  }
  const tabs = h(
    'div',
    { class: 'tabs', role: 'tablist', 'aria-label': t('a.admin') },
    ...TABS.map((x) =>
      h(
        'button',
        {
          class: 'tab',
          type: 'button',
          role: 'tab',
          id: 'tab-' + x.id,
          'aria-selected': x.id === state.tab ? 'true' : 'false',
          'aria-controls': 'panel',
          tabindex: x.id === state.tab ? '0' : '-1',
          onclick: () => {
            location.hash = x.id;
          },
          onkeydown: (e) => {
            if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
            const i = TABS.findIndex((y) => y.id === state.tab);
            const n = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length];
            location.hash = n.id;
            setTimeout(() => document.getElementById('tab-' + n.id)?.focus(), 0);
          },
        },
        icon(x.icon),
        t('a.tab.' + x.id),
      ),
    ),
  );
  main = h('main', { class: 'admin-main', id: 'panel', role: 'tabpanel', 'aria-labelledby': 'tab-' + state.tab }, h('p', { class: 'muted', text: t('ui.loading') }));
  root.replaceChildren(h('div', { class: 'admin' }, topbar, tabs, main));
  const views = { agents, inboxes, words, keys, kb, providers };
  views[state.tab]().catch((err) => {
    if (err && err.status !== 401) {
      main.replaceChildren(h('div', { class: 'notice', text: errorMessage(t, err) }));
    }
  });
}

async function loadInboxes(force) {
  if (!state.inboxes || force) state.inboxes = list(await client.get('/v1/admin/inboxes'), 'inboxes');
  if (!state.inboxes.some((i) => i.id === state.inboxId)) state.inboxId = (state.inboxes[0] && state.inboxes[0].id) || '';
  return state.inboxes;
}

function inboxPicker(onChange) {
  const sel = h(
    'select',
    {
      onchange: (e) => {
        state.inboxId = e.target.value;
        onChange();
      },
    },
    ...state.inboxes.map((i) => h('option', { value: i.id, text: i.name || i.id, selected: i.id === state.inboxId })),
  );
  return h('div', { class: 'row' }, field(t('a.inbox'), sel));
}

function secretBox(title, secret, note) {
  return h(
    'div',
    { class: 'secret-wrap', role: 'status' },
    h('div', { class: 'secret-title', text: title }),
    h('div', { class: 'secret' }, h('code', { text: secret }), copyButton(t, () => secret)),
    h('p', { class: 'muted small', text: note }),
  );
}

// ---- agents ----

async function agents() {
  const users = list(await client.get('/v1/admin/users'), 'users');
  const rows = users.map((u) => {
    const name = h('input', { type: 'text', value: u.name || '', 'aria-label': t('a.name') });
    const role = h(
      'select',
      { 'aria-label': t('a.role') },
      h('option', { value: 'agent', text: t('a.role.agent'), selected: u.role !== 'admin' }),
      h('option', { value: 'admin', text: t('a.role.admin'), selected: u.role === 'admin' }),
    );
    const cap = h('input', { type: 'number', min: '0', max: '100', value: String(u.capacity || 0), 'aria-label': t('a.capacity') });
    const save = h('button', { class: 'btn small', type: 'button' }, t('ui.save'));
    save.addEventListener('click', async () => {
      save.disabled = true;
      try {
        await client.patch(`/v1/admin/users/${encodeURIComponent(u.id)}`, { name: name.value.trim(), role: role.value, capacity: Number(cap.value) || 0 });
        toast(t('ui.saved'), 'success');
      } catch (err) {
        fail(err);
      }
      save.disabled = false;
    });
    return h(
      'tr',
      {},
      h('td', {}, h('div', { class: 'row nowrap' }, h('span', { class: 'avatar small', text: initials(u.name || u.email) }), name)),
      h('td', { text: u.email }),
      h('td', {}, role),
      h('td', { class: 'num' }, cap),
      h('td', {}, h('span', { class: 'row' }, h('span', { class: 'dot ' + (u.presence || 'offline') }), t('c.presence.' + (u.presence || 'offline')))),
      h('td', { class: 'num' }, save),
    );
  });
  const table = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data' },
      h('thead', {}, h('tr', {}, h('th', { text: t('a.name') }), h('th', { text: t('a.email') }), h('th', { text: t('a.role') }), h('th', { class: 'num', text: t('a.capacity') }), h('th', { text: t('a.presence') }), h('th', {}))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: '6', class: 'muted', text: t('a.empty') }))),
    ),
  );

  const email = h('input', { type: 'email', required: true, autocomplete: 'off' });
  const name = h('input', { type: 'text', required: true, autocomplete: 'off' });
  const role = h('select', {}, h('option', { value: 'agent', text: t('a.role.agent') }), h('option', { value: 'admin', text: t('a.role.admin') }));
  const cap = h('input', { type: 'number', min: '0', max: '100', value: '5' });
  const out = h('div', {});
  const form = h(
    'form',
    { class: 'grid-form' },
    field(t('a.email'), email),
    field(t('a.name'), name),
    field(t('a.role'), role),
    field(t('a.capacity'), cap),
    h('div', {}, h('button', { class: 'btn primary', type: 'submit' }, t('ui.create'))),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const res = await client.post('/v1/admin/users', { email: email.value.trim(), name: name.value.trim(), role: role.value, capacity: Number(cap.value) || 0 });
      const pw = res.password || res.one_time_password || res.temporary_password || '';
      await agents();
      if (pw) main.lastChild.appendChild(secretBox(t('a.oneTimePassword', { email: email.value.trim() }), pw, t('a.shownOnce')));
    } catch (err) {
      fail(err);
    }
  });
  main.replaceChildren(
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', { text: t('a.tab.agents') })), table),
    h('section', { class: 'card stack' }, h('h2', { text: t('a.addAgent') }), form, out),
  );
}

// ---- inboxes ----

async function inboxes() {
  await loadInboxes(true);
  const side = h(
    'ul',
    { class: 'side-list', 'aria-label': t('a.tab.inboxes') },
    ...state.inboxes.map((i) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            'aria-current': i.id === state.inboxId ? 'true' : 'false',
            onclick: () => {
              state.inboxId = i.id;
              inboxes();
            },
          },
          i.name || i.id,
          h('small', { text: i.widget_key || '' }),
        ),
      ),
    ),
  );
  const newName = h('input', { type: 'text', placeholder: t('a.inboxName'), 'aria-label': t('a.inboxName') });
  const newForm = h('form', { class: 'stack' }, newName, h('button', { class: 'btn', type: 'submit' }, icon('inbox'), t('a.newInbox')));
  newForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!newName.value.trim()) return newName.focus();
    try {
      const res = await client.post('/v1/admin/inboxes', { name: newName.value.trim() });
      const inbox = res.inbox || res;
      if (inbox && inbox.id) state.inboxId = inbox.id;
      await inboxes();
    } catch (err) {
      fail(err);
    }
  });
  const inbox = state.inboxes.find((i) => i.id === state.inboxId);
  main.replaceChildren(h('div', { class: 'two-col' }, h('div', { class: 'stack' }, side, h('div', { class: 'card' }, newForm)), inbox ? inboxEditor(inbox) : h('div', { class: 'card muted', text: t('a.empty') })));
}

function inboxEditor(inbox) {
  const s = inbox.settings || {};
  const snippet = `<script src="${location.origin}/widget.js" data-widget-key="${inbox.widget_key}" async></script>`;
  const name = h('input', { type: 'text', value: inbox.name || '' });
  const origins = h('textarea', { rows: '3', value: (inbox.allowed_origins || []).join('\n') });
  const greeting = h('textarea', { rows: '2', value: s.greeting || '' });
  const prompt = h('textarea', { rows: '5', value: s.system_prompt || '' });
  const route = h('input', { type: 'text', value: s.route || '', placeholder: 'default' });
  const phrases = h('textarea', { rows: '3', value: (s.handoff_phrases || []).join('\n') });
  const kbOn = h('input', { type: 'checkbox', checked: !!s.knowledge_base });
  const kbMiss = h('input', { type: 'number', min: '0', max: '20', value: String(s.kb_miss_handoff || 0) });
  const bh = s.business_hours || null;
  const hoursOn = h('input', { type: 'checkbox', checked: !!bh });
  const tz = h('input', { type: 'text', value: (bh && bh.time_zone) || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' });
  const open = h('input', { type: 'time', value: (bh && bh.open) || '09:00' });
  const close = h('input', { type: 'time', value: (bh && bh.close) || '18:00' });
  const days = [0, 1, 2, 3, 4, 5, 6].map((d) => h('input', { type: 'checkbox', value: String(d), checked: bh ? (bh.days || []).includes(d) : d >= 1 && d <= 5 }));
  const hoursBox = h(
    'div',
    { class: 'grid-form' },
    field(t('a.timeZone'), tz),
    field(t('a.open'), open),
    field(t('a.close'), close),
    h('div', { class: 'field' }, h('span', { class: 'label', text: t('a.days') }), h('div', { class: 'days' }, ...days.map((cb, d) => h('label', { class: 'day' }, cb, t('a.day.' + d))))),
  );
  const syncHours = () => (hoursBox.hidden = !hoursOn.checked);
  hoursOn.addEventListener('change', syncHours);
  syncHours();

  const cannedRows = h('div', { class: 'stack' });
  const addCanned = (c) => {
    const sc = h('input', { type: 'text', value: c.shortcut || '', placeholder: 'refund', 'aria-label': t('a.shortcut') });
    const ct = h('textarea', { rows: '2', value: c.content || '', 'aria-label': t('a.content') });
    const row = h('div', { class: 'canned-row' }, sc, ct, h('button', { class: 'btn ghost small', type: 'button', 'aria-label': t('a.remove'), onclick: () => row.remove() }, icon('close')));
    row.read = () => ({ shortcut: sc.value.trim().replace(/^\//, ''), content: ct.value.trim() });
    cannedRows.appendChild(row);
  };
  (s.canned || []).forEach(addCanned);

  const save = h('button', { class: 'btn primary', type: 'submit' }, t('ui.save'));
  const form = h(
    'form',
    { class: 'stack' },
    h('div', { class: 'grid-form' }, field(t('a.inboxName'), name), field(t('a.route'), route)),
    field(t('a.allowedOrigins'), origins, t('a.allowedOriginsHelp')),
    field(t('a.greeting'), greeting),
    field(t('a.systemPrompt'), prompt),
    field(t('a.handoffPhrases'), phrases, t('a.handoffHelp')),
    h('label', { class: 'check' }, kbOn, t('a.kbEnabled')),
    field(t('a.kbMiss'), kbMiss),
    h('label', { class: 'check' }, hoursOn, t('a.hoursEnabled')),
    hoursBox,
    h('div', { class: 'stack' }, h('h3', { text: t('a.canned') }), cannedRows, h('div', {}, h('button', { class: 'btn small', type: 'button', onclick: () => addCanned({}) }, t('a.addCanned')))),
    h('div', { class: 'actions-end' }, save),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const settings = {
      ...s,
      greeting: greeting.value.trim(),
      system_prompt: prompt.value.trim(),
      route: route.value.trim(),
      handoff_phrases: lines(phrases.value),
      knowledge_base: kbOn.checked,
      kb_miss_handoff: Number(kbMiss.value) || 0,
      business_hours: hoursOn.checked
        ? { ...(bh || {}), time_zone: tz.value.trim() || 'UTC', days: days.filter((d) => d.checked).map((d) => Number(d.value)), open: open.value, close: close.value }
        : null,
      canned: [...cannedRows.children].map((r) => r.read()).filter((c) => c.shortcut && c.content),
    };
    save.disabled = true;
    try {
      await client.patch(`/v1/admin/inboxes/${encodeURIComponent(inbox.id)}`, { name: name.value.trim(), allowed_origins: lines(origins.value), settings });
      toast(t('ui.saved'), 'success');
      await loadInboxes(true);
    } catch (err) {
      fail(err);
    }
    save.disabled = false;
  });
  return h(
    'div',
    { class: 'stack' },
    h(
      'section',
      { class: 'card stack' },
      h('div', { class: 'card-head' }, h('h2', { text: t('a.snippet') }), h('span', { class: 'muted mono', text: t('a.widgetKey') + ': ' + inbox.widget_key })),
      h('p', { class: 'muted', text: t('a.snippetHelp') }),
      h('div', { class: 'snippet' }, h('code', { text: snippet }), copyButton(t, () => snippet)),
    ),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', { text: inbox.name || inbox.id })), form),
  );
}

// ---- word lists ----

const ACTIONS = ['block', 'mask', 'review', 'handoff'];

async function words() {
  await loadInboxes();
  if (!state.inboxId) {
    main.replaceChildren(h('div', { class: 'card muted', text: t('a.empty') }));
    return;
  }
  const res = await client.get(`/v1/admin/inboxes/${encodeURIComponent(state.inboxId)}/words`);
  const byAction = {};
  for (const l of list(res, 'lists')) byAction[l.action] = (byAction[l.action] || []).concat(l.words || []);
  const areas = {};
  const boxes = ACTIONS.map((a) => {
    areas[a] = h('textarea', { value: (byAction[a] || []).join('\n'), placeholder: t('a.words.onePerLine'), spellcheck: 'false' });
    return h('div', { class: 'field' }, h('label', { for: 'w-' + a }, t('a.words.' + a), h('span', { class: 'help', text: ' — ' + t('a.words.' + a + 'Help') })), Object.assign(areas[a], { id: 'w-' + a }));
  });
  const save = h('button', { class: 'btn primary', type: 'submit' }, t('ui.save'));
  const form = h('form', { class: 'stack' }, h('div', { class: 'words-grid' }, ...boxes), h('div', { class: 'actions-end' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      await client.put(`/v1/admin/inboxes/${encodeURIComponent(state.inboxId)}/words`, { lists: ACTIONS.map((a) => ({ action: a, words: lines(areas[a].value) })) });
      toast(t('ui.saved'), 'success');
    } catch (err) {
      fail(err);
    }
    save.disabled = false;
  });
  main.replaceChildren(h('section', { class: 'card stack' }, h('div', { class: 'card-head' }, h('h2', { text: t('a.tab.words') })), inboxPicker(words), form));
}

// ---- API keys ----

async function keys(secret) {
  const items = list(await client.get('/v1/admin/api-keys'), 'keys', 'api_keys');
  const rows = items.map((k) => {
    const revoked = !!(k.revoked_at || k.revoked);
    return h(
      'tr',
      {},
      h('td', { text: k.name || '' }),
      h('td', { class: 'mono', text: (k.prefix || k.id || '') + '…' }),
      h('td', {}, h('span', { class: 'badge ' + (revoked ? 'bad' : 'ok'), text: revoked ? t('a.keys.revoked') : t('a.keys.active') })),
      h('td', { class: 'num', text: k.rate_limit ? fmtNum(k.rate_limit.requests || k.rate_limit) : t('ui.none') }),
      h('td', { class: 'num', text: k.budget ? '$' + fmtNum(k.budget.cost_per_day ?? k.budget, 2) : t('ui.none') }),
      h('td', { text: fmtDate(k.created_at) }),
      h('td', { text: k.last_used_at ? relTime(t, k.last_used_at) : t('ui.none') }),
      h(
        'td',
        { class: 'num' },
        revoked
          ? null
          : h(
              'button',
              {
                class: 'btn small danger',
                type: 'button',
                onclick: async () => {
                  if (!confirm(t('a.keys.confirmRevoke', { name: k.name || k.id }))) return;
                  try {
                    await client.del(`/v1/admin/api-keys/${encodeURIComponent(k.id)}`);
                    await keys();
                  } catch (err) {
                    fail(err);
                  }
                },
              },
              t('a.keys.revoke'),
            ),
      ),
    );
  });
  const name = h('input', { type: 'text', required: true, placeholder: 'checkout-bot' });
  const rate = h('input', { type: 'number', min: '0', placeholder: '60' });
  const budget = h('input', { type: 'number', min: '0', step: '0.01', placeholder: '5.00' });
  const form = h('form', { class: 'grid-form' }, field(t('a.name'), name), field(t('a.keys.rate'), rate), field(t('a.keys.budget'), budget), h('div', {}, h('button', { class: 'btn primary', type: 'submit' }, t('ui.create'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim() };
    if (Number(rate.value) > 0) body.rate_limit = { requests: Number(rate.value), window: 60e9 }; // window is a Go duration in ns
    if (Number(budget.value) > 0) body.budget = { cost_per_day: Number(budget.value) };
    try {
      const res = await client.post('/v1/admin/api-keys', body);
      await keys({ name: body.name, secret: res.secret });
    } catch (err) {
      fail(err);
    }
  });
  const createCard = h('section', { class: 'card stack' }, h('h2', { text: t('a.keys.new') }), form);
  if (secret && secret.secret) createCard.appendChild(secretBox(t('a.keys.secret', { name: secret.name }), secret.secret, t('a.shownOnce') + ' ' + t('a.keys.usage')));
  main.replaceChildren(
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', { text: t('a.tab.keys') })),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'data' },
          h(
            'thead',
            {},
            h('tr', {}, ...[t('a.name'), t('a.keys.prefix'), '', t('a.keys.rate'), t('a.keys.budget'), t('a.keys.created'), t('a.keys.lastUsed'), ''].map((x, i) => h('th', { class: i === 3 || i === 4 ? 'num' : '', text: x }))),
          ),
          h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: '8', class: 'muted', text: t('a.empty') }))),
        ),
      ),
    ),
    createCard,
  );
}

// ---- knowledge base ----

async function kb() {
  await loadInboxes();
  const q = state.inboxId ? `?inbox_id=${encodeURIComponent(state.inboxId)}` : '';
  const docs = list(await client.get('/v1/admin/kb/documents' + q), 'documents');
  const rows = docs.map((d) =>
    h(
      'tr',
      {},
      h('td', {}, h('strong', { text: d.title || d.id })),
      h('td', { class: 'muted', text: d.source || '' }),
      h('td', {}, h('span', { class: 'badge', text: d.format || 'markdown' })),
      h('td', { class: 'num', text: d.chunks !== undefined ? fmtNum(d.chunks) : t('ui.none') }),
      h('td', { text: fmtDate(d.updated_at || d.created_at) }),
      h(
        'td',
        { class: 'num' },
        h(
          'button',
          {
            class: 'btn small danger',
            type: 'button',
            onclick: async () => {
              if (!confirm(t('ui.confirmDelete', { name: d.title || d.id }))) return;
              try {
                await client.del(`/v1/admin/kb/documents/${encodeURIComponent(d.id)}`);
                await kb();
              } catch (err) {
                fail(err);
              }
            },
          },
          t('ui.delete'),
        ),
      ),
    ),
  );
  const title = h('input', { type: 'text', required: true });
  const source = h('input', { type: 'text', placeholder: 'https://…' });
  const format = h('select', {}, ...['markdown', 'text', 'html'].map((f) => h('option', { value: f, text: f })));
  const content = h('textarea', { rows: '10', required: true });
  const form = h('form', { class: 'stack' }, h('div', { class: 'grid-form' }, field(t('a.kb.docTitle'), title), field(t('a.kb.source'), source), field(t('a.kb.format'), format)), field(t('a.kb.content'), content), h('div', { class: 'actions-end' }, h('button', { class: 'btn primary', type: 'submit' }, t('a.kb.add'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await client.post('/v1/admin/kb/documents', { inbox_id: state.inboxId, title: title.value.trim(), source: source.value.trim(), format: format.value, content: content.value });
      toast(t('ui.saved'), 'success');
      await kb();
    } catch (err) {
      fail(err);
    }
  });
  main.replaceChildren(
    h(
      'section',
      { class: 'card stack' },
      h('div', { class: 'card-head' }, h('h2', { text: t('a.tab.kb') })),
      state.inboxes.length ? inboxPicker(kb) : null,
      rows.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'data' },
              h('thead', {}, h('tr', {}, h('th', { text: t('a.kb.docTitle') }), h('th', { text: t('a.kb.source') }), h('th', { text: t('a.kb.format') }), h('th', { class: 'num', text: t('a.kb.chunks') }), h('th', { text: t('a.kb.updated') }), h('th', {}))),
              h('tbody', {}, rows),
            ),
          )
        : h('p', { class: 'muted', text: t('a.kb.empty') }),
    ),
    h('section', { class: 'card stack' }, h('h2', { text: t('a.kb.add') }), form),
  );
}

// ---- providers ----

async function providers() {
  const res = await client.get('/v1/admin/providers');
  if (state.tab !== 'providers') return;
  const targets = list(res && res.targets);
  const usage = list(res && res.usage);
  const pct = (x) => (x === undefined || x === null ? t('ui.none') : fmtNum(x * 100, 1) + '%');
  const ms = (x) => (x ? fmtNum(x) + ' ms' : t('ui.none'));
  const th = (text, num) => h('th', { class: num ? 'num' : '', text });
  const targetTable = h(
    'table',
    { class: 'data' },
    h('thead', {}, h('tr', {}, th(t('a.p.route')), th(t('a.p.provider')), th(t('a.p.model')), th(t('a.p.breaker')), th(t('a.p.errorRate'), 1), th(t('a.p.ttft'), 1), th(t('a.p.requests'), 1), th(t('a.p.failures'), 1), th(t('a.p.tokens'), 1), th(t('a.p.spend'), 1))),
    h(
      'tbody',
      {},
      targets.length
        ? targets.map((x) => {
            const br = String(x.breaker || 'closed').replace('-', '_');
            return h(
              'tr',
              {},
              h('td', {}, h('strong', { text: x.route || '' })),
              h('td', { text: x.provider || '' }),
              h('td', { class: 'mono', text: x.model || '' }),
              h('td', {}, h('span', { class: 'badge ' + br, text: t('a.p.breaker.' + br) })),
              h('td', { class: 'num', text: pct(x.error_rate) }),
              h('td', { class: 'num', text: `${ms(x.ttft_p50_ms)} / ${ms(x.ttft_p95_ms)}` }),
              h('td', { class: 'num', text: fmtNum(x.requests) }),
              h('td', { class: 'num', text: fmtNum(x.failures) }),
              h('td', { class: 'num', text: fmtNum(x.tokens) }),
              h('td', { class: 'num', text: '$' + fmtNum(x.spend || 0, 4) }),
            );
          })
        : h('tr', {}, h('td', { colspan: '10', class: 'muted', text: t('a.empty') })),
    ),
  );
  const usageTable = h(
    'table',
    { class: 'data' },
    h('thead', {}, h('tr', {}, th(t('a.p.subject')), th(t('a.p.provider')), th(t('a.p.model')), th(t('a.p.requests'), 1), th(t('a.p.tokens'), 1), th(t('a.p.cost'), 1))),
    h(
      'tbody',
      {},
      usage.length
        ? usage.map((u) =>
            h('tr', {}, h('td', { text: u.subject || '' }), h('td', { text: u.provider || '' }), h('td', { class: 'mono', text: u.model || '' }), h('td', { class: 'num', text: fmtNum(u.requests) }), h('td', { class: 'num', text: fmtNum(u.tokens) }), h('td', { class: 'num', text: '$' + fmtNum(u.cost || 0, 4) })),
          )
        : h('tr', {}, h('td', { colspan: '6', class: 'muted', text: t('a.empty') })),
    ),
  );
  main.replaceChildren(
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', { text: t('a.p.targets') }), h('span', { class: 'muted small', text: t('a.p.refreshed') })), h('div', { class: 'table-wrap' }, targetTable)),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', { text: t('a.p.usage') })), h('div', { class: 'table-wrap' }, usageTable)),
  );
  clearInterval(timer);
  timer = setInterval(() => {
    if (state.tab === 'providers' && document.visibilityState === 'visible') providers().catch(() => {});
  }, 10000);
}

render();
