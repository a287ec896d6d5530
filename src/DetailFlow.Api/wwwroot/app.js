// DetailFlow page: pick class/seed/cfg/detail, watch the previews of GET /v1/generate/stream sharpen (SSE over fetch),
// keep finished images in a gallery and refine them via GET /v1/refine/stream. No framework, no build step.
'use strict';

const $ = id => document.getElementById(id);
const MAX_SEED = 2 ** 31 - 1;

let model = null;      // /v1/models entry
let source = null;     // the AbortController of the open stream, if any

const resolutionOf = tokens => model.schedule.find(e => e.tokens === tokens)?.resolution;
const className = id => model.labels[id] ?? `class ${id}`;
const randomSeed = () => Math.floor(Math.random() * MAX_SEED);
const png = b64 => `data:image/png;base64,${b64}`;

function setStatus(state, text) {
  const status = $('status');
  status.dataset.state = state;
  status.textContent = text;
}

async function init() {
  const response = await fetch('/v1/models');
  if (!response.ok) {
    setStatus('error', 'The model is not loaded yet; reload the page in a moment.');
    return;
  }
  model = (await response.json()).data[0];   // the OpenAI list shape
  const largest = model.schedule[model.schedule.length - 1].resolution;
  $('model-info').textContent = `${model.id} · ${model.num_classes} classes · up to ${model.max_tokens} tokens / ${largest} px`;

  for (let id = 0; id < model.num_classes; id++) $('class').add(new Option(className(id), id));
  for (const e of model.schedule) $('tokens').add(new Option(`${e.tokens} tokens · ${e.resolution} px`, e.tokens));
  $('tokens').value = model.defaults.tokens;
  $('cfg').value = model.defaults.cfg_scale;
  $('seed').value = randomSeed();
  showCfg();

  $('cfg').addEventListener('input', showCfg);
  $('random-seed').addEventListener('click', () => { $('seed').value = randomSeed(); });
  $('controls').addEventListener('submit', e => { e.preventDefault(); generate(); });
  $('generate').disabled = false;
}

function showCfg() { $('cfg-value').textContent = Number($('cfg').value).toFixed(2); }

function generate() {
  const classId = Number($('class').value), seed = Number($('seed').value), tokens = Number($('tokens').value);
  const query = new URLSearchParams({ class: classId, seed, cfg_scale: $('cfg').value, tokens, previews: 'all' });
  stream(`/v1/generate/stream?${query}`, { classId, cfg: Number($('cfg').value) });
}

function refine(parent, tokens) {
  const query = new URLSearchParams({ codes_id: parent.codesId, tokens, previews: 'all' });
  stream(`/v1/refine/stream?${query}`, { classId: parent.classId, cfg: parent.cfg, from: parent.tokens });
}

// One stream at a time: a new one aborts the old (the server then cancels its row). fetch rather than EventSource, so
// the API key (when the service asks for one) travels in a header.
async function stream(url, meta) {
  source?.abort();
  const mine = new AbortController();
  source = mine;
  $('previews').replaceChildren();
  const current = $('current');
  current.removeAttribute('src');
  delete current.dataset.final;
  $('current-caption').textContent = '—';
  setStatus('running', meta.from ? `Refining from ${meta.from} tokens…` : 'Generating…');

  const started = performance.now();
  let firstPreview = null;
  try {
    const response = await fetchWithKey(url, { headers: { Accept: 'text/event-stream' }, signal: mine.signal });
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      setStatus('error', problem?.title ? `${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`
        : `The stream was refused (${response.status}).`);
      return;
    }
    for await (const { event, data } of serverSentEvents(response.body)) {
      if (event === 'preview') {
        const p = JSON.parse(data);
        firstPreview ??= performance.now() - started;
        addPreview(p);
        showCurrent(p, false);
      } else if (event === 'completed') {
        const c = JSON.parse(data);
        showCurrent(c, true);
        addResult(c, meta);
        const total = (performance.now() - started) / 1000;
        const first = firstPreview === null ? '' : `, first preview after ${(firstPreview / 1000).toFixed(2)} s`;
        setStatus('done', `Done: ${c.tokens} tokens, ${c.resolution} px in ${total.toFixed(2)} s${first}${c.cached ? ' (cached codes)' : ''}.`);
        return;
      } else if (event === 'error') {   // the server's own error event carries problem details
        const problem = JSON.parse(data);
        setStatus('error', `${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`);
        return;
      }
    }
    setStatus('error', 'The stream ended before the image was complete.');
  } catch (e) {
    if (!mine.signal.aborted) setStatus('error', `The stream failed (${e.message}).`);
  } finally {
    if (source === mine) { mine.abort(); source = null; }
  }
}

// The API key, when the service answers 401: asked for once, kept for this browser session (sessionStorage).
const KEY_ITEM = 'detailflow-api-key';

async function fetchWithKey(url, init) {
  for (;;) {
    const key = sessionStorage.getItem(KEY_ITEM);
    const headers = { ...init.headers, ...(key ? { Authorization: `Bearer ${key}` } : {}) };
    const response = await fetch(url, { ...init, headers });
    if (response.status !== 401) return response;
    const entered = prompt(key ? 'That API key was refused. API key:' : 'This service needs an API key:');
    if (!entered) return response;
    sessionStorage.setItem(KEY_ITEM, entered.trim());
  }
}

// text/event-stream → { event, data } (events are separated by a blank line; comment lines are skipped).
async function* serverSentEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + value).replaceAll('\r\n', '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) yield { event, data: data.join('\n') };
    }
  }
}

function showCurrent(image, final) {
  const current = $('current');
  current.src = png(image.png_b64);
  current.dataset.tokens = image.tokens;
  current.dataset.resolution = image.resolution;
  if (final) current.dataset.final = 'true';
  $('current-caption').textContent = `${final ? 'final' : 'preview'} · ${image.tokens} tokens · ${image.resolution}×${image.resolution} px`;
}

function addPreview(p) {
  const item = document.createElement('li');
  const img = new Image(64, 64);
  img.src = png(p.png_b64);
  img.alt = `preview at ${p.tokens} tokens`;
  img.dataset.tokens = p.tokens;
  img.dataset.resolution = p.resolution;
  const caption = document.createElement('span');
  caption.textContent = `${p.tokens} tok · ${p.resolution} px`;
  item.append(img, caption);
  $('previews').append(item);
}

function addResult(c, meta) {
  const figure = $('result-template').content.firstElementChild.cloneNode(true);
  const result = { codesId: c.codes_id, classId: meta.classId, cfg: meta.cfg, tokens: c.tokens };
  Object.assign(figure.dataset, { codesId: c.codes_id, tokens: c.tokens, resolution: c.resolution, seed: c.seed });
  const img = figure.querySelector('img');
  img.src = png(c.png_b64);
  img.alt = `${className(meta.classId)}, seed ${c.seed}`;
  figure.querySelector('.title').textContent = `${className(meta.classId)} · seed ${c.seed}`;
  const refined = meta.from ? `, refined from ${meta.from}` : '';
  figure.querySelector('.meta').textContent = `${c.tokens} tokens · ${c.resolution} px · cfg ${meta.cfg}${refined}${c.cached ? ' · cached' : ''}`;

  const larger = model.schedule.filter(e => e.tokens > c.tokens);
  const select = figure.querySelector('.refine-tokens');
  if (larger.length === 0) {
    figure.querySelector('.actions').remove();
  } else {
    for (const e of larger) select.add(new Option(`${e.tokens} tok · ${e.resolution} px`, e.tokens));
    select.value = larger[larger.length - 1].tokens;
    figure.querySelector('.refine').addEventListener('click', () => refine(result, Number(select.value)));
  }
  $('gallery-empty').hidden = true;
  $('gallery').prepend(figure);
}

init().catch(e => setStatus('error', `Could not load the model list: ${e.message}`));
