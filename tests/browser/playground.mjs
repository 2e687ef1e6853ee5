// Drives the LangServe playground of /rag in Debian's headless Chromium, as a person would:
// open it, type a question, click Start, wait for the streamed answer, take a screenshot. The
// output pane must show the answer as one text with its sources listed below, and stay short.
//
// usage: node tests/browser/playground.mjs BASE_URL SCREENSHOT_DIR [QUESTION]
// Prints one JSON line ({"answer", "content", "sources", "sources_first", "chunks", "shown",
// "pane_height", "screenshot"}) and exits 0, or explains and exits 1.
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
// One answer (at most RAG_LLM_MAX_TOKENS tokens) and a few sources fit well inside this; the
// playground printing one JSON object per token made a column of ~12,000 px.
const MAX_PANE_HEIGHT = 1200;
const flat = (text) => text.replace(/\s+/g, ' ').trim();

// What /rag/stream_log sent, from its SSE body: the chunks of the run, merged.
function streamedRun(body) {
  const chunks = body
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data: '))
    .flatMap((line) => JSON.parse(line.slice(6)).ops ?? [])
    .filter((op) => op.path === '/streamed_output/-')
    .map((op) => op.value);
  const joined = (key) => chunks.map((c) => c[key] ?? '').join('');
  const sources = (chunks.find((c) => c.sources) ?? { sources: [] }).sources.map((s) => s.source);
  const sourcesFirst = Array.isArray(chunks[0]?.sources) && chunks[0]?.answer === undefined;
  return {
    answer: joined('answer'),
    content: joined('content'),
    sources,
    sources_first: sourcesFirst,
    chunks: chunks.length,
  };
}
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
  const run = streamedRun(await response.text());

  // Everything /rag streamed, shown as one text: the answer, then its sources as a list.
  const output = page.locator('h2:text-is("Output") + div');
  await output.filter({ hasText: 'Sources:' }).waitFor({ timeout: ANSWER_TIMEOUT_MS });
  await page.waitForTimeout(500); // let React paint the last chunk
  const shown = await output.innerText();
  const box = await output.boundingBox();
  const paneHeight = Math.round(box?.height ?? Infinity);
  if (!run.sources_first) problems.push('/rag did not stream its sources first');
  if (!run.answer.trim()) problems.push('the answer is empty');
  if (!flat(shown).startsWith(flat(run.answer))) {
    problems.push(`the output pane does not begin with the answer: ${shown.slice(0, 300)}`);
  }
  if (flat(shown) !== flat(run.content)) problems.push('the output pane is not the streamed text');
  const listed = shown.slice(shown.lastIndexOf('Sources:')).split('\n').slice(1);
  run.sources.forEach((source, i) => {
    if (!listed[i]?.startsWith(`${i + 1}. ${source}`)) problems.push(`source ${source} not listed`);
  });
  if (shown.includes('"answer"')) problems.push('the output pane shows raw JSON chunks');
  if (paneHeight > MAX_PANE_HEIGHT) {
    problems.push(`the output pane is ${paneHeight} px tall (limit ${MAX_PANE_HEIGHT})`);
  }

  fs.mkdirSync(shotDir, { recursive: true });
  const screenshot = path.join(shotDir, 'playground.png');
  await page.screenshot({ path: screenshot, fullPage: true });

  if (problems.length) throw new Error(problems.join('\n'));
  console.log(
    JSON.stringify({ ...run, shown, pane_height: paneHeight, screenshot }),
  );
} catch (err) {
  console.error(`playground test failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
