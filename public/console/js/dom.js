// Building the page from call data without ever parsing it as HTML: every value becomes a text
// node (textContent) or an attribute set through the DOM, never markup. A caller's transcript is
// untrusted text; so are numbers, tool arguments and end reasons. (The page's Content-Security-
// Policy also enforces Trusted Types: an innerHTML assignment would throw.)

/**
 * An element: `h('td', { class: 'num', dataset: { callSid } }, 'text', otherNode)`.
 * Children: strings and numbers become text nodes, null/undefined/false are skipped, arrays are
 * flattened. Attributes: `class`, `dataset`, `on*` handlers (functions), and plain attributes set
 * with setAttribute (values as strings).
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = String(value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.append(child);
    else element.append(document.createTextNode(String(child)));
  }
}

/** Replaces `element`'s children. */
export function show(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** A link inside the console (`#/calls/CA…`); `path` is built by the caller from checked parts. */
export function link(path, ...children) {
  return h('a', { href: `#${path}` }, ...children);
}

/** A <dl> from [term, value] pairs (value: text or a node). */
export function definitions(pairs, attributes = {}) {
  return h('dl', attributes, pairs.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}
