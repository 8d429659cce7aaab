// Small DOM helpers shared by the console and the admin. Text always goes in
// through text nodes; nothing here parses HTML.

import { MESSAGES, pickLang, translator } from './i18n.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

const ICONS = {
  logo: 'M4 6.5A2.5 2.5 0 0 1 6.5 4h11A2.5 2.5 0 0 1 20 6.5v7a2.5 2.5 0 0 1-2.5 2.5H11l-4 3.5V16h-.5A2.5 2.5 0 0 1 4 13.5zM8 9h8M8 12h5',
  inbox: 'M4 13l2.5-8h11L20 13v6H4zM4 13h5l1 2h4l1-2h5',
  user: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 8a7 7 0 0 1 14 0',
  bot: 'M7 9h10a3 3 0 0 1 3 3v5a3 3 0 0 1-3 3H7a3 3 0 0 1-3-3v-5a3 3 0 0 1 3-3zM12 4v5M9 14h.01M15 14h.01',
  clock: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 7v5l3 2',
  check: 'M5 12.5l4.5 4.5L19 7.5',
  queue: 'M4 6h16M4 12h16M4 18h10',
  mail: 'M4 6h16v12H4zM4 7l8 6 8-6',
  spark: 'M12 3l1.8 5.2L19 10l-5.2 1.8L12 17l-1.8-5.2L5 10l5.2-1.8z',
  send: 'M4 12l16-8-6 16-2.5-6.5z',
  lock: 'M6 11h12v9H6zM8.5 11V8a3.5 3.5 0 0 1 7 0v3',
  close: 'M6 6l12 12M18 6L6 18',
  copy: 'M9 9h10v11H9zM5 15V4h10',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  globe: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM3 12h18M12 3c2.5 2.5 3.5 5.5 3.5 9s-1 6.5-3.5 9c-2.5-2.5-3.5-5.5-3.5-9S9.5 5.5 12 3z',
  key: 'M14 10a4 4 0 1 0-3.9 4H12v2h2v2h3v-3l-3.4-3.4A4 4 0 0 0 14 10z',
  book: 'M5 4h11a3 3 0 0 1 3 3v13H8a3 3 0 0 1-3-3zM5 17a3 3 0 0 1 3-3h11',
  shield: 'M12 3l7 3v6c0 4.5-3 7.5-7 9-4-1.5-7-4.5-7-9V6z',
  chart: 'M4 20V10M10 20V4M16 20v-7M22 20H2',
  filter: 'M4 5h16l-6 8v6l-4-2v-4z',
  hand: 'M12 3v9M8 6v7M16 6v7M5 13a7 7 0 0 0 14 0v-2',
};

export function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  const p = document.createElementNS(SVG_NS, 'path');
  p.setAttribute('d', ICONS[name] || ICONS.spark);
  p.setAttribute('fill', 'none');
  p.setAttribute('stroke', 'currentColor');
  p.setAttribute('stroke-width', '1.8');
  p.setAttribute('stroke-linecap', 'round');
  p.setAttribute('stroke-linejoin', 'round');
  svg.appendChild(p);
  return svg;
}

// h creates an element: h('div', {class: 'x', onclick: fn}, child…).
// Strings become text nodes; properties listed in PROPS are set directly.
const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'indeterminate']);
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else if (v === false) continue;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

// ---- language ----

const LANG_KEY = 'switchboard:lang';

export function currentLang() {
  try {
    const l = localStorage.getItem(LANG_KEY);
    if (l && MESSAGES[l]) return l;
  } catch {}
  return pickLang(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
}

export function setLang(lang) {
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {}
}

export function makeT() {
  const lang = currentLang();
  document.documentElement.lang = lang;
  return translator(lang);
}

export function langToggle(t, onChange) {
  const lang = currentLang();
  const next = lang === 'en' ? 'zh-CN' : 'en';
  return h(
    'button',
    {
      class: 'btn ghost small',
      type: 'button',
      'aria-label': t('ui.switchLang'),
      title: t('ui.switchLang'),
      onclick: () => {
        setLang(next);
        onChange();
      },
    },
    icon('globe'),
    next === 'en' ? 'English' : '中文',
  );
}

// ---- feedback ----

let toastHost = null;

export function toast(text, kind = 'info') {
  if (!toastHost) {
    toastHost = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(toastHost);
  }
  const el = h('div', { class: 'toast ' + kind }, h('span', { text }));
  const close = h('button', { class: 'toast-x', type: 'button', 'aria-label': 'Dismiss', onclick: () => el.remove() }, icon('close'));
  el.appendChild(close);
  toastHost.appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 5000);
}

export function errorMessage(t, err) {
  if (!err) return t('ui.err.generic');
  if (err.status === 409) return t('ui.err.conflict');
  if (err.status === 403) return t('ui.err.forbidden');
  if (err.code === 'network') return t('ui.err.network');
  if (err.status === 429) return t('ui.err.rate');
  return err.message || t('ui.err.generic');
}

export async function copyText(t, text) {
  try {
    await navigator.clipboard.writeText(text);
    toast(t('ui.copied'), 'success');
  } catch {
    toast(t('ui.copyFailed'), 'error');
  }
}

export function copyButton(t, getText) {
  return h('button', { class: 'btn small', type: 'button', onclick: () => copyText(t, getText()) }, icon('copy'), t('ui.copy'));
}

// ---- time ----

export function relTime(t, value) {
  if (!value) return '';
  const d = new Date(value);
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < 45) return t('ui.time.now');
  if (s < 3600) return t('ui.time.min', { n: Math.round(s / 60) });
  if (s < 86400) return t('ui.time.hour', { n: Math.round(s / 3600) });
  return d.toLocaleDateString(currentLang(), { month: 'short', day: 'numeric' });
}

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/);
  const chars = parts.map((p) => Array.from(p)[0] || '').join('');
  return (chars.length > 2 ? chars[0] + chars[chars.length - 1] : chars).toUpperCase() || '?';
}

// ---- login ----

// loginView renders the sign-in card into root and calls onDone(user).
export function loginView(root, { t, client, title, subtitle, onDone, rerender }) {
  const email = h('input', { type: 'email', id: 'login-email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', id: 'login-password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { class: 'btn primary block', type: 'submit' }, t('ui.signIn'));
  const form = h(
    'form',
    { class: 'login-card', 'aria-labelledby': 'login-title' },
    h('div', { class: 'login-brand' }, h('span', { class: 'brand-mark' }, icon('logo')), h('span', { text: 'Switchboard' })),
    h('h1', { id: 'login-title', text: title }),
    h('p', { class: 'muted', text: subtitle }),
    h('label', { for: 'login-email', text: t('ui.email') }),
    email,
    h('label', { for: 'login-password', text: t('ui.password') }),
    password,
    err,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    submit.disabled = true;
    try {
      const user = await client.login(email.value.trim(), password.value);
      onDone(user);
    } catch (ex) {
      err.textContent = ex.status === 401 || ex.status === 400 ? t('ui.badLogin') : errorMessage(t, ex);
      err.hidden = false;
      submit.disabled = false;
      password.select();
    }
  });
  root.replaceChildren(h('main', { class: 'login' }, form, h('div', { class: 'login-foot' }, langToggle(t, rerender))));
  email.focus();
}

// setTitle sets document.title with an optional unread count badge.
export function setTitle(base, count) {
  document.title = count > 0 ? `(${count}) ${base}` : base;
}
