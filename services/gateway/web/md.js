// md.js — a small, safe Markdown renderer for commentary answers.
//
// Answers come from a language model (or the offline narrator) and may quote
// telemetry that anyone could have written into a job name, so they are
// untrusted. The renderer is therefore two pure steps and no HTML parser:
//
//   parseMarkdown(text) -> block AST   (headings, paragraphs, lists, fenced
//                                       code, block quotes, rules, pipe tables)
//   parseInline(text)   -> inline AST  (text, strong, em, del, code, link, br)
//   renderMarkdown(text, doc) -> DocumentFragment built with createElement
//                                of a fixed tag set and createTextNode.
//
// Raw HTML in the input is never interpreted: "<img onerror=...>" stays the
// literal text it is. Links get an href only when safeHref() accepts them
// (absolute http: or https: URLs); anything else (javascript:, data:,
// relative paths) is shown as plain text. Images are rendered as links to
// the image (never loaded), so an answer cannot make the browser fetch
// anything. The only attributes written are href/rel/target on links,
// start on ordered lists and class on code blocks and table cells, all from
// fixed vocabularies.
//
// The module has no dependency on a real DOM: renderMarkdown takes the
// document to build with, so tests/e2e/markdown_test.mjs runs it in Node
// against a recording fake document.

const MAX_INPUT = 200000;      // characters; longer input is truncated
const MAX_DEPTH = 12;          // nesting of lists/quotes/inline emphasis

// ---------------------------------------------------------------- blocks --

const RE_FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const RE_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RE_HR = /^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$/;
const RE_QUOTE = /^ {0,3}> ?(.*)$/;
const RE_ITEM = /^( *)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$/;
const RE_TABLE_SEP = /^ *\|? *:?-{1,}:? *(?:\| *:?-{1,}:? *)*\|? *$/;

function isBlank(line) {
  return /^\s*$/.test(line);
}

function expandTabs(line) {
  // Leading tabs count as 4 spaces (enough for list nesting).
  return line.replace(/^\t+/, (t) => '    '.repeat(t.length));
}

function indentOf(line) {
  const m = /^ */.exec(line);
  return m[0].length;
}

function splitRow(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (c === '|') {
      cells.push(cur.trim());
      cur = '';
    } else {
      cur += c;
    }
  }
  cells.push(cur.trim());
  return cells;
}

function startsBlock(lines, i) {
  const line = lines[i];
  return RE_FENCE.test(line) || RE_HEADING.test(line) || RE_HR.test(line) || RE_QUOTE.test(line)
    || RE_ITEM.test(line) || isTableStart(lines, i);
}

function isTableStart(lines, i) {
  return i + 1 < lines.length && lines[i].includes('|') && RE_TABLE_SEP.test(lines[i + 1])
    && lines[i + 1].includes('-');
}

function parseBlocks(lines, depth) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i++;
      continue;
    }
    let m;
    if ((m = RE_FENCE.exec(line))) {
      const fence = m[1];
      const lang = m[2].toLowerCase().replace(/[^a-z0-9_+-]/g, '').slice(0, 20);
      const body = [];
      i++;
      while (i < lines.length) {
        const t = lines[i].trim();
        if (t.startsWith(fence[0].repeat(fence.length)) && /^[`~]+$/.test(t)) {
          i++;
          break;
        }
        body.push(lines[i]);
        i++;
      }
      out.push({ type: 'code', lang, value: body.join('\n') });
      continue;
    }
    if ((m = RE_HEADING.exec(line)) && !RE_HR.test(line)) {
      out.push({ type: 'heading', level: m[1].length, children: parseInline(m[2] || '', depth) });
      i++;
      continue;
    }
    if (RE_HR.test(line)) {
      out.push({ type: 'hr' });
      i++;
      continue;
    }
    if (RE_QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length && !isBlank(lines[i])) {
        const q = RE_QUOTE.exec(lines[i]);
        inner.push(q ? q[1] : lines[i]);
        i++;
      }
      out.push({ type: 'blockquote', children: depth < MAX_DEPTH ? parseBlocks(inner, depth + 1) : [paragraph(inner, depth)] });
      continue;
    }
    if (isTableStart(lines, i)) {
      const header = splitRow(lines[i]);
      const align = splitRow(lines[i + 1]).map((c) => {
        const l = c.startsWith(':');
        const r = c.endsWith(':');
        return l && r ? 'center' : r ? 'right' : l ? 'left' : '';
      });
      i += 2;
      const rows = [];
      while (i < lines.length && !isBlank(lines[i]) && lines[i].includes('|')) {
        rows.push(splitRow(lines[i]));
        i++;
      }
      const n = header.length;
      out.push({
        type: 'table',
        align: header.map((_, k) => align[k] || ''),
        header: header.map((c) => parseInline(c, depth)),
        rows: rows.map((r) => Array.from({ length: n }, (_, k) => parseInline(r[k] || '', depth))),
      });
      continue;
    }
    if (RE_ITEM.test(line)) {
      const r = parseList(lines, i, depth);
      out.push(r.node);
      i = r.next;
      continue;
    }
    // Paragraph: until a blank line or the start of another block.
    const para = [line];
    i++;
    while (i < lines.length && !isBlank(lines[i]) && !startsBlock(lines, i)) {
      para.push(lines[i]);
      i++;
    }
    out.push(paragraph(para, depth));
  }
  return out;
}

function paragraph(lines, depth) {
  return { type: 'paragraph', children: parseInline(lines.map((l) => l.trim()).join('\n'), depth) };
}

function parseList(lines, start, depth) {
  const first = RE_ITEM.exec(lines[start]);
  const base = first[1].length;
  const ordered = /\d/.test(first[2]);
  const startNum = ordered ? parseInt(first[2], 10) : 1;
  const items = [];
  let i = start;
  while (i < lines.length) {
    const m = RE_ITEM.exec(lines[i]);
    if (!m || m[1].length !== base || /\d/.test(m[2]) !== ordered) break;
    const contentIndent = base + m[2].length + 1;
    const body = [m[3] || ''];
    i++;
    let sawBlank = false;
    while (i < lines.length) {
      const l = lines[i];
      if (isBlank(l)) {
        sawBlank = true;
        body.push('');
        i++;
        continue;
      }
      const ind = indentOf(l);
      if (ind > base) {
        body.push(l.slice(Math.min(ind, contentIndent)));
        sawBlank = false;
        i++;
        continue;
      }
      // A line at or left of the marker: a sibling item, the end of the
      // list, or (right after text) a lazy paragraph continuation.
      if (!sawBlank && !startsBlock(lines, i)) {
        body.push(l.trim());
        i++;
        continue;
      }
      break;
    }
    while (body.length && isBlank(body[body.length - 1])) body.pop();
    const children = depth < MAX_DEPTH ? parseBlocks(body, depth + 1) : [paragraph(body, depth)];
    items.push({ type: 'item', children });
    // Blank lines between items do not end the list.
    let j = i;
    while (j < lines.length && isBlank(lines[j])) j++;
    if (j < lines.length && j !== i) {
      const n = RE_ITEM.exec(lines[j]);
      if (n && n[1].length === base && /\d/.test(n[2]) === ordered) i = j;
    }
  }
  return { node: { type: 'list', ordered, start: startNum, items }, next: i };
}

/** Parses Markdown text into a block AST (pure; no DOM). */
export function parseMarkdown(text) {
  const src = String(text ?? '').slice(0, MAX_INPUT).replace(/\r\n?/g, '\n').replace(/\u0000/g, '\uFFFD');
  const lines = src.split('\n').map(expandTabs);
  return parseBlocks(lines, 0);
}

// ---------------------------------------------------------------- inline --

const PUNCT = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
// The scanner never copies the rest of the string to look at a position:
// sticky (y) regexes match in place (used only where a URL can start), and
// plain text and backtick runs are measured with character loops, so long
// answers parse in linear time.
const RE_BARE_URL = /https?:\/\/[^\s<>"'`]+/iy;
const RE_AUTOLINK = /<(https?:\/\/[^\s<>]+)>/iy;
// Characters that may start inline syntax; everything else is plain text.
const SPECIAL = new Set(['\\', '\n', '`', '[', '!', '<', 'h', 'H', '*', '_', '~']);

function matchAt(re, s, i) {
  re.lastIndex = i;
  return re.exec(s);
}

function startsUrl(s, i) {
  return s.slice(i, i + 4).toLowerCase() === 'http';
}

/** The run of backticks starting at s[i]. */
function ticksAt(s, i) {
  let j = i;
  while (s[j] === '`') j++;
  return s.slice(i, j);
}

function isAlnum(c) {
  return c !== undefined && /[\p{L}\p{N}]/u.test(c);
}

function isSpace(c) {
  return c === undefined || /\s/.test(c);
}

/** Finds the closing delimiter for an emphasis run opened at `open`. */
function findClose(s, delim, from) {
  const single = delim.length === 1;
  for (let k = from; k <= s.length - delim.length; k++) {
    if (s[k] === '\\') {
      k++;
      continue;
    }
    if (s[k] === '`') {
      // Skip code spans inside emphasis.
      const run = ticksAt(s, k);
      const end = s.indexOf(run, k + run.length);
      if (end > 0) k = end + run.length - 1;
      continue;
    }
    if (s.startsWith(delim, k) && !isSpace(s[k - 1])) {
      if (single && (s[k + 1] === delim || s[k - 1] === delim)) continue;
      if (delim[0] === '_' && isAlnum(s[k + delim.length])) continue;
      return k;
    }
  }
  return -1;
}

/** Parses the target of a link "(url "title")" starting at s[pos] === '('. */
function parseLinkTarget(s, pos) {
  let k = pos + 1;
  while (s[k] === ' ') k++;
  let url = '';
  if (s[k] === '<') {
    const end = s.indexOf('>', k);
    if (end < 0) return null;
    url = s.slice(k + 1, end);
    k = end + 1;
  } else {
    let depth = 0;
    while (k < s.length) {
      const c = s[k];
      if (c === '\\' && k + 1 < s.length) {
        url += s[k + 1];
        k += 2;
        continue;
      }
      if (c === '(') depth++;
      else if (c === ')') {
        if (depth === 0) break;
        depth--;
      } else if (/\s/.test(c)) break;
      url += c;
      k++;
    }
  }
  while (s[k] === ' ') k++;
  if (s[k] === '"' || s[k] === "'") {
    const end = s.indexOf(s[k], k + 1);
    if (end < 0) return null;
    k = end + 1;
    while (s[k] === ' ') k++;
  }
  if (s[k] !== ')') return null;
  return { url, end: k + 1 };
}

/**
 * Pairs every '[' with the ']' that closes it (escapes and code spans
 * skipped) in one pass: Map(open index -> close index). Unclosed '[' are
 * absent. Linear, so a run of thousands of '[' cannot stall the page.
 */
function matchBrackets(s) {
  const pairs = new Map();
  const stack = [];
  for (let k = 0; k < s.length; k++) {
    const c = s[k];
    if (c === '\\') {
      k++;
      continue;
    }
    if (c === '`') {
      const run = ticksAt(s, k);
      const end = s.indexOf(run, k + run.length);
      k = end > 0 ? end + run.length - 1 : k + run.length - 1;
      continue;
    }
    if (c === '[') stack.push(k);
    else if (c === ']' && stack.length) pairs.set(stack.pop(), k);
  }
  return pairs;
}

/** Parses inline Markdown into nodes (pure; no DOM). */
export function parseInline(text, depth = 0) {
  const s = String(text ?? '');
  const out = [];
  let buf = '';
  const flush = () => {
    if (buf) out.push({ type: 'text', value: buf });
    buf = '';
  };
  const deeper = depth < MAX_DEPTH;
  // findClose() depends only on the string and the start position, so once a
  // delimiter has no closer from position p it has none from any later one:
  // remembering that keeps runs of unmatched '*' or '_' linear.
  const noCloseFrom = {};
  let brackets = null;   // matchBrackets(s), computed at the first '['
  let i = 0;
  while (i < s.length) {
    let j = i;
    while (j < s.length && !SPECIAL.has(s[j])) j++;
    if (j > i) {
      buf += s.slice(i, j);
      i = j;
      continue;
    }
    const c = s[i];
    if (c === '\\' && i + 1 < s.length && PUNCT.includes(s[i + 1])) {
      buf += s[i + 1];
      i += 2;
      continue;
    }
    if (c === '\n') {
      flush();
      out.push({ type: 'br' });
      i++;
      continue;
    }
    if (c === '`') {
      const run = ticksAt(s, i);
      const end = s.indexOf(run, i + run.length);
      if (end > 0 && s[end + run.length] !== '`') {
        flush();
        let code = s.slice(i + run.length, end).replace(/\n/g, ' ');
        if (/^ .* $/.test(code) && code.trim()) code = code.slice(1, -1);
        out.push({ type: 'code', value: code });
        i = end + run.length;
        continue;
      }
      buf += run;
      i += run.length;
      continue;
    }
    if ((c === '[' || (c === '!' && s[i + 1] === '[')) && deeper) {
      const image = c === '!';
      const open = image ? i + 1 : i;
      if (!brackets) brackets = matchBrackets(s);
      const close = brackets.has(open) ? brackets.get(open) : -1;
      if (close > 0 && s[close + 1] === '(') {
        const target = parseLinkTarget(s, close + 1);
        if (target) {
          flush();
          const label = s.slice(open + 1, close);
          const children = parseInline(image ? label || 'image' : label, depth + 1);
          if (image) children.unshift({ type: 'text', value: 'image: ' });
          out.push({ type: 'link', href: target.url, children });
          i = target.end;
          continue;
        }
      }
    }
    if (c === '<' && startsUrl(s, i + 1)) {
      const m = matchAt(RE_AUTOLINK, s, i);
      if (m) {
        flush();
        out.push({ type: 'link', href: m[1], children: [{ type: 'text', value: m[1] }] });
        i += m[0].length;
        continue;
      }
    }
    if ((c === 'h' || c === 'H') && startsUrl(s, i) && !isAlnum(s[i - 1])) {
      const m = matchAt(RE_BARE_URL, s, i);
      if (m) {
        let url = m[0];
        // Trailing punctuation belongs to the sentence, not the URL.
        while (/[.,;:!?)\]*_]$/.test(url)) {
          if (url.endsWith(')') && (url.match(/\(/g) || []).length >= (url.match(/\)/g) || []).length) break;
          url = url.slice(0, -1);
        }
        flush();
        out.push({ type: 'link', href: url, children: [{ type: 'text', value: url }] });
        i += url.length;
        continue;
      }
    }
    if ((c === '*' || c === '_' || c === '~') && deeper) {
      const dbl = s[i + 1] === c;
      if (c === '~' && !dbl) {
        buf += c;
        i++;
        continue;
      }
      const delim = dbl ? c + c : c;
      const leftOk = !isSpace(s[i + delim.length]) && !(c === '_' && isAlnum(s[i - 1]));
      if (leftOk) {
        const from = i + delim.length;
        let end = -1;
        if (!(noCloseFrom[delim] <= from)) {
          end = findClose(s, delim, from);
          if (end < 0) noCloseFrom[delim] = from;
        }
        if (end > i + delim.length) {
          flush();
          const type = c === '~' ? 'del' : dbl ? 'strong' : 'em';
          out.push({ type, children: parseInline(s.slice(i + delim.length, end), depth + 1) });
          i = end + delim.length;
          continue;
        }
      }
      buf += delim;
      i += delim.length;
      continue;
    }
    buf += c;
    i++;
  }
  flush();
  return out;
}

// ------------------------------------------------------------------ links --

/**
 * Returns the normalised href when `url` is an absolute http(s) URL without
 * credentials, otherwise null. Everything else (javascript:, data:, vbscript:,
 * file:, relative or protocol-relative URLs, control characters) is refused.
 */
export function safeHref(url) {
  if (typeof url !== 'string') return null;
  const s = url.trim();
  if (!s || s.length > 2048 || /[\u0000-\u001F\u007F\s]/.test(s)) return null;
  if (!/^https?:\/\//i.test(s)) return null;
  let u;
  try {
    u = new URL(s);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (u.username || u.password) return null;
  return u.href;
}

// -------------------------------------------------------------------- DOM --

function el(doc, tag, parent) {
  const e = doc.createElement(tag);
  if (parent) parent.appendChild(e);
  return e;
}

function text(doc, value, parent) {
  parent.appendChild(doc.createTextNode(value));
}

function renderInline(doc, nodes, parent) {
  for (const n of nodes) {
    switch (n.type) {
      case 'text':
        text(doc, n.value, parent);
        break;
      case 'br':
        el(doc, 'br', parent);
        break;
      case 'code':
        text(doc, n.value, el(doc, 'code', parent));
        break;
      case 'strong':
        renderInline(doc, n.children, el(doc, 'strong', parent));
        break;
      case 'em':
        renderInline(doc, n.children, el(doc, 'em', parent));
        break;
      case 'del':
        renderInline(doc, n.children, el(doc, 'del', parent));
        break;
      case 'link': {
        const href = safeHref(n.href);
        if (href) {
          const a = el(doc, 'a', parent);
          a.setAttribute('href', href);
          a.setAttribute('rel', 'noopener noreferrer nofollow');
          a.setAttribute('target', '_blank');
          renderInline(doc, n.children, a);
        } else {
          // Unsafe or relative target: keep the words, show the target as text.
          renderInline(doc, n.children, parent);
          if (n.href && !(n.children.length === 1 && n.children[0].value === n.href)) {
            text(doc, ` (${n.href})`, parent);
          }
        }
        break;
      }
      default:
        break;
    }
  }
}

const HEADING_TAGS = ['h3', 'h3', 'h3', 'h4', 'h5', 'h6', 'h6'];

function renderBlocks(doc, blocks, parent) {
  for (const b of blocks) {
    switch (b.type) {
      case 'heading':
        renderInline(doc, b.children, el(doc, HEADING_TAGS[b.level] || 'h6', parent));
        break;
      case 'paragraph':
        renderInline(doc, b.children, el(doc, 'p', parent));
        break;
      case 'hr':
        el(doc, 'hr', parent);
        break;
      case 'code': {
        const pre = el(doc, 'pre', parent);
        const code = el(doc, 'code', pre);
        if (b.lang) code.setAttribute('class', `language-${b.lang}`);
        text(doc, b.value, code);
        break;
      }
      case 'blockquote':
        renderBlocks(doc, b.children, el(doc, 'blockquote', parent));
        break;
      case 'list': {
        const list = el(doc, b.ordered ? 'ol' : 'ul', parent);
        if (b.ordered && b.start !== 1 && Number.isSafeInteger(b.start)) list.setAttribute('start', String(b.start));
        for (const item of b.items) renderBlocks(doc, item.children, el(doc, 'li', list));
        break;
      }
      case 'table': {
        const wrap = el(doc, 'div', parent);
        wrap.setAttribute('class', 'md-table');
        const table = el(doc, 'table', wrap);
        const tr = el(doc, 'tr', el(doc, 'thead', table));
        b.header.forEach((cell, k) => {
          const th = el(doc, 'th', tr);
          if (b.align[k]) th.setAttribute('class', `al-${b.align[k]}`);
          renderInline(doc, cell, th);
        });
        const tbody = el(doc, 'tbody', table);
        for (const row of b.rows) {
          const r = el(doc, 'tr', tbody);
          row.forEach((cell, k) => {
            const td = el(doc, 'td', r);
            if (b.align[k]) td.setAttribute('class', `al-${b.align[k]}`);
            renderInline(doc, cell, td);
          });
        }
        break;
      }
      default:
        break;
    }
  }
}

/**
 * Renders Markdown into a new DocumentFragment of `doc` (default: the page's
 * document). Safe for untrusted input: see the design note at the top.
 */
export function renderMarkdown(markdown, doc = globalThis.document) {
  const frag = doc.createDocumentFragment();
  renderBlocks(doc, parseMarkdown(markdown), frag);
  return frag;
}

/** The tags renderMarkdown can create (tests check nothing else appears). */
export const ALLOWED_TAGS = Object.freeze([
  'a', 'blockquote', 'br', 'code', 'del', 'div', 'em', 'h3', 'h4', 'h5', 'h6', 'hr', 'li', 'ol',
  'p', 'pre', 'strong', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul',
]);
