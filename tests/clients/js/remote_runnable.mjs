// Drives LangChain.js's RemoteRunnable (@langchain/core/runnables/remote) against a live server's
// /rag on every verb: invoke, batch, stream, streamLog, streamEvents (v2), and records the
// top-level body fields each verb sent (through the client's own `fetch` option).
//
// usage: node tests/clients/js/remote_runnable.mjs BASE_URL QUESTION OTHER_QUESTION
// Prints one JSON line, {"<verb>": {"fields", "answer", "sources", ...}}, and exits 0; on any
// failure prints the error and exits 1. The assertions live in tests/clients/test_js_client.py.

import { RemoteRunnable } from '@langchain/core/runnables/remote';
import { RunLog } from '@langchain/core/tracers/log_stream';

const [baseUrl, question, otherQuestion] = process.argv.slice(2);
if (!baseUrl || !question || !otherQuestion) {
  console.error('usage: node remote_runnable.mjs BASE_URL QUESTION OTHER_QUESTION');
  process.exit(2);
}

const sentFields = {};
async function recordingFetch(url, init) {
  const endpoint = new URL(url).pathname.split('/').pop();
  sentFields[endpoint] = Object.keys(JSON.parse(init.body)).sort();
  return fetch(url, init);
}

const rag = new RemoteRunnable({
  url: `${baseUrl}/rag/`,
  options: { timeout: 240_000 },
  fetch: recordingFetch,
});
const input = { question };
const summary = (endpoint, output) => ({
  fields: sentFields[endpoint],
  answer: output.answer,
  sources: output.sources,
  content: output.content,
});

try {
  const report = {};
  report.invoke = summary('invoke', await rag.invoke(input));

  const [first, second] = await rag.batch([input, { question: otherQuestion }]);
  report.batch = { ...summary('batch', first), second: summary('batch', second) };

  const chunks = [];
  for await (const chunk of await rag.stream(input)) chunks.push(chunk);
  report.stream = {
    fields: sentFields.stream,
    first_chunk_keys: Object.keys(chunks[0]).sort(),
    answer_pieces: chunks.filter((c) => c.answer).length,
    answer: chunks.map((c) => c.answer ?? '').join(''),
    sources: chunks[0].sources,
  };

  let log;
  let patches = 0;
  for await (const patch of await rag.streamLog(input)) {
    log = log === undefined ? RunLog.fromRunLogPatch(patch) : log.concat(patch);
    patches += 1;
  }
  const streamed = log.state.streamed_output;
  report.stream_log = {
    ...summary('stream_log', log.state.final_output),
    patches,
    streamed_chunks: streamed.length,
    first_chunk_keys: Object.keys(streamed[0]).sort(),
  };

  const events = [];
  for await (const event of rag.streamEvents(input, { version: 'v2' })) events.push(event);
  report.stream_events = {
    ...summary('stream_events', events.at(-1).data.output),
    first_event: events[0].event,
    last_event: events.at(-1).event,
    model_tokens: events.filter((e) => e.event === 'on_chat_model_stream').length,
  };

  console.log(JSON.stringify(report));
} catch (err) {
  console.error(`RemoteRunnable failed: ${err.stack ?? err}`);
  process.exitCode = 1;
}
