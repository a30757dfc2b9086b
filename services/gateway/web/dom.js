// dom.js — the only way the UI creates DOM nodes.
//
// Every text that comes from the API (report names, labels, table cells,
// answers, prompts, alerts) reaches the page through text nodes: h() turns
// string children into document.createTextNode() and never parses HTML.
// Attributes are set one by one with setAttribute(); names starting with
// "on" are refused (event handlers go through the `on` option, which takes
// functions, never strings). The UI code never assigns innerHTML/outerHTML;
// tests/e2e/markdown_test.mjs greps the sources to keep it that way.

/**
 * h(tag, attrs, ...children) -> Element
 *   attrs: plain attributes (class, title, type, id, href, ...) plus
 *     dataset: {k: v}  -> data-k="v"
 *     on: {event: fn}   -> addEventListener
 *     props: {k: v}     -> element[k] = v (value, checked, disabled, hidden)
 *   children: strings/numbers (text), Nodes, arrays of those, null/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'dataset') {
        for (const [dk, dv] of Object.entries(v)) if (dv !== undefined && dv !== null) el.dataset[dk] = String(dv);
      } else if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      } else if (k === 'props') {
        for (const [pk, pv] of Object.entries(v)) el[pk] = pv;
      } else {
        if (/^on/i.test(k)) throw new Error(`h(): refusing attribute ${k}`);
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

/** Appends children (text, nodes, nested arrays) to el; returns el. */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (typeof c === 'string' || typeof c === 'number') el.appendChild(document.createTextNode(String(c)));
    else el.appendChild(c);
  }
  return el;
}

/** Removes every child of el; returns el. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** clear(el) then append(children). */
export function replace(el, ...children) {
  return append(clear(el), children);
}
