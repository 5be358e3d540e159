import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium (what `.ci/run` installs), unless MATTERSTACK_CHROMIUM names another; never a downloaded build. */
export const CHROMIUM_PATH = process.env.MATTERSTACK_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium for driving the web view (no sandbox: CI runs as root). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}
