export {
  type AlignedGroup,
  alignSpans,
  type CompressionStats,
  cleanGutenbergText,
  compareCompression,
  compressionStats,
  fitZipf,
  type GutenbergCleanOptions,
  type RankFrequency,
  rankFrequency,
  type TextSpan,
  type Translation,
  tokenLengthHistogram,
  tokenSpans,
  translateTokens,
  unusedTokens,
  vocabularyCharacterCounts,
  type ZipfFit,
} from './analysis.js';
export {
  type ByteLevelBpeModel,
  ByteLevelBpeTokenizer,
  type TiktokenRanksOptions,
  type UnicodeNormalization,
  type VocabAndMergesOptions,
} from './bpe.js';
export { bytesToTokenString, tokenStringToBytes } from './byte-level.js';
export { CharTokenizer, type CharTokenizerJson, type CharTokenizerOptions } from './char.js';
export {
  type ClaudeTokenizerJson,
  claudeTokenizerFromJson,
  ENCODING_NAMES,
  type EncodingName,
  encodingFromRanks,
  encodingSpecialTokens,
  formatTiktokenRanks,
  loadEncoding,
  parseTiktokenRanks,
  rankListToBytes,
} from './encodings.js';
export type {
  HuggingFaceAddedToken,
  HuggingFacePreTokenizer,
  HuggingFaceTokenizerJson,
} from './hf-json-shapes.js';
export { tokenizerFromJSON } from './json.js';
export {
  CL100K_SPLIT_PATTERN,
  GPT2_SPLIT_PATTERN,
  O200K_SPLIT_PATTERN,
  type PreTokenizerName,
  preTokenize,
} from './pre-tokenize.js';
export {
  mergePair,
  mostFrequentPair,
  type SymbolBpeMerge,
  type SymbolBpeOptions,
  type SymbolBpeResult,
  trainSymbolBpe,
} from './symbol-bpe.js';
export { type TrainBpeOptions, trainBpe } from './train-bpe.js';
export type { AllowedSpecial, EncodeOptions, Tokenizer } from './types.js';
export { type CleanWordsOptions, cleanWords, splitWords, WordVocabulary } from './word-level.js';
export {
  type AddedToken,
  type EncodeForModelOptions,
  type ModelInputs,
  type WordPieceModel,
  WordPieceTokenizer,
} from './wordpiece.js';
