// sse_test.mjs — unit tests of the UI's event-stream parser and reconnecting
// client (services/gateway/web/sse.js) in Node. ctest: e2e.sse.
//
//   node tests/e2e/sse_test.mjs <services/gateway/web>
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const webDir = path.resolve(process.argv[2] || new URL('../../services/gateway/web', import.meta.url).pathname);
const { SseParser, connectEventStream } = await import(pathToFileURL(path.join(webDir, 'sse.js')).href);

function collect(chunks) {
  const events = [];
  const comments = [];
  const retries = [];
  const p = new SseParser((e) => events.push(e), { onComment: (c) => comments.push(c), onRetry: (r) => retries.push(r) });
  for (const c of chunks) p.push(c);
  return { events, comments, retries, parser: p };
}

test('gateway stream: retry, comments, typed events with ids', () => {
  const { events, comments, retries } = collect([
    'retry: 3000\n\n: ping\n\n',
    'id: rs-1:7\nevent: alert\ndata: {"alert_id":"a1"}\n\n',
    'id: commentary:3\nevent: commentary\ndata: {"seq":3}\n\n',
  ]);
  assert.deepEqual(retries, [3000]);
  assert.deepEqual(comments, ['ping']);
  assert.deepEqual(events, [
    { type: 'alert', data: '{"alert_id":"a1"}', id: 'rs-1:7' },
    { type: 'commentary', data: '{"seq":3}', id: 'commentary:3' },
  ]);
});

test('events split at every byte boundary parse identically', () => {
  const wire = 'id: p:1\r\nevent: alert\r\ndata: line one\r\ndata: line two\r\n\r\nid: p:2\rdata:x\r\rdata: y\n\n';
  const whole = collect([wire]).events;
  assert.deepEqual(whole, [
    { type: 'alert', data: 'line one\nline two', id: 'p:1' },
    { type: 'message', data: 'x', id: 'p:2' },
    { type: 'message', data: 'y', id: 'p:2' },
  ]);
  for (let k = 1; k < wire.length; k++) {
    assert.deepEqual(collect([wire.slice(0, k), wire.slice(k)]).events, whole, `split at ${k}`);
  }
  assert.deepEqual(collect([...wire]).events, whole, 'one character per chunk');
});

test('field rules: no data no event, id persists, NUL id ignored, bad retry ignored', () => {
  const { events, retries } = collect([
    'event: alert\n\n',
    'id: a:1\n\n',
    'data: one\n\n',
    'id: bad\u0000id\ndata: two\n\n',
    'retry: 12x\nretry: 250\ndata\n\n',
    'data:  spaced\nunknown: z\n\n',
  ]);
  assert.deepEqual(events.map((e) => [e.id, e.data]), [['a:1', 'one'], ['a:1', 'two'], ['a:1', ''], ['a:1', ' spaced']]);
  assert.deepEqual(retries, [250]);
});

test('incomplete event at end of stream is not dispatched', () => {
  assert.deepEqual(collect(['data: partial\n']).events, []);
});

// A fake fetch: each call returns the next scripted response.
function fakeFetch(script, calls) {
  return async (url, opts) => {
    calls.push({ url, headers: { ...opts.headers } });
    const step = script.shift();
    if (!step) {
      return new Promise((_, reject) => opts.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    }
    if (step.throw) throw new Error(step.throw);
    const body = new ReadableStream({
      start(ctl) {
        for (const c of step.chunks || []) ctl.enqueue(new TextEncoder().encode(c));
        ctl.close();
      },
    });
    return { status: step.status || 200, ok: (step.status || 200) < 300, body };
  };
}

test('client sends the token and resumes with Last-Event-ID after a drop', async () => {
  const calls = [];
  const events = [];
  const statuses = [];
  const ctl = new AbortController();
  const script = [
    { chunks: ['retry: 10\n\n', 'id: p:1\nevent: alert\ndata: {}\n\n'] },
    { throw: 'connection reset' },
    { chunks: ['id: p:2\nevent: alert\ndata: {}\n\n'] },
  ];
  const done = connectEventStream({
    url: 'api/v1/events', token: 'tok', signal: ctl.signal, lastEventId: '0',
    fetchImpl: fakeFetch(script, calls), minRetryMs: 1, maxRetryMs: 50,
    onEvent: (e) => {
      events.push(e.id);
      if (events.length === 2) setTimeout(() => ctl.abort(), 5);
    },
    onStatus: (s) => statuses.push(s),
  });
  await done;
  assert.deepEqual(events, ['p:1', 'p:2']);
  assert.equal(calls.length >= 3, true);
  assert.equal(calls[0].headers.Authorization, 'Bearer tok');
  assert.equal(calls[0].headers['Last-Event-ID'], '0');
  assert.equal(calls[1].headers['Last-Event-ID'], 'p:1');
  assert.equal(calls[2].headers['Last-Event-ID'], 'p:1');
  assert.ok(statuses.includes('open') && statuses.includes('retrying') && statuses.at(-1) === 'closed');
});

test('client stops on 401', async () => {
  const calls = [];
  const statuses = [];
  await connectEventStream({
    url: 'e', token: 'bad', fetchImpl: fakeFetch([{ status: 401 }], calls),
    onEvent: () => {}, onStatus: (s) => statuses.push(s),
  });
  assert.equal(calls.length, 1);
  assert.deepEqual(statuses, ['connecting', 'unauthorized']);
});
