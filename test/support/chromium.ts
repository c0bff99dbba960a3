/**
 * Debian's Chromium (`apt-get install -y chromium`), driven by playwright-core:
 * nothing is downloaded. Tests that need it skip with {@link NO_CHROMIUM} when
 * it is absent.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const NO_CHROMIUM = `${CHROMIUM} is absent; install Debian's chromium package (apt-get install -y chromium) to run the browser tests`;

/** The browser, or undefined when Chromium is not installed. */
export async function launchChromium(): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) return undefined;
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
