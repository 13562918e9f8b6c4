// The console in a real browser: headless Chromium (Debian's `chromium`, installed by
// scripts/ensure-chromium.sh) driven by playwright-core. Logs in with a one-time link, chats
// against the fake Anthropic API, edits a block and sees the edit in its history, approves a
// pending shell command (clicking twice) and sees it run exactly once, searches the history, and screenshots every
// page at desktop and phone widths (checked not blank; UPDATE_SCREENSHOTS=1 writes docs/screenshots/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../support/cli.ts';
import { startConsole } from './harness.ts';

function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];
  return candidates.find((path): path is string => typeof path === 'string' && existsSync(path));
}

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const SHOTS = join(ROOT, 'docs', 'screenshots');

/** Decodes a screenshot in a blank page and measures it: how many colours, how much of it is one colour. */
async function measure(browser: Browser, png: Buffer): Promise<{ distinct: number; dominantShare: number }> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(async (data) => {
      // runs in the page: the DOM is there, but not in this file's (Node) types
      const { document, Image } = globalThis as any;
      const image = new Image();
      image.src = `data:image/png;base64,${data}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width; canvas.height = image.height;
      const context = canvas.getContext('2d');
      context.drawImage(image, 0, 0);
      const pixels = context.getImageData(0, 0, image.width, image.height).data;
      const counts = new Map<number, number>();
      for (let i = 0; i < pixels.length; i += 4 * 7) {
        const key = (pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2];
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      return { distinct: counts.size, dominantShare: Math.max(...counts.values()) / total };
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}

async function shoot(browser: Browser, page: Page, name: string): Promise<void> {
  for (const [width, size] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(size);
    // nothing may be wider than the screen (a phone would scroll sideways)
    const overflow = await page.evaluate(() => { const { document, window } = globalThis as any; return document.documentElement.scrollWidth - window.innerWidth; });
    assert.ok(overflow <= 0, `${name} at ${width} width is ${overflow}px wider than the screen`);
    const png = await page.screenshot();
    const { distinct, dominantShare } = await measure(browser, png);
    assert.ok(distinct >= 16 && dominantShare < 0.995, `${name} at ${width} width looks blank (${distinct} colours, ${(dominantShare * 100).toFixed(1)}% one colour)`);
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      mkdirSync(SHOTS, { recursive: true });
      writeFileSync(join(SHOTS, `${name}-${width}.png`), png);
    }
  }
  await page.setViewportSize(DESKTOP);
}

test('the console in headless Chromium', { timeout: 180_000 }, async (t) => {
  const executablePath = findChromium();
  assert.ok(executablePath, 'Chromium is not installed: run sh scripts/ensure-chromium.sh (as root it installs Debian\'s chromium), or set CHROMIUM_PATH');
  const h = await startConsole();
  t.after(() => h.close());
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  t.after(() => browser.close());

  await t.test('an unauthenticated browser sees only the login page', async () => {
    const context = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
    const page = await context.newPage();
    for (const path of ['/', '/memory', '/approvals', '/history', '/cost', '/jobs']) {
      await page.goto(`${h.base}${path}`);
      assert.equal(new URL(page.url()).pathname, '/login', path);
      assert.equal(await page.locator('nav').count(), 0);
    }
    assert.match(await page.locator('h1').innerText(), /Log in/);
    await shoot(browser, page, 'login');
    await context.close();
  });

  const context = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
  t.after(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // script errors and CSP refusals (a stream cut by a page change is not one)
  page.on('console', (message) => { if (message.type() === 'error' && /Content Security Policy|Refused|Uncaught/.test(message.text())) errors.push(message.text()); });

  await t.test('logs in with a one-time link', async () => {
    await page.goto(h.web.loginLink());
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${h.base}/`);
    assert.equal(await page.locator('h1').innerText(), 'Chat');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'lares_session')!;
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => (globalThis as any).document.cookie), '', 'the session cookie is out of reach of scripts');
  });

  await t.test('chats with streamed replies', async () => {
    await page.locator('#message').fill('hello from the browser');
    await page.locator('#message').press('Enter');
    const reply = page.locator('#log .msg.assistant').last();
    await reply.locator('.text', { hasText: 'echo: hello from the browser' }).waitFor();
    await page.locator('#log .msg.streaming').waitFor({ state: 'detached' });
    const stored = await h.runtime.store.recentMessages(1);
    assert.equal(stored[0].content, 'echo: hello from the browser');
    // a reload shows the same conversation, from the store
    await page.reload();
    await page.locator('#log .msg.user', { hasText: 'hello from the browser' }).waitFor();
  });

  await t.test('approves a pending shell command inline; it runs exactly once', async () => {
    const file = join(h.dir, 'browser-ran.txt');
    await page.locator('#message').fill(`run the command: echo ran >> ${file}`);
    await page.getByRole('button', { name: 'Send' }).click();
    const card = page.locator('#pending .approval');
    await card.waitFor();
    assert.match(await card.innerText(), /run_shell_command/);
    await page.locator('#log details.tool summary', { hasText: 'run_shell_command' }).last().click();
    assert.match(await page.locator('#log details.tool[open] pre').first().innerText(), /echo ran >>/);
    await shoot(browser, page, 'chat');
    // the decision posts, runs the call, and comes back to the chat (a second post would only get
    // "already decided": test/web/console.test.ts)
    const [decided] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/approve'), { timeout: 15_000 }),
      card.getByRole('button', { name: 'Approve', exact: true }).click(),
    ]);
    assert.ok([200, 302, 303].includes(decided.status()), `the decision answered ${decided.status()}`);
    await page.waitForLoadState('load');
    await page.locator('#pending', { hasText: 'No approvals waiting.' }).waitFor();
    assert.equal(await page.locator('.error').count(), 0);
    assert.equal(readFileSync(file, 'utf8'), 'ran\n');
    // the outcome comes back into the conversation as a turn
    await page.locator('#log .msg.assistant', { hasText: 'Done, it ran.' }).waitFor({ timeout: 15_000 });
    assert.equal(readFileSync(file, 'utf8'), 'ran\n', 'ran exactly once');
    await page.goto(`${h.base}/approvals`);
    await page.locator('table', { hasText: 'executed' }).waitFor();
  });

  await t.test('the approvals page updates live from the event stream; deny never runs', async () => {
    await page.goto(`${h.base}/approvals`);
    await page.locator('#pending', { hasText: 'No approvals waiting.' }).waitFor();
    const file = join(h.dir, 'never.txt');
    // a turn from another channel queues a call while the page is open
    await h.runtime.agent.send({ content: `run the command: touch ${file}`, source: 'terminal' });
    const card = page.locator('#pending .approval', { hasText: 'never.txt' });
    await card.waitFor({ timeout: 10_000 });
    await shoot(browser, page, 'approvals');
    await card.getByRole('textbox', { name: 'reason for denying' }).fill('not now');
    await card.getByRole('button', { name: 'Deny' }).click();
    await page.locator('#pending', { hasText: 'No approvals waiting.' }).waitFor();
    await page.locator('table', { hasText: 'denied' }).waitFor();
    assert.equal(existsSync(file), false);
  });

  await t.test('a <script> in a message is shown as text', async () => {
    let dialogs = 0;
    page.on('dialog', (dialog) => { dialogs++; void dialog.dismiss(); });
    await page.goto(`${h.base}/`);
    await page.locator('#message').fill('<script>alert(1)</script><img src=x onerror=alert(2)>');
    await page.locator('#message').press('Enter');
    await page.locator('#log .msg.streaming').waitFor({ state: 'detached' });
    await page.reload();
    const mine = page.locator('#log .msg.user .text').last();
    assert.equal(await mine.innerText(), '<script>alert(1)</script><img src=x onerror=alert(2)>');
    assert.equal(await page.locator('#log img').count(), 0);
    assert.equal(dialogs, 0);
  });

  await t.test('edits a memory block and sees the edit in its history', async () => {
    await page.goto(`${h.base}/memory`);
    await page.locator('#content-human').fill('Name: Sam\nGrows tomatoes and basil on the balcony.');
    await page.getByRole('button', { name: 'Save human' }).click();
    await page.waitForURL(/\/memory/);
    assert.equal(await page.locator('#content-human').inputValue(), 'Name: Sam\nGrows tomatoes and basil on the balcony.');
    await page.locator('#passage').fill('The spare key is under the blue pot.');
    await page.locator('#tags').fill('home');
    await page.getByRole('button', { name: 'Add passage' }).click();
    await page.locator('.passages', { hasText: 'blue pot' }).waitFor();
    await shoot(browser, page, 'memory');
    await page.locator('#block-human').getByRole('link', { name: 'History' }).click();
    const latest = page.locator('ol.history li').first();
    assert.match(await latest.innerText(), /owner/);
    assert.match(await latest.locator('.diff').innerText(), /\+ Grows tomatoes and basil/);
    const history = await h.runtime.store.blockHistory('human');
    assert.equal(history.at(-1)!.actor, 'owner');
  });

  await t.test('searches the history and opens a hit in its context', async () => {
    await page.goto(`${h.base}/history`);
    await page.locator('#hq').fill('hello browser');
    await page.getByRole('button', { name: 'Search' }).click();
    const hit = page.locator('ol.hits li').first();
    await hit.waitFor();
    assert.match(await hit.innerText(), /hello from the browser/);
    await shoot(browser, page, 'history');
    await hit.getByRole('link', { name: 'Open in context' }).click();
    await page.locator('#focus').waitFor();
    assert.match(await page.locator('#focus').innerText(), /hello from the browser/);
  });

  await t.test('context and cost, and jobs', async () => {
    await page.goto(`${h.base}/cost`);
    await page.locator('svg[aria-label="Tokens per UTC day"] rect').first().waitFor();
    await shoot(browser, page, 'cost');
    const job = h.runtime.direct!.tools.call('schedule_job', { kind: 'cron', spec: '0 8 * * *', message: 'Morning: check the tomatoes' }, { conversationId: 'default' });
    await job;
    await page.goto(`${h.base}/jobs`);
    await page.locator('.jobs', { hasText: 'check the tomatoes' }).waitFor();
    await shoot(browser, page, 'jobs');
  });

  assert.deepEqual(errors, [], 'no script errors or CSP violations');
});
