// vncgate's SPICE console page: Debian's spice-html5 (the SPICE port's web root) as it is, its
// main channel started by this page, which adds what spice_auto.html lacks: the status line, the
// proxy's reason when a session ends, the reconnect that stops for a refused token, the
// language, and the keyboard's way out. spice-html5 hides a WebSocket's close reason behind its
// own error ("Unexpected close while ready"), so the page also listens to the main channel's
// WebSocket itself.
import { setStatus, target, Retry, leaveKey, askBeforeLeaving } from './link.js';
import { t, reason, translatePage } from './i18n.js';

let spice = null;
let connection = null;
const retry = new Retry((where) => connect(where));

function connect(where) {
  setStatus(t('status.connecting'));
  let connected = false;
  let over = false;
  const params = new URLSearchParams(window.location.search);
  const ended = async (closed) => {
    if (over) return;
    over = true;
    if (connection) connection.stop();
    connection = null;
    askBeforeLeaving(false);
    if (retry.stopped) return;
    const why = reason(closed) || t(connected ? 'why.closed' : 'why.refused');
    await retry.ended(where, connected, why, closed);
  };
  try {
    connection = new spice.SpiceMainConn({
      uri: where.url,
      screen_id: 'spice-screen',
      password: params.get('password') || '',
      onsuccess: () => {
        connected = true;
        retry.succeeded();
        askBeforeLeaving(true);
        setStatus(t('status.connected'), 'ok');
      },
      // spice-html5's own errors (a refused ticket, a protocol mismatch, a close it did not
      // ask for): after the close's own listeners, so that the proxy's reason wins.
      onerror: () => setTimeout(() => ended(''), 0),
      onagent: (agent) => {
        window.spice_connection = agent;
        spice.resize_helper(agent);
      },
    });
  } catch (e) {
    setStatus(t('status.cannot_open', { why: String(e.message || e) }), 'error');
    return;
  }
  // The proxy's reason rides on the main channel's close frame.
  connection.ws.addEventListener('close', (event) => ended(event.reason));
}

async function main() {
  translatePage();
  try {
    // The SPICE port's web root is spice-html5.
    spice = await import('./main.js');
  } catch (e) {
    setStatus(t('status.no_spice'), 'error');
    return;
  }
  window.addEventListener('resize', spice.handle_resize);
  const screen = document.getElementById('screen');
  leaveKey(screen, () => document.activeElement.blur());
  document.getElementById('ctrl-alt-del').addEventListener('click', () => {
    if (connection) spice.sendCtrlAltDel(connection);
    screen.focus();
  });
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
