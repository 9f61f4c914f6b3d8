/**
 * Generation throughput of Glassbox's KV-cached generator against transformers.js on the same exported
 * model: GPT-2 architecture with random weights, vocabulary 50,257, a 64-token prompt, 128 new tokens,
 * batch 1, greedy decoding, and the same thread count on both sides.
 *
 *   node --conditions=development --import tsx bench/generate-throughput.ts [--threads N] [--config small|large|all]
 *     [--rounds N] [--repeats N]
 *
 * Each measurement runs in its own process. transformers.js brings its own onnxruntime-node, whose shared
 * library cannot be loaded into a process that already uses the version @glassbox/graph depends on, and
 * separate processes also give a peak memory (maximum resident set size) per side.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initGptParameters, resolveGptConfig } from '@glassbox/gpt-core';
import { Rng } from '@glassbox/graph';
import {
  loadGpt2Directory,
  saveGpt2Directory,
  writeTransformersJsModel,
} from '../../packages/gpt-core/src/export-node.js';
import { CachedGenerator } from '../../packages/gpt-core/src/kv-cache.js';

const CONFIGS = {
  small: { nLayer: 4, nHead: 4, nEmbd: 256 },
  large: { nLayer: 12, nHead: 12, nEmbd: 768 },
} as const;
const VOCAB_SIZE = 50257;
const BLOCK_SIZE = 1024;
const PROMPT_TOKENS = 64;
const NEW_TOKENS = 128;
const WARMUP_TOKENS = 8;
const TOKENIZER = fileURLToPath(
  new URL('../../../shared/data/tokenizers/gpt2/tokenizer.json', import.meta.url),
);

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    config: { type: 'string', default: 'all' },
    side: { type: 'string' },
    dir: { type: 'string' },
    repeats: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
  },
});
const threads = Number(values.threads);
/** Timed runs within one process. */
const repeats = Number(values.repeats);
/** Processes per side, started in turns. */
const rounds = Number(values.rounds);

interface Measurement {
  /** New tokens per second over the whole generate call, prompt processing included. */
  tokensPerSecond: number;
  /** Seconds to first token (the prompt's forward pass). */
  prefillSeconds: number;
  /** Milliseconds per token after the first. */
  decodeMsPerToken: number;
  peakRssMiB: number;
  tokens: number[];
}

/** Draws the benchmark prompt: 64 ids from a fixed seed. */
function promptIds(): number[] {
  const rng = new Rng(2024);
  return Array.from({ length: PROMPT_TOKENS }, () => rng.randint(0, VOCAB_SIZE));
}

function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

async function measureGlassbox(directory: string, weightsAsInitializers: boolean): Promise<Measurement> {
  const { config, parameters } = await loadGpt2Directory(directory, { dropout: 0 });
  const generator = await CachedGenerator.create(config, parameters, {
    intraOpThreads: threads,
    weightsAsInitializers,
  });
  const prompt = promptIds();
  await generator.generate(prompt, { maxNewTokens: WARMUP_TOKENS, rng: new Rng(0), temperature: 0 });

  const runs: Measurement[] = [];
  for (let run = 0; run < repeats; run++) {
    let firstTokenAt = 0;
    const start = performance.now();
    const tokens = await generator.generate(prompt, {
      maxNewTokens: NEW_TOKENS,
      rng: new Rng(0),
      temperature: 0,
      onToken: () => {
        if (firstTokenAt === 0) firstTokenAt = performance.now();
      },
    });
    runs.push(summarize(start, firstTokenAt, performance.now(), tokens));
  }
  await generator.release();
  return fastest(runs);
}

async function measureTransformers(directory: string): Promise<Measurement> {
  const { AutoModelForCausalLM, Tensor, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = dirname(directory);
  const model = await AutoModelForCausalLM.from_pretrained(basename(directory), {
    local_files_only: true,
    dtype: 'fp32',
    device: 'cpu',
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
  });
  const prompt = promptIds();
  const inputs = {
    input_ids: new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]),
    attention_mask: new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]),
  };
  await model.generate({ ...inputs, max_new_tokens: WARMUP_TOKENS, do_sample: false });

  const runs: Measurement[] = [];
  for (let run = 0; run < repeats; run++) {
    // generate calls the streamer's `put` with the prompt first and then with each new token.
    let puts = 0;
    let firstTokenAt = 0;
    const streamer = {
      put: () => {
        puts += 1;
        if (puts === 2) firstTokenAt = performance.now();
      },
      end: () => {},
    };
    const start = performance.now();
    const output = (await model.generate({
      ...inputs,
      max_new_tokens: NEW_TOKENS,
      min_new_tokens: NEW_TOKENS,
      do_sample: false,
      streamer: streamer as unknown as NonNullable<Parameters<typeof model.generate>[0]>['streamer'],
    })) as InstanceType<typeof Tensor>;
    const end = performance.now();
    const tokens = Array.from(output.data as BigInt64Array, Number).slice(prompt.length);
    runs.push(summarize(start, firstTokenAt, end, tokens));
  }
  await model.dispose();
  return fastest(runs);
}

/** Picks the run with the highest throughput, the one least disturbed by other work on the machine. */
function fastest(runs: Measurement[]): Measurement {
  return runs.reduce((best, run) => (run.tokensPerSecond > best.tokensPerSecond ? run : best));
}

function summarize(start: number, firstTokenAt: number, end: number, tokens: number[]): Measurement {
  return {
    tokensPerSecond: tokens.length / ((end - start) / 1000),
    prefillSeconds: (firstTokenAt - start) / 1000,
    decodeMsPerToken: (end - firstTokenAt) / Math.max(1, tokens.length - 1),
    peakRssMiB: peakRssMiB(),
    tokens,
  };
}

function runSide(side: string, directory: string): Measurement {
  const args = [
    '--conditions=development',
    '--import',
    'tsx',
    fileURLToPath(import.meta.url),
    '--side',
    side,
    '--dir',
    directory,
    '--threads',
    String(threads),
    '--repeats',
    String(repeats),
  ];
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`benchmark side ${side} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Measurement;
}

async function main(): Promise<void> {
  if (values.side) {
    const directory = values.dir!;
    let measurement: Measurement;
    if (values.side === 'glassbox') measurement = await measureGlassbox(directory, false);
    else if (values.side === 'glassbox-initializers') measurement = await measureGlassbox(directory, true);
    else if (values.side === 'transformers') measurement = await measureTransformers(directory);
    else
      throw new Error(`unknown --side ${values.side}; use glassbox, glassbox-initializers or transformers.`);
    console.log(JSON.stringify(measurement));
    return;
  }

  const selected =
    values.config === 'all' ? (['small', 'large'] as const) : [values.config as keyof typeof CONFIGS];
  console.log(
    `threads ${threads}, prompt ${PROMPT_TOKENS} tokens, ${NEW_TOKENS} new tokens, batch 1, greedy, ` +
      `after a ${WARMUP_TOKENS}-token warm-up, fastest of ${rounds} processes x ${repeats} runs per side`,
  );
  for (const name of selected) {
    const size = CONFIGS[name];
    if (!size) throw new Error(`unknown --config ${name}; use small, large or all.`);
    const config = resolveGptConfig({ vocabSize: VOCAB_SIZE, blockSize: BLOCK_SIZE, dropout: 0, ...size });
    const directory = join(await mkdtemp(join(tmpdir(), 'glassbox-generate-bench-')), `gpt2-${name}`);
    try {
      const parameters = initGptParameters(config, new Rng(7));
      await saveGpt2Directory(directory, config, parameters);
      // No eos token, so that both sides generate all 128 tokens.
      await writeTransformersJsModel(directory, config, parameters, { tokenizer: TOKENIZER });

      // The sides take turns, one process per run, so that a change in the machine's load during the
      // benchmark affects every side alike. Each side reports its fastest run.
      const sides = {
        'glassbox (weights fed as inputs)': 'glassbox',
        'glassbox (weights as initializers)': 'glassbox-initializers',
        'transformers.js 4.3.2': 'transformers',
      } as const;
      const runs = new Map<keyof typeof sides, Measurement[]>();
      for (let round = 0; round < rounds; round++) {
        for (const [label, side] of Object.entries(sides) as [keyof typeof sides, string][]) {
          runs.set(label, [...(runs.get(label) ?? []), runSide(side, directory)]);
        }
      }
      const results = Object.fromEntries([...runs].map(([label, list]) => [label, fastest(list)])) as Record<
        keyof typeof sides,
        Measurement
      >;
      console.log(
        `${name}: ${size.nLayer} layers, ${size.nHead} heads, width ${size.nEmbd}, vocabulary ${VOCAB_SIZE}`,
      );
      for (const [label, m] of Object.entries(results)) {
        console.log(
          `  ${label.padEnd(36)} ${m.tokensPerSecond.toFixed(1).padStart(7)} tokens/s  ` +
            `prefill ${(m.prefillSeconds * 1000).toFixed(0).padStart(5)} ms  ` +
            `decode ${m.decodeMsPerToken.toFixed(1).padStart(6)} ms/token  peak RSS ${m.peakRssMiB.toFixed(0).padStart(5)} MiB`,
        );
      }
      const reference = results['transformers.js 4.3.2'];
      for (const label of [
        'glassbox (weights fed as inputs)',
        'glassbox (weights as initializers)',
      ] as const) {
        const m = results[label];
        const same =
          m.tokens.length === reference.tokens.length && m.tokens.every((t, i) => t === reference.tokens[i]);
        console.log(
          `  ratio ${label} / transformers.js: ${(m.tokensPerSecond / reference.tokensPerSecond).toFixed(2)}x tokens/s; ` +
            `same tokens: ${same}`,
        );
      }
    } finally {
      await rm(dirname(directory), { recursive: true, force: true });
    }
  }
}

await main();
