// sse.js — Server-Sent Events over fetch().
//
// Why not EventSource: it cannot send an Authorization header, so the token
// would have to travel in the URL (?access_token=), where it ends up in
// access logs and proxies. fetch() can send the header and Last-Event-ID
// itself, so the UI streams text/event-stream with fetch and parses it here.
//
// SseParser implements the WHATWG event-stream parsing rules: lines end in
// CRLF, LF or CR (a CRLF split across two chunks counts once); ':' starts a
// comment; "data" lines join with "\n"; "id" sets the last event id (kept
// across events, ignored when it contains NUL); "retry" takes digits only;
// a blank line dispatches the event when data was seen. It is pure and is
// unit-tested in Node (tests/e2e/sse_test.mjs).
//
// connectEventStream() keeps one stream open: on end or network error it
// waits the server's retry interval (bounded) and reconnects with
// Last-Event-ID, so the gateway replays what was missed. HTTP 401/403 stop
// it (the token is no longer valid); other statuses retry with back-off.

export class SseParser {
  /**
   * @param {(ev: {type: string, data: string, id: string}) => void} onEvent
   * @param {{onComment?: (text: string) => void, onRetry?: (ms: number) => void}} [hooks]
   */
  constructor(onEvent, hooks = {}) {
    this.onEvent = onEvent;
    this.onComment = hooks.onComment || (() => {});
    this.onRetry = hooks.onRetry || (() => {});
    this.buf = '';
    this.skipLF = false;
    this.data = [];
    this.type = '';
    this.lastEventId = '';
    this.sawData = false;
  }

  /** Feeds a decoded text chunk. */
  push(chunk) {
    let s = chunk;
    if (this.skipLF && s.startsWith('\n')) s = s.slice(1);
    this.skipLF = false;
    this.buf += s;
    let start = 0;
    for (let k = 0; k < this.buf.length; k++) {
      const c = this.buf[k];
      if (c !== '\n' && c !== '\r') continue;
      this.line(this.buf.slice(start, k));
      if (c === '\r') {
        if (k + 1 < this.buf.length) {
          if (this.buf[k + 1] === '\n') k++;
        } else {
          this.skipLF = true;   // the LF of this CRLF may arrive in the next chunk
        }
      }
      start = k + 1;
    }
    this.buf = this.buf.slice(start);
  }

  line(line) {
    if (line === '') {
      if (this.sawData) {
        this.onEvent({ type: this.type || 'message', data: this.data.join('\n'), id: this.lastEventId });
      }
      this.data = [];
      this.type = '';
      this.sawData = false;
      return;
    }
    if (line.startsWith(':')) {
      this.onComment(line.slice(1).replace(/^ /, ''));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        this.sawData = true;
        break;
      case 'event':
        this.type = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.onRetry(parseInt(value, 10));
        break;
      default:
        break;
    }
  }
}

/**
 * Opens the event stream and keeps it open until `signal` aborts.
 *   url, token     where and with which bearer token
 *   onEvent(ev)    every dispatched event ({type, data, id})
 *   onStatus(s)    'connecting' | 'open' | 'retrying' | 'closed' | 'unauthorized', detail
 *   lastEventId    resume point for the first connection (optional)
 *   fetchImpl      for tests (default: globalThis.fetch)
 * Returns a promise that settles when the stream is stopped for good.
 */
export async function connectEventStream({ url, token, onEvent, onStatus = () => {}, signal,
  lastEventId = '', fetchImpl = globalThis.fetch, minRetryMs = 500, maxRetryMs = 30000 }) {
  let retryMs = 3000;
  let failures = 0;
  let last = lastEventId;
  const sleep = (ms) => new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
  while (!signal?.aborted) {
    onStatus('connecting', last ? `resuming after ${last}` : '');
    try {
      const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${token}` };
      if (last) headers['Last-Event-ID'] = last;
      const res = await fetchImpl(url, { headers, signal, cache: 'no-store' });
      if (res.status === 401 || res.status === 403) {
        onStatus('unauthorized', `HTTP ${res.status}`);
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      failures = 0;
      onStatus('open', '');
      const parser = new SseParser((ev) => {
        last = ev.id || last;
        onEvent(ev);
      }, { onRetry: (ms) => { retryMs = ms; } });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
      }
      onStatus('retrying', 'stream ended');
    } catch (e) {
      if (signal?.aborted) break;
      failures++;
      onStatus('retrying', String(e && e.message ? e.message : e));
    }
    const wait = Math.min(maxRetryMs, Math.max(minRetryMs, retryMs) * 2 ** Math.min(failures, 4));
    await sleep(wait);
  }
  onStatus('closed', '');
}
