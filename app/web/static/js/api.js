// Calls to this server's API, with the API key (when the user gave one) as a Bearer token, and
// errors turned into one type whatever the route: our routes answer {"error", "message"}.

import { readEvents } from './sse.js';

const KEY_STORAGE = 'rag.apiKey';

/** The API key kept in this browser (localStorage: it survives reloads, never leaves the origin). */
export const apiKey = {
  get: () => localStorage.getItem(KEY_STORAGE) || '',
  set: (key) => localStorage.setItem(KEY_STORAGE, key.trim()),
  clear: () => localStorage.removeItem(KEY_STORAGE),
};

/** An API error: HTTP status, our error code and the server's sentence for humans. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra = {}) {
  const key = apiKey.get();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not our JSON shape (a proxy's page, say): fall back to the status line
  }
  const message = typeof body?.message === 'string' ? body.message : `${response.status} ${response.statusText}`;
  return new ApiError(response.status, typeof body?.error === 'string' ? body.error : 'error', message);
}

/** fetch() a route of this server with the key; JSON back (null for 204); ApiError otherwise. */
export async function request(method, path, { json, signal } = {}) {
  const init = { method, headers: headers(json === undefined ? {} : { 'Content-Type': 'application/json' }), signal };
  if (json !== undefined) init.body = JSON.stringify(json);
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

/** Ask a question; yields {event, data} with data parsed (sources, context, token, done, error). */
export async function* streamChat(question, sessionId, signal) {
  const response = await fetch('/chat/stream', {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
    body: JSON.stringify({ question, session_id: sessionId }),
    signal,
  });
  if (!response.ok) throw await failure(response);
  for await (const { event, data } of readEvents(response)) {
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch {
      continue; // not one of ours; the stream's own events are always JSON
    }
    yield { event, data: parsed };
  }
}

/**
 * POST files as multipart with upload progress (fetch cannot report upload progress, XHR can).
 * ``onProgress(fraction)`` gets 0..1; resolves with the JSON reply, rejects with ApiError.
 */
export function upload(path, files, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append('files', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [name, value] of Object.entries(headers())) xhr.setRequestHeader(name, value);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else {
        const message = typeof body?.message === 'string' ? body.message : `upload failed (${xhr.status})`;
        reject(new ApiError(xhr.status, body?.error || 'error', message));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload did not reach the server'));
    xhr.send(form);
  });
}
