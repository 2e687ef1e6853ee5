// The web app's documents panel against the real documents API: drop a file on the page, watch
// the upload's progress bar and the ingest job finish, find the file in the list, ask about it,
// delete it, and ask again (it is no longer a source).
//
// usage: node tests/browser/web_upload.mjs BASE_URL OUT_DIR
// Prints one JSON report line and exits 0, or explains and exits 1. Fails on any console error.

import path from 'node:path';

import { args, askByKeyboard, main, openApp, openBrowser, tabTo, waitForAnswer } from './web_helpers.mjs';

const { baseUrl, outDir } = args('web_upload.mjs');
const FILE_NAME = 'moonbase-kappa.md';
const FILE_TEXT = '# Moonbase Kappa\n\nThe Moonbase Kappa airlock code is 4471-ORCHID and it changes every Tuesday.\n';
const QUESTION = 'What is the Moonbase Kappa airlock code?';

/** Drop ``files`` ({name, text}) on the drop zone, as a drag from the desktop would. */
async function dropFiles(page, files) {
  await page.evaluate((list) => {
    const transfer = new DataTransfer();
    for (const { name, text } of list) transfer.items.add(new File([text], name, { type: 'text/markdown' }));
    const zone = document.getElementById('drop-zone');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  }, files);
}

/** Record every value the progress bar shows while it is visible. */
async function watchProgress(page) {
  await page.evaluate(() => {
    window.__progress = [];
    const bar = document.getElementById('upload-progress');
    new MutationObserver(() => {
      if (!bar.hidden) window.__progress.push(Number(bar.value));
    }).observe(bar, { attributes: true });
  });
}

const listed = (page) => page.locator('#document-list li').evaluateAll((items) => items.map((li) => li.dataset.source));

await main('web_upload', async () => {
  const report = {};
  const { page, problems, close } = await openBrowser();
  try {
    await openApp(page, baseUrl);
    report.panel_visible = await page.locator('.documents').isVisible();
    if (!report.panel_visible) throw new Error('no documents panel: this server has no documents API (GET /ui/config)');
    report.listed_before = await listed(page);

    await watchProgress(page);
    await dropFiles(page, [{ name: FILE_NAME, text: FILE_TEXT }]);
    await page.waitForSelector('#upload-message[data-job-status]', { timeout: 300_000 });
    report.job_status = await page.locator('#upload-message').getAttribute('data-job-status');
    report.job_message = await page.locator('#upload-message').textContent();
    report.progress_seen = await page.evaluate(() => window.__progress);
    report.listed_after_upload = await listed(page);

    report.answer = await waitForAnswer(page, await askByKeyboard(page, QUESTION));
    report.screenshot = path.join(outDir, 'web-app-documents.png');
    await page.screenshot({ path: report.screenshot, fullPage: true });

    const source = report.listed_after_upload.find((s) => s.endsWith(FILE_NAME));
    if (!source) throw new Error(`${FILE_NAME} is not listed: ${JSON.stringify(report.listed_after_upload)}`);
    await tabTo(page, '#document-details > summary');
    await page.keyboard.press('Enter'); // unfold the list
    const button = `#document-list li[data-source="${source}"] .document-delete`;
    await tabTo(page, button);
    await page.keyboard.press('Enter'); // arms it
    await page.keyboard.press('Enter'); // deletes
    await page.waitForFunction(
      (s) => ![...document.querySelectorAll('#document-list li')].some((li) => li.dataset.source === s),
      source,
      { timeout: 60_000 },
    );
    report.listed_after_delete = await listed(page);
    report.api_after_delete = await (await fetch(`${baseUrl}/documents`)).json();
    await tabTo(page, '#new-session');
    await page.keyboard.press('Enter');
    report.answer_after_delete = await waitForAnswer(page, await askByKeyboard(page, QUESTION));
  } finally {
    await close();
  }
  if (problems.length) throw new Error(problems.join('\n'));
  return report;
});
