import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkWindowSplit,
  model1Gpt2Embeddings,
  model5WithModifications,
} from './pretraining-course-models.js';
import { populatedTestCache, runForTest, TEST_CORPORA, TEST_DATA, trainedTestModel } from './testing.js';

const SHAKESPEARE = join(TEST_DATA, 'corpora/tiny-shakespeare.txt');

let cache: string;
let modelDir: string;

beforeAll(async () => {
  cache = await populatedTestCache();
  modelDir = await trainedTestModel();
}, 120_000);

interface EmbeddingRunSummary {
  trainableParameters: number;
  initialTestLoss: number;
  finalTrainLoss: number;
  finalTestLoss: number;
  embeddingMaxChange: number;
  epochs: { epoch: number; train: number; test: number }[];
  generated: string;
}

describe('model1-gpt2-embeddings', () => {
  it('copies, trains and freezes the embeddings', async () => {
    const { results, output } = await runForTest(
      model1Gpt2Embeddings,
      cache,
      { 'max-chars': '4000', epochs: '2', 'batch-size': '32', prompt: 'ROMEO:', 'new-tokens': '10' },
      { corpusPaths: [SHAKESPEARE], modelDir },
    );

    // The trained test model: the 61 characters of its text, width 48.
    expect(results.vocabSize).toBe(61);
    expect(results.nEmbd).toBe(48);
    // 4,000 characters give (4000 - 8 - 1) / 2 + 1 = 1,996 windows; 10% test.
    expect(results.testWindows).toBe(199);
    expect(results.trainWindows).toBe(1797);
    expect(results.stepsPerEpoch).toBe(56);

    const runs = results.runs as unknown as Record<string, EmbeddingRunSummary>;
    const random = runs['random embeddings'];
    const trained = runs['GPT-2 embeddings, trained'];
    const frozen = runs['GPT-2 embeddings, frozen'];
    expect(random.trainableParameters).toBe(2 * 61 * 48);
    expect(frozen.trainableParameters).toBe(61 * 48);
    expect(frozen.embeddingMaxChange).toBe(0);
    expect(trained.embeddingMaxChange).toBeGreaterThan(1e-3);

    // Both copies start from the same weights; the random run from other embeddings.
    expect(trained.initialTestLoss).toBe(frozen.initialTestLoss);
    expect(random.initialTestLoss).not.toBe(trained.initialTestLoss);

    for (const run of [random, trained, frozen]) {
      expect(run.epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
      expect(run.finalTestLoss).toBeLessThan(run.initialTestLoss - 0.05);
      expect(run.generated).toHaveLength(10);
    }
    // The small model's embeddings start from N(0, 0.02) and stay far smaller than N(0, 1), so GELU passes
    // them almost linearly and the head learns slowly from them. The random embeddings win here.
    expect(random.finalTestLoss).toBeLessThan(random.initialTestLoss - 0.5);
    expect(trained.finalTestLoss).toBeLessThan(frozen.finalTestLoss);
    expect(output.figures).toEqual(['loss']);
  });

  it('names --model DIR when offline without a cached model', async () => {
    await expect(runForTest(model1Gpt2Embeddings, cache)).rejects.toThrow(/--offline.*--model DIR/);
  });

  it('rejects a --prompt the tokenizer lacks', async () => {
    const run = runForTest(
      model1Gpt2Embeddings,
      cache,
      { 'max-chars': '4000', prompt: 'naïve' },
      { corpusPaths: [SHAKESPEARE], modelDir },
    );
    await expect(run).rejects.toThrow(
      /--prompt "naïve" cannot be encoded .*: the tokenizer has no token for "ï"/,
    );
  });
});

describe('checkWindowSplit', () => {
  const params = { seqLen: 8, testFraction: 0.1, batchSize: 64 };

  it('accepts enough windows', () => {
    expect(() => checkWindowSplit('book.txt', 100, 10, params)).not.toThrow();
  });

  it('names --seq-len for a short text', () => {
    expect(() => checkWindowSplit('book.txt', 0, 0, params)).toThrow(
      /book\.txt is too short for one window of 9 tokens\. Raise --max-chars or lower --seq-len\./,
    );
  });

  it('names --test-fraction without test windows', () => {
    expect(() => checkWindowSplit('book.txt', 146, 0, { ...params, testFraction: 0.0001 })).toThrow(
      /--test-fraction 0\.0001 of book\.txt's 146 windows rounds down to no test window/,
    );
  });

  it('names --batch-size for too few training windows', () => {
    expect(() => checkWindowSplit('book.txt', 96, 9, { ...params, batchSize: 90 })).toThrow(
      /book\.txt leaves 87 training windows .* fewer than one --batch-size 90\. Lower --batch-size/,
    );
  });
});

interface Model5RunSummary {
  initialTestLoss: number;
  finalTrainLoss: number;
  finalTestLoss: number;
  evaluations: { step: number; train: number; test: number }[];
  stepLosses: number[];
  generatedBefore: string;
  generatedAfter: string;
}

describe('model5-with-mods', () => {
  it('trains with scaled log-softmax outputs', async () => {
    const { results, output } = await runForTest(
      model5WithModifications,
      cache,
      {
        'max-chars': '30000',
        'n-layer': '1',
        'n-head': '2',
        'n-embd': '32',
        'block-size': '16',
        'batch-size': '8',
        steps: '60',
        'eval-interval': '20',
        'eval-batches': '2',
        'new-tokens': '5',
      },
      { corpusPaths: [TEST_CORPORA.gulliver] },
    );

    const uniform = results.uniformLoss as number;
    expect(uniform).toBeCloseTo(Math.log(50257), 10);

    const runs = results.runs as unknown as Record<string, Model5RunSummary>;
    const scaled = runs['log-softmax(logits / sqrt(C))'];
    const plain = runs['plain logits'];
    // Scaling by 1/sqrt(32) shrinks the already small initial logits, so the loss is within 5e-3 of ln V.
    expect(Math.abs(scaled.initialTestLoss - uniform)).toBeLessThan(5e-3);
    expect(Math.abs(plain.initialTestLoss - uniform)).toBeLessThan(0.05);

    for (const run of [scaled, plain]) {
      expect(run.evaluations.map((e) => e.step)).toEqual([0, 20, 40, 60]);
      expect(run.stepLosses).toHaveLength(60);
      expect(run.finalTrainLoss).toBeLessThan(run.initialTestLoss - 0.2);
      expect(typeof run.generatedAfter).toBe('string');
    }

    // Dividing the logits by sqrt(C) also divides their gradients, so the modified model learns far slower.
    expect(plain.finalTrainLoss).toBeLessThan(scaled.finalTrainLoss - 1);

    // The untrained model also generates text, shown before training in the report.
    expect(scaled.generatedBefore).not.toBe('');
    expect(output.figures).toEqual(['loss']);
  });

  it('encodes a special-token prompt as text', async () => {
    const { results } = await runForTest(
      model5WithModifications,
      cache,
      {
        'max-chars': '5000',
        'n-layer': '1',
        'n-head': '1',
        'n-embd': '8',
        'block-size': '4',
        'batch-size': '2',
        steps: '1',
        'eval-batches': '1',
        prompt: '<|endoftext|>',
        'new-tokens': '2',
      },
      { corpusPaths: [TEST_CORPORA.gulliver] },
    );
    const runs = results.runs as unknown as Record<string, Model5RunSummary>;
    expect(typeof runs['plain logits'].generatedAfter).toBe('string');
  });

  it('rejects a width that the heads do not divide', async () => {
    await expect(
      runForTest(model5WithModifications, cache, { 'n-embd': '30', 'n-head': '4' }),
    ).rejects.toThrow(/--n-embd 30 must be a multiple of --n-head 4/);
  });
});
