// The official `openai` npm client, unmodified, against a running DetailFlow service (tiny test model). Driven by
// tests/DetailFlow.Api.Tests/OpenAi/OpenAiNodeClientTests.cs, which starts the services and passes their URLs:
//   DETAILFLOW_URL (API keys off), DETAILFLOW_KEYED_URL + DETAILFLOW_KEY (Auth:ApiKeys on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { AuthenticationError, BadRequestError, NotFoundError } from 'openai';

const open = new OpenAI({ baseURL: `${process.env.DETAILFLOW_URL}/v1`, apiKey: 'not-checked', maxRetries: 0 });
const keyedUrl = `${process.env.DETAILFLOW_KEYED_URL}/v1`;
const key = process.env.DETAILFLOW_KEY;

/** Width and height of a base64 PNG (fails unless it is one). */
function png(b64) {
  const bytes = Buffer.from(b64, 'base64');
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'not a PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

async function collect(stream) {
  const events = [];
  for await (const event of stream) events.push(event);
  return events;
}

async function theModel() {
  const models = [];
  for await (const m of open.models.list()) models.push(m);
  assert.equal(models.length, 1);
  return models[0];
}

test('models.list: one model in the OpenAI shape, with the DetailFlow fields', async () => {
  const m = await theModel();
  assert.equal(m.object, 'model');
  assert.equal(typeof m.id, 'string');
  assert.equal(typeof m.created, 'number');
  assert.equal(m.owned_by, 'detailflow');
  assert.ok(m.labels.includes('goldfish'));
  assert.equal(m.schedule.at(-1).tokens, m.max_tokens);
  assert.equal(typeof m.dtype, 'string');
});

test('images.generate with n = 2: two PNGs at full detail, usage counts the codes', async () => {
  const m = await theModel();
  const r = await open.images.generate({ model: m.id, prompt: 'Goldfish', n: 2 });
  assert.equal(r.data.length, 2);
  const full = m.schedule.at(-1).resolution;
  for (const image of r.data) assert.deepEqual(png(image.b64_json), { width: full, height: full });
  assert.notEqual(r.data[0].b64_json, r.data[1].b64_json);
  assert.equal(r.size, `${full}x${full}`);
  assert.equal(r.output_format, 'png');
  assert.ok(Number.isInteger(r.created));
  assert.equal(r.usage.output_tokens, 2 * m.max_tokens);
  assert.equal(r.usage.input_tokens, 2);
});

test('stream with partial_images = 0: one completed event', async () => {
  const events = await collect(await open.images.generate({ prompt: 'owl', stream: true, partial_images: 0 }));
  assert.deepEqual(events.map(e => e.type), ['image_generation.completed']);
  png(events[0].b64_json);
  assert.ok(events[0].usage.output_tokens > 0);
});

test('stream with partial_images = 2: two coarse-to-fine partials, then the completed image', async () => {
  const events = await collect(await open.images.generate({ prompt: 'OWL', stream: true, partial_images: 2, seed: 11 }));
  assert.deepEqual(events.map(e => e.type),
    ['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
  assert.deepEqual(events.slice(0, 2).map(e => e.partial_image_index), [0, 1]);
  const sizes = events.map(e => png(e.b64_json).width);
  assert.ok(sizes[0] <= sizes[1] && sizes[1] <= sizes[2], `partials no larger than the final image: ${sizes}`);
  for (const e of events) {
    assert.ok(Number.isInteger(e.created_at));
    assert.equal(e.output_format, 'png');
    assert.equal(e.background, 'opaque');
    assert.equal(e.size, `${png(e.b64_json).width}x${png(e.b64_json).width}`);
  }
});

test('stream with n = 2: each image\'s events together, told apart by image_index', async () => {
  const events = await collect(await open.images.generate({ prompt: '3', stream: true, n: 2, partial_images: 1 }));
  assert.deepEqual(events.map(e => `${e.image_index}:${e.type}`), [
    '0:image_generation.partial_image', '0:image_generation.completed',
    '1:image_generation.partial_image', '1:image_generation.completed']);
});

for (const [name, body] of [
  ['unknown prompt', { prompt: 'a photo of a cat' }],
  ['n = 11', { prompt: 'owl', n: 11 }],
  ['size off the schedule', { prompt: 'owl', size: '1024x1024' }],
  ['non-square size', { prompt: 'owl', size: '16x32' }],
  ['partial_images = 4', { prompt: 'owl', stream: true, partial_images: 4 }],
  ['response_format url', { prompt: 'owl', response_format: 'url' }],
]) {
  test(`BadRequestError: ${name}`, async () => {
    await assert.rejects(open.images.generate(body), e => e instanceof BadRequestError && e.status === 400 && e.error?.message?.length > 0);
  });
}

test('BadRequestError for an unknown prompt names the closest labels', async () => {
  await assert.rejects(open.images.generate({ prompt: 'goldfsh' }),
    e => e instanceof BadRequestError && e.param === 'prompt' && e.message.includes("'goldfish'"));
});

test('NotFoundError: unknown model', async () => {
  await assert.rejects(open.images.generate({ model: 'dall-e-3', prompt: 'owl' }),
    e => e instanceof NotFoundError && e.code === 'model_not_found');
});

test('keys on: AuthenticationError without a key or with a wrong one, images with the right one', async () => {
  const none = new OpenAI({ baseURL: keyedUrl, apiKey: 'x', maxRetries: 0, defaultHeaders: { Authorization: null } });
  await assert.rejects(none.images.generate({ prompt: 'owl' }), e => e instanceof AuthenticationError && e.status === 401);
  const wrong = new OpenAI({ baseURL: keyedUrl, apiKey: `${key}-wrong`, maxRetries: 0 });
  await assert.rejects(wrong.images.generate({ prompt: 'owl' }), e => e instanceof AuthenticationError);
  await assert.rejects(wrong.images.generate({ prompt: 'owl', stream: true }), e => e instanceof AuthenticationError);
  const right = new OpenAI({ baseURL: keyedUrl, apiKey: key, maxRetries: 0 });
  png((await right.images.generate({ prompt: 'owl' })).data[0].b64_json);
  const listed = [];
  for await (const m of none.models.list()) listed.push(m);   // the model list stays open
  assert.equal(listed.length, 1);
});
