// vncgate's console page, on noVNC's RFB class served by vncgate under /novnc/.
// The token comes from this page's URL: nova's ?path=%3Ftoken%3DX, noVNC's ?path=websockify%3Ftoken%3DX,
// or ?token=X. The WebSocket is opened here (not by noVNC) so that its close reason can be shown.

import { setStatus, target, tokenInfo, Retry, wirePasteBox, wireToggle, leaveKey, askBeforeLeaving } from './link.js';
import { t, reason, translatePage, operatorLanguage } from './i18n.js';

const screen = document.getElementById('screen');

// X11 keysyms for the combinations a browser keeps for itself.
const KEY = {
  ctrl: 0xffe3, alt: 0xffe9, del: 0xffff, backspace: 0xff08, tab: 0xff09, f1: 0xffbe,
  super: 0xffeb, print: 0xff61, escape: 0xff1b,
};
const COMBOS = {
  'ctrl-alt-backspace': [KEY.ctrl, KEY.alt, KEY.backspace],
  'ctrl-alt-f1': [KEY.ctrl, KEY.alt, KEY.f1],
  'ctrl-alt-f2': [KEY.ctrl, KEY.alt, KEY.f1 + 1],
  'ctrl-alt-f3': [KEY.ctrl, KEY.alt, KEY.f1 + 2],
  'ctrl-alt-f7': [KEY.ctrl, KEY.alt, KEY.f1 + 6],
  'alt-tab': [KEY.alt, KEY.tab],
  'alt-f4': [KEY.alt, KEY.f1 + 3],
  super: [KEY.super],
  print: [KEY.print],
  escape: [KEY.escape],
};

// A character's keysym: Latin-1 maps to itself, the rest to 0x01000000 + code point.
function keysymOf(ch) {
  const code = ch.codePointAt(0);
  if (ch === '\n') return 0xff0d;
  if (ch === '\t') return 0xff09;
  if ((code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff)) return code;
  return 0x01000000 + code;
}

let RFB = null;
let rfb = null;
// A watch link: the proxy drops this viewer's input; the page says so and sends none.
let watching = false;
// Which way the clipboard may flow (the proxy drops what may not): both, to-guest, from-guest,
// none.
let clipboard = 'both';
const fromGuest = () => clipboard === 'both' || clipboard === 'from-guest';
const toGuest = () => !watching && (clipboard === 'both' || clipboard === 'to-guest');

function clipboardNote(text) {
  document.getElementById('clipboard-note').textContent = text;
}

// The guest copied text: into the panel, and onto this computer's clipboard where the browser
// lets the page write it (the async Clipboard API needs the page focused).
function fromTheGuest(text) {
  if (!fromGuest()) return;
  document.getElementById('paste-text').value = text;
  clipboardNote(t('clipboard.copied_by_guest', { count: [...text].length }));
  if (navigator.clipboard && document.hasFocus()) navigator.clipboard.writeText(text).catch(() => {});
}

function applyClipboardPolicy() {
  document.getElementById('paste-clipboard').disabled = !toGuest();
  document.getElementById('paste-type').disabled = watching;
  const known = ['both', 'from-guest', 'to-guest', 'none'].includes(clipboard);
  clipboardNote(t(`clipboard.note.${known ? clipboard : 'both'}`));
}
const retry = new Retry((where) => connect(where));

function connect(where) {
  setStatus(t('status.connecting'));
  let closeReason = '';
  let failure = '';
  let connected = false;
  const socket = new WebSocket(where.url);
  socket.binaryType = 'arraybuffer';
  socket.addEventListener('close', (event) => { closeReason = event.reason || ''; });
  rfb = new RFB(screen, socket, { shared: true });
  fitTo(document.getElementById('resize').value);
  rfb.qualityLevel = Number(document.getElementById('quality').value);
  rfb.compressionLevel = Number(document.getElementById('compression').value);
  rfb.showDotCursor = document.getElementById('show-dot').checked;
  rfb.addEventListener('bell', () => { if (document.getElementById('bell').checked) bell(); });
  rfb.viewOnly = watching || document.getElementById('view-only').checked;
  rfb.focusOnClick = true;
  rfb.addEventListener('clipboard', (event) => fromTheGuest(event.detail.text));
  rfb.addEventListener('connect', () => {
    connected = true;
    retry.succeeded();
    askBeforeLeaving(true);
    setStatus(t(watching ? 'status.connected_view_only' : 'status.connected'), 'ok');
    rfb.focus();
  });
  rfb.addEventListener('desktopname', (event) => {
    const key = watching ? 'status.connected_view_only_named' : 'status.connected_named';
    if (connected) setStatus(t(key, { name: event.detail.name }), 'ok');
  });
  rfb.addEventListener('securityfailure', (event) => {
    failure = event.detail.reason ? reason(event.detail.reason) : t('why.refused');
  });
  rfb.addEventListener('disconnect', async (event) => {
    rfb = null;
    askBeforeLeaving(false);
    if (retry.stopped) return;
    const why = failure || reason(closeReason) || t(event.detail.clean ? 'why.closed' : 'why.lost');
    await retry.ended(where, connected, why, closeReason);
  });
}

// How the guest's screen meets the window: scaled to it; the guest asked to take the window's
// size (SetDesktopSize, when the server supports it; a watch link cannot ask); or at its own
// size, clipped, and dragged about with the mouse on small screens.
function fitTo(mode) {
  if (!rfb) return;
  rfb.scaleViewport = mode === 'scale';
  rfb.resizeSession = mode === 'remote' && !watching;
  rfb.clipViewport = mode === 'off';
  rfb.dragViewport = mode === 'off' && window.matchMedia('(pointer: coarse)').matches;
}

// Tablets and phones: a hidden field that brings up the on-screen keyboard (what is typed
// into it goes to the guest as keystrokes and the field stays empty), and Ctrl, Alt and Super
// that stay down for the next key, with Tab and Esc, which on-screen keyboards lack.
const STICKY = { ctrl: KEY.ctrl, alt: KEY.alt, super: KEY.super };
const held = new Set();

function setSticky(name, down) {
  if (down) held.add(name);
  else held.delete(name);
  document.getElementById(`sticky-${name}`).setAttribute('aria-pressed', String(down));
}

// One key, with the sticky modifiers held around it; they let go after it.
function tapKey(keysym) {
  if (!rfb || watching) return;
  const modifiers = [...held].map((name) => STICKY[name]);
  for (const modifier of modifiers) rfb.sendKey(modifier, null, true);
  rfb.sendKey(keysym, null, true);
  rfb.sendKey(keysym, null, false);
  for (const modifier of modifiers.reverse()) rfb.sendKey(modifier, null, false);
  for (const name of [...held]) setSticky(name, false);
}

function wireOnScreenKeyboard() {
  const input = document.getElementById('keyboard-input');
  const toggle = document.getElementById('keyboard-toggle');
  toggle.addEventListener('click', () => {
    const keys = document.getElementById('extra-keys');
    keys.hidden = false;
    toggle.setAttribute('aria-expanded', 'true');
    input.focus();
  });
  // Keys that insert nothing, which the field would otherwise swallow.
  input.addEventListener('beforeinput', (event) => {
    const named = { deleteContentBackward: KEY.backspace, insertLineBreak: 0xff0d, insertParagraph: 0xff0d }[event.inputType];
    if (named) {
      event.preventDefault();
      tapKey(named);
    }
  });
  input.addEventListener('input', (event) => {
    if (event.isComposing) return;
    for (const ch of input.value) tapKey(keysymOf(ch));
    input.value = '';
  });
  input.addEventListener('compositionend', () => {
    for (const ch of input.value) tapKey(keysymOf(ch));
    input.value = '';
  });
  for (const name of Object.keys(STICKY)) {
    document.getElementById(`sticky-${name}`).addEventListener('click', () => {
      setSticky(name, !held.has(name));
      input.focus();
    });
  }
  document.getElementById('key-tab').addEventListener('click', () => { tapKey(KEY.tab); input.focus(); });
  document.getElementById('key-esc').addEventListener('click', () => { tapKey(KEY.escape); input.focus(); });
}

// The guest's bell: a short tone (browsers play sound only on pages the person has used).
function bell() {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    gain.gain.value = 0.1;
    tone.frequency.value = 880;
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.15);
    tone.onended = () => audio.close();
  } catch (e) {
    // No sound here: the bell is only a courtesy.
  }
}

// The page's settings, by their console_defaults names, and the control of each.
const SETTINGS = {
  resize: 'resize', quality: 'quality', compression: 'compression', show_dot: 'show-dot', bell: 'bell', view_only: 'view-only',
};

// The operator's settings (console_defaults): each default where the page's address does not
// say, then each mandatory one, whose control is then disabled.
function operatorSettings(defaults, params) {
  const set = (name, value) => {
    const control = Object.hasOwn(SETTINGS, name) ? document.getElementById(SETTINGS[name]) : null;
    if (!control) return null;
    if (control.type === 'checkbox') control.checked = value === true;
    else control.value = String(value);
    return control;
  };
  for (const [name, value] of Object.entries(defaults)) {
    if (name !== 'mandatory' && !params.has(name)) set(name, value);
  }
  for (const [name, value] of Object.entries(defaults.mandatory || {})) {
    const control = set(name, value);
    if (control) control.disabled = true;
  }
  if (operatorLanguage(defaults)) translatePage();
}

function sendCombo(keys) {
  if (!rfb) return;
  for (const key of keys) rfb.sendKey(key, null, true);
  for (const key of [...keys].reverse()) rfb.sendKey(key, null, false);
  rfb.focus();
}

function wireControls() {
  document.getElementById('ctrl-alt-del').addEventListener('click', () => { if (rfb) { rfb.sendCtrlAltDel(); rfb.focus(); } });
  const keys = document.getElementById('keys');
  keys.addEventListener('change', () => {
    const combo = COMBOS[keys.value];
    if (combo) sendCombo(combo);
    keys.value = '';
  });
  document.getElementById('resize').addEventListener('change', (event) => fitTo(event.target.value));
  document.getElementById('view-only').addEventListener('change', (event) => { if (rfb) rfb.viewOnly = event.target.checked; });
  document.getElementById('fullscreen').addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.documentElement.requestFullscreen().catch(() => setStatus(t('status.fullscreen_refused'), 'error'));
  });
  wirePasteBox();
  wireToggle(document.getElementById('settings-toggle'));
  wireOnScreenKeyboard();
  document.getElementById('quality').addEventListener('change', (event) => { if (rfb) rfb.qualityLevel = Number(event.target.value); });
  document.getElementById('compression').addEventListener('change', (event) => { if (rfb) rfb.compressionLevel = Number(event.target.value); });
  document.getElementById('show-dot').addEventListener('change', (event) => { if (rfb) rfb.showDotCursor = event.target.checked; });
  leaveKey(screen, () => { if (rfb) rfb.blur(); });
  document.getElementById('paste-type').addEventListener('click', () => {
    if (!rfb) return;
    for (const ch of document.getElementById('paste-text').value) {
      const keysym = keysymOf(ch);
      rfb.sendKey(keysym, null, true);
      rfb.sendKey(keysym, null, false);
    }
    rfb.focus();
  });
  document.getElementById('paste-clipboard').addEventListener('click', () => {
    const text = document.getElementById('paste-text').value;
    // Where text may not come out, the proxy keeps the extended clipboard (UTF-8) from being
    // offered, as its server half would carry the guest's text: the guest gets RFB's plain cut
    // text, which is Latin-1. Text it cannot carry is not sent garbled.
    if (!fromGuest() && /[^\u0000-\u00ff]/u.test(text)) {
      clipboardNote(t('clipboard.latin1_only'));
      return;
    }
    if (rfb && toGuest()) rfb.clipboardPasteFrom(text);
  });
  document.getElementById('copy-out').addEventListener('click', async () => {
    const box = document.getElementById('paste-text');
    try {
      await navigator.clipboard.writeText(box.value);
      clipboardNote(t('clipboard.copied'));
    } catch (e) {
      // No async Clipboard API here (or refused): select it for Ctrl+C.
      box.focus();
      box.select();
      clipboardNote(t('clipboard.select'));
    }
  });
}

async function main() {
  translatePage();
  const params = new URLSearchParams(window.location.search);
  document.getElementById('view-only').checked = params.get('view_only') === 'true';
  // noVNC's own parameter: resize=scale|remote|off.
  if (['scale', 'remote', 'off'].includes(params.get('resize'))) document.getElementById('resize').value = params.get('resize');
  wireControls();
  const where = target();
  if (!where) {
    setStatus(t('status.no_token'), 'error');
    return;
  }
  // noVNC and the token's settings at once: the first frame waits for both.
  const library = import('/novnc/core/rfb.js');
  const asked = tokenInfo(where.query);
  try {
    ({ default: RFB } = await library);
  } catch (e) {
    setStatus(t('status.no_novnc'), 'error');
    return;
  }
  const info = await asked;
  operatorSettings(info.defaults, params);
  // A watch link is one whatever the page's settings say (and the proxy holds it to that).
  if (info.viewOnly) {
    watching = true;
    const box = document.getElementById('view-only');
    box.checked = true;
    box.disabled = true;
  }
  clipboard = info.clipboard;
  applyClipboardPolicy();
  connect(where);
}

// Not on beforeunload: a person who chose to stay keeps reconnecting.
window.addEventListener('pagehide', () => retry.stop());
main();
