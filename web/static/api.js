// API client of the console and the admin: JSON requests with the access
// token, one shared refresh when it expires, Retry-After on 503, and POST
// requests streamed as server-sent events.

const STORE = 'switchboard:auth';

export class APIError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter || 0;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function retryAfterSeconds(v) {
  if (!v) return 0;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(0, n);
  const d = Date.parse(v);
  return Number.isFinite(d) ? Math.max(0, (d - Date.now()) / 1000) : 0;
}

export class Client {
  constructor() {
    this.auth = null;
    try {
      this.auth = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    } catch {}
    this.refreshing = null;
    this.onLogout = () => {};
  }

  get user() {
    return this.auth && this.auth.user;
  }

  get token() {
    return (this.auth && this.auth.token) || '';
  }

  save(auth) {
    this.auth = auth;
    try {
      if (auth) sessionStorage.setItem(STORE, JSON.stringify(auth));
      else sessionStorage.removeItem(STORE);
    } catch {}
  }

  async login(email, password) {
    const res = await this.request('POST', '/v1/auth/login', { email, password }, { auth: false });
    this.save({ token: res.token, refresh_token: res.refresh_token, user: res.user || null });
    if (!res.user) {
      try {
        const me = await this.request('GET', '/v1/agent/me');
        this.save({ ...this.auth, user: me.user || me });
      } catch {}
    }
    return this.auth.user;
  }

  async logout() {
    const rt = this.auth && this.auth.refresh_token;
    try {
      if (rt) await this.request('POST', '/v1/auth/logout', { refresh_token: rt }, { retries: 0, noRefresh: true });
    } catch {}
    this.save(null);
    this.onLogout();
  }

  // refresh trades the refresh token for a new access token; concurrent
  // callers share one request.
  refresh() {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const rt = this.auth && this.auth.refresh_token;
        if (!rt) throw new APIError(401, 'unauthorized', 'Not signed in.');
        try {
          const res = await this.request('POST', '/v1/auth/refresh', { refresh_token: rt }, { auth: false, retries: 1 });
          this.save({ ...this.auth, token: res.token, refresh_token: res.refresh_token || rt, user: res.user || this.auth.user });
        } catch (err) {
          if (err.status === 401 || err.status === 400) {
            this.save(null);
            this.onLogout();
          }
          throw err;
        }
      })().finally(() => (this.refreshing = null));
    }
    return this.refreshing;
  }

  headers(opts, extra) {
    const h = { Accept: 'application/json', ...extra };
    if (opts.auth !== false && this.token) h.Authorization = 'Bearer ' + this.token;
    return h;
  }

  // request sends a JSON request and returns the decoded response.
  async request(method, path, body, opts = {}) {
    const retries = opts.retries ?? 2;
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const headers = this.headers(opts, body !== undefined ? { 'Content-Type': 'application/json' } : {});
      let res;
      try {
        res = await fetch(path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: opts.signal,
          cache: 'no-store',
        });
      } catch (err) {
        if (err.name === 'AbortError') throw err;
        if (attempt < retries) {
          await sleep(500 * 2 ** attempt);
          continue;
        }
        throw new APIError(0, 'network', 'Network error.');
      }
      const ra = retryAfterSeconds(res.headers.get('Retry-After'));
      if (res.status === 503 && attempt < retries) {
        await sleep(Math.min(10000, Math.max(ra * 1000, 1000 * 2 ** attempt)));
        continue;
      }
      if (res.status === 401 && opts.auth !== false && !opts.noRefresh && !refreshed && this.auth) {
        refreshed = true;
        await this.refresh();
        attempt--;
        continue;
      }
      if (res.status === 204) return null;
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

  get(path, opts) {
    return this.request('GET', path, undefined, opts);
  }
  post(path, body, opts) {
    return this.request('POST', path, body ?? {}, opts);
  }
  put(path, body, opts) {
    return this.request('PUT', path, body, opts);
  }
  patch(path, body, opts) {
    return this.request('PATCH', path, body, opts);
  }
  del(path, opts) {
    return this.request('DELETE', path, undefined, opts);
  }

  // stream POSTs body asking for text/event-stream and calls onEvent with
  // each decoded `data:` JSON object until the stream ends or signal aborts.
  async stream(path, body, onEvent, signal) {
    let refreshed = false;
    for (;;) {
      const res = await fetch(path, {
        method: 'POST',
        headers: this.headers({}, { 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
        body: JSON.stringify(body),
        signal,
        cache: 'no-store',
      });
      if (res.status === 401 && !refreshed) {
        refreshed = true;
        await this.refresh();
        continue;
      }
      if (!res.ok) {
        let data = null;
        try {
          data = await res.json();
        } catch {}
        const e = (data && data.error) || {};
        throw new APIError(res.status, e.code, e.message, retryAfterSeconds(res.headers.get('Retry-After')));
      }
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      let data = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          let line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (line === '') {
            if (data.length) {
              let ev = null;
              try {
                ev = JSON.parse(data.join('\n'));
              } catch {}
              data = [];
              if (ev && onEvent(ev) === false) {
                reader.cancel().catch(() => {});
                return;
              }
            }
          } else if (line.startsWith('data:')) {
            data.push(line.slice(5).replace(/^ /, ''));
          }
        }
      }
      return;
    }
  }
}
