// Drives Switchboard's OpenAI-compatible API with the official SDK.
// SB_URL and SB_KEY come from e2e/openai_node_test.go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.SB_URL + '/v1';
const client = new OpenAI({ baseURL, apiKey: process.env.SB_KEY, maxRetries: 0 });
const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me about your plans.' }];

test('non-streaming completion', async () => {
  const r = await client.chat.completions.create({ model: 'default', messages });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.choices[0].message.content.length > 0);
  assert.ok(r.usage.completion_tokens > 0, 'usage.completion_tokens');
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('streaming completion equals the non-streaming one, with usage', async () => {
  const whole = await client.chat.completions.create({ model: 'default', messages });
  const stream = await client.chat.completions.create({
    model: 'default', messages, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta?.content) text += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.ok(chunks > 2, 'streamed in several chunks');
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.completion_tokens > 0, 'usage chunk with include_usage');
});

test('models lists the default route', async () => {
  const page = await client.models.list();
  const ids = page.data.map((m) => m.id);
  assert.ok(ids.includes('default'), ids.join(','));
});

test('a wrong key is refused with 401', async () => {
  const bad = new OpenAI({ baseURL, apiKey: 'sk-sb-wrong', maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: 'default', messages }), (err) => {
    assert.equal(err.status, 401);
    return true;
  });
});

test('an unknown model is 404 model_not_found', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages }), (err) => {
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    return true;
  });
});
