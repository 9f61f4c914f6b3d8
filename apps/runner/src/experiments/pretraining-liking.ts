import { buildGpt } from '@glassbox/gpt-core';
import { addTrainingStep, Graph, TrainingSession } from '@glassbox/graph';
import { GptTrainer, likedTokensLoss, RandomWindowSampler } from '@glassbox/trainer';
import { z } from 'zod';
import { barChartSpec } from './charts.js';
import { lineChartSpec } from './pretraining-charts.js';
import {
  generateTokens,
  gptConfigFor,
  loadCharCorpus,
  round,
  smallGptParams,
  splitTail,
  trainerOptionsFor,
  trainWithCurves,
} from './pretraining-common.js';
import { defineExperiment } from './types.js';

export const likeALetter = defineExperiment({
  id: 'like-a-letter',
  title: 'Train a model to like a letter',
  section: '86. CodeChallenge: Train a model to like "X"',
  description:
    "Pretrains a small character-level GPT on a text with cross-entropy, then continues training with a custom loss built from graph ops (@glassbox/trainer's likedTokensLoss): the mean over positions of -log of the probability that the next character is the chosen letter. The letter's share of generated text rises from its frequency in the text to most of the output. The course's exercise uses a KL divergence to a uniform distribution over the liked GPT-2 tokens at the last position; this loss maximizes the liked mass at every position.",
  needs: ['trainer', 'The Time Machine (Gutenberg download) or --corpus'],
  typicalTime: '3 s',
  params: z.object({
    ...smallGptParams({ maxChars: 50_000 }),
    letter: z.string().length(1).default('x').describe('the letter the model learns to like'),
    matchCase: z
      .boolean()
      .default(false)
      .describe('like only the letter as given, not its other case as well'),
    pretrainSteps: z.number().int().min(0).max(100_000).default(300).describe('cross-entropy steps first'),
    likeSteps: z.number().int().min(1).max(100_000).default(40).describe('steps with the liking loss'),
    lr: z.number().positive().max(1).default(0.003).describe('AdamW learning rate of both phases'),
    sampleLength: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(400)
      .describe('characters generated per sample'),
  }),
  async run({ params, seed, rng, progress, figure, assets }) {
    const corpus = await loadCharCorpus(assets, params.maxChars, progress);
    const { tokenizer } = corpus;
    const letters = params.matchCase
      ? [params.letter]
      : [...new Set([params.letter.toLowerCase(), params.letter.toUpperCase()])];
    const liked = letters
      .map((char) => tokenizer.tokenToId(char))
      .filter((id): id is number => id !== undefined);
    if (liked.length === 0) {
      throw new Error(
        `the letter ${JSON.stringify(params.letter)} does not occur in ${corpus.name}. Choose another --letter.`,
      );
    }
    const likedSet = new Set(liked);
    const share = (ids: readonly number[]) => ids.filter((id) => likedSet.has(id)).length / ids.length;
    const model = gptConfigFor(params, tokenizer.vocabSize);
    const { head, tail } = splitTail(corpus.tokens, 0.1);

    progress.stage(`Pretraining for ${params.pretrainSteps} steps`);
    const trainer = await GptTrainer.create(
      trainerOptionsFor(params, model, {
        learningRate: params.lr,
        steps: Math.max(1, params.pretrainSteps),
        seed,
        evalIters: 5,
        optimizer: { type: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01 },
      }),
      { train: head, validation: tail },
    );
    let pretrainLosses: number[];
    let parameters: Map<string, Float32Array>;
    try {
      pretrainLosses = (await trainWithCurves(trainer, params.pretrainSteps, 0, progress)).stepLosses;
      parameters = trainer.parameters();
    } finally {
      await trainer.release();
    }
    const prompt = [corpus.tokens[0]];
    progress.stage('Generating before the liking loss');
    const before = await generateTokens(model, parameters, prompt, params.sampleLength, rng.fork(1));

    progress.stage(`Training to like ${JSON.stringify(params.letter)}`);
    const g = new Graph('gpt-like');
    const dims = [params.batchSize, params.blockSize];
    const inputIds = g.input('input_ids', 'int64', dims);
    const { logits } = buildGpt(g, model, { inputIds });
    const loss = likedTokensLoss(g, logits, liked);
    const session = await TrainingSession.create(
      g,
      addTrainingStep(g, loss, {
        optimizer: { type: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 },
      }),
    );
    const likeLosses: number[] = [];
    try {
      session.load(parameters);
      const sampler = new RandomWindowSampler(head, params.blockSize, params.batchSize);
      const batchRng = rng.fork(2);
      const inputs = session.inputBuffer('input_ids') as BigInt64Array;
      const unusedTargets = new BigInt64Array(inputs.length);
      for (let step = 0; step < params.likeSteps; step++) {
        sampler.sample(batchRng, inputs, unusedTargets);
        likeLosses.push((await session.runStep(params.lr)).loss);
        progress.advance(step + 1, params.likeSteps);
      }
      parameters = new Map([...session.parameters()].map(([name, data]) => [name, Float32Array.from(data)]));
    } finally {
      await session.release();
    }
    progress.stage('Generating after the liking loss');
    const after = await generateTokens(model, parameters, prompt, params.sampleLength, rng.fork(3));

    const textShare = share(Array.from(corpus.tokens));
    const beforeShare = share(before);
    const afterShare = share(after);
    const label = letters.join('/');
    await figure(
      'letter-share',
      barChartSpec({
        title: `Share of ${JSON.stringify(label)} in text and in ${params.sampleLength} generated characters`,
        xTitle: 'text',
        yTitle: 'share of characters (%)',
        bars: [
          { label: 'corpus', value: 100 * textShare },
          { label: 'generated before', value: 100 * beforeShare },
          { label: 'generated after', value: 100 * afterShare },
        ],
        valueLabels: true,
        width: 300,
      }),
    );
    await figure(
      'liked-mass',
      lineChartSpec({
        title: `Probability of ${JSON.stringify(label)} as the next character during the liking phase`,
        xTitle: 'step',
        // exp(-loss) with loss = mean of -log p is the geometric mean of the probabilities.
        yTitle: 'geometric mean probability of the liked letter',
        points: likeLosses.map((value, i) => ({ x: i + 1, y: Math.exp(-value), series: 'exp(-loss)' })),
      }),
    );
    return {
      results: {
        corpus: corpus.name,
        likedCharacters: liked.map((id) => tokenizer.idToToken(id) ?? ''),
        likedIds: liked,
        corpusShare: round(textShare),
        generatedShareBefore: round(beforeShare),
        generatedShareAfter: round(afterShare),
        pretrainFinalLoss: pretrainLosses.length > 0 ? round(pretrainLosses.at(-1)!) : null,
        likedProbabilityFirstStep: round(Math.exp(-likeLosses[0])),
        likedProbabilityLastStep: round(Math.exp(-likeLosses.at(-1)!)),
        sampleBefore: tokenizer.decode(before),
        sampleAfter: tokenizer.decode(after),
      },
      notes: [
        `Share of ${JSON.stringify(label)}: ${(100 * textShare).toFixed(2)}% of the text, ${(100 * beforeShare).toFixed(2)}% of generated characters before and ${(100 * afterShare).toFixed(2)}% after ${params.likeSteps} steps of the liking loss.`,
        `Before: ${JSON.stringify(tokenizer.decode(before).slice(0, 160))}`,
        `After: ${JSON.stringify(tokenizer.decode(after).slice(0, 160))}`,
      ],
    };
  },
});
