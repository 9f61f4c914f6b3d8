import { readFile } from 'node:fs/promises';
import { trainBpe } from '@glassbox/tokenizers';
import { saveTokenizer } from '@glassbox/tokenizers/node';
import { MultiBar } from 'cli-progress';
import { UsageError } from '../args.js';
import { formatDuration, type ProgressStream } from '../progress.js';
import type { BpeTrainOptions } from '../tokenize-options.js';

/** Corpora of at least this many UTF-16 code units (about 1 MB of text) get a progress display. */
export const PROGRESS_MIN_CORPUS_LENGTH = 1_000_000;

export interface BpeTrainIo {
  stdout: { write(text: string): unknown };
  /** Stream for the progress display, `process.stderr` by default. */
  progress?: ProgressStream;
}

/** Shows merges done out of merges requested, as a bar on a terminal or as a line every 10 s elsewhere. */
class MergeProgress {
  private readonly start = performance.now();
  private readonly multiBar: MultiBar | undefined;
  private readonly bar;
  private lastLine = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly stream: ProgressStream,
    private readonly total: number,
  ) {
    if (stream.isTTY === true) {
      this.multiBar = new MultiBar({
        stream: stream as NodeJS.WritableStream,
        format: 'merges {value}/{total} {bar} | elapsed {elapsedText} | ETA {etaText}',
        barsize: 12,
        barCompleteChar: '\u2588',
        barIncompleteChar: '\u2591',
        fps: 10,
        hideCursor: false,
        gracefulExit: false,
      });
      this.bar = this.multiBar.create(total, 0, { elapsedText: formatDuration(0), etaText: '-' });
    }
  }

  update(done: number) {
    const elapsed = (performance.now() - this.start) / 1000;
    const eta = done > 0 ? formatDuration(((this.total - done) * elapsed) / done) : '-';
    if (this.bar !== undefined) {
      this.bar.update(done, { elapsedText: formatDuration(elapsed), etaText: eta });
    } else if (elapsed - this.lastLine >= 10 || done === this.total) {
      this.stream.write(`merges ${done}/${this.total} | elapsed ${formatDuration(elapsed)} | ETA ${eta}\n`);
      this.lastLine = elapsed;
    }
  }

  stop() {
    this.multiBar?.stop();
  }
}

/** Runs `glassbox bpe-train`: trains a byte-level BPE tokenizer on the corpus and saves its tokenizer.json. */
export async function runBpeTrain(options: BpeTrainOptions, io: BpeTrainIo): Promise<void> {
  let text: string;
  try {
    text = await readFile(options.corpus, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (error as Error).message;
    throw new UsageError(`--corpus ${JSON.stringify(options.corpus)} cannot be read: ${reason}.`);
  }
  if (text.length === 0) throw new UsageError(`--corpus ${JSON.stringify(options.corpus)} is empty.`);

  const merges = options.vocabSize - 256 - options.specialTokens.length;
  const progress =
    text.length >= PROGRESS_MIN_CORPUS_LENGTH && merges > 0
      ? new MergeProgress(io.progress ?? process.stderr, merges)
      : undefined;
  const start = performance.now();
  let tokenizer: ReturnType<typeof trainBpe>;
  try {
    tokenizer = trainBpe(text, {
      vocabSize: options.vocabSize,
      preTokenizer: options.preTokenizer,
      specialTokens: options.specialTokens,
      onProgress: (done) => progress?.update(done),
    });
  } finally {
    progress?.stop();
  }
  const seconds = (performance.now() - start) / 1000;
  await saveTokenizer(options.out, tokenizer);
  const early = tokenizer.merges.length < merges ? ` (stopped early: no pair left to merge)` : '';
  io.stdout.write(
    `Trained ${tokenizer.merges.length} merges${early}, vocabulary size ${tokenizer.vocabSize}, in ${seconds.toFixed(1)} s. Wrote ${options.out}\n`,
  );
}
