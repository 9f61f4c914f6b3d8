export { closestMatch, UsageError } from './args.js';
export { writeFileAtomic } from './atomic-write.js';
export { type CliIo, COMMANDS, mainUsage, runCli } from './cli.js';
export { runGenerate } from './commands/generate.js';
export { runTrain } from './commands/train.js';
export {
  type Corpus,
  checkCorpusLength,
  loadCorpus,
  MOBY_DICK,
  mobyDickText,
  type SplitSizes,
  splitSizes,
} from './corpus.js';
export {
  formatMetricsLine,
  METRICS_FILE,
  type MetricsRecord,
  MetricsWriter,
  readMetrics,
  truncateMetrics,
} from './metrics.js';
export {
  defaultRunDirectory,
  GENERATE_DEFAULTS,
  GENERATE_FLAGS,
  type GenerateOptions,
  generateUsage,
  type ParsedCommand,
  parseGenerateOptions,
  parseTrainOptions,
  TOKENIZER_KINDS,
  type TokenizerKind,
  TRAIN_DEFAULTS,
  TRAIN_FLAGS,
  type TrainOptions,
  trainUsage,
} from './options.js';
export {
  CHART_FONT,
  type ChartSpec,
  chartToSvg,
  type LineChartOptions,
  type LossPoint,
  lineChartSpec,
  lossCurveSpec,
  type PngOptions,
  type RenderedChart,
  renderChart,
  type SeriesPoint,
  svgToPng,
} from './plot.js';
export {
  createTrainingProgress,
  formatDuration,
  formatProgressLine,
  type ProgressStream,
  type ProgressUpdate,
  type TrainingProgress,
  type TrainingProgressOptions,
} from './progress.js';
