// The web app's Markdown renderer: what it builds from hostile and ordinary input.
// Run by tests/unit/test_web_js.py (node --test); no browser needed: a recording fake document
// stands in for the DOM, so every element and attribute the renderer creates is seen.

import assert from 'node:assert/strict';
import test from 'node:test';

import { parseMarkdown, renderMarkdown, safeHref } from '../../../app/web/static/js/markdown.js';

class FakeNode {
  constructor(tag, text = null) {
    this.tag = tag;
    this.text = text;
    this.attrs = {};
    this.children = [];
  }
  appendChild(child) {
    this.children.push(child);
    return child;
  }
  setAttribute(name, value) {
    this.attrs[name] = value;
  }
  replaceChildren(...nodes) {
    this.children = nodes.flatMap((n) => (n.tag === '#fragment' ? n.children : [n]));
  }
}

const fakeDoc = {
  created: [],
  createElement(tag) {
    const node = new FakeNode(tag);
    this.created.push(node);
    return node;
  },
  createTextNode: (text) => new FakeNode('#text', text),
  createDocumentFragment: () => new FakeNode('#fragment'),
};

function render(text) {
  fakeDoc.created = [];
  const root = new FakeNode('div');
  renderMarkdown(root, text, fakeDoc);
  return root;
}

function allText(node) {
  return node.text ?? node.children.map(allText).join('');
}

const ALLOWED_TAGS = new Set([
  'p', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'pre', 'code', 'blockquote', 'hr', 'strong', 'em', 'br', 'a',
]);

const HOSTILE = [
  '# Zanzibar <img src=x onerror="window.__pwned=1">',
  '',
  'Token <script>window.__pwned=1</script> and <iframe src="javascript:alert(1)"></iframe>',
  '',
  '- <b onmouseover="x()">item</b>',
  '',
  '[click](javascript:window.__pwned=1) [data](data:text/html,<script>x</script>) [ok](https://example.org/a?b=1)',
  '',
  '```html',
  '<script>window.__pwned=1</script>',
  '```',
].join('\n');

test('raw HTML from a document or the model only ever becomes text', () => {
  const root = render(HOSTILE);
  for (const node of fakeDoc.created) {
    assert.ok(ALLOWED_TAGS.has(node.tag), `created <${node.tag}>`);
    for (const name of Object.keys(node.attrs)) {
      assert.ok(['href', 'rel', 'target', 'start'].includes(name), `attribute ${name} on <${node.tag}>`);
    }
  }
  const text = allText(root);
  assert.ok(text.includes('<img src=x onerror="window.__pwned=1">'));
  assert.ok(text.includes('<script>window.__pwned=1</script>'));
  assert.ok(text.includes('<iframe src="javascript:alert(1)"></iframe>'));
});

test('links keep only http, https and mailto, with rel=noopener noreferrer', () => {
  render(HOSTILE);
  const links = fakeDoc.created.filter((n) => n.tag === 'a');
  assert.deepEqual(links.map((a) => a.attrs.href), ['https://example.org/a?b=1']);
  assert.equal(links[0].attrs.rel, 'noopener noreferrer');
  assert.equal(safeHref('mailto:a@example.org'), 'mailto:a@example.org');
  assert.equal(safeHref('JavaScript:alert(1)'), null);
  assert.equal(safeHref('  javascript:alert(1)'), null);
  assert.equal(safeHref('/relative/path'), null);
  assert.equal(safeHref('vbscript:x'), null);
});

test('the rejected link stays visible as its source text', () => {
  const root = render('[click](javascript:alert(1))');
  assert.equal(allText(root), '[click](javascript:alert(1))');
});

test('paragraphs, headings, lists, code, emphasis and citations', () => {
  const blocks = parseMarkdown(
    [
      '## Plans',
      'Team costs **$8 per user** and *more* with `--port 7420`. [pricing.md:30-31]',
      '',
      '1. first',
      '2. second',
      '',
      '- a',
      '- b',
      '',
      '```',
      'make run',
      '```',
      '> quoted',
    ].join('\n'),
  );
  assert.deepEqual(
    blocks.map((b) => b.type),
    ['heading', 'paragraph', 'list', 'list', 'code', 'quote'],
  );
  assert.equal(blocks[0].level, 2);
  const inline = blocks[1].children.map((n) => n.type);
  assert.deepEqual(inline, ['text', 'strong', 'text', 'em', 'text', 'code', 'text']);
  assert.equal(blocks[1].children.at(-1).text, '. [pricing.md:30-31]');
  assert.equal(blocks[2].ordered, true);
  assert.equal(blocks[3].items.length, 2);
  assert.equal(blocks[4].text, 'make run');

  const root = render('## Plans\n\nsome **bold**');
  assert.equal(root.children[0].tag, 'h5', 'answer headings sit below the page headings');
  assert.equal(root.children[1].children[1].tag, 'strong');
});

test('an unfinished stream renders without throwing (an open fence, a lone asterisk)', () => {
  for (const partial of ['```py\nprint(', '**bold', 'a * b', '[link](http', '`code', '']) {
    const root = render(partial);
    assert.ok(allText(root).length >= 0);
  }
  assert.equal(allText(render('```py\nprint(')), 'print(');
  assert.equal(allText(render('**bold')), '**bold');
});

test('underscores inside words are text: window.__pwned, snake_case', () => {
  const source = 'a <script>window.__pwned=1</script> b window.__pwned c snake_case_name d';
  const root = render(source);
  assert.equal(allText(root), source);
  assert.deepEqual(fakeDoc.created.map((n) => n.tag), ['p']);
  assert.equal(allText(render('__strong__ and _em_')), 'strong and em');
  assert.deepEqual(fakeDoc.created.map((n) => n.tag), ['p', 'strong', 'em']);
});
