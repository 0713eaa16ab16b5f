// vncgate's serial console page, on xterm.js (built in, or [vncgate] xterm_dir, under /xterm/). The
// WebSocket carries the serial line's raw bytes in binary frames, as nova-serialproxy does.
import { setStatus, target, Retry, wirePasteBox, leaveKey, askBeforeLeaving } from './link.js';
import { t, reason, translatePage } from './i18n.js';

const encoder = new TextEncoder();
let socket = null;
let terminal = null;
// xterm.js's fit add-on (built in, whatever xterm_dir says): the terminal fills the window.
const fit = window.FitAddon ? new window.FitAddon.FitAddon() : null;

// Fits the terminal to the window, and says the `stty` line that tells the guest its size: a
// raw serial line has no way to carry it (no NAWS, no SIGWINCH), so the guest keeps 80×24 until
// told.
function fitToWindow() {
  if (fit) fit.fit();
  document.getElementById('stty').textContent = `stty rows ${terminal.rows} cols ${terminal.cols}`;
}
const retry = new Retry((where) => connect(where));

function send(text) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(text));
}

function connect(where) {
  setStatus(t('status.connecting'));
  let connected = false;
  const decoder = new TextDecoder('utf-8');
  socket = new WebSocket(where.url, ['binary']);
  socket.binaryType = 'arraybuffer';
  socket.addEventListener('open', () => {
    connected = true;
    retry.succeeded();
    askBeforeLeaving(true);
    // The guest still thinks the terminal is 80×24 (or whatever it was last told).
    setStatus(t('status.serial_connected'), 'ok');
    terminal.focus();
  });
  socket.addEventListener('message', (event) => {
    if (event.data instanceof ArrayBuffer) {
      terminal.write(decoder.decode(new Uint8Array(event.data), { stream: true }));
    }
  });
  socket.addEventListener('close', async (event) => {
    socket = null;
    askBeforeLeaving(false);
    if (retry.stopped) return;
    const why = reason(event.reason) || t(event.wasClean ? 'why.closed' : 'why.lost');
    await retry.ended(where, connected, why, event.reason);
  });
}

function wireControls() {
  wirePasteBox();
  document.getElementById('paste-send').addEventListener('click', () => {
    // A serial line ends lines with CR, as a terminal's Enter key does.
    send(document.getElementById('paste-text').value.replace(/\r?\n/g, '\r'));
    terminal.focus();
  });
  document.getElementById('copy-stty').addEventListener('click', async () => {
    const line = document.getElementById('stty').textContent;
    try {
      await navigator.clipboard.writeText(line);
    } catch (e) {
      // No async Clipboard API: send it to the terminal's line instead, without Enter.
      send(line);
    }
    terminal.focus();
  });
  document.getElementById('copy').addEventListener('click', async () => {
    const text = terminal.getSelection();
    if (!text) return;
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      setStatus(t('status.clipboard_refused'), 'error');
    }
    terminal.focus();
  });
}

function main() {
  translatePage();
  wireControls();
  if (typeof window.Terminal !== 'function') {
    setStatus(t('status.no_xterm'), 'error');
    return;
  }
  // xterm.js draws with its DOM renderer: the text is in the page, for screen readers and copying.
  terminal = new window.Terminal({ cursorBlink: true, scrollback: 5000 });
  if (fit) terminal.loadAddon(fit);
  terminal.open(document.getElementById('terminal'));
  terminal.onData(send);
  fitToWindow();
  window.addEventListener('resize', fitToWindow);
  leaveKey(document.getElementById('terminal'), () => terminal.blur());
  const where = target();
  if (!where) {
    setStatus(t('status.no_token'), 'error');
    return;
  }
  connect(where);
}

// Not on beforeunload: a person who chose to stay keeps reconnecting.
window.addEventListener('pagehide', () => retry.stop());
main();
