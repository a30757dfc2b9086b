// markdown_test.mjs — unit tests of the UI's Markdown renderer (md.js) in
// Node, against a recording fake document, plus a source scan that keeps
// HTML-parsing sinks out of the UI code. ctest: e2e.markdown.
//
//   node tests/e2e/markdown_test.mjs <services/gateway/web>
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const webDir = path.resolve(process.argv[2] || new URL('../../services/gateway/web', import.meta.url).pathname);
const md = await import(pathToFileURL(path.join(webDir, 'md.js')).href);
const { parseMarkdown, parseInline, renderMarkdown, safeHref, ALLOWED_TAGS } = md;

// ---- a fake document that records everything the renderer creates ----------
class FakeNode {
  constructor(kind, name) {
    this.kind = kind;            // 'element' | 'text' | 'fragment'
    this.tagName = name;
    this.attrs = new Map();
    this.children = [];
    this.value = '';
  }
  appendChild(c) {
    this.children.push(c);
    return c;
  }
  setAttribute(k, v) {
    this.attrs.set(String(k), String(v));
  }
  get textContent() {
    return this.kind === 'text' ? this.value : this.children.map((c) => c.textContent).join('');
  }
  set textContent(_v) {
    throw new Error('renderer must build text nodes, not assign textContent');
  }
  set innerHTML(_v) {
    throw new Error('renderer assigned innerHTML');
  }
  *walk() {
    yield this;
    for (const c of this.children) yield* c.walk();
  }
}
const fakeDoc = {
  createElement: (t) => new FakeNode('element', String(t).toLowerCase()),
  createTextNode: (v) => Object.assign(new FakeNode('text', '#text'), { value: String(v) }),
  createDocumentFragment: () => new FakeNode('fragment', '#fragment'),
};
const render = (src) => renderMarkdown(src, fakeDoc);
const elements = (root) => [...root.walk()].filter((n) => n.kind === 'element');
const tags = (root) => elements(root).map((n) => n.tagName);
const find = (root, tag) => elements(root).filter((n) => n.tagName === tag);

function assertSafe(root) {
  for (const n of elements(root)) {
    assert.ok(ALLOWED_TAGS.includes(n.tagName), `unexpected tag <${n.tagName}>`);
    for (const [k, v] of n.attrs) {
      assert.ok(!/^on/i.test(k), `event handler attribute ${k}`);
      assert.ok(['href', 'rel', 'target', 'start', 'class'].includes(k), `unexpected attribute ${k}`);
      if (k === 'href') assert.match(v, /^https?:\/\//, `unsafe href ${v}`);
      if (k === 'class') assert.match(v, /^(language-[a-z0-9_+-]+|al-(left|center|right)|md-table)$/);
      if (k === 'target') assert.equal(v, '_blank');
      if (k === 'start') assert.match(v, /^\d+$/);
    }
  }
}

// ---- injection ----------------------------------------------------------------
const ATTACKS = [
  '<img src=x onerror="window.__pwned=1">',
  '<script>window.__pwned=2</script>',
  '<svg onload=alert(1)>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '[click](javascript:alert(1))',
  '[click](JaVaScRiPt:alert(1))',
  '[click]( javascript:alert(1) )',
  '[click](java\tscript:alert(1))',
  '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[click](vbscript:msgbox(1))',
  '[click](//evil.example/x)',
  '[click](/api/v1/reports)',
  '[click](https://user:pw@example.com/)',
  '![pixel](https://tracker.example/p.png)',
  '<a href="javascript:alert(1)">x</a>',
  '**<b onmouseover=alert(1)>bold</b>**',
  '`<img src=x onerror=alert(1)>`',
  '```html\n<script>alert(1)</script>\n```',
  '| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:1) |',
  '> <details open ontoggle=alert(1)>',
  '- [x](javascript:alert(1))\n  - <img src=x onerror=alert(1)>',
  'https://example.com/"onmouseover="alert(1)',
  '<https://example.com/ok> <javascript:alert(1)>',
];

test('attacks render as inert text with only safe tags and attributes', () => {
  for (const a of ATTACKS) {
    const root = render(a);
    assertSafe(root);
    for (const t of ['img', 'script', 'svg', 'iframe', 'b', 'details', 'style', 'object', 'embed']) {
      assert.equal(find(root, t).length, 0, `<${t}> created from ${JSON.stringify(a)}`);
    }
  }
});

test('raw HTML is kept as its literal text', () => {
  const root = render('before <img src=x onerror="window.__pwned=1"> after');
  assert.equal(root.textContent, 'before <img src=x onerror="window.__pwned=1"> after');
  assert.deepEqual(tags(root), ['p']);
});

test('javascript: links keep their words but get no href', () => {
  const root = render('[click me](javascript:alert(1))');
  assert.equal(find(root, 'a').length, 0);
  assert.equal(root.textContent, 'click me (javascript:alert(1))');
});

test('images become links to the image, never <img>', () => {
  const root = render('![chart](https://example.com/c.png)');
  const a = find(root, 'a');
  assert.equal(a.length, 1);
  assert.equal(a[0].attrs.get('href'), 'https://example.com/c.png');
  assert.equal(a[0].textContent, 'image: chart');
});

test('safeHref accepts only absolute http(s) without credentials', () => {
  assert.equal(safeHref('https://docs.databricks.com/en/compute/index.html#x'), 'https://docs.databricks.com/en/compute/index.html#x');
  assert.equal(safeHref('http://127.0.0.1:8080/a b'), null);
  for (const bad of ['javascript:alert(1)', ' javascript:alert(1)', 'JAVASCRIPT:x', 'data:text/html,x',
    'vbscript:x', 'file:///etc/passwd', '//evil.example', '/relative', '#frag', '', 'https://u:p@x.example/',
    'https://exa\nmple.com', 'ftp://x.example/', null, undefined, 42]) {
    assert.equal(safeHref(bad), null, `accepted ${JSON.stringify(bad)}`);
  }
});

// ---- features -----------------------------------------------------------------
test('headings map to h3..h6 inside an answer card', () => {
  const root = render('# One\n## Two\n### Three\n#### Four\n###### Six');
  assert.deepEqual(tags(root), ['h3', 'h3', 'h4', 'h5', 'h6']);
  assert.equal(find(root, 'h4')[0].textContent, 'Three');
});

test('emphasis, strong, code, strikethrough', () => {
  const root = render('**Legacy ETL** costs *a lot* of `$105,230.28`, ~~not~~ __really__ _much_.');
  assert.deepEqual(tags(root), ['p', 'strong', 'em', 'code', 'del', 'strong', 'em']);
  assert.equal(find(root, 'code')[0].textContent, '$105,230.28');
});

test('underscores inside identifiers are not emphasis', () => {
  const root = render('job_id=J-LEGACY-ETL and cost_total_usd and snake_case_name');
  assert.deepEqual(tags(root), ['p']);
  assert.equal(root.textContent, 'job_id=J-LEGACY-ETL and cost_total_usd and snake_case_name');
});

test('a lone asterisk is text', () => {
  const root = render('2 * 3 = 6 and a * b');
  assert.deepEqual(tags(root), ['p']);
  assert.equal(root.textContent, '2 * 3 = 6 and a * b');
});

test('nested lists, ordered start, lazy continuation', () => {
  const root = render('- one\n  - one.a\n  - one.b\n- two\ncontinued\n\n3. three\n4. four');
  const lists = elements(root).filter((n) => n.tagName === 'ul' || n.tagName === 'ol');
  assert.deepEqual(lists.map((n) => n.tagName), ['ul', 'ul', 'ol']);
  const outer = lists[0];
  assert.equal(outer.children.length, 2);
  assert.equal(lists[1].children.length, 2);
  assert.equal(lists[2].attrs.get('start'), '3');
  assert.match(outer.children[1].textContent, /two.*continued/s);
});

test('fenced code keeps its text verbatim, language as class', () => {
  const root = render('```sql\nSELECT * FROM jobs WHERE a < b;\n-- **not bold**\n```');
  const code = find(root, 'code')[0];
  assert.equal(code.attrs.get('class'), 'language-sql');
  assert.equal(code.textContent, 'SELECT * FROM jobs WHERE a < b;\n-- **not bold**');
  assert.equal(find(root, 'strong').length, 0);
});

test('pipe tables with alignment', () => {
  const root = render('| Job | Cost |\n|:---|---:|\n| ETL | $1 |\n| ML \\| AI | $2 |');
  assert.equal(find(root, 'table').length, 1);
  assert.equal(find(root, 'th').length, 2);
  const tds = find(root, 'td');
  assert.equal(tds.length, 4);
  assert.equal(tds[1].attrs.get('class'), 'al-right');
  assert.equal(tds[2].textContent, 'ML | AI');
});

test('links: markdown, autolink and bare URL get safe attributes', () => {
  const root = render('See [docs](https://docs.databricks.com/a_(b)) and <https://x.example/y> or https://z.example/p.');
  const a = find(root, 'a');
  assert.deepEqual(a.map((x) => x.attrs.get('href')), ['https://docs.databricks.com/a_(b)', 'https://x.example/y', 'https://z.example/p']);
  for (const x of a) {
    assert.equal(x.attrs.get('rel'), 'noopener noreferrer nofollow');
    assert.equal(x.attrs.get('target'), '_blank');
  }
  assert.ok(root.textContent.endsWith('https://z.example/p.'));
});

test('blockquote, hr, line breaks', () => {
  const root = render('> quoted\n> more\n\n---\nline one\nline two');
  assert.deepEqual(tags(root), ['blockquote', 'p', 'br', 'hr', 'p', 'br']);
});

test('the narrator answer shape renders fully', () => {
  const answer = '## 📌 Explain this — Legacy Customer Data ETL (⚠️ 38% fail, 💰 52% of cost)\n\n### Summary\n\n'
    + '**Legacy Customer Data ETL** (`job` `J-LEGACY-ETL`) in the report *Job Cost & Reliability*.\n\n'
    + '### Main drivers\n\n- Cost $105,230.28 over 72 runs.\n  *Verify:* Re-run the report.\n\n---\n'
    + '_Answer from the built-in narrator (offline, deterministic)._\n';
  const root = render(answer);
  assertSafe(root);
  assert.deepEqual(tags(root).slice(0, 4), ['h3', 'h4', 'p', 'strong']);
  assert.ok(find(root, 'li')[0].textContent.includes('$105,230.28'));
  assert.equal(find(root, 'em').at(-1).textContent, 'Answer from the built-in narrator (offline, deterministic).');
});

test('pathological input stays bounded', () => {
  const deep = '> '.repeat(500) + 'x';
  assertSafe(render(deep));
  const stars = '*'.repeat(20000) + 'a' + '_'.repeat(20000);
  const t0 = Date.now();
  assertSafe(render(stars));
  const nested = '- '.repeat(300) + 'x';
  assertSafe(render(nested));
  const brackets = '['.repeat(5000) + '](' + ')'.repeat(5000);
  assertSafe(render(brackets));
  assert.ok(Date.now() - t0 < 5000, 'renderer took too long');
  assert.ok(Array.isArray(parseMarkdown(null)) && parseMarkdown(undefined).length === 0);
  assert.deepEqual(parseInline(''), []);
});

// ---- source scan: no HTML-parsing sinks in the UI -----------------------------
test('UI sources never use HTML-parsing sinks or eval', () => {
  const files = fs.readdirSync(webDir).filter((f) => /\.(js|mjs|html)$/.test(f));
  assert.ok(files.includes('app.js') && files.includes('md.js'));
  const sinks = /\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\(|setTimeout\s*\(\s*['"`]|DOMParser|createContextualFragment|srcdoc/;
  for (const f of files) {
    const text = fs.readFileSync(path.join(webDir, f), 'utf8')
      .split('\n').filter((l) => !/^\s*(\/\/|\*|<!--)/.test(l)).join('\n');
    assert.doesNotMatch(text, sinks, `${f} uses an HTML-parsing sink`);
  }
  const html = fs.readFileSync(path.join(webDir, 'index.html'), 'utf8');
  assert.match(html, /Content-Security-Policy/);
  assert.match(html, /script-src 'self';/);
  assert.doesNotMatch(html, /unsafe-eval/);
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'inline <script> in index.html');
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'inline event handler in index.html');
});
