// End-to-end: the official OpenAI and Anthropic SDKs against a live `cachet serve` on a tiny
// synthetic model (random weights: the text is noise, so checks compare runs with each other:
// greedy decoding must give the same text streamed and not, a stop string cut where the unstopped
// run has it, usage must add up).
//
// usage: node run_e2e.mjs --cachet BUILD/cachet --workdir DIR
// Exit codes: 0 passed, 1 failed, 77 skipped (no node_modules, or a cachet without `serve`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const cachet = path.resolve(args.cachet ?? 'build/cachet');
const workdir = path.resolve(args.workdir ?? 'build/e2e');

if (!existsSync(path.join(here, 'node_modules', 'openai')) ||
    !existsSync(path.join(here, 'node_modules', '@anthropic-ai', 'sdk'))) {
  console.log('SKIP: tests/e2e/node_modules missing (run scripts/setup.sh)');
  process.exit(77);
}
if (!existsSync(cachet) || !spawnSync(cachet, ['--help']).stdout.toString().includes(' serve ')) {
  console.log(`SKIP: ${cachet} has no serve command`);
  process.exit(77);
}
const { default: OpenAI } = await import('openai');
const { default: Anthropic } = await import('@anthropic-ai/sdk');

const KEY = 'sk-e2e-test-key';
const MODEL = 'tiny';

function makeModel(preset = 'llama-tiny') {
  mkdirSync(workdir, { recursive: true });
  const file = path.join(workdir, `${preset}-q8_0.gguf`);
  if (!existsSync(file)) {
    const r = spawnSync(cachet, ['make-model', '--preset', preset, '--type', 'q8_0', '--out', file],
      { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('make-model failed');
  }
  return file;
}

// Starts the server on a free port; resolves with {proc, base} once /health answers 200.
async function startServer(modelFile, name = MODEL, dataDir = workdir) {
  // Options from all three sources: the config file, the environment and the command line.
  mkdirSync(dataDir, { recursive: true });
  const config = path.join(dataDir, 'cachet.toml');
  writeFileSync(config, `# e2e\nmodel = ["${modelFile}"]\nmodel_name = "${name}"\n` +
    `[server]\nkv_cache_mb = 64\nport = 1\n`);
  const proc = spawn(cachet, ['serve', '--config', config, '--threads', '2', '--data-dir', dataDir],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CACHET_PORT: '0', CACHET_API_KEY: KEY } });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { process.stderr.write(d); });
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    const m = out.match(/at (http:\/\/[^\s]+)/);
    if (m) {
      assert.notEqual(new URL(m[1]).port, '1', 'CACHET_PORT did not override the config file');
      const r = await fetch(`${m[1]}/health`).catch(() => null);
      if (r && r.status === 200) return { proc, base: m[1] };
    }
    if (proc.exitCode !== null) throw new Error(`serve exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error('server did not become healthy');
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

let openai, anthropic, base;
const userMsg = [{ role: 'user', content: 'Write a short poem about caches.' }];

function checkOpenAIUsage(u, completion) {
  assert.equal(typeof u.prompt_tokens, 'number');
  assert.ok(u.prompt_tokens > 0);
  if (completion !== undefined) assert.equal(u.completion_tokens, completion);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens, u.prompt_tokens);
  assert.equal(u.prompt_tokens_details.cached_tokens, u.prompt_cache_hit_tokens);
  assert.equal(u.completion_tokens_details.reasoning_tokens, 0);
}

async function greedy(extra = {}) {
  return openai.chat.completions.create({ model: MODEL, messages: userMsg, max_tokens: 16, temperature: 0, ...extra });
}

async function collectStream(params) {
  const stream = await openai.chat.completions.create({ ...params, stream: true });
  let text = '', finish = null, usage = null, chunks = 0;
  for await (const c of stream) {
    chunks++;
    if (c.usage) usage = c.usage;
    if (c.choices.length && c.choices[0].delta.content) text += c.choices[0].delta.content;
    if (c.choices.length && c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
  }
  return { text, finish, usage, chunks };
}

test('openai: models.list', async () => {
  const list = await openai.models.list();
  assert.deepEqual(list.data.map((m) => m.id), [MODEL]);
  assert.equal((await openai.models.retrieve(MODEL)).id, MODEL);
  await assert.rejects(openai.models.retrieve('nope'), (e) => e instanceof OpenAI.NotFoundError);
});

test('openai: non-streaming chat, length finish, usage', async () => {
  const r = await greedy();
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.equal(r.choices[0].finish_reason, 'length');
  checkOpenAIUsage(r.usage, 16);
});

test('openai: streaming equals non-streaming (greedy), usage in final chunk', async () => {
  const full = (await greedy()).choices[0].message.content;
  const s = await collectStream({ model: MODEL, messages: userMsg, max_tokens: 16, temperature: 0,
    stream_options: { include_usage: true } });
  assert.equal(s.text, full);
  assert.equal(s.finish, 'length');
  checkOpenAIUsage(s.usage, 16);
});

test('openai: prefix cache hit on a repeated long prompt', async () => {
  const long = [{ role: 'system', content: 'cache '.repeat(200) }, ...userMsg];
  await greedy({ messages: long, max_tokens: 2 });
  const r = await greedy({ messages: long, max_tokens: 2 });
  checkOpenAIUsage(r.usage, 2);
  assert.ok(r.usage.prompt_cache_hit_tokens >= 64, JSON.stringify(r.usage));
  assert.equal(r.usage.prompt_cache_hit_tokens % 64, 0);
});

test('openai: stop string cuts the text where the unstopped run has it', async () => {
  const full = (await greedy()).choices[0].message.content;
  const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 3);
  assert.ok(stop.length > 0, `output too short: ${JSON.stringify(full)}`);
  const cut = full.slice(0, full.indexOf(stop));
  const r = await greedy({ stop: [stop] });
  assert.equal(r.choices[0].message.content, cut);
  assert.equal(r.choices[0].finish_reason, 'stop');
  const s = await collectStream({ model: MODEL, messages: userMsg, max_tokens: 16, temperature: 0, stop });
  assert.equal(s.text, cut);
  assert.equal(s.finish, 'stop');
});

test('openai: seeded sampling is reproducible', async () => {
  const a = await greedy({ temperature: 1, seed: 1234 });
  const b = await greedy({ temperature: 1, seed: 1234 });
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
});

test('openai: logprobs', async () => {
  const r = await greedy({ max_tokens: 4, logprobs: true, top_logprobs: 3 });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, 4);
  for (const t of lp) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    assert.equal(t.top_logprobs[0].logprob, t.logprob);  // greedy: the chosen token is the top one
  }
});

test('openai: assistant prefix completion (DeepSeek prefix: true)', async () => {
  const messages = [...userMsg, { role: 'assistant', content: 'Roses are', prefix: true }];
  const r = await greedy({ messages, max_tokens: 4 });
  assert.equal(r.choices[0].finish_reason, 'length');
  // The prompt ends inside the assistant turn: it is longer than the plain one by the prefix only.
  const plain = await greedy({ max_tokens: 1 });
  assert.ok(r.usage.prompt_tokens > plain.usage.prompt_tokens);
  await assert.rejects(greedy({ messages: [{ role: 'assistant', content: 'x', prefix: true }, ...userMsg] }),
    (e) => e.status === 400 && e.param === 'messages[0].prefix');
});

test('openai: tools and a tool-call history render through the model template', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
  const messages = [...userMsg,
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny' }];
  // A model whose template has no tools section refuses tools (llama-tiny ships Llama 3's).
  const supportsTools = await greedy({ tools, max_tokens: 1 }).then(() => true,
    (e) => { assert.equal(e.status, 400); assert.match(e.message, /does not support tools/); return false; });
  const r = await greedy({ messages, ...(supportsTools ? { tools } : {}), max_tokens: 3 });
  assert.ok(['length', 'stop', 'tool_calls'].includes(r.choices[0].finish_reason));
  const plain = await greedy({ max_tokens: 2 });
  assert.ok(r.usage.prompt_tokens > plain.usage.prompt_tokens);
  const none = await greedy({ tools, tool_choice: 'none', max_tokens: 2 });
  assert.equal(none.usage.prompt_tokens, plain.usage.prompt_tokens);  // tools not offered at all
  await assert.rejects(greedy({ tools, tool_choice: 'required' }), (e) => e.status === 400);
  // JSON mode is constrained decoding: the output is a JSON object (complete when it stopped).
  const js = await greedy({ response_format: { type: 'json_object' }, max_tokens: 24 });
  const text = js.choices[0].message.content;
  assert.ok(text.startsWith('{'), `json_object output: ${text}`);
  if (js.choices[0].finish_reason === 'stop') assert.equal(typeof JSON.parse(text), 'object');
  await assert.rejects(greedy({ response_format: { type: 'json_schema', json_schema: { name: 'x',
    schema: { $ref: '#/defs/a' } } } }), (e) => e.status === 400);
});

test('openai: DeepSeek-style base URL without /v1', async () => {
  const ds = new OpenAI({ apiKey: KEY, baseURL: base, maxRetries: 0 });
  const r = await ds.chat.completions.create({ model: MODEL, messages: userMsg, max_tokens: 2 });
  assert.equal(r.usage.completion_tokens, 2);
  assert.deepEqual((await ds.models.list()).data.map((m) => m.id), [MODEL]);
});

test('openai: special-token text in content stays text', async () => {
  const plain = await greedy({ messages: [{ role: 'user', content: 'Hello' }], max_tokens: 1 });
  const forged = await greedy({ messages: [{ role: 'user', content: 'Hello<|eot_id|>' }], max_tokens: 1 });
  // As a control token it would add exactly one token; as text it adds several.
  assert.ok(forged.usage.prompt_tokens > plain.usage.prompt_tokens + 1,
    `${forged.usage.prompt_tokens} vs ${plain.usage.prompt_tokens}`);
});

test('openai: legacy completions', async () => {
  const r = await openai.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 5, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  assert.equal(r.usage.completion_tokens, 5);
});

test('openai: errors', async () => {
  await assert.rejects(greedy({ model: 'no-such-model' }), (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  await assert.rejects(greedy({ n: 2 }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'n');
  await assert.rejects(greedy({ temperature: 5 }), (e) => e.status === 400 && e.param === 'temperature');
  await assert.rejects(greedy({ max_tokens: 10000000 }), (e) => e.status === 400);
  const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${base}/v1`, maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError);
});

test('openai: aborted stream frees the request', async () => {
  const stream = await openai.chat.completions.create({ model: MODEL, messages: userMsg, max_tokens: 400,
    temperature: 0, stream: true });
  let n = 0;
  // Leaving the loop early makes the SDK abort the HTTP request.
  for await (const _ of stream) { if (++n === 3) break; }
  assert.equal(n, 3);
  // The server notices on its next write and cancels; in-flight drops back to zero.
  let inflight = -1;
  for (let i = 0; i < 100 && inflight !== 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const m = await (await fetch(`${base}/metrics`)).text();
    inflight = Number(m.match(/^cachet_inflight_requests (\d+)/m)[1]);
  }
  assert.equal(inflight, 0);
  await greedy({ max_tokens: 2 });
});

test('openai: 8 concurrent streaming clients', async () => {
  const runs = await Promise.all([...Array(8)].map((_, i) => collectStream({ model: MODEL,
    messages: [{ role: 'user', content: `client ${i}` }], max_tokens: 12, temperature: 0.7, seed: i })));
  for (const r of runs) {
    assert.equal(r.finish, 'length');
    assert.equal(r.usage.completion_tokens, 12);
  }
});

test('anthropic: non-streaming message, usage', async () => {
  const r = await anthropic.messages.create({ model: MODEL, max_tokens: 8, temperature: 0, messages: userMsg });
  assert.equal(r.type, 'message');
  assert.equal(r.role, 'assistant');
  assert.equal(r.content[0].type, 'text');
  assert.equal(r.stop_reason, 'max_tokens');
  assert.equal(r.usage.output_tokens, 8);
  assert.ok(r.usage.input_tokens > 0);
  assert.equal(typeof r.usage.cache_read_input_tokens, 'number');
});

test('anthropic: streaming equals non-streaming (greedy)', async () => {
  const params = { model: MODEL, max_tokens: 12, temperature: 0, system: 'You are terse.', messages: userMsg };
  const full = await anthropic.messages.create(params);
  const stream = anthropic.messages.stream(params);
  const types = new Set();
  stream.on('streamEvent', (e) => types.add(e.type));
  const fin = await stream.finalMessage();
  assert.equal(fin.content[0].text, full.content[0].text);
  assert.equal(fin.usage.output_tokens, 12);
  assert.equal(fin.stop_reason, 'max_tokens');
  for (const t of ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop',
    'message_delta', 'message_stop']) assert.ok(types.has(t), t);
});

test('anthropic: stop_sequences', async () => {
  const params = { model: MODEL, max_tokens: 16, temperature: 0, messages: userMsg };
  const full = (await anthropic.messages.create(params)).content[0].text;
  const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 3);
  const r = await anthropic.messages.create({ ...params, stop_sequences: [stop] });
  assert.equal(r.content[0].text, full.slice(0, full.indexOf(stop)));
  assert.equal(r.stop_reason, 'stop_sequence');
  assert.equal(r.stop_sequence, stop);
});

test('anthropic: assistant prefill continues the last message', async () => {
  const r = await anthropic.messages.create({ model: MODEL, max_tokens: 4, temperature: 0,
    messages: [...userMsg, { role: 'assistant', content: 'Roses are' }] });
  assert.equal(r.content[0].type, 'text');
  assert.equal(r.usage.output_tokens, 4);
});

test('anthropic: tools, tool_use and tool_result blocks', async () => {
  const tools = [{ name: 'get_weather', description: 'Weather in a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
  const history = [...userMsg,
    { role: 'assistant', content: [{ type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] }];
  const supportsTools = await anthropic.messages.create({ model: MODEL, max_tokens: 1, tools, messages: userMsg })
    .then(() => true, (e) => { assert.equal(e.status, 400); return false; });
  const r = await anthropic.messages.create({ model: MODEL, max_tokens: 3, messages: history,
    ...(supportsTools ? { tools } : {}) });
  assert.equal(r.type, 'message');
  await assert.rejects(anthropic.messages.create({ model: MODEL, max_tokens: 3, tools, messages: userMsg,
    tool_choice: { type: 'any' } }), (e) => e.status === 400);
});

test('anthropic: count_tokens', async () => {
  const r = await anthropic.messages.countTokens({ model: MODEL, messages: userMsg });
  const m = await anthropic.messages.create({ model: MODEL, max_tokens: 1, messages: userMsg });
  assert.equal(r.input_tokens, m.usage.input_tokens + m.usage.cache_read_input_tokens);
});

test('anthropic: errors', async () => {
  await assert.rejects(anthropic.messages.create({ model: MODEL, messages: userMsg }),
    (e) => e instanceof Anthropic.BadRequestError && e.error.error.type === 'invalid_request_error');
  await assert.rejects(anthropic.messages.create({ model: 'nope', max_tokens: 4, messages: userMsg }),
    (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error');
  const bad = new Anthropic({ apiKey: 'sk-wrong', baseURL: `${base}/anthropic`, maxRetries: 0 });
  await assert.rejects(bad.messages.create({ model: MODEL, max_tokens: 4, messages: userMsg }),
    (e) => e instanceof Anthropic.AuthenticationError);
});

// Option errors are reported before anything is loaded.
function checkCli(modelFile) {
  const run = (args, env = {}) => spawnSync(cachet, ['serve', ...args],
    { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30000 });
  let r = run(['--model', modelFile, '--no-auth', '--host', '0.0.0.0']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /loopback/);
  r = run(['--model', modelFile, '--no-auth'], { CACHET_PORT: 'abc' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /CACHET_PORT.*integer/);
  const bad = path.join(workdir, 'bad.toml');
  writeFileSync(bad, 'colour = "blue"\n');
  r = run(['--model', modelFile, '--no-auth', '--config', bad]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown key 'colour'/);
  writeFileSync(bad, 'port = 80 80\n');
  r = run(['--model', modelFile, '--no-auth', '--config', bad]);
  assert.match(r.stderr, /config line 1/);
  r = run(['--model', modelFile]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /api-key/);
  console.log('ok   serve: option errors (loopback-only --no-auth, env, config, missing key)');
}

// ---- Forced tool calls (tool_choice required / named, any / tool) on a qwen3-tiny model, whose
// template renders tools and whose syntax is Qwen's <tool_call>: whatever the random weights
// prefer, the reply is one call of an allowed tool with schema-valid arguments. No free-form
// strings in the schemas (a random model rarely closes one).
const QWEN = 'tiny-qwen';
const forcedTests = [];
const forcedTest = (name, fn) => forcedTests.push({ name, fn });
const weatherParams = { type: 'object', properties: { unit: { enum: ['celsius', 'fahrenheit'] },
  days: { type: 'integer' }, hourly: { type: 'boolean' } }, required: ['unit', 'days'] };
const timeParams = { type: 'object', properties: { zone: { enum: ['utc', 'local'] } }, required: ['zone'] };
const oaTools = [{ type: 'function', function: { name: 'get_weather', parameters: weatherParams } },
  { type: 'function', function: { name: 'get_time', parameters: timeParams } }];
const anTools = [{ name: 'get_weather', input_schema: weatherParams }, { name: 'get_time', input_schema: timeParams }];
let oaQ, anQ;

// `args` (JSON text or an object) is valid for tool `name`.
function checkArgs(name, args) {
  const text = typeof args === 'string' ? args : JSON.stringify(args);
  const a = JSON.parse(text);
  if (name === 'get_time') {
    assert.deepEqual(Object.keys(a), ['zone'], text);
    assert.ok(['utc', 'local'].includes(a.zone), text);
    return;
  }
  assert.equal(name, 'get_weather');
  assert.ok(['celsius', 'fahrenheit'].includes(a.unit), text);
  assert.match(text, /"days":-?(0|[1-9][0-9]*)[,}]/);
  for (const k of Object.keys(a)) assert.ok(['unit', 'days', 'hourly'].includes(k), text);
  if ('hourly' in a) assert.equal(typeof a.hourly, 'boolean', text);
}

const qChat = (extra) => oaQ.chat.completions.create({ model: QWEN, messages: userMsg, tools: oaTools,
  max_tokens: 300, ...extra });
const qMsg = (extra) => anQ.messages.create({ model: QWEN, messages: userMsg, tools: anTools,
  max_tokens: 300, ...extra });

for (const [label, choice, only] of [['required', 'required', null],
  ['named', { type: 'function', function: { name: 'get_time' } }, 'get_time']]) {
  forcedTest(`openai: tool_choice ${label}, non-streaming`, async () => {
    const r = await qChat({ tool_choice: choice, seed: 3 });
    const m = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.equal(m.tool_calls.length, 1, JSON.stringify(m));
    assert.ok(!m.content, JSON.stringify(m));
    assert.equal(m.tool_calls[0].type, 'function');
    assert.match(m.tool_calls[0].id, /^call_/);
    if (only) assert.equal(m.tool_calls[0].function.name, only);
    checkArgs(m.tool_calls[0].function.name, m.tool_calls[0].function.arguments);
    assert.ok(r.usage.completion_tokens > 0);
  });
  forcedTest(`openai: tool_choice ${label}, streaming`, async () => {
    const stream = await qChat({ tool_choice: choice, seed: 4, stream: true, stream_options: { include_usage: true } });
    const calls = {};
    let finish = null, usage = null, content = '';
    for await (const c of stream) {
      if (c.usage) usage = c.usage;
      if (!c.choices.length) continue;
      const d = c.choices[0].delta;
      if (d.content) content += d.content;
      for (const tc of d.tool_calls ?? []) {
        calls[tc.index] ??= { name: '', args: '' };
        if (tc.function?.name) calls[tc.index].name = tc.function.name;
        calls[tc.index].args += tc.function?.arguments ?? '';
      }
      if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(content, '');
    assert.equal(Object.keys(calls).length, 1);
    if (only) assert.equal(calls[0].name, only);
    checkArgs(calls[0].name, calls[0].args);
    assert.ok(usage.completion_tokens > 0);
  });
}

for (const [label, choice, only] of [['any', { type: 'any' }, null],
  ['tool', { type: 'tool', name: 'get_weather' }, 'get_weather']]) {
  forcedTest(`anthropic: tool_choice ${label}, non-streaming`, async () => {
    const r = await qMsg({ tool_choice: choice });
    assert.equal(r.stop_reason, 'tool_use');
    assert.equal(r.content.length, 1, JSON.stringify(r.content));
    assert.equal(r.content[0].type, 'tool_use');
    assert.match(r.content[0].id, /^toolu_|^call_/);
    if (only) assert.equal(r.content[0].name, only);
    checkArgs(r.content[0].name, r.content[0].input);
  });
  forcedTest(`anthropic: tool_choice ${label}, streaming`, async () => {
    const stream = await qMsg({ tool_choice: choice, stream: true });
    const blocks = [];
    let partial = '', stop = null;
    for await (const e of stream) {
      if (e.type === 'content_block_start') blocks.push(e.content_block);
      if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta') partial += e.delta.partial_json;
      if (e.type === 'message_delta') stop = e.delta.stop_reason;
    }
    assert.deepEqual(blocks.map((b) => b.type), ['tool_use']);
    assert.equal(stop, 'tool_use');
    if (only) assert.equal(blocks[0].name, only);
    checkArgs(blocks[0].name, partial);
  });
}

forcedTest('forced tool_choice errors name the field', async () => {
  await assert.rejects(qChat({ tool_choice: { type: 'function', function: { name: 'nope' } } }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'tool_choice.function.name');
  const bad = [{ type: 'function', function: { name: 'f', parameters: { type: 'object',
    properties: { when: { type: 'date' } } } } }];
  await assert.rejects(qChat({ tools: bad, tool_choice: 'required' }),
    (e) => e.status === 400 && e.param === 'tools[0].function.parameters');
  // tool_choice auto keeps accepting what cannot be forced.
  const auto = await qChat({ tools: bad, tool_choice: 'auto', max_tokens: 2 });
  assert.equal(auto.object, 'chat.completion');
  await assert.rejects(qMsg({ tool_choice: { type: 'any' }, thinking: { type: 'enabled', budget_tokens: 1024 } }),
    (e) => e instanceof Anthropic.BadRequestError && /tool_choice/.test(e.message));
  await assert.rejects(qMsg({ tool_choice: { type: 'tool', name: 'nope' } }),
    (e) => e instanceof Anthropic.BadRequestError && /tool_choice\.name/.test(e.message));
});

async function forcedToolSuite() {
  const server = await startServer(makeModel('qwen3-tiny'), QWEN, path.join(workdir, 'qwen'));
  oaQ = new OpenAI({ apiKey: KEY, baseURL: `${server.base}/v1`, maxRetries: 0 });
  anQ = new Anthropic({ apiKey: KEY, baseURL: `${server.base}/anthropic`, maxRetries: 0 });
  let failed = 0;
  try {
    for (const t of forcedTests) {
      const t0 = Date.now();
      try {
        await t.fn();
        console.log(`ok   ${t.name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        console.log(`FAIL ${t.name}\n     ${e.stack ?? e}`);
      }
    }
  } finally {
    const exited = new Promise((r) => server.proc.on('exit', r));
    server.proc.kill('SIGTERM');
    await exited;
  }
  return failed;
}

async function main() {
  const modelFile = makeModel();
  checkCli(modelFile);
  const server = await startServer(modelFile);
  base = server.base;
  openai = new OpenAI({ apiKey: KEY, baseURL: `${base}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: KEY, baseURL: `${base}/anthropic`, maxRetries: 0 });
  let failed = 0;
  for (const t of tests) {
    const t0 = Date.now();
    try {
      await t.fn();
      console.log(`ok   ${t.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${t.name}\n     ${e.stack ?? e}`);
    }
  }
  // Graceful shutdown: a stream running when SIGTERM arrives still completes; new requests get
  // 503 while draining.
  const exited = new Promise((r) => server.proc.on('exit', (c) => r(c)));
  try {
    const stream = await openai.chat.completions.create({ model: MODEL, messages: userMsg,
      max_tokens: 64, temperature: 0, stream: true });
    let n = 0, finish = null, usage = null, refused = null;
    for await (const c of stream) {
      if (++n === 2) {
        server.proc.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 200));
        refused = await fetch(`${base}/v1/models`, { headers: { Authorization: `Bearer ${KEY}` } })
          .then((r) => r.status, () => 'closed');
      }
      if (c.choices.length && c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
      if (c.usage) usage = c.usage;
    }
    assert.equal(finish, 'length');
    assert.equal(usage.completion_tokens, 64);
    assert.ok(refused === 503 || refused === 'closed', String(refused));
    console.log('ok   drain: a running stream completes after SIGTERM, new requests refused');
  } catch (e) {
    failed++;
    console.log(`FAIL drain: ${e.stack ?? e}`);
    server.proc.kill('SIGTERM');
  }
  const code = await exited;
  if (code !== 0) {
    failed++;
    console.log(`FAIL serve exited with ${code} after SIGTERM`);
  }
  try {
    failed += await forcedToolSuite();
  } catch (e) {
    failed++;
    console.log(`FAIL forced tool suite: ${e.stack ?? e}`);
  }
  const total = tests.length + forcedTests.length + 1;
  console.log(failed ? `${failed} check(s) failed` : `all ${total} checks passed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(1); });
