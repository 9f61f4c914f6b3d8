import { ByteLevelBpeTokenizer } from './bpe.js';
import { CharTokenizer, type CharTokenizerJson } from './char.js';
import { buildPostProcessor } from './hf-components.js';
import { preTokenizerFromJson } from './hf-json-shapes.js';
import { WordPieceTokenizer } from './wordpiece.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Rebuilds a tokenizer from `toJSON` output: `{ "type": "char", ... }` gives a `CharTokenizer`,
 * a Hugging Face `tokenizer.json` object with a byte-level BPE model gives a
 * `ByteLevelBpeTokenizer`, and one with a WordPiece model a `WordPieceTokenizer`. Raises an
 * Error naming any other type.
 */
export function tokenizerFromJSON(json: unknown): CharTokenizer | ByteLevelBpeTokenizer | WordPieceTokenizer {
  if (!isObject(json)) throw new Error(`Invalid tokenizer JSON: expected an object, got ${describe(json)}`);
  if (json.type === 'char') return CharTokenizer.fromJSON(json as unknown as CharTokenizerJson);
  if (json.type !== undefined) {
    throw new Error(
      `Unknown tokenizer type ${JSON.stringify(json.type)}: expected "char" or a Hugging Face tokenizer.json`,
    );
  }
  if (!isObject(json.model)) {
    throw new Error(
      'Invalid tokenizer JSON: expected "type": "char" or a Hugging Face tokenizer.json with a "model" object',
    );
  }
  const modelType = json.model.type ?? inferModelType(json.model);
  if (modelType === 'WordPiece') return wordPieceFromHuggingFace(json);
  return byteLevelBpeFromHuggingFace(json);
}

function wordPieceFromHuggingFace(json: Record<string, unknown>): WordPieceTokenizer {
  const model = json.model as Record<string, unknown>;
  if (!isObject(model.vocab) || typeof model.unk_token !== 'string') {
    throw new Error(
      'Invalid tokenizer.json: a WordPiece model needs a "vocab" object and an "unk_token" string',
    );
  }
  for (const added of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    if (!isObject(added)) continue;
    const flags = ['lstrip', 'rstrip', 'single_word'].filter((flag) => added[flag] === true);
    if (added.normalized === true && json.normalizer !== null && json.normalizer !== undefined) {
      flags.push('normalized');
    }
    if (flags.length > 0) {
      throw new Error(
        `Unsupported tokenizer.json added token ${JSON.stringify(added.content)}: ${flags.join(', ')} true is not implemented`,
      );
    }
  }
  return new WordPieceTokenizer({
    vocab: model.vocab as Record<string, number>,
    unkToken: model.unk_token,
    continuingSubwordPrefix:
      typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : undefined,
    maxInputCharsPerWord:
      typeof model.max_input_chars_per_word === 'number' ? model.max_input_chars_per_word : undefined,
    addedTokens: readAddedTokens(json).map(({ id, content, special }) => ({ id, content, special })),
    normalizer: json.normalizer,
    preTokenizer: json.pre_tokenizer,
    postProcessor: json.post_processor,
    decoder: json.decoder,
  });
}

function readAddedTokens(json: Record<string, unknown>): { id: number; content: string; special: boolean }[] {
  return (Array.isArray(json.added_tokens) ? json.added_tokens : []).map((added) => {
    if (!isObject(added) || typeof added.content !== 'string' || typeof added.id !== 'number') {
      throw new Error(
        `Invalid tokenizer.json added token ${JSON.stringify(added)}: expected "id" and "content"`,
      );
    }
    return { id: added.id, content: added.content, special: added.special !== false };
  });
}

/**
 * Names the model type of a `tokenizer.json` written before models had a "type" field, such as
 * the files of GPT-2 and BERT, from the fields that only that type has.
 */
function inferModelType(model: Record<string, unknown>): string {
  if (model.merges !== undefined) return 'BPE';
  if (model.max_input_chars_per_word !== undefined) return 'WordPiece';
  if (Array.isArray(model.vocab)) return 'Unigram';
  return 'WordLevel';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Reads a Hugging Face `tokenizer.json` whose model is BPE over byte-level tokens, such as GPT-2's.
 * Every added token becomes a special token. The post-processor is ignored, because `encode` never
 * adds special tokens. Settings that would change the encoding and that this package does not
 * implement (a normalizer, BPE dropout, subword prefixes or suffixes) raise an Error.
 */
function byteLevelBpeFromHuggingFace(json: Record<string, unknown>): ByteLevelBpeTokenizer {
  const model = json.model as Record<string, unknown>;
  const modelType = model.type ?? inferModelType(model);
  if (modelType !== 'BPE') {
    throw new Error(
      `Unknown tokenizer type ${JSON.stringify(modelType)}: only BPE and WordPiece tokenizer.json models are supported`,
    );
  }
  const normalizer = json.normalizer;
  const normalizerType = isObject(normalizer) ? normalizer.type : undefined;
  const unicodeForm =
    normalizerType === 'NFC' ||
    normalizerType === 'NFD' ||
    normalizerType === 'NFKC' ||
    normalizerType === 'NFKD'
      ? normalizerType
      : undefined;
  if (normalizer !== null && normalizer !== undefined && unicodeForm === undefined) {
    throw new Error(
      `Unsupported tokenizer.json normalizer ${JSON.stringify(normalizer)} for a byte-level BPE model: expected null, NFC, NFD, NFKC or NFKD`,
    );
  }
  if (typeof model.dropout === 'number' && model.dropout > 0) {
    throw new Error(`Unsupported tokenizer.json model: BPE dropout ${model.dropout}`);
  }
  for (const field of ['continuing_subword_prefix', 'end_of_word_suffix']) {
    if (typeof model[field] === 'string' && model[field] !== '') {
      throw new Error(`Unsupported tokenizer.json model: ${field} ${JSON.stringify(model[field])}`);
    }
  }
  const decoder = json.decoder;
  if (decoder !== null && decoder !== undefined && !(isObject(decoder) && decoder.type === 'ByteLevel')) {
    throw new Error(`Unsupported tokenizer.json decoder ${JSON.stringify(decoder)}: expected ByteLevel`);
  }
  if (!isObject(model.vocab) || !Array.isArray(model.merges)) {
    throw new Error('Invalid tokenizer.json: model.vocab must be an object and model.merges an array');
  }

  // Raises for post-processor types this package does not implement; the ids need none of them,
  // because `encode` adds no special tokens.
  buildPostProcessor(json.post_processor);
  const specialTokens = new Map<string, number>();
  for (const added of readAddedTokens(json)) specialTokens.set(added.content, added.id);

  return ByteLevelBpeTokenizer.fromVocabAndMerges(
    model.vocab as Record<string, number>,
    model.merges as (string | [string, string])[],
    {
      preTokenizer: preTokenizerFromJson(json.pre_tokenizer),
      specialTokens,
      ignoreMerges: model.ignore_merges === true,
      normalizer: unicodeForm,
    },
  );
}
