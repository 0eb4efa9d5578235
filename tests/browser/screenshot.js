#!/usr/bin/env node
// screenshot.js URL OUT.png [--node NAME] [--width 1280] [--height 800]
//   [--color-by dc] [--token T]
// One screenshot of the map served at URL/ui/ (used by scripts/screenshot.sh
// for docs/map.png): NAME selected (lines to its nearest from /v1/nearest),
// points coloured by the tag, the whole cluster fitted in view, no hover.
// Headless Debian chromium via playwright-core, like map.test.js.
'use strict';
const { chromium } = require('playwright-core');

const args = process.argv.slice(2);
const opt = { node: '', width: 1280, height: 800, colorBy: 'dc', token: '' };
const pos = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i], v = args[i + 1];
  if (a === '--node') { opt.node = v; i++; }
  else if (a === '--width') { opt.width = parseInt(v, 10); i++; }
  else if (a === '--height') { opt.height = parseInt(v, 10); i++; }
  else if (a === '--color-by') { opt.colorBy = v; i++; }
  else if (a === '--token') { opt.token = v; i++; }
  else pos.push(a);
}
if (pos.length !== 2) {
  console.error('usage: screenshot.js URL OUT.png [--node NAME] [--width W] [--height H] [--color-by KEY] [--token T]');
  process.exit(2);
}
const [base, out] = [pos[0].replace(/\/+$/, ''), pos[1]];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.NC_CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  let rc = 0;
  try {
    const ctx = await browser.newContext({ viewport: { width: opt.width, height: opt.height }, deviceScaleFactor: 1 });
    if (opt.token) await ctx.addInitScript((t) => { sessionStorage.setItem('netcoord.token', t); }, opt.token);
    const page = await ctx.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base + '/ui/', { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => window.netcoordUI && window.netcoordUI.metrics().firstFrameMs !== null, null, { timeout: 20000 });
    const keys = await page.locator('#color-by option').evaluateAll((os) => os.map((o) => o.value));
    if (opt.colorBy && keys.includes(opt.colorBy)) await page.locator('#color-by').selectOption(opt.colorBy);
    if (opt.node) {
      await page.evaluate((n) => window.netcoordUI.select(n), opt.node);
      await page.waitForFunction((n) => {
        const s = window.netcoordUI.snapshot();
        return s.selected === n && s.nearest && s.lines.length > 0;
      }, opt.node, { timeout: 10000 });
    }
    await page.locator('#fit').click();
    await page.mouse.move(opt.width - 2, opt.height - 2);
    await sleep(1500);  // the fit and point animations settle (750 ms each)
    await page.screenshot({ path: out });
    const snap = await page.evaluate(() => window.netcoordUI.snapshot());
    console.log('screenshot.js: ' + out + ': ' + snap.points.length + ' points, selected ' + snap.selected +
      ', nearest [' + (snap.nearest || []).join(', ') + ']');
    if (errors.length) { console.error('screenshot.js: console errors: ' + errors.join(' | ')); rc = 1; }
  } catch (e) {
    console.error('screenshot.js: ' + (e && e.stack || e));
    rc = 1;
  } finally {
    await browser.close();
  }
  process.exit(rc);
})();
