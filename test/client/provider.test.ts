import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import ts from 'typescript';
import { StreamChat } from 'stream-chat';
import {
  createTokenProvider,
  fetchStreamToken,
  findStreamTokenError,
  StreamTokenError,
  type FetchInitLike,
  type FetchLike,
  type TokenProviderOptions,
} from 'stream-token-client';
import { unsignedDevToken } from '../../packages/client/src/dev-token.js';

const BASE = 'https://chat-auth.example.com';
const ENDPOINT = `${BASE}/stream/token`;

interface Call {
  url: string;
  init: FetchInitLike;
}

type Answer = Response | Error | ((call: Call) => Response | Error | Promise<Response>);

/** A fetch that answers from a script, one entry per request (the last one repeats), and records every call. */
function fakeFetch(...answers: Answer[]): FetchLike & { calls: Call[] } {
  const calls: Call[] = [];
  const fn = async (url: string, init: FetchInitLike): Promise<Response> => {
    const call = { url, init };
    calls.push(call);
    const script = answers[Math.min(calls.length - 1, answers.length - 1)];
    if (script === undefined) throw new Error('no answer scripted');
    const answer = typeof script === 'function' ? await script(call) : script;
    if (answer instanceof Error) throw answer;
    // A Response body can be read once; hand out a copy for scripts that repeat.
    return answer.clone();
  };
  return Object.assign(fn, { calls });
}

function tokenResponse(userId = 'alice', token = `stream.${userId}.token`): Response {
  return Response.json(
    { token, user_id: userId, api_key: 'key123', expires_in: 3600, expires_at: '2030-01-01T00:00:00.000Z' },
    { status: 200, headers: { 'x-request-id': 'req-ok' } },
  );
}

function problem(status: number, code: string, headers: Record<string, string> = {}): Response {
  return new Response(
    JSON.stringify({
      type: `urn:stream-token-service:problem:${code}`,
      title: `Title of ${code}`,
      status,
      detail: `Detail of ${code}`,
      code,
      request_id: `req-${code}`,
    }),
    { status, headers: { 'content-type': 'application/problem+json', 'x-request-id': `req-${code}`, ...headers } },
  );
}

/** Records the waits instead of waiting. */
function fakeSleep(): ((ms: number) => Promise<void>) & { waits: number[] } {
  const waits: number[] = [];
  const fn = async (ms: number): Promise<void> => {
    waits.push(ms);
  };
  return Object.assign(fn, { waits });
}

function provider(fetch: FetchLike, overrides: Partial<TokenProviderOptions> = {}, sleep = fakeSleep()) {
  return createTokenProvider({
    endpoint: BASE,
    getAuthToken: async () => 'session-jwt',
    fetch,
    ...overrides,
    retry: { sleep, random: () => 0.5, now: () => Date.parse('2030-01-01T00:00:00Z'), ...overrides.retry },
  });
}

async function rejection(promise: Promise<unknown>): Promise<StreamTokenError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StreamTokenError, `expected a StreamTokenError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('createTokenProvider', () => {
  it('posts the session token as a bearer credential and returns the Stream token', async () => {
    const fetch = fakeFetch(tokenResponse());
    const token = await provider(fetch)();
    assert.equal(token, 'stream.alice.token');
    assert.equal(fetch.calls.length, 1);
    assert.equal(fetch.calls[0]?.url, ENDPOINT);
    assert.equal(fetch.calls[0]?.init.method, 'POST');
    assert.equal(fetch.calls[0]?.init.headers.authorization, 'Bearer session-jwt');
  });

  it('accepts the base URL (with or without a trailing slash) or the full token URL', async () => {
    for (const endpoint of [BASE, `${BASE}/`, ENDPOINT, `${ENDPOINT}/`]) {
      const fetch = fakeFetch(tokenResponse());
      await provider(fetch, { endpoint })();
      assert.equal(fetch.calls[0]?.url, ENDPOINT, endpoint);
    }
    const fetch = fakeFetch(tokenResponse());
    await provider(fetch, { endpoint: 'https://example.com/chat-auth' })();
    assert.equal(fetch.calls[0]?.url, 'https://example.com/chat-auth/stream/token', 'a base URL with a path keeps it');
  });

  it('shares one request between concurrent calls, and makes a new one after it settles', async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let issued = 0;
    const fetch = fakeFetch(async () => {
      await gate;
      issued += 1;
      return tokenResponse('alice', `token-${issued}`);
    });
    let authCalls = 0;
    const get = provider(fetch, {
      getAuthToken: async () => {
        authCalls += 1;
        return 'session-jwt';
      },
    });
    const pending = [get(), get(), get(), get(), get()];
    release?.();
    const tokens = await Promise.all(pending);
    assert.deepEqual(tokens, Array(5).fill('token-1'));
    assert.equal(fetch.calls.length, 1);
    assert.equal(authCalls, 1);

    assert.equal(await get(), 'token-2', 'a later call is a new request, not a cached token');
    assert.equal(fetch.calls.length, 2);
  });

  it('shares a failure between concurrent calls, and tries again on the next call', async () => {
    const fetch = fakeFetch(problem(401, 'token_expired'), tokenResponse());
    const get = provider(fetch);
    const results = await Promise.allSettled([get(), get(), get()]);
    assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as StreamTokenError).code === 'token_expired'));
    assert.equal(fetch.calls.length, 1);
    assert.equal(await get(), 'stream.alice.token');
  });

  it('retries a 503 with backoff and succeeds', async () => {
    const sleep = fakeSleep();
    const fetch = fakeFetch(problem(503, 'keys_unavailable'), problem(503, 'keys_unavailable'), tokenResponse());
    assert.equal(await provider(fetch, { retry: { baseDelayMs: 100 } }, sleep)(), 'stream.alice.token');
    assert.equal(fetch.calls.length, 3);
    // random() = 0.5: half the step plus a quarter of it.
    assert.deepEqual(sleep.waits, [75, 150]);
  });

  it('waits at least Retry-After (seconds) on 503 and 429', async () => {
    for (const [status, code] of [
      [503, 'keys_unavailable'],
      [429, 'rate_limited'],
    ] as const) {
      const sleep = fakeSleep();
      const fetch = fakeFetch(problem(status, code, { 'retry-after': '3' }), tokenResponse());
      assert.equal(await provider(fetch, {}, sleep)(), 'stream.alice.token');
      assert.equal(fetch.calls.length, 2);
      assert.deepEqual(sleep.waits, [3000], `${status}: Retry-After 3 s, longer than the 375 ms backoff`);
    }
  });

  it('waits until a Retry-After HTTP date', async () => {
    const sleep = fakeSleep();
    const now = Date.parse('2030-01-01T00:00:00Z');
    const fetch = fakeFetch(problem(429, 'rate_limited', { 'retry-after': new Date(now + 7000).toUTCString() }), tokenResponse());
    await provider(fetch, { retry: { now: () => now } }, sleep)();
    assert.deepEqual(sleep.waits, [7000]);
  });

  it('does not retry when Retry-After is longer than maxDelayMs, and says how long to wait', async () => {
    const sleep = fakeSleep();
    const fetch = fakeFetch(problem(429, 'rate_limited', { 'retry-after': '120' }), tokenResponse());
    const error = await rejection(provider(fetch, { retry: { maxDelayMs: 30_000 } }, sleep)());
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limited');
    assert.equal(error.retryAfterMs, 120_000);
    assert.equal(fetch.calls.length, 1);
    assert.deepEqual(sleep.waits, []);
  });

  it('gives up after `retries` retries with exponential, capped waits', async () => {
    const sleep = fakeSleep();
    const fetch = fakeFetch(problem(503, 'upstream_unavailable'));
    const error = await rejection(provider(fetch, { retry: { retries: 4, baseDelayMs: 400, maxDelayMs: 2000, random: () => 0.999999 } }, sleep)());
    assert.equal(error.code, 'upstream_unavailable');
    assert.equal(error.status, 503);
    assert.equal(fetch.calls.length, 5);
    assert.deepEqual(sleep.waits, [400, 800, 1600, 2000]);
  });

  it('keeps waits within [step/2, step] whatever the jitter', async () => {
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), async (r) => {
        const sleep = fakeSleep();
        const fetch = fakeFetch(problem(500, 'internal'));
        await rejection(provider(fetch, { retry: { retries: 3, baseDelayMs: 1000, maxDelayMs: 3000, random: () => r } }, sleep)());
        const steps = [1000, 2000, 3000];
        sleep.waits.forEach((wait, i) => {
          const step = steps[i] as number;
          assert.ok(wait >= step / 2 && wait <= step, `wait ${wait} for step ${step}`);
        });
        assert.equal(sleep.waits.length, 3);
      }),
      { numRuns: 50 },
    );
  });

  it('defaults to 3 retries', async () => {
    const fetch = fakeFetch(problem(500, 'internal'));
    await rejection(provider(fetch)());
    assert.equal(fetch.calls.length, 4);
  });

  it('retries network errors and error pages without a problem document', async () => {
    const fetch = fakeFetch(
      new TypeError('fetch failed'),
      new Response('<html>502 Bad Gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }),
      tokenResponse(),
    );
    assert.equal(await provider(fetch)(), 'stream.alice.token');
    assert.equal(fetch.calls.length, 3);
  });

  it('types an error page without a problem document as http_error', async () => {
    const fetch = fakeFetch(new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'x-request-id': 'edge-1' } }));
    const error = await rejection(provider(fetch, { retry: { retries: 0 } })());
    assert.equal(error.code, 'http_error');
    assert.equal(error.status, 502);
    assert.equal(error.requestId, 'edge-1');
  });

  it('times out a hanging attempt as a network error and retries it', async () => {
    const fetch = fakeFetch(
      (call) =>
        new Promise<Response>((_resolve, reject) => {
          call.init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
      tokenResponse(),
    );
    assert.equal(await provider(fetch, { timeoutMs: 20 })(), 'stream.alice.token');
    assert.equal(fetch.calls.length, 2);

    const hanging = fakeFetch(
      (call) =>
        new Promise<Response>((_resolve, reject) => {
          call.init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    );
    const error = await rejection(provider(hanging, { timeoutMs: 20, retry: { retries: 1 } })());
    assert.equal(error.code, 'network_error');
    assert.match(error.message, /did not answer within 20 ms/);
  });

  for (const [status, code] of [
    [401, 'token_expired'],
    [401, 'invalid_signature'],
    [403, 'forbidden'],
    [403, 'impersonation_not_allowed'],
  ] as const) {
    it(`never retries ${status} ${code} and surfaces the problem fields`, async () => {
      const sleep = fakeSleep();
      const fetch = fakeFetch(problem(status, code), tokenResponse());
      const error = await rejection(provider(fetch, {}, sleep)());
      assert.equal(fetch.calls.length, 1);
      assert.deepEqual(sleep.waits, []);
      assert.equal(error.name, 'StreamTokenError');
      assert.ok(error instanceof Error);
      assert.equal(error.status, status);
      assert.equal(error.code, code);
      assert.equal(error.requestId, `req-${code}`);
      assert.equal(error.title, `Title of ${code}`);
      assert.equal(error.detail, `Detail of ${code}`);
      assert.match(error.message, new RegExp(`${status} ${code}`));
      assert.doesNotMatch(error.message, /session-jwt/, 'the message never carries the session token');
    });
  }

  it('never retries other 4xx answers', async () => {
    const fetch = fakeFetch(problem(400, 'invalid_request'));
    const error = await rejection(provider(fetch)());
    assert.equal(error.code, 'invalid_request');
    assert.equal(fetch.calls.length, 1);
  });

  it('throws missing_token without a request when there is no session token', async () => {
    for (const value of [null, undefined, '']) {
      const fetch = fakeFetch(tokenResponse());
      const error = await rejection(provider(fetch, { getAuthToken: async () => value })());
      assert.equal(error.code, 'missing_token');
      assert.equal(error.status, undefined);
      assert.equal(fetch.calls.length, 0, `no request for ${String(value)}`);
    }
  });

  it('retries a throwing getAuthToken, then fails with auth_token_failed and the cause', async () => {
    const cause = new Error('clerk offline');
    const fetch = fakeFetch(tokenResponse());
    let attempts = 0;
    const sleep = fakeSleep();
    const error = await rejection(
      provider(
        fetch,
        {
          getAuthToken: async () => {
            attempts += 1;
            throw cause;
          },
          devFallback: { userId: 'dev-alice' },
        },
        sleep,
      )(),
    );
    assert.equal(error.code, 'auth_token_failed');
    assert.equal(error.cause, cause);
    assert.equal(attempts, 4);
    assert.equal(sleep.waits.length, 3);
    assert.equal(fetch.calls.length, 0);

    let flaky = 0;
    const recovered = fakeFetch(tokenResponse());
    const token = await provider(recovered, {
      getAuthToken: async () => {
        flaky += 1;
        if (flaky === 1) throw cause;
        return 'session-jwt';
      },
    })();
    assert.equal(token, 'stream.alice.token');
    assert.equal(recovered.calls.length, 1);
  });

  it('asks for a fresh session token before every attempt', async () => {
    let n = 0;
    const fetch = fakeFetch(problem(503, 'keys_unavailable'), tokenResponse());
    await provider(fetch, { getAuthToken: async () => `session-${(n += 1)}` })();
    assert.deepEqual(
      fetch.calls.map((c) => c.init.headers.authorization),
      ['Bearer session-1', 'Bearer session-2'],
    );
  });

  it('rejects bad options early', () => {
    assert.throws(() => createTokenProvider({ endpoint: '', getAuthToken: async () => 'x' }), TypeError);
    assert.throws(() => createTokenProvider({ endpoint: BASE, getAuthToken: 'x' as never }), TypeError);
    assert.throws(() => createTokenProvider({ endpoint: BASE, getAuthToken: async () => 'x', retry: { retries: -1 } }), TypeError);
    assert.throws(() => createTokenProvider({ endpoint: BASE, getAuthToken: async () => 'x', retry: { retries: 1.5 } }), TypeError);
    assert.throws(() => createTokenProvider({ endpoint: BASE, getAuthToken: async () => 'x', devFallback: { userId: '' } }), TypeError);
  });
});

const STREAM_ID_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@_-'];

describe('devFallback', () => {
  // What apps call today: chatClient.devToken(userId).
  const sdk = new StreamChat('key123');

  it('is never used without the option: a network failure throws network_error', async () => {
    const fetch = fakeFetch(new TypeError('fetch failed'));
    const error = await rejection(provider(fetch)());
    assert.equal(error.code, 'network_error');
    assert.equal(error.status, undefined);
    assert.ok(error.cause instanceof TypeError);
    assert.equal(fetch.calls.length, 4, 'retried first');
  });

  it('returns exactly chatClient.devToken(userId) when the service is unreachable', async (t) => {
    const warn = t.mock.method(console, 'warn', () => undefined);
    const fetch = fakeFetch(new TypeError('fetch failed'));
    const token = await provider(fetch, { devFallback: { userId: 'dev-alice' } })();
    assert.equal(token, sdk.devToken('dev-alice'));
    assert.equal(token, 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoiZGV2LWFsaWNlIn0=.devtoken');
    assert.equal(fetch.calls.length, 4, 'only after the retries');
    assert.equal(warn.mock.callCount(), 1);
    assert.match(String(warn.mock.calls[0]?.arguments[0]), /development only/);
  });

  it('is not used when the service answers, whatever the status', async (t) => {
    t.mock.method(console, 'warn', () => undefined);
    for (const answer of [problem(401, 'token_expired'), problem(403, 'forbidden'), problem(429, 'rate_limited'), problem(503, 'keys_unavailable')]) {
      const fetch = fakeFetch(answer);
      const error = await rejection(provider(fetch, { devFallback: { userId: 'dev-alice' } })());
      assert.equal(error.status, answer.status);
    }
  });

  it('is not used without a session token', async () => {
    const fetch = fakeFetch(new TypeError('fetch failed'));
    const error = await rejection(provider(fetch, { getAuthToken: async () => null, devFallback: { userId: 'dev-alice' } })());
    assert.equal(error.code, 'missing_token');
  });

  it('matches stream-chat for any user id', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom(...STREAM_ID_CHARS), minLength: 1, maxLength: 64 })),
        (userId) => {
          assert.equal(unsignedDevToken(userId), sdk.devToken(userId));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('fetchStreamToken', () => {
  it('returns the token with its details', async () => {
    const fetch = fakeFetch(tokenResponse('bob'));
    const result = await fetchStreamToken({ endpoint: BASE, authToken: 'session-jwt', fetch });
    assert.deepEqual(result, {
      token: 'stream.bob.token',
      userId: 'bob',
      apiKey: 'key123',
      expiresAt: new Date('2030-01-01T00:00:00.000Z'),
    });
    assert.ok(result.expiresAt instanceof Date);
    assert.equal(fetch.calls[0]?.url, ENDPOINT);
  });

  it('throws the typed error without retrying', async () => {
    const fetch = fakeFetch(problem(503, 'keys_unavailable', { 'retry-after': '5' }), tokenResponse());
    const error = await rejection(fetchStreamToken({ endpoint: ENDPOINT, authToken: 'session-jwt', fetch }));
    assert.equal(error.status, 503);
    assert.equal(error.code, 'keys_unavailable');
    assert.equal(error.requestId, 'req-keys_unavailable');
    assert.equal(error.retryAfterMs, 5000);
    assert.equal(fetch.calls.length, 1);
  });

  it('throws missing_token without a request for an empty session token', async () => {
    const fetch = fakeFetch(tokenResponse());
    for (const authToken of ['', null, undefined]) {
      const error = await rejection(fetchStreamToken({ endpoint: BASE, authToken, fetch }));
      assert.equal(error.code, 'missing_token');
    }
    assert.equal(fetch.calls.length, 0);
  });

  it('throws aborted when the signal aborts', async () => {
    const controller = new AbortController();
    const fetch = fakeFetch(
      (call) =>
        new Promise<Response>((_resolve, reject) => {
          call.init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
          setTimeout(() => controller.abort(), 5);
        }),
    );
    const error = await rejection(fetchStreamToken({ endpoint: BASE, authToken: 'session-jwt', fetch, signal: controller.signal }));
    assert.equal(error.code, 'aborted');

    const before = fakeFetch(tokenResponse());
    const already = await rejection(fetchStreamToken({ endpoint: BASE, authToken: 'session-jwt', fetch: before, signal: controller.signal }));
    assert.equal(already.code, 'aborted');
    assert.equal(before.calls.length, 0);
  });

  it('throws invalid_response for a success that is not a token response', async () => {
    for (const body of ['<html>hello</html>', '{}', '{"token":"t","user_id":"u"}']) {
      const fetch = fakeFetch(new Response(body, { status: 200 }));
      const error = await rejection(fetchStreamToken({ endpoint: BASE, authToken: 'session-jwt', fetch }));
      assert.equal(error.code, 'invalid_response', body);
      assert.equal(error.status, 200);
    }
  });

  it('computes expiresAt from expires_in when expires_at is absent', async () => {
    const before = Date.now();
    const fetch = fakeFetch(Response.json({ token: 't', user_id: 'u', api_key: 'k', expires_in: 60 }));
    const { expiresAt } = await fetchStreamToken({ endpoint: BASE, authToken: 'session-jwt', fetch });
    assert.ok(expiresAt.getTime() >= before + 60_000 && expiresAt.getTime() <= Date.now() + 60_000);
  });
});

describe('findStreamTokenError', () => {
  it('finds the error through the cause chain stream-chat wraps it in', () => {
    const original = new StreamTokenError({ code: 'forbidden', status: 403, message: 'no' });
    const wrapped = new Error(`Call to tokenProvider failed with message: ${original}`, { cause: original });
    assert.equal(findStreamTokenError(wrapped), original);
    assert.equal(findStreamTokenError(original), original);
    assert.equal(findStreamTokenError(new Error('other')), undefined);
    assert.equal(findStreamTokenError('text'), undefined);
    assert.equal(findStreamTokenError(undefined), undefined);
  });
});

describe('portability of stream-token-client (packages/client/src)', () => {
  const root = fileURLToPath(new URL('../../packages/client/src/', import.meta.url));
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|js|mjs|cjs)$/.test(name)) files.push(path);
    }
  };
  walk(root);
  const withoutComments = (file: string): string =>
    readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');

  it('has source files to check', () => {
    assert.ok(files.length >= 4, files.join(', '));
  });

  it('imports nothing from node: and no packages, only its own relative modules', () => {
    for (const file of files) {
      const source = withoutComments(file);
      const specifiers = [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1] as string);
      for (const specifier of specifiers) {
        assert.ok(specifier.startsWith('./') || specifier.startsWith('../'), `${file} imports ${specifier}`);
        assert.ok(specifier.endsWith('.js'), `${file}: relative imports end in .js (${specifier})`);
        assert.ok(!specifier.includes('node:'), `${file} imports ${specifier}`);
      }
    }
  });

  it('uses no Node.js-only globals', () => {
    for (const file of files) {
      const code = withoutComments(file);
      for (const name of ['Buffer', 'process', 'require', '__dirname', '__filename', 'global', 'setImmediate']) {
        assert.doesNotMatch(code, new RegExp(`\\b${name}\\b(?!\\s*:)`), `${file} uses ${name}`);
      }
      assert.doesNotMatch(code, /node:/, `${file} mentions node:`);
    }
  });

  it('type-checks with browser types only (no @types/node)', () => {
    const program = ts.createProgram([join(root, 'index.ts')], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: [],
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      noEmit: true,
      skipLibCheck: true,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program);
    assert.deepEqual(
      diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
      [],
    );
    const checked = program
      .getSourceFiles()
      .map((f) => f.fileName)
      .filter((f) => !f.includes('/typescript/lib/'));
    assert.ok(
      checked.every((f) => f.startsWith(root)),
      `only packages/client/src is compiled: ${checked.join(', ')}`,
    );
  });
});
