// vncgate's serial console page, on xterm.js (built in, or [vncgate] xterm_dir, under /xterm/). The
// WebSocket carries the serial line's raw bytes in binary frames, as nova-serialproxy does.
import { setStatus, target, Retry, wirePasteBox } from './link.js';

const encoder = new TextEncoder();
let socket = null;
let terminal = null;
const retry = new Retry((where) => connect(where));

function send(text) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(text));
}

function connect(where) {
  setStatus('Connecting…');
  let connected = false;
  const decoder = new TextDecoder('utf-8');
  socket = new WebSocket(where.url, ['binary']);
  socket.binaryType = 'arraybuffer';
  socket.addEventListener('open', () => {
    connected = true;
    retry.succeeded();
    setStatus('Connected', 'ok');
    terminal.focus();
  });
  socket.addEventListener('message', (event) => {
    if (event.data instanceof ArrayBuffer) {
      terminal.write(decoder.decode(new Uint8Array(event.data), { stream: true }));
    }
  });
  socket.addEventListener('close', async (event) => {
    socket = null;
    if (retry.stopped) return;
    const why = event.reason || (event.wasClean ? 'the connection was closed' : 'the connection was lost');
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
  document.getElementById('copy').addEventListener('click', async () => {
    const text = terminal.getSelection();
    if (!text) return;
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      setStatus('The browser refused the clipboard: select and press Ctrl+Shift+C instead', 'error');
    }
    terminal.focus();
  });
}

function main() {
  wireControls();
  if (typeof window.Terminal !== 'function') {
    setStatus('xterm.js is missing on this console server (check [vncgate] xterm_dir).', 'error');
    return;
  }
  // xterm.js draws with its DOM renderer: the text is in the page, for screen readers and copying.
  terminal = new window.Terminal({ cursorBlink: true, scrollback: 5000 });
  terminal.open(document.getElementById('terminal'));
  terminal.onData(send);
  const where = target();
  if (!where) {
    setStatus('No console token in this link: open the URL your cloud gave you.', 'error');
    return;
  }
  connect(where);
}

window.addEventListener('beforeunload', () => retry.stop());
main();
