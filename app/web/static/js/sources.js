// The sources panel: where each cited chunk is (file, page, lines, heading path) and how relevant
// it was; a click (or Enter) shows the passage itself, as plain text.

import { h } from './dom.js';

const list = () => document.getElementById('source-list');

/** "lines 30–33", "line 7", or null when the chunk has no line range (PDF, DOCX). */
function lineRange(source) {
  const { start_line: start, end_line: end } = source;
  if (!Number.isInteger(start)) return null;
  return Number.isInteger(end) && end !== start ? `lines ${start}–${end}` : `line ${start}`;
}

/** Where in its file a chunk is: page, line range, heading path (those it has). */
function locationParts(source) {
  return [
    Number.isInteger(source.page) ? `p. ${source.page}` : null,
    lineRange(source),
    typeof source.headings === 'string' && source.headings ? source.headings : null,
  ].filter(Boolean);
}

/** One line saying where a chunk is: "pricing.md · p. 2 · lines 30–33 · Plans › Team". */
export function whereLabel(source) {
  return [String(source.source ?? '?'), ...locationParts(source)].join(' · ');
}

function showPassage(source) {
  const passage = document.getElementById('passage');
  document.getElementById('passage-where').textContent = whereLabel(source);
  document.getElementById('passage-text').textContent =
    typeof source.snippet === 'string' && source.snippet ? source.snippet : '(no text was sent for this source)';
  passage.hidden = false;
  passage.focus();
}

/** Show ``sources`` (the chain's citations) in the panel, replacing what was there. */
export function showSources(sources) {
  const items = Array.isArray(sources) ? sources : [];
  document.getElementById('sources-empty').hidden = items.length > 0;
  document.getElementById('passage').hidden = true;
  list().replaceChildren(
    ...items.map((source, index) => {
      const score = Number(source.score);
      return h(
        'li',
        {},
        h(
          'button',
          { type: 'button', class: 'source', 'data-index': index, onclick: () => showPassage(source) },
          h('span', { class: 'source-file' }, String(source.source ?? '?')),
          h('span', { class: 'source-where' }, locationParts(source).join(' · ')),
          h('span', { class: 'source-score' }, Number.isFinite(score) ? `score ${score.toFixed(2)}` : ''),
        ),
      );
    }),
  );
}
