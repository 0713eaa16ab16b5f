// Drives Debian's Chromium through a sign-in: the proxy's /login, the provider's own login and
// consent forms, back to the proxy. Prints one JSON line: where the browser landed, the page's
// text, and the proxy's cookies' names and attributes (never their values).
// Landed on console.html, {"status"} is its status line once it says Connected or why not.
// Usage: node signin.mjs URL SCREENSHOT LOGIN [RECHECK_MS]
//   with RECHECK_MS, the landing page is asked for again that much later (redirects not
//   followed): {"after":{"status","location"}} says whether the browser is still signed in.
// The callback request, as the browser sent it (its URL and cookies), is then sent once more:
// {"replay":{"status"}} says what a replayed callback gets.
import { chromium } from 'playwright-core';
import { fillProviderForms } from './provider-forms.mjs';

const [url, screenshot, login, recheckMs] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
});
const result = {};
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  let callback = null;
  page.on('request', async (request) => {
    if (!callback && request.url().includes('/oidc/callback')) {
      callback = { url: request.url(), cookie: (await request.allHeaders()).cookie || '' };
    }
  });
  await page.goto(url);
  await fillProviderForms(page, login);
  await page.waitForURL((u) => !u.href.startsWith('http://127.0.0.1'), { timeout: 15000 });
  await page.waitForLoadState();
  result.landed = page.url();
  // Landed on a console page: what its status line comes to.
  if (result.landed.includes('/console.html')) {
    const deadline = Date.now() + 15000;
    let status = '';
    while (Date.now() < deadline) {
      status = await page.locator('#status').innerText().catch(() => '');
      if (/^Connected|cannot open|another person|not granted/.test(status)) break;
      await page.waitForTimeout(200);
    }
    result.status = status;
  }
  result.text = await page.locator('body').innerText();
  result.cookies = (await context.cookies())
    .filter((c) => c.name.startsWith('__Host-vncgate'))
    .map(({ name, httpOnly, secure, sameSite, path, expires }) => ({ name, httpOnly, secure, sameSite, path, expires }));
  await page.screenshot({ path: screenshot });
  if (callback) {
    const again = await context.request.get(callback.url, { maxRedirects: 0, headers: { cookie: callback.cookie } });
    result.replay = { status: again.status() };
  }
  if (recheckMs) {
    await page.waitForTimeout(Number(recheckMs));
    const again = await context.request.get(result.landed, { maxRedirects: 0 });
    result.after = { status: again.status(), location: again.headers()['location'] || null };
  }
} catch (error) {
  result.error = String(error);
}
await browser.close();
console.log(JSON.stringify(result));
