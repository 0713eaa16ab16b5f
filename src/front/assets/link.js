// What vncgate's console pages share: the status line, where the WebSocket goes (the token from
// the page's URL), asking /token-status before reconnecting, and the reconnect with backoff.

import { t, reason } from './i18n.js';

const statusLine = document.getElementById('status');

export function setStatus(text, kind) {
  statusLine.textContent = text;
  statusLine.className = kind || '';
  document.title = t('title.status', { status: text });
}

// Where the WebSocket goes, and the query that carries the token (for /token-status). The token
// comes from nova's ?path=%3Ftoken%3DX, noVNC's ?path=websockify%3Ftoken%3DX, or ?token=X.
export function target() {
  const params = new URLSearchParams(window.location.search);
  let path = params.get('path');
  if (path === null && params.get('token')) {
    path = `?token=${encodeURIComponent(params.get('token'))}`;
  }
  if (path === null) {
    return null;
  }
  if (!path.startsWith('/')) {
    path = `/${path}`;
  }
  const query = path.includes('?') ? path.slice(path.indexOf('?')) : '';
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return { url: `${scheme}//${window.location.host}${path}`, query };
}

// 204: the token would be admitted; 403: rejected, expired or used; 503: try later. A 204 says
// whether the token is a watch link (view only) and which way its clipboard may flow, which the
// proxy enforces whatever the page does;
// a 403 or 503 may say why the console cannot open (a virtual machine that is not running).
export async function tokenInfo(query) {
  try {
    const response = await fetch(`/token-status${query}`, { cache: 'no-store', credentials: 'same-origin' });
    return {
      status: response.status,
      viewOnly: response.headers.get('x-console-view-only') === 'true',
      // Which way the clipboard may flow: both, to-guest, from-guest or none.
      clipboard: response.headers.get('x-console-clipboard') || 'both',
      // The operator's settings of the page (`console_defaults`).
      defaults: parseDefaults(response.headers.get('x-console-defaults')),
      reason: response.headers.get('x-console-reason') || '',
    };
  } catch (e) {
    return { status: 0, viewOnly: false, clipboard: 'both', defaults: {}, reason: '' };
  }
}

function parseDefaults(text) {
  try {
    const value = JSON.parse(text || '{}');
    return value && typeof value === 'object' ? value : {};
  } catch (e) {
    return {};
  }
}

// A toolbar button that shows and hides the panel it controls.
export function wireToggle(button) {
  const panel = document.getElementById(button.getAttribute('aria-controls'));
  button.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    button.setAttribute('aria-expanded', String(!panel.hidden));
    if (!panel.hidden) panel.querySelector('textarea, select, input, button').focus();
  });
}

// Ctrl+Alt pressed and let go with no other key between leaves `area` (the screen, the
// terminal), which otherwise takes every key, Tab included, for the guest: `release` lets go of
// it and focus goes to the first control of the bar. (VMware's consoles release the keyboard
// the same way.) The guest sees Ctrl and Alt come and go, which does nothing.
export function leaveKey(area, release) {
  let alone = false;
  area.addEventListener('keydown', (event) => {
    if (event.key !== 'Control' && event.key !== 'Alt') alone = false;
    else if (event.ctrlKey && event.altKey) alone = true;
  }, true);
  area.addEventListener('keyup', (event) => {
    if (!alone || (event.key !== 'Control' && event.key !== 'Alt')) return;
    alone = false;
    release();
    document.querySelector('#bar button, #bar select').focus();
  }, true);
}

// While a session is open, leaving the page (a closed tab, a mistyped shortcut) asks first.
export function askBeforeLeaving(connected) {
  window.onbeforeunload = connected ? warnBeforeLeaving : null;
}

function warnBeforeLeaving(event) {
  event.preventDefault();
  event.returnValue = '';
  return '';
}

// The "Paste…" (or "Clipboard…") button shows and hides its panel.
export function wirePasteBox() {
  wireToggle(document.getElementById('paste-toggle'));
}

// Reconnects with backoff (1, 2, 4 … 30 s), eight times at most.
export class Retry {
  constructor(connect) {
    this.connect = connect;
    this.attempts = 0;
    this.timer = null;
    this.stopped = false;
  }

  succeeded() {
    this.attempts = 0;
  }

  schedule(where, why) {
    this.attempts += 1;
    if (this.attempts > 8) {
      setStatus(t('status.gave_up', { why }), 'error');
      return;
    }
    const delay = Math.min(30, 2 ** (this.attempts - 1));
    setStatus(t('status.reconnecting', { why, seconds: delay }), 'error');
    this.timer = setTimeout(() => this.connect(where), delay * 1000);
  }

  // After a session ended: stop for an expired session or a token now refused (403), else
  // reconnect. `connected` says whether the session had opened; `closed` is the close reason (the
  // proxy's English words, which the catalogue's reason keys hold).
  async ended(where, connected, why, closed) {
    if (closed === 'the console session has expired') {
      setStatus(t('status.expired'), 'error');
      return;
    }
    // An operator ended it: coming back at once would undo that.
    if (closed && closed.startsWith('the console session was ended by an administrator')) {
      setStatus(t('status.disconnected', { why: reason(closed) }), 'error');
      return;
    }
    const { status, reason: refusal } = await tokenInfo(where.query);
    // The proxy said why (the virtual machine is not running): that, not "invalid link".
    if (status === 403 && refusal) {
      const why = reason(refusal);
      setStatus(t(connected ? 'status.disconnected_reload' : 'status.cannot_open', { why }), 'error');
      return;
    }
    if (status === 403) {
      setStatus(connected ? t('status.link_no_longer_valid', { why }) : t('status.link_invalid'), 'error');
      return;
    }
    this.schedule(where, status === 503 ? (reason(refusal) || t('why.unavailable')) : why);
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
