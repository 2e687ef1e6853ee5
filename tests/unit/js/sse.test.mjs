// The web app's SSE parser against what /chat/stream sends, split at every awkward place.

import assert from 'node:assert/strict';
import test from 'node:test';

import { SseParser } from '../../../app/web/static/js/sse.js';

const STREAM =
  'event: sources\ndata: [{"source": "pricing.md"}]\n\n' +
  ': ping - 2026-01-01\n\n' +
  'event: token\ndata: "Twelve"\n\n' +
  'event: token\r\ndata: " euros"\r\n\r\n' +
  'data: line one\ndata: line two\n\n' +
  'event: done\ndata: {"answer": "Twelve euros"}\n\n';

const EXPECTED = [
  { event: 'sources', data: '[{"source": "pricing.md"}]' },
  { event: 'token', data: '"Twelve"' },
  { event: 'token', data: '" euros"' },
  { event: 'message', data: 'line one\nline two' },
  { event: 'done', data: '{"answer": "Twelve euros"}' },
];

test('whole stream at once', () => {
  assert.deepEqual(new SseParser().push(STREAM), EXPECTED);
});

test('split at every position, events are the same', () => {
  for (let cut = 1; cut < STREAM.length; cut += 1) {
    const parser = new SseParser();
    const events = [...parser.push(STREAM.slice(0, cut)), ...parser.push(STREAM.slice(cut))];
    assert.deepEqual(events, EXPECTED, `cut at ${cut}`);
  }
});

test('one character at a time', () => {
  const parser = new SseParser();
  const events = [];
  for (const ch of STREAM) events.push(...parser.push(ch));
  assert.deepEqual(events, EXPECTED);
});

test('an event without its blank line is not emitted yet', () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push('event: token\ndata: "x"\n'), []);
  assert.deepEqual(parser.push('\n'), [{ event: 'token', data: '"x"' }]);
});
