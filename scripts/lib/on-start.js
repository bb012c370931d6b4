'use strict';
// What `npm start` adds once the services are healthy: the OCR worker when Tesseract is installed,
// the speech worker when pocketsphinx is, and a first API key with a curl to try. The two chat
// models' simulated-engine workers are the vm-scaler's (its default spec keeps one of each and adds
// more with demand); this waits for them.
const fs = require('node:fs');
const path = require('node:path');
const { connect, JSONCodec } = require('nats');
const infra = require('./infra');

const maas = path.join(infra.root, 'bin', 'maas.js');
const OCR_PORT = Number(process.env.MAAS_OCR_PORT ?? 8010);
const SPEECH_PORT = Number(process.env.MAAS_SPEECH_PORT ?? 8020);
// The gateway derives each runtime's key from the worker id it routes to: these are the ids the attached workers register with.
const OCR_WORKER_ID = 'quickstart-ocr';
const SPEECH_WORKER_ID = 'quickstart-speech';

/**
 * Environments for a runtime and the worker attached to it: the runtime demands the key derived for that worker
 * (libs/worker-agent runtimeKeyFor, from dist/), which the worker, given the secret, derives too to list its models.
 */
function keyed(workerKeySecret, workerId) {
  if (!workerKeySecret) return { runtime: {}, worker: {} };
  const { runtimeKeyFor } = require(path.join(infra.root, 'dist', 'libs', 'worker-agent', 'src', 'runtime-key.js'));
  return {
    runtime: { MAAS_RUNTIME_API_KEY: runtimeKeyFor(workerKeySecret, workerId) },
    worker: { MAAS_WORKER_KEY_SECRET: workerKeySecret },
  };
}

/** Connection options as the operators' admin identity (libs/nats natsConnectionOptions, from dist/). */
function adminNatsOptions(env, adminEnv) {
  const { natsConnectionOptions } = require(path.join(infra.root, 'dist', 'libs', 'nats', 'src', 'connection.js'));
  const { loadConfig, natsSecurityConfigSpec } = require(path.join(infra.root, 'dist', 'libs', 'config', 'src', 'index.js'));
  return natsConnectionOptions(env.NATS_URL, loadConfig(natsSecurityConfigSpec, { ...process.env, ...adminEnv }));
}

async function firstKey(env, adminEnv) {
  const file = path.join(infra.stateDir, 'quickstart-key');
  const nc = await connect({ ...adminNatsOptions(env, adminEnv), name: 'npm-start' });
  const codec = JSONCodec();
  const subject = (verb) => `${env.MAAS_NAMESPACE}.v1.key-registry.${verb}`;
  try {
    if (fs.existsSync(file)) {
      const key = fs.readFileSync(file, 'utf8').trim();
      const reply = codec.decode((await nc.request(subject('verify'), codec.encode({ key }), { timeout: 5000 })).data);
      if (reply.valid) return key;
    }
    const created = codec.decode(
      (await nc.request(subject('create'), codec.encode({ userEmail: 'admin@localhost', name: 'quick start' }), { timeout: 5000 })).data,
    );
    if (!created.secret) throw new Error(`key-registry refused: ${JSON.stringify(created)}`);
    fs.mkdirSync(infra.stateDir, { recursive: true });
    fs.writeFileSync(file, `${created.secret}\n`, { mode: 0o600 });
    return created.secret;
  } finally {
    await nc.close();
  }
}

async function modelsListed(gatewayUrl, key, wanted, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let ids = [];
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      if (res.ok) ids = (await res.json()).data.map((m) => m.id);
      if (wanted.every((w) => ids.includes(w))) return ids;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return ids;
}

module.exports = async function onStart({ supervisor, env, gatewayUrl, natsEnv = () => ({}), workerKeySecret }) {
  const workerNats = natsEnv('worker-local');
  const models = ['Qwen/Qwen2.5-3B-Instruct', 'openai/gpt-oss-20b'];
  if (infra.which('tesseract')) {
    const keys = keyed(workerKeySecret, OCR_WORKER_ID);
    supervisor.add('ocr-engine', [maas, 'ocr-engine', '--port', String(OCR_PORT)], keys.runtime);
    supervisor.add(
      'worker-ocr',
      [
        maas,
        'worker',
        '--attach',
        `http://127.0.0.1:${OCR_PORT}`,
        '--vm-id',
        'quickstart-ocr',
        '--worker-id',
        OCR_WORKER_ID,
        '--hardware',
        'cpu',
      ],
      { ...workerNats, ...keys.worker },
    );
  } else {
    infra.say('tesseract is not installed: no OCR worker (scripts/install-system-packages.sh installs it)');
  }
  if (infra.which('pocketsphinx_continuous')) {
    // One recogniser at a time: the chat simulators and the services share this machine's cores.
    const keys = keyed(workerKeySecret, SPEECH_WORKER_ID);
    supervisor.add('speech-engine', [maas, 'speech-engine', '--port', String(SPEECH_PORT), '--concurrency', '1'], keys.runtime);
    supervisor.add(
      'worker-speech',
      [
        maas,
        'worker',
        '--attach',
        `http://127.0.0.1:${SPEECH_PORT}`,
        '--vm-id',
        'quickstart-speech',
        '--worker-id',
        SPEECH_WORKER_ID,
        '--hardware',
        'cpu',
      ],
      { ...workerNats, ...keys.worker },
    );
    models.push('pocketsphinx/en-us');
  } else {
    infra.say('pocketsphinx is not installed: no speech worker (scripts/install-system-packages.sh installs it)');
  }
  const key = await firstKey(env, natsEnv('cli-admin'));
  const ids = await modelsListed(gatewayUrl, key, models, 60_000);
  process.stdout.write(
    `\nModels: ${ids.join(', ') || '(none registered yet)'}\n` +
      `API key (admin@localhost, kept in ${path.relative(process.cwd(), path.join(infra.stateDir, 'quickstart-key'))}): ${key}\n` +
      `Try:\n  curl ${gatewayUrl}/v1/chat/completions -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \\\n` +
      `    -d '{"model":"${models[0]}","messages":[{"role":"user","content":"Hello!"}]}'\n` +
      (models.includes('pocketsphinx/en-us')
        ? `  curl ${gatewayUrl}/v1/audio/transcriptions -H "Authorization: Bearer ${key}" -F model=pocketsphinx/en-us -F file=@speech.wav\n`
        : ''),
  );
};
