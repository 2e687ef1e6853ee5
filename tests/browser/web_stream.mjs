// The web app against a server with API keys on and the model writing answers (generate mode):
// the key field, an answer that grows token by token, and Stop ending generation on the server
// (the model's own token counter on /metrics stops moving).
//
// usage: node tests/browser/web_stream.mjs BASE_URL OUT_DIR API_KEY
// Prints one JSON report line and exits 0, or explains and exits 1. Fails on any console error.

import path from 'node:path';

import {
  args,
  askByKeyboard,
  main,
  openApp,
  openBrowser,
  settledTokens,
  tabTo,
  tokensGenerated,
  waitForAnswer,
} from './web_helpers.mjs';

const { baseUrl, outDir, key } = args('web_stream.mjs');
if (!key) {
  console.error('web_stream.mjs needs the API key as its third argument');
  process.exit(2);
}
const LONG_QUESTION = 'Explain in detail how to install, configure and run Quillfeather, step by step.';

/** Record the last answer's text length at every change, from before the question is sent. */
async function watchAnswerLengths(page) {
  await page.evaluate(() => {
    window.__lengths = [];
    new MutationObserver(() => {
      const body = [...document.querySelectorAll('.answer-body')].at(-1);
      const length = body ? body.textContent.length : 0;
      if (window.__lengths.at(-1) !== length) window.__lengths.push(length);
    }).observe(document.getElementById('transcript'), { childList: true, subtree: true, characterData: true });
  });
}

await main('web_stream', async () => {
  const report = {};
  const { page, problems, close } = await openBrowser();
  try {
    await openApp(page, baseUrl);
    report.key_form_visible = await page.locator('#key-form').isVisible();
    report.status_before_key = await page.locator('#status').textContent();
    await tabTo(page, '#api-key');
    await page.keyboard.type(key);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Key saved'));
    report.key_stored = await page.evaluate(() => localStorage.getItem('rag.apiKey'));

    await watchAnswerLengths(page);
    const answer = await waitForAnswer(page, await askByKeyboard(page, 'Which port does Quillfeather listen on?'));
    report.answer = answer;
    report.lengths = await page.evaluate(() => window.__lengths);
    report.desktop_screenshot = path.join(outDir, 'web-app-streamed.png');
    await page.screenshot({ path: report.desktop_screenshot });

    // the yardstick: how many tokens a whole answer to the long question takes
    const before = await settledTokens(baseUrl, key);
    const whole = await fetch(`${baseUrl}/chat`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
      body: JSON.stringify({ question: LONG_QUESTION }),
    });
    if (!whole.ok) throw new Error(`/chat answered ${whole.status}`);
    report.whole_answer_tokens = (await settledTokens(baseUrl, key)) - before;

    // now the same question in the page, stopped as soon as the answer has started
    await tabTo(page, '#new-session');
    await page.keyboard.press('Enter');
    const start = await settledTokens(baseUrl, key);
    const finished = await askByKeyboard(page, LONG_QUESTION);
    await page.waitForFunction(
      () => ([...document.querySelectorAll('.answer-body')].at(-1)?.textContent.length ?? 0) > 20,
      null,
      { timeout: 240_000 },
    );
    await tabTo(page, '#stop');
    await page.keyboard.press('Enter');
    const atStop = await tokensGenerated(baseUrl, key);
    const stopped = await waitForAnswer(page, finished);
    report.stopped = stopped;
    report.tokens_before_stop = atStop - start;
    report.tokens_after_stop = (await settledTokens(baseUrl, key)) - atStop;
    report.stop_disabled_after = await page.locator('#stop').isDisabled();
    report.health_after_stop = (await fetch(`${baseUrl}/health`)).status;
  } finally {
    await close();
  }
  if (problems.length) throw new Error(problems.join('\n'));
  return report;
});
