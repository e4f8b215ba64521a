import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTraceTopology } from '../../topologies/trace.js';
import type { RunningTopology } from '../../src/lifecycle/index.js';
import type { LineDiff, SolutionSubmitted } from '../../src/avro/index.js';
import { readSettings } from '../../src/config/settings.js';
import { startLiveServer, type LiveServer } from '../../src/live/index.js';
import { DEFAULT_TRACE_TOPICS } from '../../src/pipeline/index.js';
import { startLiveFixture, traceEvent, type LiveFixture } from './support.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

const LOOP = [
  'def square(n):',
  '    return n * n',
  '',
  'total = 0',
  'for i in range(4):',
  '    total += square(i)',
  'if total < 0:',
  '    print("never")',
  'print("total", total)',
  '',
].join('\n');

const HOSTILE = [
  'msg = "<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"',
  'print(msg)',
  'print("<b>bold?</b>")',
  '',
].join('\n');

function solution(solutionId: string, problemId: string, source: string): SolutionSubmitted {
  return {
    schemaVersion: 1, solutionId, problemId, language: 'python3', source,
    inputs: [{ stdin: '', expectedStdout: null }], origin: {}, submittedAtMs: Date.now(),
  };
}

describe('the live page in a real browser', () => {
  let fixture: LiveFixture;
  let topology: RunningTopology;
  let server: LiveServer;
  let browser: Browser;
  let page: Page;

  before(async () => {
    fixture = await startLiveFixture();
    const settings = readSettings();
    topology = await startTraceTopology({
      client: fixture.client, registry: fixture.registry, embedded: fixture.broker.mock,
      pool: { concurrency: 2, sandboxUidBase: settings.sandboxUidBase }, groupProtocol: fixture.broker.mock ? 'consumer' : 'classic',
    });
    server = await startLiveServer({ client: fixture.client, codec: fixture.codec, port: 0 });
    await server.ready;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: BROWSER_ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await topology?.close();
    assert.equal(await fixture.close(), 0, 'the test broker exits 0');
  });

  it('lists runs as the topology traces them and steps through one: highlighted line, variables, output', async () => {
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#connection[data-state="live"]');
    const records = await Promise.all([solution('loop', 'squares', LOOP), solution('hostile', 'html', HOSTILE)].map(async (s) => ({
      topic: DEFAULT_TRACE_TOPICS.solutions, key: s.solutionId, value: await fixture.codec.encode('SolutionSubmitted', s),
    })));
    await fixture.producer.send(records);

    const loopRow = page.locator('#runs tbody tr[data-run-id="loop#0"]');
    await loopRow.locator('.badge.ok').waitFor({ timeout: 120_000 });
    assert.equal(await loopRow.locator('td').nth(1).textContent(), 'squares');
    await loopRow.click();
    await page.waitForSelector('#run-panel:not([hidden])');

    // Step 1: the `def` ran, which made `square`.
    await page.keyboard.press('Home');
    assert.equal(await page.textContent('#source li.current .text'), 'def square(n):');
    assert.equal(await page.textContent('#frames .var.new .name'), 'square');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.textContent('#source li.current .text'), 'total = 0');
    assert.equal(await page.textContent('#frames .var.new .name'), 'total');
    // Forward to `total += square(i)` finishing for i = 1 (for i = 0 it added 0: no change).
    const stepTo = async (predicate: () => Promise<boolean>, limit = 40): Promise<void> => {
      for (let i = 0; i < limit && !(await predicate()); i++) await page.keyboard.press('ArrowRight');
      assert.ok(await predicate(), 'reached the step looked for');
    };
    await stepTo(async () => (await page.textContent('#source li.current .text')) === '    total += square(i)'
      && (await page.locator('#frames .var.modified', { hasText: 'total' }).count()) === 1
      && (await page.locator('#frames .var', { hasText: /^i\s*1$/ }).count()) === 1);
    // The line shows again once square returned, with what it changed marked: total is now 1.
    assert.equal(await page.textContent('#frames .var.modified .value'), '1');
    assert.match(await page.textContent('#step-where') ?? '', /^line 6 · finished in <module>$/);
    assert.match(await page.textContent('#step-label') ?? '', /^step \d+ \/ \d+$/);
    await mkdir(ARTIFACTS, { recursive: true });
    const screenshot = `${ARTIFACTS}live-page-step.png`;
    await page.screenshot({ path: screenshot });
    assert.ok((await stat(screenshot)).size > 20_000, 'the screenshot has content');

    // The slider goes anywhere; the last step shows everything printed.
    await page.keyboard.press('End');
    assert.equal(await page.textContent('#stdout'), 'total 14\n');
    // The whole source is shown, also the line of the branch not taken, which never ran.
    assert.deepEqual(await page.locator('#source li .text').allTextContents(), LOOP.split('\n').slice(0, -1));
    const neverRan = page.locator('#source li', { hasText: 'print("never")' });
    assert.equal(await neverRan.count(), 1);
    assert.match(await neverRan.getAttribute('class') ?? '', /\bunrun\b/, 'a line that never ran is shown, dimmed');
    assert.equal(await page.locator('#source li.unknown').count(), 0, 'no line is unknown once the trace is in');
    await page.locator('#prev').click();
    assert.equal(await page.inputValue('#slider'), String(Number(await page.getAttribute('#slider', 'max')) - 1));
  });

  it('shows what a program prints and holds as text, never as markup', async () => {
    const row = page.locator('#runs tbody tr[data-run-id="hostile#0"]');
    await row.locator('.badge.ok').waitFor({ timeout: 120_000 });
    await row.click();
    await page.locator('#run-title', { hasText: 'hostile#0' }).waitFor();
    await page.keyboard.press('End');
    const printed = await page.textContent('#stdout');
    assert.equal(printed, '<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>\n<b>bold?</b>\n');
    assert.equal(await page.locator('#stdout *').count(), 0, 'no element was made from the output');
    assert.equal(await page.locator('#frames script, #frames img, #source script, #source img').count(), 0);
    assert.match(await page.textContent('#source') ?? '', /<script>window.__pwned = 1<\/script>/);
    assert.equal(await page.evaluate('typeof window.__pwned'), 'undefined', 'nothing the program wrote ran');
    await page.screenshot({ path: `${ARTIFACTS}live-page-html.png` });
  });

  it('a run still streaming shows the lines its diffs showed, and the whole source once its trace arrives', async () => {
    const source = 'a = 1\nif a < 0:\n    a = -a\nprint(a)\n';
    const runId = 'streaming#0';
    const steps = [
      { index: 0, event: 'line' as const, line: 1, depth: 0, function: '<module>', changes: [{ name: 'a', kind: 'new' as const, value: '1' }], value: null, exception: null, stdout: '' },
      { index: 1, event: 'line' as const, line: 2, depth: 0, function: '<module>', changes: [], value: null, exception: null, stdout: '' },
      { index: 2, event: 'line' as const, line: 4, depth: 0, function: '<module>', changes: [], value: null, exception: null, stdout: '1\n' },
    ];
    const lines = source.split('\n');
    const diff = (i: number): LineDiff => ({
      schemaVersion: 1, runId, solutionId: 'streaming', stepIndex: i, stepCount: 3, ...steps[i]!, sourceLine: lines[steps[i]!.line - 1]!,
      diffCount: 3, problemId: 'branches', outcome: 'ok',
    });
    const sendDiffs = async (indices: number[]): Promise<void> => {
      await fixture.producer.send(await Promise.all(indices.map(async (i) => ({ topic: DEFAULT_TRACE_TOPICS.diffs, key: runId, value: await fixture.codec.encode('LineDiff', diff(i)) }))));
    };
    await sendDiffs([0, 1]);
    const row = page.locator(`#runs tbody tr[data-run-id="${runId}"]`);
    await row.locator('.badge.running').waitFor({ timeout: 60_000 });
    await row.click();
    await page.locator('#run-title', { hasText: runId }).waitFor();
    await page.locator('#source li').nth(1).waitFor();
    assert.deepEqual(await page.locator('#source li .text').allTextContents(), ['a = 1', 'if a < 0:'], 'what the diffs showed so far');

    await sendDiffs([2]);
    await page.locator('#source li').nth(3).waitFor({ timeout: 30_000 });
    assert.deepEqual(await page.locator('#source li .text').allTextContents(), ['a = 1', 'if a < 0:', '…', 'print(a)'], 'a line no diff showed is not known yet');
    assert.equal(await page.locator('#source li.unknown').count(), 1);

    const trace = { ...traceEvent({ runId, problemId: 'branches', stdout: '1\n' }), solutionId: 'streaming', source, steps, stepCount: 3 };
    await fixture.producer.send([{ topic: DEFAULT_TRACE_TOPICS.traces, key: runId, value: await fixture.codec.encode('ExecutionTrace', trace) }]);
    await page.locator('#source li.unrun', { hasText: '    a = -a' }).waitFor({ timeout: 30_000 });
    assert.deepEqual(await page.locator('#source li .text').allTextContents(), ['a = 1', 'if a < 0:', '    a = -a', 'print(a)'], 'the trace fills in the whole source');
    assert.equal(await page.locator('#source li.unknown').count(), 0);
    await page.screenshot({ path: `${ARTIFACTS}live-page-streaming.png` });
  });
});
