// Drives the LangServe *chat* playground of /conversation in Debian's headless Chromium: two turns
// (a question, then a follow-up), as a person would type them.
//
// usage: node tests/browser/chat_playground.mjs BASE_URL SCREENSHOT_DIR
// Prints one JSON line ({"requests", "page_text", "screenshot"}) and exits 0, or explains and
// exits 1. Fails on any console error or uncaught page error. Uses /usr/bin/chromium.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [baseUrl, shotDir] = process.argv.slice(2);
if (!baseUrl || !shotDir) {
  console.error('usage: node chat_playground.mjs BASE_URL SCREENSHOT_DIR');
  process.exit(2);
}

const TURNS = ['Tell me about the Team plan', 'and how much does it cost?'];
const ANSWER_TIMEOUT_MS = 240_000;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-chromium-'));
const problems = [];
const requests = [];

const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1100, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'],
});

try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().includes('/conversation/')) {
      requests.push({ url: r.url(), body: JSON.parse(r.postData() || 'null') });
    }
  });

  const opened = await page.goto(`${baseUrl}/conversation/playground/`, { waitUntil: 'networkidle' });
  if (!opened || !opened.ok()) throw new Error(`chat playground answered ${opened?.status()}`);
  const box = page.getByPlaceholder('Send a message...');
  await box.waitFor({ state: 'visible', timeout: 30_000 });

  for (const question of TURNS) {
    await box.fill(question);
    const answered = page.waitForResponse((r) => r.url().includes('/conversation/stream'), {
      timeout: ANSWER_TIMEOUT_MS,
    });
    await box.press('Enter');
    const response = await answered;
    if (response.status() !== 200) throw new Error(`${response.url()} answered ${response.status()}`);
    await response.finished();
    await page.waitForTimeout(500); // let React paint the last chunk
  }

  fs.mkdirSync(shotDir, { recursive: true });
  const screenshot = path.join(shotDir, 'chat-playground.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  const pageText = await page.locator('body').innerText();
  if (problems.length) throw new Error(problems.join('\n'));
  console.log(JSON.stringify({ requests, page_text: pageText, screenshot }));
} catch (err) {
  console.error(`chat playground test failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
