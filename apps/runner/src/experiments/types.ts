import type { Rng } from '@glassbox/graph';
import type { z } from 'zod';
import type { ExperimentAssets } from '../assets.js';
import type { ChartSpec } from '../plot.js';

/** A JSON value, as stored in results.json. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A table for the report, such as one row per book. */
export interface ResultTable {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

/** The output of an experiment. */
export interface ExperimentOutput {
  /** Every number and string the exercise reports, keyed by a camelCase name. */
  results: Record<string, JsonValue>;
  /** Tables shown in the report; their numbers also belong in `results`. */
  tables?: ResultTable[];
  /** Short text lines shown at the top of the report, such as a decoded sentence. */
  notes?: string[];
}

/** Progress of a running experiment, shown on stderr by the CLI. */
export interface ProgressReporter {
  /** Announces a stage of the experiment, such as "Loading cl100k_base". */
  stage(message: string): void;
  /** Reports `done` of `total` units of the current stage. */
  advance(done: number, total: number): void;
}

/** The argument of `Experiment.run`. */
export interface ExperimentContext<P> {
  /** Parameters validated by the experiment's schema, defaults filled in. */
  params: P;
  /** Random generator seeded with `seed`. */
  rng: Rng;
  seed: number;
  progress: ProgressReporter;
  /** Renders a Vega-Lite spec to `<name>.svg` and `<name>.png` in the run directory and adds it to the report. */
  figure(name: string, spec: ChartSpec): Promise<void>;
  /** Books and model files, from the cache, a download or paths given on the command line. */
  assets: ExperimentAssets;
}

/** One course exercise that `glassbox run` can execute. */
export interface Experiment<S extends z.ZodObject = z.ZodObject> {
  /** Command-line name, such as `bpe-steps`. */
  id: string;
  title: string;
  /** Section of the course outline, such as `14. Byte-pair encoding algorithm`. */
  section: string;
  /** Summary of what the exercise shows, and where it departs from the course's code. */
  description: string;
  /** Resources it uses, such as `tokenizers`, `BERT tokenizer.json (download)` or `Gutenberg book (download)`. */
  needs: string[];
  /** Typical run time with the default parameters, measured on a 2-core x86 machine, such as `2 s`. */
  typicalTime: string;
  /** Parameters with defaults and descriptions; the keys become `--kebab-case` options. */
  params: S;
  run(context: ExperimentContext<z.infer<S>>): Promise<ExperimentOutput>;
}

/** Declares an experiment, inferring its parameter type from the schema. */
export function defineExperiment<S extends z.ZodObject>(experiment: Experiment<S>): Experiment<S> {
  return experiment;
}
