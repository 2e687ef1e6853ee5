// The documents panel against the documents API's contract, with that API answered inside the
// browser (page.route) so the page's side is tested where the real API is not served yet:
// drop → multipart POST of the field "files" → job polled queued → running → done → list
// refreshed; a job's failures shown; delete sends the URL-encoded source and the list updates.
// The real API end to end: web_upload.mjs.
//
// usage: node tests/browser/web_upload_contract.mjs BASE_URL OUT_DIR
// Prints one JSON report line and exits 0, or explains and exits 1. Fails on any console error.

import { args, main, openApp, openBrowser, tabTo } from './web_helpers.mjs';

const { baseUrl } = args('web_upload_contract.mjs');
const OLD = { source: 'notes/old plan.md', chunks: 3, owner: '_shared', ingested_at: '2026-12-01T10:00:00Z' };

/** An in-memory documents API following the contract; records what the page sent. */
async function fakeDocumentsApi(page) {
  const state = { documents: [OLD], uploads: [], polls: {}, deletes: [] };
  const jobs = {
    'job-ok': [{ status: 'queued' }, { status: 'running', progress: { done: 0, total: 1 } }, { status: 'done', progress: 1, failures: [] }],
    'job-bad': [{ status: 'running' }, { status: 'done', failures: [{ source: 'broken.pdf', error: 'not a PDF file' }] }],
  };
  const json = (route, status, body) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });

  await page.route(`${baseUrl}/ui/config`, async (route) => {
    const real = await (await route.fetch()).json();
    await json(route, 200, { ...real, documents_api: true });
  });
  await page.route(/\/documents(\/.*)?$/, async (route) => {
    const request = route.request();
    const url = new URL(request.url());
    if (request.method() === 'POST' && url.pathname === '/documents') {
      const body = request.postDataBuffer()?.toString('latin1') ?? '';
      const names = [...body.matchAll(/name="files"; filename="([^"]+)"/g)].map((m) => m[1]);
      state.uploads.push({ contentType: request.headers()['content-type'], names });
      const jobId = names.includes('broken.pdf') ? 'job-bad' : 'job-ok';
      return json(route, 202, { job_id: jobId });
    }
    const job = url.pathname.match(/^\/documents\/jobs\/(.+)$/);
    if (request.method() === 'GET' && job) {
      const id = decodeURIComponent(job[1]);
      const n = state.polls[id] ?? 0;
      state.polls[id] = n + 1;
      const reply = jobs[id][Math.min(n, jobs[id].length - 1)];
      if (id === 'job-ok' && reply.status === 'done' && !state.documents.some((d) => d.source === 'moonbase.md')) {
        state.documents.push({ source: 'moonbase.md', chunks: 1, owner: '_shared', ingested_at: '2026-12-03T10:00:00Z' });
      }
      return json(route, 200, reply);
    }
    if (request.method() === 'GET' && url.pathname === '/documents') return json(route, 200, { documents: state.documents });
    if (request.method() === 'DELETE') {
      state.deletes.push(url.pathname);
      const source = decodeURIComponent(url.pathname.slice('/documents/'.length));
      state.documents = state.documents.filter((d) => d.source !== source);
      return route.fulfill({ status: 204, body: '' });
    }
    return json(route, 404, { error: 'not_found', message: 'not in the fake API' });
  });
  return state;
}

async function drop(page, name, text) {
  await page.evaluate(({ name: fileName, text: body }) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([body], fileName));
    const zone = document.getElementById('drop-zone');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  }, { name, text });
}

const listed = (page) => page.locator('#document-list li').evaluateAll((items) => items.map((li) => li.dataset.source));

await main('web_upload_contract', async () => {
  const report = {};
  const { page, problems, close } = await openBrowser();
  try {
    const state = await fakeDocumentsApi(page);
    await page.addInitScript(() => {
      window.__messages = [];
      window.__progress = [];
      document.addEventListener('DOMContentLoaded', () => {
        const message = document.getElementById('upload-message');
        const bar = document.getElementById('upload-progress');
        new MutationObserver(() => window.__messages.push(message.textContent)).observe(message, { childList: true, characterData: true, subtree: true });
        new MutationObserver(() => window.__progress.push({ hidden: bar.hidden, value: Number(bar.value) })).observe(bar, { attributes: true });
      });
    });
    await openApp(page, baseUrl);
    report.panel_visible = await page.locator('.documents').isVisible();
    report.listed_before = await listed(page);

    await drop(page, 'moonbase.md', '# Moonbase\n\n'.padEnd(200_000, 'x'));
    await page.waitForFunction(() => document.getElementById('upload-message').dataset.jobStatus === 'done');
    report.messages = await page.evaluate(() => window.__messages);
    report.progress = await page.evaluate(() => window.__progress);
    report.final_message = { text: await page.locator('#upload-message').textContent(), class: await page.locator('#upload-message').getAttribute('class') };
    report.listed_after_upload = await listed(page);

    await page.evaluate(() => delete document.getElementById('upload-message').dataset.jobStatus);
    await drop(page, 'broken.pdf', 'not really a pdf');
    await page.waitForFunction(() => document.getElementById('upload-message').dataset.jobStatus === 'done');
    report.failure_message = { text: await page.locator('#upload-message').textContent(), class: await page.locator('#upload-message').getAttribute('class') };

    await tabTo(page, '#document-details > summary');
    await page.keyboard.press('Enter'); // unfold the list
    await tabTo(page, `#document-list li[data-source="${OLD.source}"] .document-delete`);
    await page.keyboard.press('Enter');
    report.armed_label = await page.locator(`#document-list li[data-source="${OLD.source}"] .document-delete`).textContent();
    report.deletes_after_first_press = state.deletes.length;
    await page.keyboard.press('Enter');
    await page.waitForFunction((s) => ![...document.querySelectorAll('#document-list li')].some((li) => li.dataset.source === s), OLD.source);
    report.listed_after_delete = await listed(page);
    report.uploads = state.uploads;
    report.polls = state.polls;
    report.deletes = state.deletes;
  } finally {
    await close();
  }
  if (problems.length) throw new Error(problems.join('\n'));
  return report;
});
