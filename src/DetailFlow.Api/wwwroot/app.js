// DetailFlow page: pick class/seed/cfg/detail, watch the previews of GET /v1/generate/stream sharpen (EventSource),
// keep finished images in a gallery and refine them via GET /v1/refine/stream. No framework, no build step.
'use strict';

const $ = id => document.getElementById(id);
const MAX_SEED = 2 ** 31 - 1;

let model = null;      // /v1/models entry
let source = null;     // the open EventSource, if any

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
  model = (await response.json()).models[0];
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

// One stream at a time: a new one closes the old (the server then cancels its row).
function stream(url, meta) {
  source?.close();
  $('previews').replaceChildren();
  const current = $('current');
  current.removeAttribute('src');
  delete current.dataset.final;
  $('current-caption').textContent = '—';
  setStatus('running', meta.from ? `Refining from ${meta.from} tokens…` : 'Generating…');

  const started = performance.now();
  let firstPreview = null;
  const es = new EventSource(url);
  source = es;
  const done = () => { es.close(); if (source === es) source = null; };

  es.addEventListener('preview', e => {
    const p = JSON.parse(e.data);
    firstPreview ??= performance.now() - started;
    addPreview(p);
    showCurrent(p, false);
  });
  es.addEventListener('completed', e => {
    done();   // close before the server ends the stream, or the browser reconnects and starts over
    const c = JSON.parse(e.data);
    showCurrent(c, true);
    addResult(c, meta);
    const total = (performance.now() - started) / 1000;
    const first = firstPreview === null ? '' : `, first preview after ${(firstPreview / 1000).toFixed(2)} s`;
    setStatus('done', `Done: ${c.tokens} tokens, ${c.resolution} px in ${total.toFixed(2)} s${first}${c.cached ? ' (cached codes)' : ''}.`);
  });
  es.addEventListener('error', e => {
    done();
    if (e.data) {   // the server's own error event carries problem details
      const problem = JSON.parse(e.data);
      setStatus('error', `${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`);
    } else {
      setStatus('error', 'The stream failed (rejected request, rate limit or server gone).');
    }
  });
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
