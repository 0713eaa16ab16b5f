// vncgate's recording player. It decrypts nothing and sends nothing: it reads a recording the
// user chose (decrypted beforehand with `age -d`), and replays it in this page only.
//   - RFB (.vncrec): the console server's bytes from ServerInit on, fed to noVNC's own decoder
//     through a channel that is not a network connection, after the few handshake bytes a
//     server would have sent before them.
//   - Serial (.cast, asciicast v2): the output written to xterm.js.

const $ = (id) => document.getElementById(id);
const state = { kind: null, events: [], duration: 0, position: 0, playing: false, finished: false };
window.vncgatePlayer = state;
let RFB = null;
let view = null;
let next = 0;
let timer = null;
let startedAt = 0;
let startedFrom = 0;

function status(text, kind) {
  const line = $('status');
  line.textContent = text;
  line.className = kind || '';
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function showTime() {
  $('seek').value = String(state.position);
  $('clock').textContent = `${clock(state.position)} / ${clock(state.duration)}`;
}

function showMeta(fields) {
  const list = $('fields');
  list.replaceChildren();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null || typeof value === 'object') continue;
    const term = document.createElement('dt');
    term.textContent = name;
    const detail = document.createElement('dd');
    detail.textContent = String(value);
    list.append(term, detail);
  }
  $('meta').hidden = false;
}

function base64Bytes(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

// Reads a recording's text: its kind, its metadata and its timed events.
function parse(text) {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new Error('the file is empty');
  let header;
  try {
    header = JSON.parse(lines[0]);
  } catch (error) {
    throw new Error('this is not a recording (still encrypted? decrypt it with age -d first)');
  }
  const events = [];
  if (header.version === 2 && header.width) {
    for (const line of lines.slice(1)) {
      const [time, code, data] = JSON.parse(line);
      if (code === 'o') events.push({ time, data });
    }
    return { kind: 'serial', meta: { ...(header.vncgate || {}), width: header.width, height: header.height }, events };
  }
  if (header.format === 'vncgate-recording') {
    if (header.version !== 1) throw new Error(`recording format version ${header.version} is newer than this player`);
    for (const line of lines.slice(1)) {
      const [time, code, data] = JSON.parse(line);
      if (code === 's') events.push({ time, data: base64Bytes(data) });
    }
    if (header.console === 'spice-html5') throw new Error('SPICE recordings hold the session header only: nothing to play');
    return { kind: 'rfb', meta: header, events };
  }
  throw new Error('this is not a vncgate recording');
}

// A channel noVNC can attach to in place of a WebSocket: what it sends goes nowhere.
function channel() {
  return {
    binaryType: 'arraybuffer',
    protocol: 'binary',
    readyState: 'open',
    onerror: null,
    onmessage: null,
    onopen: null,
    onclose: null,
    send() {},
    close() { this.readyState = 'closed'; },
  };
}

function feed(bytes) {
  if (view && view.channel.onmessage) view.channel.onmessage({ data: bytes.slice().buffer });
}

// A fresh screen at time zero.
function reset() {
  const screen = $('screen');
  if (view && view.rfb) {
    try { view.rfb.disconnect(); } catch (error) { /* already gone */ }
  }
  if (view && view.terminal) view.terminal.dispose();
  screen.replaceChildren();
  next = 0;
  state.position = 0;
  state.finished = false;
  if (state.kind === 'rfb') {
    const fake = channel();
    const rfb = new RFB(screen, fake, { shared: true });
    rfb.viewOnly = true;
    rfb.scaleViewport = true;
    view = { rfb, channel: fake };
    // What the server sent before ServerInit: version 3.8, the None security type, success.
    feed(new TextEncoder().encode('RFB 003.008\n'));
    feed(new Uint8Array([1, 1]));
    feed(new Uint8Array([0, 0, 0, 0]));
  } else {
    const terminal = new window.Terminal({ convertEol: false, cols: state.cols || 80, rows: state.rows || 24 });
    terminal.open(screen);
    view = { terminal };
  }
}

function apply(event) {
  if (state.kind === 'rfb') feed(event.data);
  else view.terminal.write(event.data);
}

// Applies every event up to `until` at once.
function catchUp(until) {
  while (next < state.events.length && state.events[next].time <= until) {
    apply(state.events[next]);
    next += 1;
  }
  state.position = until;
}

function speed() {
  return Number($('speed').value) || 1;
}

function tick() {
  timer = null;
  if (!state.playing) return;
  const now = startedFrom + ((performance.now() - startedAt) / 1000) * speed();
  catchUp(Math.min(now, state.duration));
  showTime();
  if (next >= state.events.length) {
    state.playing = false;
    state.finished = true;
    state.position = state.duration;
    showTime();
    $('play').textContent = 'Play';
    status('Finished', 'ok');
    return;
  }
  const wait = ((state.events[next].time - now) / speed()) * 1000;
  timer = setTimeout(tick, Math.max(0, Math.min(wait, 250)));
}

function play() {
  if (state.finished) {
    reset();
  }
  state.playing = true;
  startedAt = performance.now();
  startedFrom = state.position;
  $('play').textContent = 'Pause';
  status('Playing', 'ok');
  tick();
}

function pause() {
  state.playing = false;
  if (timer) clearTimeout(timer);
  timer = null;
  $('play').textContent = 'Play';
  status('Paused');
}

function seek(to) {
  const playing = state.playing;
  pause();
  if (to < state.position) reset();
  catchUp(to);
  state.finished = next >= state.events.length && to >= state.duration;
  showTime();
  if (playing) play();
}

async function load(file) {
  pause();
  let parsed;
  try {
    parsed = parse(await file.text());
  } catch (error) {
    status(`Cannot play ${file.name}: ${error.message}`, 'error');
    return;
  }
  if (parsed.kind === 'rfb' && !RFB) {
    try {
      ({ default: RFB } = await import('/novnc/core/rfb.js'));
    } catch (error) {
      status('The noVNC library is not installed on this console server: RFB recordings cannot be played here.', 'error');
      return;
    }
  }
  state.kind = parsed.kind;
  state.events = parsed.events;
  state.cols = parsed.meta.width;
  state.rows = parsed.meta.height;
  state.duration = parsed.events.length ? parsed.events[parsed.events.length - 1].time : 0;
  showMeta(parsed.meta);
  reset();
  $('seek').max = String(state.duration);
  $('seek').disabled = false;
  $('play').disabled = false;
  showTime();
  status(`Loaded ${file.name}: ${parsed.events.length} chunks`, 'ok');
  state.loaded = true;
}

$('file').addEventListener('change', () => {
  const [file] = $('file').files;
  if (file) load(file);
});
document.body.addEventListener('dragover', (event) => event.preventDefault());
document.body.addEventListener('drop', (event) => {
  event.preventDefault();
  const [file] = event.dataTransfer.files;
  if (file) load(file);
});
$('play').addEventListener('click', () => (state.playing ? pause() : play()));
$('seek').addEventListener('input', () => seek(Number($('seek').value)));
$('speed').addEventListener('change', () => {
  if (state.playing) {
    startedFrom = state.position;
    startedAt = performance.now();
  }
});
