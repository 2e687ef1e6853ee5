// The one way this app makes elements: tag, a few attributes, children as nodes or *text*.
// Strings always become text nodes, so nothing from the server is ever parsed as HTML.

/** createElement(tag) with attributes (class, aria-*, type, …) and children (strings → text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

/** A hex id from the browser's CSPRNG (crypto.randomUUID needs a secure context; this does not). */
export function randomId(bytes = 12) {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(values, (b) => b.toString(16).padStart(2, '0')).join('');
}
