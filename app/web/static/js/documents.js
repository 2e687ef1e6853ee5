// Documents over the documents API: drag-and-drop (or pick) files, upload with a progress bar,
// follow the ingest job until it is done, list what is indexed, delete a file.
//
// Contract: POST /documents (multipart "files") → 202 {"job_id"}; GET /documents/jobs/{id} →
// {"status": queued|running|done|failed, "progress", "failures"}; GET /documents →
// {"documents": [{"source", "chunks", "owner", "ingested_at"}]}; DELETE /documents/{source} → 204.
// Everything but the status is read defensively: its shape is the other side's to refine.

import { request, upload } from './api.js';
import { h } from './dom.js';

const POLL_MS = 700;
const FINAL = new Set(['done', 'failed']);

function describeProgress(progress) {
  if (typeof progress === 'number' && Number.isFinite(progress)) {
    return `${Math.round(progress <= 1 ? progress * 100 : progress)} %`;
  }
  if (progress && typeof progress === 'object') {
    const done = Number(progress.done ?? progress.files_done ?? progress.processed);
    const total = Number(progress.total ?? progress.files_total ?? progress.files);
    if (Number.isFinite(done) && Number.isFinite(total) && total > 0) return `${done} of ${total}`;
  }
  return '';
}

function describeFailure(failure) {
  if (typeof failure === 'string') return failure;
  if (failure && typeof failure === 'object') {
    const name = failure.source ?? failure.file ?? failure.path ?? failure.name;
    const why = failure.error ?? failure.message ?? failure.reason;
    return [name, why].filter((x) => typeof x === 'string' && x).join(': ') || JSON.stringify(failure);
  }
  return String(failure);
}

export class Documents {
  constructor({ onError, onChanged }) {
    this.onError = onError;
    this.onChanged = onChanged;
    this.list = document.getElementById('document-list');
    this.bar = document.getElementById('upload-progress');
    this.message = document.getElementById('upload-message');
    this.zone = document.getElementById('drop-zone');
    const input = document.getElementById('file-input');
    input.addEventListener('change', () => {
      this.send([...input.files]);
      input.value = '';
    });
    this.zone.addEventListener('dragover', (event) => {
      event.preventDefault();
      this.zone.classList.add('dragging');
    });
    this.zone.addEventListener('dragleave', () => this.zone.classList.remove('dragging'));
    this.zone.addEventListener('drop', (event) => {
      event.preventDefault();
      this.zone.classList.remove('dragging');
      this.send([...(event.dataTransfer?.files ?? [])]);
    });
  }

  say(text, kind = '') {
    this.message.textContent = text;
    this.message.className = kind;
  }

  async send(files) {
    if (!files.length) return;
    const names = files.map((f) => f.name).join(', ');
    this.bar.hidden = false;
    this.bar.value = 0;
    this.say(`Uploading ${names}…`);
    let reply;
    try {
      reply = await upload('/documents', files, (fraction) => {
        this.bar.value = Math.round(fraction * 100);
      });
    } catch (error) {
      this.bar.hidden = true;
      this.say(error.message, 'error');
      this.onError(error);
      return;
    }
    this.bar.value = 100;
    const jobId = typeof reply?.job_id === 'string' ? reply.job_id : null;
    if (!jobId) {
      this.say('The server accepted the upload but sent no job id.', 'error');
      return;
    }
    await this.follow(jobId, names);
  }

  async follow(jobId, names) {
    for (;;) {
      let job;
      try {
        job = await request('GET', `/documents/jobs/${encodeURIComponent(jobId)}`);
      } catch (error) {
        this.say(error.message, 'error');
        return;
      }
      const status = typeof job?.status === 'string' ? job.status : 'unknown';
      const failures = Array.isArray(job?.failures) ? job.failures.map(describeFailure) : [];
      if (FINAL.has(status)) {
        this.bar.hidden = true;
        const failed = failures.length ? ` Failed: ${failures.join('; ')}` : '';
        this.say(`Ingest ${status}: ${names}.${failed}`, status === 'done' && !failures.length ? 'ok' : 'error');
        this.message.dataset.jobStatus = status;
        await this.refresh();
        this.onChanged();
        return;
      }
      this.say(`Ingest ${status} ${describeProgress(job?.progress)}`.trim());
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Reload the list of indexed documents. */
  async refresh() {
    let body;
    try {
      body = await request('GET', '/documents');
    } catch (error) {
      this.onError(error);
      return;
    }
    const documents = (Array.isArray(body?.documents) ? body.documents : []).filter(
      (d) => typeof d?.source === 'string',
    );
    this.list.replaceChildren(...documents.map((d) => this.item(d)));
    // folded by default, so at phone width the list does not push the conversation off screen
    document.getElementById('document-summary').textContent = `Indexed documents (${documents.length})`;
  }

  item(doc) {
    const chunks = Number.isInteger(doc.chunks) ? `${doc.chunks} chunks` : '';
    const visibility = typeof doc.owner === 'string' && !doc.owner.startsWith('_') ? 'private' : 'shared';
    const remove = h('button', { type: 'button', class: 'document-delete', 'aria-label': `Delete ${doc.source}` }, 'Delete');
    remove.addEventListener('click', () => this.confirmDelete(remove, doc.source));
    return h(
      'li',
      { 'data-source': doc.source },
      h('span', { class: 'document-name' }, doc.source),
      h('span', { class: 'hint' }, [chunks, visibility].filter(Boolean).join(' · ')),
      remove,
    );
  }

  /** First click arms the button ("Confirm delete"), the second deletes: no modal dialog needed. */
  async confirmDelete(button, source) {
    if (button.dataset.armed !== 'true') {
      button.dataset.armed = 'true';
      button.textContent = 'Confirm delete';
      setTimeout(() => {
        button.dataset.armed = 'false';
        button.textContent = 'Delete';
      }, 5000);
      return;
    }
    try {
      await request('DELETE', `/documents/${encodeURIComponent(source)}`);
      this.say(`Deleted ${source}.`, 'ok');
    } catch (error) {
      this.say(error.message, 'error');
      return;
    }
    await this.refresh();
    this.onChanged();
  }
}
