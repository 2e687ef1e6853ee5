// Safe Markdown: parse to a small tree of plain objects, then build DOM nodes from a fixed list of
// tags with createElement/createTextNode. No HTML string is ever parsed.
//
// Why no library: answers and cited passages are untrusted (they are copied from documents or
// written by a model). The well-kept renderers (marked, markdown-it) produce an HTML *string* that
// then needs a sanitizer (DOMPurify) and innerHTML: two libraries to vendor and keep patched, and a
// string-to-DOM step that our Trusted Types policy forbids anyway. The subset answers use
// (paragraphs, headings, lists, code, emphasis, links) fits in this file, and by construction
// raw HTML in the input can only ever become text.

const FENCE = /^\s{0,3}(```|~~~)\s*([\w+-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const ORDERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;

/** Schemes a link may use; anything else (javascript:, data:, relative paths) stays plain text. */
export const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

/** The URL when it is absolute and uses a safe scheme, otherwise null. */
export function safeHref(raw) {
  let url;
  try {
    url = new URL(raw.trim());
  } catch {
    return null;
  }
  return SAFE_SCHEMES.has(url.protocol) ? url.href : null;
}

/** Parse Markdown text into block nodes ({type, ...}); never throws, whatever the input. */
export function parseMarkdown(text) {
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').split('\n');
  const blocks = [];
  let paragraph = [];
  let list = null;

  const flushParagraph = () => {
    if (paragraph.length) blocks.push({ type: 'paragraph', children: parseInline(paragraph.join('\n')) });
    paragraph = [];
  };
  const flushList = () => {
    if (list) blocks.push(list);
    list = null;
  };

  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const fence = line.match(FENCE);
    if (fence) {
      flushParagraph();
      flushList();
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) {
        body.push(lines[i]);
        i += 1;
      }
      blocks.push({ type: 'code', lang: fence[2] || '', text: body.join('\n') });
      continue;
    }
    if (!line.trim()) {
      flushParagraph();
      flushList();
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      flushParagraph();
      flushList();
      blocks.push({ type: 'heading', level: heading[1].length, children: parseInline(heading[2]) });
      continue;
    }
    if (RULE.test(line)) {
      flushParagraph();
      flushList();
      blocks.push({ type: 'rule' });
      continue;
    }
    const bullet = line.match(BULLET);
    const ordered = bullet ? null : line.match(ORDERED);
    if (bullet || ordered) {
      flushParagraph();
      const isOrdered = Boolean(ordered);
      if (!list || list.ordered !== isOrdered) {
        flushList();
        list = { type: 'list', ordered: isOrdered, start: ordered ? Number(ordered[1]) : 1, items: [] };
      }
      list.items.push(parseInline(bullet ? bullet[1] : ordered[2]));
      continue;
    }
    const quote = line.match(QUOTE);
    if (quote) {
      flushParagraph();
      flushList();
      const body = [quote[1]];
      while (i + 1 < lines.length && QUOTE.test(lines[i + 1])) {
        i += 1;
        body.push(lines[i].match(QUOTE)[1]);
      }
      blocks.push({ type: 'quote', children: parseMarkdown(body.join('\n')) });
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      // a continuation line of the last list item
      const last = list.items[list.items.length - 1];
      last.push({ type: 'text', text: ' ' }, ...parseInline(line.trim()));
      continue;
    }
    flushList();
    paragraph.push(line.trim());
  }
  flushParagraph();
  flushList();
  return blocks;
}

/** Parse inline Markdown (code spans, strong, emphasis, links, line breaks) into inline nodes. */
export function parseInline(text) {
  const nodes = [];
  let plain = '';
  const pushText = () => {
    if (plain) nodes.push({ type: 'text', text: plain });
    plain = '';
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length && /[\\`*_[\]()#>+-]/.test(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === '\n') {
      pushText();
      nodes.push({ type: 'break' });
      i += 1;
      continue;
    }
    if (ch === '`') {
      const ticks = rest.match(/^`+/)[0];
      const end = text.indexOf(ticks, i + ticks.length);
      if (end > 0) {
        pushText();
        nodes.push({ type: 'code', text: text.slice(i + ticks.length, end).trim() || ' ' });
        i = end + ticks.length;
        continue;
      }
    }
    // "_" and "__" open only after a space, "(" or the start, and close only before a space,
    // punctuation or the end: snake_case and window.__name stay text (stricter than CommonMark)
    const underscoreCannotOpen = !/^[\s(]?$/.test(text[i - 1] || '');
    const strong = rest.match(/^\*\*(?=\S)([\s\S]*?\S)\*\*/) ||
      (underscoreCannotOpen ? null : rest.match(/^__(?=\S)([\s\S]*?\S)__(?!\w)/));
    if (strong) {
      pushText();
      nodes.push({ type: 'strong', children: parseInline(strong[1]) });
      i += strong[0].length;
      continue;
    }
    const em = rest.match(/^\*(?=[^\s*])([\s\S]*?[^\s*])\*(?!\*)/) ||
      (underscoreCannotOpen ? null : rest.match(/^_(?=\S)([\s\S]*?\S)_(?!\w)/));
    if (em) {
      pushText();
      nodes.push({ type: 'em', children: parseInline(em[1]) });
      i += em[0].length;
      continue;
    }
    const link = rest.match(/^\[([^\]\n]+)\]\(\s*([^\s)]+)(?:\s+"[^"]*")?\s*\)/);
    if (link) {
      const href = safeHref(link[2]);
      pushText();
      if (href) nodes.push({ type: 'link', href, children: parseInline(link[1]) });
      else nodes.push({ type: 'text', text: link[0] });
      i += link[0].length;
      continue;
    }
    plain += ch;
    i += 1;
  }
  pushText();
  return nodes;
}

/** The only elements the renderer ever creates, by node type. */
const BLOCK_TAGS = { paragraph: 'p', code: 'pre', list: null, quote: 'blockquote', rule: 'hr' };
const INLINE_TAGS = { strong: 'strong', em: 'em', code: 'code', break: 'br' };

function appendInline(doc, parent, nodes) {
  for (const node of nodes) {
    if (node.type === 'text') {
      parent.appendChild(doc.createTextNode(node.text));
    } else if (node.type === 'link') {
      const a = doc.createElement('a');
      a.setAttribute('href', node.href);
      a.setAttribute('rel', 'noopener noreferrer');
      a.setAttribute('target', '_blank');
      appendInline(doc, a, node.children);
      parent.appendChild(a);
    } else if (node.type === 'code') {
      const code = doc.createElement('code');
      code.appendChild(doc.createTextNode(node.text));
      parent.appendChild(code);
    } else if (INLINE_TAGS[node.type]) {
      const el = doc.createElement(INLINE_TAGS[node.type]);
      if (node.children) appendInline(doc, el, node.children);
      parent.appendChild(el);
    }
  }
}

function appendBlocks(doc, parent, blocks) {
  for (const block of blocks) {
    let el;
    if (block.type === 'heading') {
      // answers sit under the page's own h2/h3: their headings start at h4
      el = doc.createElement(`h${Math.min(6, block.level + 3)}`);
      appendInline(doc, el, block.children);
    } else if (block.type === 'list') {
      el = doc.createElement(block.ordered ? 'ol' : 'ul');
      if (block.ordered && block.start !== 1) el.setAttribute('start', String(block.start));
      for (const item of block.items) {
        const li = doc.createElement('li');
        appendInline(doc, li, item);
        el.appendChild(li);
      }
    } else if (block.type === 'code') {
      el = doc.createElement('pre');
      const code = doc.createElement('code');
      code.appendChild(doc.createTextNode(block.text));
      el.appendChild(code);
    } else if (block.type === 'quote') {
      el = doc.createElement('blockquote');
      appendBlocks(doc, el, block.children);
    } else if (BLOCK_TAGS[block.type]) {
      el = doc.createElement(BLOCK_TAGS[block.type]);
      if (block.children) appendInline(doc, el, block.children);
    } else {
      continue;
    }
    parent.appendChild(el);
  }
}

/** Replace ``target``'s content with ``text`` rendered as Markdown (DOM nodes only). */
export function renderMarkdown(target, text, doc = target.ownerDocument) {
  const fragment = doc.createDocumentFragment();
  appendBlocks(doc, fragment, parseMarkdown(text));
  target.replaceChildren(fragment);
}
