// Drives Debian's Firefox ESR through vncgate's console and serial pages, with puppeteer-core over
// WebDriver BiDi, and prints one JSON line of findings (the same as webkit.py's).
// Usage: node firefox.mjs CONSOLE_URL SERIAL_URL SCREENSHOT_PREFIX
//   console  wait for "Connected" and a drawn screen, click it, type, count the changed pixels
//   serial   wait for "Connected", type a line, read the terminal's text (the guest echoes it)
import puppeteer from 'puppeteer-core';
import { readFileSync } from 'node:fs';

const [consoleUrl, serialUrl, shots] = process.argv.slice(2);
const probe = readFileSync(new URL('./probe.js', import.meta.url), 'utf8');
const TYPED = 'typed in firefox';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
  headless: true,
  protocol: 'webDriverBiDi',
  acceptInsecureCerts: true,
  // ESR 140's BiDi lacks the screen orientation that puppeteer's viewport emulation sets: the
  // window has the size instead.
  defaultViewport: null,
  args: ['--window-size=1024,768'],
});
const result = { engine: 'firefox', version: await browser.version() };
try {
  let page = await browser.newPage();
  page.on('pageerror', (error) => { result.pageError = String(error); });
  const read = async (name, arg) => {
    await page.evaluate(probe);
    return page.evaluate((name, arg) => window.vncgateProbe[name](arg), name, arg);
  };
  // Polls `name` until `done` holds or `ms` pass; the last reading either way.
  const until = async (name, done, ms, arg) => {
    const deadline = Date.now() + ms;
    let value = await read(name, arg).catch(() => undefined);
    while (!(value !== undefined && done(value)) && Date.now() < deadline) {
      await sleep(200);
      value = await read(name, arg).catch(() => undefined);
    }
    return value;
  };

  await page.goto(consoleUrl);
  const shown = { status: await until('status', (s) => /^Connected/.test(s), 30000) };
  const screen = await until('canvas', (c) => c.colours >= 2, 10000);
  Object.assign(shown, { width: screen.width, height: screen.height, colours: screen.colours });
  await page.click('canvas');
  await sleep(500);
  await read('canvas', true);
  await page.keyboard.type(TYPED, { delay: 30 });
  shown.changed = (await until('canvas', (c) => c.changed > 0, 5000)).changed;
  await sleep(300);
  shown.changed = (await read('canvas')).changed;
  await page.screenshot({ path: `${shots}-console.png` });
  result.console = shown;

  // A new tab: leaving a connected console asks first, by design.
  await page.close();
  page = await browser.newPage();
  await page.goto(serialUrl);
  const serial = { status: await until('status', (s) => /^Connected/.test(s), 30000) };
  await page.click('#terminal');
  await page.keyboard.type(TYPED, { delay: 20 });
  await page.keyboard.press('Enter');
  serial.terminal = await until('terminal', (t) => t.includes(TYPED), 10000);
  await page.screenshot({ path: `${shots}-serial.png` });
  result.serial = serial;
} catch (error) {
  result.error = String(error && error.stack || error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
