// Two people in two browsers (Chromium contexts) on the proxy's /consoles, signed in through
// the provider's own forms. alice: her list (and axe-core's violations on it); a console minted for her (not yet used). bob: his
// list; alice's console link opened in his browser, and /token-status for it; his view-only
// console (beta, a terminal) opened and typed into: {"changed"} counts the pixels that changed.
// alice: her link opened, waiting for "Connected". Prints one JSON line (never a token or a
// cookie).
// Usage: node consoles.mjs PROXY_ORIGIN SCREENSHOT_PREFIX
import { chromium } from 'playwright-core';
import { fillProviderForms } from './provider-forms.mjs';
import { axeViolations } from './axe.mjs';
import { readFileSync } from 'node:fs';

const [origin, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
});
const result = {};

async function signIn(login) {
  // axe-core is put into the page by the test, which the page's own policy would refuse.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1024, height: 768 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${origin}/login?next=/consoles`);
  await fillProviderForms(page, login);
  await page.waitForURL(`${origin}/consoles`, { timeout: 15000 });
  return { context, page };
}

const status = async (page, pattern, ms) => {
  const deadline = Date.now() + ms;
  let text = '';
  while (Date.now() < deadline) {
    text = await page.locator('#status').innerText().catch(() => '');
    if (pattern.test(text)) break;
    await page.waitForTimeout(200);
  }
  return text;
};

// Distinct colours of noVNC's canvas, and the pixels changed since the last `mark` (probe.js).
const probe = readFileSync(new URL('./probe.js', import.meta.url), 'utf8');
const canvas = async (page, mark = false) => {
  await page.evaluate(probe);
  return page.evaluate((mark) => window.vncgateProbe.canvas(mark), mark);
};

// Waits until the canvas shows something (two colours at least).
const drawn = async (page) => {
  let frame = await canvas(page);
  for (let i = 0; i < 50 && frame.colours < 2; i++) {
    await page.waitForTimeout(200);
    frame = await canvas(page);
  }
  return frame.colours;
};

try {
  const alice = await signIn('alice');
  result.alice = { list: await alice.page.locator('ul').innerText().catch(() => '') };
  result.alice.axe = await axeViolations(alice.page);
  const minted = await alice.context.request.get(`${origin}/consoles/open?label=alpha`, { maxRedirects: 0 });
  const consoleUrl = origin + minted.headers().location;
  result.alice.minted = minted.status();
  const refused = await alice.context.request.get(`${origin}/consoles/open?label=beta`, { maxRedirects: 0 });
  result.alice.notGranted = refused.status();

  const bob = await signIn('bob');
  result.bob = { list: await bob.page.locator('ul').innerText().catch(() => '') };
  await bob.page.goto(consoleUrl);
  result.bob.aliceLink = await status(bob.page, /another person|rejected|denied|failed/i, 10000);
  const token = decodeURIComponent(new URL(consoleUrl).searchParams.get('path')).split('token=')[1];
  const checked = await bob.context.request.get(`${origin}/token-status?token=${encodeURIComponent(token)}`);
  result.bob.tokenStatus = { status: checked.status(), reason: checked.headers()['x-console-reason'] || null };
  await bob.page.screenshot({ path: `${shots}-bob.png` });
  await bob.page.goto(`${origin}/consoles/open?label=beta`);
  const beta = { status: await status(bob.page, /^Connected/, 20000) };
  beta.colours = await drawn(bob.page);
  await bob.page.locator('canvas').click();
  await bob.page.waitForTimeout(500);
  await canvas(bob.page, true);
  await bob.page.keyboard.type('typed by a watcher', { delay: 30 });
  await bob.page.keyboard.press('Enter');
  // What typing shows in a terminal shows within a second through the proxy; three are given.
  await bob.page.waitForTimeout(3000);
  beta.changed = (await canvas(bob.page)).changed;
  result.bob.beta = beta;
  await bob.page.screenshot({ path: `${shots}-bob-beta.png` });

  await alice.page.goto(consoleUrl);
  result.alice.console = await status(alice.page, /^Connected/, 20000);
  result.alice.colours = await drawn(alice.page);

  const serial = await alice.context.request.get(`${origin}/consoles/open?label=gamma&console=serial`, { maxRedirects: 0 });
  result.alice.serial = { location: serial.headers().location || '' };
  await alice.page.goto(result.alice.serial.location);
  result.alice.serial.status = await status(alice.page, /^Connected/, 20000);
  await alice.page.screenshot({ path: `${shots}-alice-serial.png` });
  await alice.page.screenshot({ path: `${shots}-alice.png` });
} catch (error) {
  result.error = String(error);
}
await browser.close();
console.log(JSON.stringify(result));
