/**
 * The dev playground (`GET /dev/`) in headless Chromium, driven by
 * playwright-core with the system's `/usr/bin/chromium` (Debian's `chromium`
 * package; nothing is downloaded). Without it the browser cases skip with a
 * message.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { useBrowserApps } from '../support/browser-apps.js';
import { startDevApp, startProductionApp } from '../support/harness.js';
import { startTestIssuer } from '../support/issuer.js';

const NO_CORS = 'waiting for CORS: src/http/app.ts does not register @fastify/cors with CORS_ORIGINS yet';

const { browser, listening, skipWithoutBrowser, track } = useBrowserApps();

interface OpenedPage {
  page: Page;
  requests: string[];
  problems: string[];
}

/** Opens the playground, recording every URL the page requests and every console error (CSP violations included). */
async function openPlayground(origin: string): Promise<OpenedPage> {
  const chromium = browser();
  assert.ok(chromium);
  const context = await chromium.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => requests.push(`${request.method()} ${request.url()}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  const response = await page.goto(`${origin}/dev/`);
  assert.equal(response?.status(), 200);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, requests, problems };
}

async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.textContent(selector)) ?? '';
}

/** Fills the form, gets a session token, exchanges it; returns the decoded Stream claims. */
async function runFlow(page: Page, userId: string, serviceOrigin?: string): Promise<Record<string, unknown>> {
  if (serviceOrigin !== undefined) await page.fill('#base-url', serviceOrigin);
  await page.fill('#user-id', userId);
  await page.fill('#role-value', 'org:admin');
  await page.fill('#org-id', 'org_42');
  await page.click('#get-session');
  await page.waitForFunction((id) => document.querySelector('#session-claims')?.textContent?.includes(`"sub": "${id}"`), userId);
  await page.click('#exchange');
  await page.waitForFunction(() => document.querySelector('#stream-claims') !== null || document.querySelector('#status.error') !== null);
  const status = await textOf(page, '#status');
  assert.ok(await page.$('#stream-claims'), `exchange failed: ${status}`);
  return JSON.parse(await textOf(page, '#stream-claims')) as Record<string, unknown>;
}

function inlineContent(html: string, tag: 'script' | 'style'): string {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html);
  assert.ok(match, `an inline <${tag}>`);
  return match[1] as string;
}

describe('GET /dev/ (dev playground)', () => {
  it('serves one self-contained page with a strict CSP that allows exactly its inline script and style', async () => {
    const t = track(await startDevApp());
    const res = await t.app.inject({ method: 'GET', url: '/dev/' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    const csp = String(res.headers['content-security-policy']);
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...values]) => [name, values]),
    );
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    assert.deepEqual(directives.get('script-src'), [hash(inlineContent(res.body, 'script'))]);
    assert.deepEqual(directives.get('style-src'), [hash(inlineContent(res.body, 'style'))]);
    assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
    assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'));
    assert.equal((res.body.match(/<script/g) ?? []).length, 1);
    assert.doesNotMatch(res.body, /\b(src|href)\s*=/i, 'loads nothing');
    assert.doesNotMatch(res.body, /\bon[a-z]+\s*=\s*["']/i, 'no inline event handlers (the CSP would block them)');
    assert.doesNotMatch(res.body, /\sstyle\s*=/i, 'no style attributes (the CSP would block them)');
    assert.doesNotMatch(res.body, /https?:\/\/(?!localhost|127\.0\.0\.1)/, 'names no external origin');
  });

  it('does not exist outside dev mode', async () => {
    const issuer = await startTestIssuer();
    try {
      const t = track(await startProductionApp(issuer));
      for (const url of ['/dev/', '/dev']) {
        const res = await t.app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 404, url);
        assert.equal(res.json().code, 'not_found');
      }
    } finally {
      await issuer.close();
    }
  });
});

describe('dev playground in Chromium', () => {
  it('gets a session token, exchanges it, and shows both tokens decoded (same origin)', async (t) => {
    if (skipWithoutBrowser(t)) return;
    const { origin } = await listening();
    const { page, requests, problems } = await openPlayground(origin);
    try {
      assert.equal(await page.inputValue('#base-url'), origin, 'the service defaults to the page origin');
      const claims = await runFlow(page, 'pw-alice');
      assert.equal(claims.user_id, 'pw-alice');
      assert.equal(typeof claims.exp, 'number');

      const session = JSON.parse(await textOf(page, '#session-claims')) as Record<string, unknown>;
      assert.equal(session.sub, 'pw-alice');
      assert.equal(session.org_role, 'org:admin');
      assert.equal(session.org_id, 'org_42');
      assert.equal((JSON.parse(await textOf(page, '#session-header')) as Record<string, unknown>).alg, 'RS256');
      assert.equal((JSON.parse(await textOf(page, '#stream-header')) as Record<string, unknown>).alg, 'HS256');
      assert.match(await textOf(page, '#stream-countdown'), /^expires in (\d+h )?\d+m \d+s$/);
      assert.match(await textOf(page, '#session-countdown'), /^expires in/);
      assert.match(await textOf(page, '#status'), /Stream token for pw-alice/);
      assert.equal((JSON.parse(await textOf(page, '#stream-response')) as Record<string, unknown>).user_id, 'pw-alice');

      const curl = await textOf(page, '#curl');
      assert.ok(curl.includes(`curl -s -X POST '${origin}/dev/token'`), curl);
      assert.ok(curl.includes(`'{"user_id":"pw-alice","claims":{"org_role":"org:admin","org_id":"org_42"}}'`), curl);
      assert.ok(curl.includes(`curl -s -X POST '${origin}/stream/token'`), curl);

      assert.deepEqual(problems, [], 'no CSP violations or script errors');
      assert.ok(
        requests.every((r) => r.split(' ')[1]?.startsWith(`${origin}/`)),
        `only same-origin requests: ${requests.join(', ')}`,
      );
      assert.deepEqual(
        requests.filter((r) => r.startsWith('POST')),
        [`POST ${origin}/dev/token`, `POST ${origin}/stream/token`],
      );
    } finally {
      await page.context().close();
    }
  });

  it('shows the problem when the service refuses the session token', async (t) => {
    if (skipWithoutBrowser(t)) return;
    const { origin } = await listening();
    const { page } = await openPlayground(origin);
    try {
      await page.fill('#session-token', 'not-a-jwt');
      await page.click('#exchange');
      await page.waitForSelector('#status.error');
      assert.match(await textOf(page, '#status'), /401 malformed_token/);
      assert.equal(await page.$('#stream-claims'), null);
    } finally {
      await page.context().close();
    }
  });

  it('calls a service on another origin through a CORS preflight when that origin is allowed', async (t) => {
    if (skipWithoutBrowser(t)) return;
    const a = await listening();
    const b = await listening({ CORS_ORIGINS: a.origin });
    if (!b.t.app.hasPlugin('@fastify/cors')) {
      t.skip(NO_CORS);
      return;
    }
    const { page, requests, problems } = await openPlayground(a.origin);
    try {
      const claims = await runFlow(page, 'pw-bob', b.origin);
      assert.equal(claims.user_id, 'pw-bob');
      assert.deepEqual(problems, []);
      assert.ok(requests.includes(`POST ${b.origin}/stream/token`), requests.join(', '));

      const seenByB = b.t.logs.records.filter((r) => r.msg === 'request').map((r) => `${String(r.method)} ${String(r.status)}`);
      assert.ok(
        seenByB.some((r) => r.startsWith('OPTIONS 2')),
        `B answered a preflight: ${seenByB.join(', ')}`,
      );
      assert.ok(seenByB.includes('POST 200'), seenByB.join(', '));
      const seenByA = a.t.logs.records.filter((r) => r.msg === 'request').map((r) => String(r.method));
      assert.deepEqual(seenByA, ['GET'], 'A only served the page');

      // What the browser sees on the preflight, asked directly.
      const preflight = await fetch(`${b.origin}/stream/token`, {
        method: 'OPTIONS',
        headers: { origin: a.origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
      assert.equal(preflight.headers.get('access-control-allow-origin'), a.origin);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    } finally {
      await page.context().close();
    }
  });

  it('cannot call a service on another origin that does not list the page origin', async (t) => {
    if (skipWithoutBrowser(t)) return;
    const a = await listening();
    const c = await listening({ CORS_ORIGINS: 'http://allowed.example.com' });
    if (!c.t.app.hasPlugin('@fastify/cors')) {
      t.skip(NO_CORS);
      return;
    }
    const { page } = await openPlayground(a.origin);
    try {
      await page.fill('#base-url', c.origin);
      await page.fill('#session-token', 'a.b.c');
      await page.click('#exchange');
      await page.waitForSelector('#status.error');
      assert.match(await textOf(page, '#status'), new RegExp(`add ${a.origin.replace(/[.:/]/g, '\\$&')} to that service's CORS_ORIGINS`));
      const posts = c.t.logs.records.filter((r) => r.msg === 'request' && r.method === 'POST');
      assert.deepEqual(posts, [], 'the browser never sent the request with the token');
    } finally {
      await page.context().close();
    }
  });
});
