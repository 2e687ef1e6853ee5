// The web app at / in Debian's headless Chromium, driven with the keyboard: ask, read the answer
// (Markdown, answer mode), list and open its sources, follow up, use the conversations sidebar,
// see a refusal's reason, and show a hostile document's passage without running its script
// (once with the page's CSP, once with CSP bypassed, so the renderer alone must hold).
//
// usage: node tests/browser/web_chat.mjs BASE_URL OUT_DIR
// Prints one JSON report line and exits 0, or explains and exits 1. Fails on any console error.

import path from 'node:path';

import {
  args,
  askByKeyboard,
  dangerousElements,
  main,
  openApp,
  openBrowser,
  tabTo,
  waitForAnswer,
} from './web_helpers.mjs';

const { baseUrl, outDir } = args('web_chat.mjs');
const HOSTILE_QUESTION = 'What is the Zanzibar relay token?';

async function currentSessionId(page) {
  return page.evaluate(() => document.querySelector('.session-open[aria-current="true"]')?.closest('li')?.dataset.sessionId ?? null);
}

async function newConversation(page) {
  await tabTo(page, '#new-session');
  await page.keyboard.press('Enter');
}

async function hostileRun(page) {
  await newConversation(page);
  const answer = await waitForAnswer(page, await askByKeyboard(page, HOSTILE_QUESTION));
  const index = answer.sources.findIndex((s) => s.file === 'zanzibar.md');
  if (index < 0) throw new Error(`zanzibar.md not among the sources: ${JSON.stringify(answer.sources)}`);
  await page.locator('#source-list .source').nth(index).click();
  await page.locator('#passage').waitFor({ state: 'visible' });
  await page.waitForTimeout(500); // give an injected handler every chance to fire
  return {
    answer: answer.text,
    passage: await page.locator('#passage-text').textContent(),
    pwned: await page.evaluate(() => typeof window.__pwned === 'undefined' ? null : window.__pwned),
    dangerous: await dangerousElements(page),
  };
}

/** Ask is off while /ui/config is still on its way, and nothing a user does then reloads the page. */
async function beforeReady(context) {
  const page = await context.newPage();
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route('**/ui/config', async (route) => { await held; await route.continue(); });
  await page.goto(`${baseUrl}/`, { waitUntil: 'load' });
  const result = { send_disabled: await page.locator('#send').isDisabled() };
  await page.locator('#question').fill('typed before the page was ready');
  await page.keyboard.press('Enter');
  await page.locator('#send').click({ force: true });
  result.url_unchanged = page.url() === `${baseUrl}/`;
  result.question_kept = await page.locator('#question').inputValue();
  release();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  result.send_disabled_when_ready = await page.locator('#send').isDisabled();
  await page.close();
  return result;
}

await main('web_chat', async () => {
  const report = {};
  const { context, page, problems, close } = await openBrowser();
  try {
    report.before_ready = await beforeReady(context);
    const response = await openApp(page, baseUrl);
    report.csp = response.headers()['content-security-policy'];

    // keyboard only: the skip link takes focus straight to the question box
    await tabTo(page, '.skip-link');
    await page.keyboard.press('Enter');
    report.skip_link_focuses_question = await page.evaluate(() => document.activeElement?.id === 'question');

    const first = await waitForAnswer(page, await askByKeyboard(page, 'How much does the Team plan cost?'));
    report.first = first;

    await tabTo(page, '#source-list .source');
    await page.keyboard.press('Enter');
    await page.locator('#passage').waitFor({ state: 'visible' });
    report.passage = {
      where: await page.locator('#passage-where').textContent(),
      text: await page.locator('#passage-text').textContent(),
      focused: await page.evaluate(() => document.activeElement?.id === 'passage'),
    };
    report.desktop_screenshot = path.join(outDir, 'web-app-desktop.png');
    await page.screenshot({ path: report.desktop_screenshot });

    const followUp = await waitForAnswer(page, await askByKeyboard(page, 'and how many seats can it have?'));
    report.follow_up = followUp;
    const sessionId = await currentSessionId(page);
    report.session_id = sessionId;
    report.session = await (await fetch(`${baseUrl}/sessions/${sessionId}`)).json();
    report.sidebar_titles = await page.locator('.session-open').allTextContents();

    // new conversation empties the transcript; opening the stored one brings both turns back
    await newConversation(page);
    report.turns_after_new = await page.locator('.turn').count();
    await tabTo(page, `li[data-session-id="${sessionId}"] .session-open`);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('.turn').length === 2);
    report.reopened_questions = await page.locator('.turn .question p').allTextContents();

    await tabTo(page, `li[data-session-id="${sessionId}"] .session-delete`);
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => !document.querySelector(`li[data-session-id="${id}"]`), sessionId);
    report.deleted_status = (await fetch(`${baseUrl}/sessions/${sessionId}`)).status;

    await newConversation(page);
    report.refusal = await waitForAnswer(page, await askByKeyboard(page, 'Quels sont les meilleurs fromages?'));

    report.hostile = await hostileRun(page);

    await page.setViewportSize({ width: 375, height: 812 });
    report.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    report.phone_screenshot = path.join(outDir, 'web-app-phone.png');
    await page.screenshot({ path: report.phone_screenshot, fullPage: true });
  } finally {
    await close();
  }

  // The same hostile passage with the CSP bypassed: the renderer alone must keep it inert. The
  // canary proves the payload is live: parsed as HTML in that context, it does set the flag.
  const bypass = await openBrowser({ bypassCSP: true });
  try {
    await openApp(bypass.page, baseUrl);
    report.hostile_without_csp = await hostileRun(bypass.page);
    // the canary's broken image logs a 404 by design: only what the app's page logged counts
    problems.push(...bypass.problems);
    const canary = await bypass.context.newPage();
    await canary.goto(`${baseUrl}/health`);
    await canary.evaluate(() => {
      const box = document.createElement('div');
      box.innerHTML = '<img src=x onerror="window.__pwned=1">'; // the hostile document's HTML
      document.body.append(box);
    });
    await canary.waitForFunction(() => window.__pwned === 1, null, { timeout: 10_000 });
    report.canary_pwned = await canary.evaluate(() => window.__pwned);
  } finally {
    await bypass.close();
  }
  if (problems.length) throw new Error(problems.join('\n'));
  return report;
});
