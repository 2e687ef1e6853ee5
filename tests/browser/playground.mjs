// Drives the LangServe playground of /rag in Debian's headless Chromium, as a person would:
// open it, type a question, click Start, wait for the streamed answer, take a screenshot.
//
// usage: node tests/browser/playground.mjs BASE_URL SCREENSHOT_DIR [QUESTION]
// Prints one JSON line ({"answer", "sources", "screenshot"}) and exits 0, or explains and exits 1.
// Fails on any console error or uncaught page error. Never downloads a browser: it uses
// /usr/bin/chromium (make browser-deps) with a throwaway profile.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [baseUrl, shotDir, question = 'Which port does Quillfeather listen on?'] = process.argv.slice(2);
if (!baseUrl || !shotDir) {
  console.error('usage: node playground.mjs BASE_URL SCREENSHOT_DIR [QUESTION]');
  process.exit(2);
}

const ANSWER_TIMEOUT_MS = 240_000;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-chromium-'));
const problems = [];

const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1100, height: 900 },
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

  const opened = await page.goto(`${baseUrl}/rag/playground/`, { waitUntil: 'networkidle' });
  if (!opened || !opened.ok()) throw new Error(`playground answered ${opened?.status()}`);

  const input = page.locator('textarea[id="#/properties/question-input"]');
  await input.waitFor({ state: 'visible', timeout: 30_000 });
  await input.fill(question);

  const streamed = page.waitForResponse((r) => r.url().includes('/rag/stream_log'), {
    timeout: ANSWER_TIMEOUT_MS,
  });
  await page.getByRole('button', { name: 'Start' }).click();
  const response = await streamed;
  if (response.status() !== 200) throw new Error(`/rag/stream_log answered ${response.status()}`);
  await response.finished();

  // The playground prints each streamed chunk as JSON: sources first, then answer pieces.
  const output = page.locator('h2:text-is("Output") + div');
  await output.filter({ hasText: '"answer"' }).waitFor({ timeout: ANSWER_TIMEOUT_MS });
  await page.waitForTimeout(500); // let React paint the last chunk
  const text = await output.innerText();
  const answer = [...text.matchAll(/"answer": ("(?:[^"\\]|\\.)*")/g)]
    .map((m) => JSON.parse(m[1]))
    .join('');
  const sources = [...text.matchAll(/"source": ("(?:[^"\\]|\\.)*")/g)].map((m) => JSON.parse(m[1]));
  if (text.indexOf('"sources"') < 0 || text.indexOf('"sources"') > text.indexOf('"answer"')) {
    problems.push('the sources were not shown before the answer');
  }
  if (!answer.trim()) problems.push('the answer is empty');

  fs.mkdirSync(shotDir, { recursive: true });
  const screenshot = path.join(shotDir, 'playground.png');
  await page.screenshot({ path: screenshot, fullPage: true });

  if (problems.length) throw new Error(problems.join('\n'));
  console.log(JSON.stringify({ answer, sources, screenshot }));
} catch (err) {
  console.error(`playground test failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
