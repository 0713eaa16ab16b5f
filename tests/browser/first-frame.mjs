// Time to the first drawn frame of a console page, as a person waits for it: from the start of
// the navigation to the first moment a canvas of the page shows the guest (two colours or more),
// read in the page every 5 ms from performance.now(), whose origin is the navigation's start.
// Each URL is loaded LOADS times, the URLs in turn: "cold" in a fresh browser context (nothing
// cached), then "warm", a reload in that context (its cache and connections kept), as a person
// who reloads or reconnects. LATENCY_MS (default 0) adds that much latency to every request
// of the page (Chromium's network emulation), as for a person far from the proxy. Prints one
// JSON line: {"latency_ms": n, "pages": {label: {cold: [ms…], warm: [ms…]}}}.
// Usage: [LATENCY_MS=n] node first-frame.mjs LOADS LABEL=URL [LABEL=URL …]
import { chromium } from 'playwright-core';

const [loads, ...targets] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
});

// In every page before its own scripts: the first time any canvas shows two colours.
const watch = () => {
  const drawn = () => {
    for (const c of document.querySelectorAll('canvas')) {
      if (!c.width || !c.height) continue;
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const first = data[0] << 16 | data[1] << 8 | data[2];
      for (let i = 4; i < data.length; i += 64) {
        if ((data[i] << 16 | data[i + 1] << 8 | data[i + 2]) !== first) return true;
      }
    }
    return false;
  };
  const poll = setInterval(() => {
    if (document.readyState !== 'loading' && drawn()) {
      window.firstFrameMs = performance.now();
      clearInterval(poll);
    }
  }, 5);
};

async function firstFrame(page, load) {
  await load();
  await page.waitForFunction(() => window.firstFrameMs !== undefined, null, { timeout: 30000, polling: 20 });
  return page.evaluate(() => window.firstFrameMs);
}

const latency = Number(process.env.LATENCY_MS || 0);
const pages = {};
const result = { latency_ms: latency, pages };
for (const target of targets) pages[target.split('=')[0]] = { cold: [], warm: [] };
try {
  for (let i = 0; i < Number(loads); i++) {
    // The targets in turn, each round starting with another one: none always runs first.
    const order = targets.map((_, k) => targets[(i + k) % targets.length]);
    for (const target of order) {
      const at = target.indexOf('=');
      const [label, url] = [target.slice(0, at), target.slice(at + 1)];
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1024, height: 768 } });
      await context.addInitScript(watch);
      const page = await context.newPage();
      if (latency) {
        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions', {
          offline: false, latency, downloadThroughput: -1, uploadThroughput: -1,
        });
      }
      pages[label].cold.push(await firstFrame(page, () => page.goto(url)));
      pages[label].warm.push(await firstFrame(page, () => page.reload()));
      await context.close();
    }
  }
} catch (error) {
  result.error = String(error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
