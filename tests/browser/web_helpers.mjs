// Shared by the web app's browser scripts: Debian's Chromium, a page that fails on any console or
// page error, keyboard helpers, and reading what the page shows.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const ANSWER_TIMEOUT_MS = 240_000;

/** argv: BASE_URL OUT_DIR [API_KEY]; exits 2 with the usage line when they are missing. */
export function args(script) {
  const [baseUrl, outDir, key] = process.argv.slice(2);
  if (!baseUrl || !outDir) {
    console.error(`usage: node ${script} BASE_URL OUT_DIR [API_KEY]`);
    process.exit(2);
  }
  fs.mkdirSync(outDir, { recursive: true });
  return { baseUrl, outDir, key };
}

/** A headless Chromium context; ``problems`` collects every console error and page error. */
export async function openBrowser(options = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-web-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'],
    ...options,
  });
  const problems = [];
  const watch = (page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  };
  context.on('page', watch);
  context.pages().forEach(watch);
  const page = context.pages()[0] ?? (await context.newPage());
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, problems, close };
}

/** Load the app and wait until its start-up (config, lists) is over. */
export async function openApp(page, baseUrl) {
  const response = await page.goto(`${baseUrl}/`, { waitUntil: 'load' });
  if (!response || !response.ok()) throw new Error(`/ answered ${response?.status()}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  return response;
}

/** Press Tab until ``selector`` has focus: proves it is reachable with the keyboard alone. */
export async function tabTo(page, selector, limit = 80) {
  for (let i = 0; i < limit; i += 1) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`${selector} was not reached with ${limit} presses of Tab`);
}

/** Count the answers the page has finished (aria-busy="false"). */
export async function finishedAnswers(page) {
  return page.locator('.answer[aria-busy="false"]').count();
}

/** Type ``question`` into the focused question box with the keyboard and press Enter. */
export async function askByKeyboard(page, question) {
  const before = await finishedAnswers(page);
  await tabTo(page, '#question');
  await page.keyboard.type(question);
  await page.keyboard.press('Enter');
  return before;
}

/** Wait until the answer after ``before`` finished ones is done; returns what it shows. */
export async function waitForAnswer(page, before) {
  await page.waitForFunction(
    (n) => document.querySelectorAll('.answer[aria-busy="false"]').length > n,
    before,
    { timeout: ANSWER_TIMEOUT_MS },
  );
  return page.evaluate(() => {
    const answer = [...document.querySelectorAll('.answer')].at(-1);
    return {
      text: answer.querySelector('.answer-body').textContent,
      meta: answer.querySelector('.meta').textContent,
      notes: [...answer.querySelectorAll('.note, .error')].map((n) => n.textContent),
      strong: answer.querySelectorAll('.answer-body strong').length,
      sources: [...document.querySelectorAll('#source-list .source')].map((b) => ({
        file: b.querySelector('.source-file').textContent,
        where: b.querySelector('.source-where').textContent,
        score: b.querySelector('.source-score').textContent,
      })),
    };
  });
}

/** Elements of kinds that could run script or load a URL, inside the page's untrusted areas. */
export async function dangerousElements(page) {
  return page.evaluate(() =>
    ['#transcript', '#passage', '#source-list', '#session-list']
      .flatMap((area) => [...document.querySelectorAll(`${area} img, ${area} script, ${area} iframe, ${area} object`)])
      .map((el) => el.outerHTML),
  );
}

/** The model's token counter from /metrics (with the key when auth is on). */
export async function tokensGenerated(baseUrl, key) {
  const headers = key ? { Authorization: `Bearer ${key}` } : {};
  const response = await fetch(`${baseUrl}/metrics`, { headers });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}: ${await response.text()}`);
  const text = await response.text();
  const match = text.match(/^rag_llm_tokens_generated_total (\S+)$/m);
  return match ? Math.round(Number(match[1])) : 0;
}

/** The counter once it has not moved for ``quietMs``. */
export async function settledTokens(baseUrl, key, quietMs = 1500, limitMs = 120_000) {
  const deadline = Date.now() + limitMs;
  let last = await tokensGenerated(baseUrl, key);
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await tokensGenerated(baseUrl, key);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return now;
    }
  }
  throw new Error('the model never stopped producing tokens');
}

/** Run ``body`` and print its JSON report; any error or collected problem fails the script. */
export async function main(name, body) {
  try {
    const report = await body();
    console.log(JSON.stringify(report));
  } catch (err) {
    console.error(`${name} failed: ${err.stack || err.message}`);
    process.exitCode = 1;
  }
}
