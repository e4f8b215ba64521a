// The live page: the run list from /streams/runs and a step-through of one run from /api/runs/<id>.
// Sources, reprs and output are written by the traced programs: they go into the page only as
// text (textContent, createElement), never as markup.
'use strict';

const token = new URLSearchParams(location.search).get('access_token');
const POLL_MS = 700;

function withToken(path) {
  if (token === null) return path;
  const url = new URL(path, location.href);
  url.searchParams.set('access_token', token);
  return url.pathname + url.search;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const $ = (id) => document.getElementById(id);

const state = {
  runs: new Map(), // runId -> summary
  fresh: new Set(),
  selected: null, // { summary, steps, sourceLines: Map }
  step: 0,
  pollTimer: null,
  listQueued: false,
};

// ---------- run list ----------

function connectRuns() {
  const source = new EventSource(withToken('/streams/runs'));
  source.addEventListener('open', () => setConnection('live', 'live'));
  source.addEventListener('error', () => setConnection('lost', 'reconnecting…'));
  source.addEventListener('runs', (message) => {
    for (const summary of JSON.parse(message.data)) {
      if (!state.runs.has(summary.runId)) state.fresh.add(summary.runId);
      state.runs.set(summary.runId, summary);
      if (state.selected && state.selected.summary.runId === summary.runId) state.selected.summary = summary;
    }
    queueListRender();
  });
  source.addEventListener('dropped', (message) => setConnection('lost', `dropped: ${JSON.parse(message.data).reason}`));
}

function setConnection(kind, text) {
  const node = $('connection');
  node.dataset.state = kind;
  node.textContent = text;
}

function queueListRender() {
  if (state.listQueued) return;
  state.listQueued = true;
  requestAnimationFrame(() => {
    state.listQueued = false;
    renderList();
  });
}

function outcomeLabel(summary) {
  return summary.outcome === null ? 'running' : summary.outcome;
}

function renderList() {
  const runs = [...state.runs.values()].sort((a, b) => b.seenAtMs - a.seenAtMs).slice(0, 500);
  const body = $('runs').tBodies[0];
  const rows = runs.map((summary) => {
    const row = el('tr');
    row.dataset.runId = summary.runId;
    if (state.selected && state.selected.summary.runId === summary.runId) row.classList.add('selected');
    if (state.fresh.has(summary.runId)) row.classList.add('fresh');
    row.append(
      el('td', 'muted', new Date(summary.seenAtMs).toLocaleTimeString()),
      el('td', '', summary.problemId ?? '…'),
      el('td', '', summary.runId),
    );
    const outcome = el('td');
    outcome.append(el('span', `badge ${outcomeLabel(summary)}`, outcomeLabel(summary)));
    row.append(
      outcome,
      el('td', 'num', String(summary.stepCount)),
      el('td', 'num', summary.wallTimeMs === null ? '' : `${summary.wallTimeMs} ms`),
    );
    row.title = summary.reason;
    row.addEventListener('click', () => selectRun(summary.runId));
    return row;
  });
  state.fresh.clear();
  body.replaceChildren(...rows);
  $('no-runs').hidden = runs.length > 0;
  $('run-count').textContent = runs.length > 0 ? `(${runs.length})` : '';
}

// ---------- one run ----------

async function fetchRun(runId, fromStep) {
  const response = await fetch(withToken(`/api/runs/${encodeURIComponent(runId)}?fromStep=${fromStep}`));
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return response.json();
}

async function selectRun(runId) {
  clearTimeout(state.pollTimer);
  let detail;
  try {
    detail = await fetchRun(runId, 0);
  } catch (error) {
    $('placeholder').hidden = false;
    $('placeholder').textContent = `Could not load run: ${error.message}`;
    return;
  }
  state.selected = { summary: detail, steps: detail.steps, sourceLines: sourceLinesOf(detail, new Map(detail.sourceLines)), detail };
  state.step = $('follow').checked && !detail.complete ? Number.MAX_SAFE_INTEGER : 0;
  $('placeholder').hidden = true;
  $('run-panel').hidden = false;
  renderList();
  renderRun();
  schedulePoll();
}

function schedulePoll() {
  const run = state.selected;
  if (run === null || run.summary.complete) return;
  state.pollTimer = setTimeout(async () => {
    const runId = run.summary.runId;
    try {
      const detail = await fetchRun(runId, run.steps.length);
      if (state.selected !== run) return;
      const wasAtEnd = state.step >= (run.views?.length ?? 0) - 1;
      run.steps = run.steps.concat(detail.steps);
      for (const [line, text] of detail.sourceLines) run.sourceLines.set(line, text);
      run.sourceLines = sourceLinesOf(detail, run.sourceLines);
      run.summary = detail;
      run.detail = detail;
      if ($('follow').checked && wasAtEnd) state.step = Number.MAX_SAFE_INTEGER;
      renderRun();
    } catch {
      // The run left the server's recent runs, or the server is away: try again.
    }
    if (state.selected === run) schedulePoll();
  }, POLL_MS);
}

/**
 * The run's source lines by number: every line once its trace brought the whole program, else the
 * lines its diffs showed so far (`known`).
 */
function sourceLinesOf(detail, known) {
  if (typeof detail.source !== 'string') return known;
  const lines = detail.source.split('\n').map((line) => line.replace(/\r$/, ''));
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return new Map(lines.map((text, i) => [i + 1, text]));
}

/**
 * The reading order of a run's steps, as the snoop renderer has it: a line that calls traced code
 * starts (its changes held back), the call's steps follow, and the line finishes once the call is
 * over, with what it changed. So `total += square(i)` is shown again, updated, after square returns.
 */
function viewsOf(steps) {
  const views = [];
  const pending = [];
  const finishDownTo = (depth) => {
    while (pending.length > 0 && pending[pending.length - 1].depth >= depth) views.push({ kind: 'finish', step: pending.pop() });
  };
  steps.forEach((step, i) => {
    finishDownTo(step.depth);
    const next = steps[i + 1];
    const deferred = step.event === 'line' && next !== undefined && next.depth > step.depth;
    views.push({ kind: 'start', step, deferred });
    if (deferred) pending.push(step);
  });
  finishDownTo(-Infinity);
  return views;
}

/** Variables of every frame after view `k`, and what view k changed. */
function frameState(views, k) {
  const stack = [];
  let changedNow = new Map();
  const frameAt = (step) => {
    stack.length = Math.min(stack.length, step.depth + 1);
    while (stack.length <= step.depth) stack.push({ fn: step.function, vars: new Map(), returning: false });
    const frame = stack[step.depth];
    frame.fn = step.function;
    return frame;
  };
  const apply = (depth, changes, mark) => {
    const frame = stack[depth];
    for (const change of changes) {
      if (change.kind === 'deleted') frame.vars.delete(change.name);
      else frame.vars.set(change.name, change.value ?? '');
      if (mark) changedNow.set(`${depth}:${change.name}`, change);
    }
  };
  for (let i = 0; i <= k && i < views.length; i++) {
    const { kind, step, deferred } = views[i];
    const mark = i === k;
    if (mark) changedNow = new Map();
    if (kind === 'start' && step.event === 'call') {
      stack.length = Math.min(stack.length, step.depth);
      stack.push({ fn: step.function, vars: new Map(), returning: false });
      apply(step.depth, step.changes, mark);
      continue;
    }
    const frame = frameAt(step);
    frame.returning = kind === 'start' && step.event === 'return';
    if (kind === 'finish' || !deferred) apply(step.depth, step.changes, mark);
  }
  return { stack, changedNow };
}

/** What the program printed up to view `k` (a deferred line's output shows when it finishes). */
function stdoutUpTo(views, k) {
  let text = '';
  for (let i = 0; i <= k && i < views.length; i++) {
    const { kind, step, deferred } = views[i];
    if (kind === 'finish' || !deferred) text += step.stdout;
  }
  return text;
}

function renderRun() {
  const run = state.selected;
  if (run === null) return;
  const { summary, steps } = run;
  const views = viewsOf(steps);
  run.views = views;
  const last = Math.max(0, views.length - 1);
  state.step = Math.min(Math.max(0, state.step), last);
  const k = state.step;
  const view = views[k];
  const step = view?.step;

  $('run-title').textContent = `${summary.problemId ?? '…'} · ${summary.runId}`;
  $('run-reason').textContent = summary.reason + (summary.complete ? '' : ' (still arriving)');
  const outcome = $('run-outcome');
  outcome.className = `badge ${outcomeLabel(summary)}`;
  outcome.textContent = outcomeLabel(summary);
  const slider = $('slider');
  slider.max = String(last);
  slider.value = String(k);
  const shown = steps.length < summary.stepCount ? ` (${steps.length} of ${summary.stepCount} recorded steps)` : '';
  $('step-label').textContent = views.length === 0 ? 'no steps' : `step ${k + 1} / ${views.length}${shown}`;
  $('step-where').textContent = step ? `line ${step.line} · ${view.kind === 'finish' ? 'finished' : step.event} in ${step.function}` : '';

  renderSource(run, step, views[k + 1]?.step);
  renderFrames(views, k, view);
  $('stdout').textContent = views.length === 0 ? (run.detail.stdout ?? '') : stdoutUpTo(views, k);
}

function renderSource(run, step, next) {
  const lines = run.sourceLines;
  let count = 0;
  for (const line of lines.keys()) count = Math.max(count, line);
  const ran = new Set();
  for (const s of run.steps) {
    count = Math.max(count, s.line);
    ran.add(s.line);
  }
  const items = [];
  let currentItem = null;
  for (let n = 1; n <= count; n++) {
    const known = lines.has(n);
    // Lines not known yet (a streaming run's diffs have not shown them) read `…`; known lines no
    // recorded step ran (an untaken branch, a blank line) are dimmed.
    const item = el('li', !known ? 'unknown' : ran.has(n) ? '' : 'unrun');
    const isCurrent = step !== undefined && step.line === n;
    if (isCurrent) {
      item.classList.add('current');
      currentItem = item;
    } else if (next !== undefined && next.line === n) {
      item.classList.add('next');
    }
    item.append(el('span', 'gutter', isCurrent ? '➜' : ''), el('span', 'no', String(n)), el('span', 'text', known ? lines.get(n) : '…'));
    items.push(item);
  }
  $('source').replaceChildren(...items);
  currentItem?.scrollIntoView({ block: 'nearest' });
}

function renderFrames(views, k, view) {
  const step = view?.kind === 'start' ? view.step : undefined;
  const { stack, changedNow } = frameState(views, k);
  const frames = [];
  stack.forEach((frame, depth) => {
    const box = el('div', `frame${frame.returning && depth === stack.length - 1 ? ' returning' : ''}`);
    box.append(el('div', 'frame-name', frame.fn));
    const key = (name) => `${depth}:${name}`;
    for (const [name, value] of frame.vars) {
      const change = changedNow.get(key(name));
      const row = el('div', `var${change ? ` ${change.kind}` : ''}`);
      row.append(el('span', 'name', name), el('span', 'value', value));
      box.append(row);
    }
    for (const [changeKey, change] of changedNow) {
      if (change.kind === 'deleted' && changeKey === key(change.name)) {
        const row = el('div', 'var deleted');
        row.append(el('span', 'name', change.name), el('span', 'value', 'deleted'));
        box.append(row);
      }
    }
    frames.push(box);
  });
  $('frames').replaceChildren(...frames);
  const note = $('event-note');
  note.className = 'event-note';
  note.textContent = '';
  if (step?.exception) note.textContent = `!!! ${step.exception.type}${step.exception.message ? `: ${step.exception.message}` : ''}`;
  else if (step?.event === 'return') {
    note.classList.add('return');
    note.textContent = `return ${step.value ?? 'None'} from ${step.function}`;
  }
}

function go(step) {
  if (state.selected === null) return;
  state.step = step;
  renderRun();
}

function wireControls() {
  $('first').addEventListener('click', () => go(0));
  $('prev').addEventListener('click', () => go(state.step - 1));
  $('next').addEventListener('click', () => go(state.step + 1));
  $('last').addEventListener('click', () => go(Number.MAX_SAFE_INTEGER));
  $('slider').addEventListener('input', (event) => go(Number(event.target.value)));
  document.addEventListener('keydown', (event) => {
    if (event.target instanceof HTMLInputElement && event.target.type !== 'range') return;
    const keys = {
      ArrowRight: () => go(state.step + 1), ArrowLeft: () => go(state.step - 1), l: () => go(state.step + 1), h: () => go(state.step - 1),
      Home: () => go(0), End: () => go(Number.MAX_SAFE_INTEGER), f: () => { $('follow').checked = !$('follow').checked; },
    };
    const action = keys[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });
}

wireControls();
renderList();
connectRuns();
