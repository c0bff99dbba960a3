/**
 * Chromium and the dev apps a browser test file starts: the browser is
 * launched before the file's tests and, with every app, closed after them.
 */
import type { AddressInfo } from 'node:net';
import { after, before, type TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, NO_CHROMIUM } from './chromium.js';
import { startDevApp, type TestApp } from './harness.js';

export interface BrowserApps {
  /** Undefined when Chromium is not installed. */
  browser(): Browser | undefined;
  /** Closed after the file's tests. */
  track(t: TestApp): TestApp;
  /** A dev app listening on a loopback port. */
  listening(env?: Record<string, string>): Promise<{ t: TestApp; origin: string }>;
  /** Marks the test skipped and says so when there is no browser. */
  skipWithoutBrowser(t: TestContext): boolean;
}

export function useBrowserApps(): BrowserApps {
  let browser: Browser | undefined;
  const apps: TestApp[] = [];
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await Promise.all(apps.map((t) => t.app.close()));
  });
  const track = (t: TestApp): TestApp => {
    apps.push(t);
    return t;
  };
  return {
    browser: () => browser,
    track,
    async listening(env = {}) {
      const t = track(await startDevApp({ LOG_LEVEL: 'info', ...env }));
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      return { t, origin: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}` };
    },
    skipWithoutBrowser(t) {
      if (browser !== undefined) return false;
      t.skip(NO_CHROMIUM);
      return true;
    },
  };
}
