// Drives Debian's Chromium against a vncgate console page and prints one JSON line of findings.
// Usage: node console.mjs SCENARIO URL SCREENSHOT
//   display   wait for "Connected", read the canvas, count its colours
//   type      as display, then type text and count changed pixels
//   badtoken  wait, count WebSocket attempts, read the status line
//   expire    wait for the session to end, read the status line
//   lite      Debian's vnc_lite.html: wait for its "Connected" status, count colours
//   status    wait three seconds, read the status line
//   paste     wait for "Connected", put the fifth argument in the clipboard panel and send it
//             to the guest's clipboard (unless the button is off), and read the X display's
//             clipboard (the fourth argument: its number) with xclip, and the panel's note
//   ended     wait for "Connected", then for the session to be ended by an operator
//   spice     spice-html5's spice_auto.html: wait for a drawn canvas, count WebSockets
//   serial    serial.html: wait for "Connected", type a line, read the terminal's text
//   reconnect wait for "Connected", print {"ready":true}, then until standard input closes count
//             each loss of "Connected" and time how long until it came back
//   record    as type (a change is not required), then write the canvas's last pixels (RGBA) to
//             the file given as the fourth argument, and close the page
//   player    player.html: open the recording given as the fifth argument, play it at 8×, and
//             write the canvas's pixels at its end to the fourth argument
//   clipboard wait for "Connected", note whether leaving would ask first, set the X display's
//             clipboard (the fourth argument: its number) with xclip, and read what the page's
//             clipboard panel shows within five seconds and what the browser's clipboard holds
//             (the async Clipboard API granted); then try to leave (the dialog's type)
//   expire also notes whether leaving would still ask once the session ended, the most colours
//             of a canvas while connected (SPICE draws on several), and the WebSockets opened
//             by the end and three seconds later
//   a11y      wait for "Connected", leave the screen with Ctrl+Alt (where there is one), walk the
//             controls with Tab (their ids, whether each shows its focus), open the clipboard or
//             paste panel, and run axe-core: its violations by rule and impact
//   axe       a page without a console (the player, the sign-in pages): its title and
//             axe-core's violations once loaded
//   language  the browser's locale is the fourth argument ("-" for none): wait until the status
//             line says more than loading or connecting, and read the page's language, its
//             status, its controls' names and the catalogue keys it lacked
import { chromium } from 'playwright-core';
import { axeViolations } from './axe.mjs';

const [scenario, url, screenshot, pixelsOut, recording] = process.argv.slice(2);
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
const probe = readFileSync(new URL('./probe.js', import.meta.url), 'utf8');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
});
const result = { scenario };
try {
  const locale = scenario === 'language' && pixelsOut !== '-' ? pixelsOut : undefined;
  // A phone: touch, a 390×844 viewport, mobile emulation.
  const phone = scenario === 'mobile' ? { isMobile: true, hasTouch: true, viewport: { width: 390, height: 844 } } : {};
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 1024, height: 768 }, locale, ...phone,
    // axe-core is put into the page by the test, which the page's own policy would refuse.
    bypassCSP: scenario === 'a11y' || scenario === 'axe',
    // The async Clipboard API, granted as a person's "Allow" would.
    permissions: scenario === 'clipboard' ? ['clipboard-read', 'clipboard-write'] : [],
  });
  const page = await context.newPage();
  let sockets = 0;
  page.on('websocket', () => { sockets += 1; });
  page.on('pageerror', (error) => { result.pageError = String(error); });
  await page.goto(url);

  const statusSelector = scenario === 'lite' ? '#status' : '#status';
  const statusText = () => page.locator(statusSelector).innerText();
  const waitForStatus = async (pattern, ms) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const text = await statusText().catch(() => '');
      if (pattern.test(text)) return text;
      await page.waitForTimeout(200);
    }
    return statusText().catch(() => '');
  };
  // Distinct colours of noVNC's canvas, and the pixels changed since the last `mark`
  // (probe.js, shared with the other engines' drivers). The pixels stay in the page: carrying
  // half a million numbers out on every poll made a slow machine slower.
  const canvas = async (mark = false) => {
    await page.evaluate(probe);
    return page.evaluate((mark) => window.vncgateProbe.canvas(mark), mark);
  };
  // The most colours on any canvas (probe.js); 0 while the page is between documents.
  const drawn = async () => {
    try {
      await page.evaluate(probe);
      return await page.evaluate(() => window.vncgateProbe.drawn());
    } catch (e) {
      return 0;
    }
  };

  // The canvas's pixels, RGBA, into `path`.
  const savePixels = async (path) => {
    const { width, height, data } = await page.evaluate(() => {
      const c = document.querySelector('canvas');
      const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let binary = '';
      for (let i = 0; i < pixels.length; i += 8192) {
        binary += String.fromCharCode.apply(null, pixels.subarray(i, i + 8192));
      }
      return { width: c.width, height: c.height, data: btoa(binary) };
    });
    writeFileSync(path, Buffer.from(data, 'base64'));
    result.width = width;
    result.height = height;
  };

  if (scenario === 'record') {
    result.status = await waitForStatus(/Connected/, 30000);
    let frame = await canvas();
    for (let i = 0; i < 50 && frame.colours < 2; i++) {
      await page.waitForTimeout(200);
      frame = await canvas();
    }
    result.colours = frame.colours;
    await page.locator('canvas').click();
    await page.waitForTimeout(500);
    await canvas(true);
    await page.keyboard.type('recorded through vncgate', { delay: 30 });
    await page.keyboard.press('Enter');
    let changed = 0;
    for (let i = 0; i < 15 && changed === 0; i++) {
      await page.waitForTimeout(200);
      changed = (await canvas()).changed;
    }
    result.changed = changed;
    // Quiet, so that the last frame drawn is the last the server sent.
    await page.waitForTimeout(1500);
    await savePixels(pixelsOut);
  } else if (scenario === 'player') {
    await page.setInputFiles('#file', recording);
    result.status = await waitForStatus(/Loaded/, 15000);
    await page.selectOption('#speed', '8');
    await page.click('#play');
    await page.waitForFunction(() => window.vncgatePlayer && window.vncgatePlayer.finished, null, { timeout: 120000 });
    // noVNC draws on animation frames: let the last ones land.
    await page.waitForTimeout(1500);
    result.status = await statusText();
    await savePixels(pixelsOut);
  } else if (scenario === 'display' || scenario === 'type' || scenario === 'lite') {
    result.status = await waitForStatus(/Connected/, 30000);
    // Give the first framebuffer update time to be drawn.
    let frame = await canvas();
    for (let i = 0; i < 50 && frame.colours < 2; i++) {
      await page.waitForTimeout(200);
      frame = await canvas();
    }
    result.width = frame.width;
    result.height = frame.height;
    result.colours = frame.colours;
    if (scenario === 'type') {
      await page.locator('canvas').click();
      await page.waitForTimeout(500);
      await canvas(true);
      await page.keyboard.type('typed through vncgate', { delay: 30 });
      await page.keyboard.press('Enter');
      let changed = 0;
      for (let i = 0; i < 50 && changed === 0; i++) {
        await page.waitForTimeout(200);
        changed = (await canvas()).changed;
      }
      result.changed = changed;
      result.coloursAfter = (await canvas()).colours;
    }
  } else if (scenario === 'badtoken') {
    result.status = await waitForStatus(/rejected|invalid|no longer valid/i, 15000);
    // Long enough for any reconnect loop to show itself.
    await page.waitForTimeout(4000);
    result.status = await statusText();
    result.sockets = sockets;
  } else if (scenario === 'status') {
    await page.waitForTimeout(3000);
    result.status = await statusText();
  } else if (scenario === 'expire') {
    result.connected = await waitForStatus(/Connected/, 30000);
    result.leaveAsksWhileConnected = await page.evaluate(() => typeof window.onbeforeunload === 'function');
    result.drawn = await drawn();
    while (result.drawn < 2 && /^Connected/.test(await statusText().catch(() => ''))) {
      await page.waitForTimeout(200);
      result.drawn = await drawn();
    }
    result.status = await waitForStatus(/expired/i, 30000);
    result.socketsAtEnd = sockets;
    await page.waitForTimeout(3000);
    result.sockets = sockets;
    result.leaveAsksAfter = await page.evaluate(() => typeof window.onbeforeunload === 'function');
  } else if (scenario === 'a11y') {
    result.status = await waitForStatus(/^Connected/, 30000);
    const active = () => page.evaluate(() => {
      const element = document.activeElement;
      return {
        id: element ? (element.id || element.tagName.toLowerCase()) : '',
        outline: element ? getComputedStyle(element).outlineStyle : 'none',
      };
    });
    // The console's screen, or the serial page's terminal: it takes every key until left. (A
    // SPICE console is connected before its display channel draws its canvas.)
    await page.waitForSelector('canvas, #terminal .xterm-screen', { timeout: 15000 });
    const area = (await page.locator('canvas').count()) ? page.locator('canvas') : page.locator('#terminal .xterm-screen');
    await area.click();
    result.onScreen = (await active()).id;
    await page.keyboard.press('Tab');
    result.tabStays = (await active()).id;
    await page.keyboard.down('Control');
    await page.keyboard.down('Alt');
    await page.keyboard.up('Alt');
    await page.keyboard.up('Control');
    result.afterLeave = (await active()).id;
    result.walk = [];
    for (let i = 0; i < 12; i++) {
      const now = await active();
      result.walk.push(now);
      await page.keyboard.press('Tab');
    }
    // The paste or clipboard panel, where the page has one (the SPICE page has none).
    if (await page.locator('#paste-toggle').count()) await page.locator('#paste-toggle').click();
    result.violations = await axeViolations(page);
  } else if (scenario === 'axe') {
    await page.waitForLoadState('load');
    await page.waitForTimeout(1000);
    result.title = await page.title();
    result.violations = await axeViolations(page);
  } else if (scenario === 'resize') {
    // The X display (fourth argument) is asked its size, as a second viewer would see it.
    const size = () => {
      const info = execFileSync('xdpyinfo', ['-display', `:${pixelsOut}`], { encoding: 'utf8' });
      return (info.match(/dimensions:\s+(\d+x\d+)/) || [])[1] || '';
    };
    result.status = await waitForStatus(/^Connected/, 30000);
    await page.waitForTimeout(1000);
    result.before = size();
    await page.setViewportSize({ width: 800, height: 600 });
    for (let i = 0; i < 25; i++) {
      await page.waitForTimeout(200);
      result.after = size();
      if (result.after !== result.before) break;
    }
    result.screen = await page.evaluate(() => {
      const box = document.getElementById('screen').getBoundingClientRect();
      return `${Math.round(box.width)}x${Math.round(box.height)}`;
    });
  } else if (scenario === 'settings') {
    result.status = await waitForStatus(/^Connected/, 30000);
    result.controls = await page.evaluate(() => Object.fromEntries(
      ['resize', 'quality', 'compression', 'show-dot', 'bell', 'view-only'].map((id) => {
        const control = document.getElementById(id);
        return [id, { value: control.type === 'checkbox' ? control.checked : control.value, disabled: control.disabled }];
      })));
    result.lang = await page.evaluate(() => document.documentElement.lang);
  } else if (scenario === 'mobile') {
    // What reaches the X display (fourth argument), as xev on its root window sees it.
    const xev = spawn('xev', ['-root', '-event', 'keyboard', '-event', 'button'], { env: { ...process.env, DISPLAY: `:${pixelsOut}` } });
    let seen = '';
    xev.stdout.on('data', (chunk) => { seen += chunk; });
    try {
      result.status = await waitForStatus(/^Connected/, 30000);
      await page.waitForTimeout(1000);
      const box = await page.locator('canvas').first().boundingBox();
      await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2);
      await page.waitForTimeout(500);
      await page.locator('#keyboard-toggle').tap();
      result.inputFocused = await page.evaluate(() => document.activeElement.id);
      await page.keyboard.insertText('hi');
      await page.locator('#sticky-ctrl').tap();
      result.ctrlPressed = await page.locator('#sticky-ctrl').getAttribute('aria-pressed');
      await page.keyboard.insertText('c');
      result.ctrlAfter = await page.locator('#sticky-ctrl').getAttribute('aria-pressed');
      await page.locator('#key-esc').tap();
      await page.waitForTimeout(1500);
    } finally {
      xev.kill();
    }
    const presses = seen.split('\n\n').filter((event) => /^(KeyPress|ButtonPress)/.test(event.trim()));
    result.events = presses.map((event) => {
      const keysym = (event.match(/keysym 0x[0-9a-f]+, (\w+)/) || [])[1];
      const state = (event.match(/state (0x[0-9a-f]+)/) || [])[1];
      const button = (event.match(/button (\d+)/) || [])[1];
      return event.trim().startsWith('ButtonPress') ? `button ${button}` : `${keysym} ${state}`;
    });
  } else if (scenario === 'language') {
    let status = '';
    for (let i = 0; i < 75; i++) {
      status = await statusText().catch(() => '');
      if (status && !/…$|\.\.\.$/.test(status)) break;
      await page.waitForTimeout(200);
    }
    result.status = status;
    result.lang = await page.evaluate(() => document.documentElement.lang);
    result.title = await page.title();
    result.bar = await page.locator('#bar').getAttribute('aria-label');
    result.toggle = await page.locator('#paste-toggle').innerText();
    result.missing = await page.evaluate(() => window.vncgateMissing || null);
  } else if (scenario === 'clipboard') {
    result.status = await waitForStatus(/Connected/, 30000);
    result.note = await page.locator('#clipboard-note').textContent();
    result.sendDisabled = await page.locator('#paste-clipboard').isDisabled();
    const copied = 'copied in the guest: grüße, 端末';
    execFileSync('xclip', ['-selection', 'clipboard', '-i'], {
      input: copied, env: { ...process.env, DISPLAY: `:${pixelsOut}` }, stdio: ['pipe', 'ignore', 'ignore'],
    });
    let shown = '';
    for (let i = 0; i < 25 && shown !== copied; i++) {
      await page.waitForTimeout(200);
      shown = await page.locator('#paste-text').inputValue();
    }
    result.clipboard = shown;
    result.expected = copied;
    // The browser granted the clipboard: the guest's text is on this computer's clipboard too.
    const local = () => page.evaluate(() => navigator.clipboard.readText().catch((e) => `refused: ${e}`));
    result.local = await local();
    for (let i = 0; i < 10 && shown === copied && result.local !== copied; i++) {
      await page.waitForTimeout(200);
      result.local = await local();
    }
    // Leaving asks first while connected (after a click: browsers ask only pages used).
    await page.locator('canvas').click();
    page.on('dialog', async (dialog) => { result.leaveDialog = dialog.type(); await dialog.dismiss(); });
    await page.close({ runBeforeUnload: true });
    await new Promise((resolve) => setTimeout(resolve, 1000));
  } else if (scenario === 'paste') {
    result.status = await waitForStatus(/Connected/, 30000);
    await page.locator('#paste-toggle').click();
    const sent = recording;
    await page.locator('#paste-text').fill(sent);
    result.sendDisabled = await page.locator('#paste-clipboard').isDisabled();
    if (!result.sendDisabled) await page.locator('#paste-clipboard').click();
    // The X display's clipboard (the fourth argument: its number), as a program there reads it.
    const guest = () => {
      try {
        return execFileSync('xclip', ['-selection', 'clipboard', '-o'], {
          env: { ...process.env, DISPLAY: `:${pixelsOut}` }, encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'],
        });
      } catch (e) {
        return '';
      }
    };
    result.guest = guest();
    for (let i = 0; i < 15 && !result.sendDisabled && result.guest !== sent; i++) {
      await page.waitForTimeout(200);
      result.guest = guest();
    }
    result.expected = sent;
    result.note = await page.locator('#clipboard-note').textContent();
  } else if (scenario === 'ended') {
    result.connected = await waitForStatus(/Connected/, 30000);
    result.status = await waitForStatus(/administrator/, 30000);
    // Long enough for a reconnect to show itself.
    await page.waitForTimeout(3000);
    result.sockets = sockets;
  } else if (scenario === 'spice') {
    let colours = await drawn();
    for (let i = 0; i < 150 && colours < 2; i++) {
      await page.waitForTimeout(200);
      colours = await drawn();
    }
    result.colours = colours;
    result.sockets = sockets;
  } else if (scenario === 'serial') {
    result.status = await waitForStatus(/Connected/, 30000);
    await page.locator('#terminal').click();
    await page.keyboard.type('typed through vncgate', { delay: 20 });
    await page.keyboard.press('Enter');
    const rows = () => page.locator('.xterm-rows').innerText().catch(() => '');
    let text = await rows();
    for (let i = 0; i < 50 && !text.includes('typed through vncgate'); i++) {
      await page.waitForTimeout(200);
      text = await rows();
    }
    result.terminal = text;
    // The terminal fills the window, and says how to tell the guest.
    const size = async () => ({
      stty: await page.locator('#stty').textContent(),
      rows: await page.locator('.xterm-rows > div').count(),
    });
    result.size = await size();
    await page.setViewportSize({ width: 640, height: 400 });
    await page.waitForTimeout(500);
    result.smaller = await size();
  } else if (scenario === 'reconnect') {
    let watching = true;
    process.stdin.on('end', () => { watching = false; }).resume();
    result.first = await waitForStatus(/^Connected/, 30000);
    console.log(JSON.stringify({ ready: /^Connected/.test(result.first) }));
    result.drops = 0;
    result.longestMs = 0;
    result.reasons = [];
    let lostAt = null;
    while (watching) {
      const text = await statusText().catch(() => '');
      if (/^Connected/.test(text)) {
        if (lostAt !== null) result.longestMs = Math.max(result.longestMs, Date.now() - lostAt);
        lostAt = null;
      } else if (lostAt === null) {
        lostAt = Date.now();
        result.drops += 1;
        result.reasons.push(text);
      }
      await page.waitForTimeout(100);
    }
    if (lostAt !== null) result.longestMs = Math.max(result.longestMs, Date.now() - lostAt);
    result.status = await statusText();
  }
  await page.screenshot({ path: screenshot });
} catch (error) {
  result.error = String(error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
