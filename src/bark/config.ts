/**
 * Bark's Hugging Face `config.json` (`BarkConfig`): the three GPT sub-configs
 * and the EnCodec `codec_config`.
 *
 * Accepts the compact files and the long legacy ones (unknown
 * `PretrainedConfig` keys such as `id2label` or `max_length` are ignored).
 * Missing keys take the defaults of transformers' `BarkSubModelConfig` /
 * `BarkFineConfig`, so e.g. a semantic section without `output_vocab_size`
 * gets 10 048.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Schema, SchemaIssue } from "effect"
import { CodecConfig } from "./codec/config.ts"

const withDefault = <S extends Schema.Top>(schema: S, value: S["Encoded"]) =>
  schema.pipe(Schema.withDecodingDefaultKey(Effect.succeed(value)))

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

const gptFields = {
  block_size: withDefault(Count, 1024),
  input_vocab_size: withDefault(Count, 10_048),
  output_vocab_size: withDefault(Count, 10_048),
  num_layers: withDefault(Count, 12),
  num_heads: withDefault(Count, 12),
  hidden_size: withDefault(Count, 768),
  /** Whether the Linear layers (and the semantic/coarse LayerNorms) have biases. The class default is true; Suno's files say false. */
  bias: withDefault(Schema.Boolean, true)
}

const headsDivideWidth = Schema.makeFilter(
  (c: { readonly hidden_size: number; readonly num_heads: number }) =>
    c.hidden_size % c.num_heads === 0 || `num_heads (${c.num_heads}) must divide hidden_size (${c.hidden_size})`
)

/** A causal GPT section: `semantic_config` or `coarse_acoustics_config`. */
export const GptConfig = Schema.Struct(gptFields).check(headsDivideWidth)
export type GptConfig = typeof GptConfig.Type

/** `fine_acoustics_config`: the GPT fields plus the codebook counts. */
export const FineConfig = Schema.Struct({
  ...gptFields,
  input_vocab_size: withDefault(Count, 1056),
  output_vocab_size: withDefault(Count, 1056),
  n_codes_total: withDefault(Count, 8),
  n_codes_given: withDefault(Count, 1)
}).check(
  headsDivideWidth,
  Schema.makeFilter((c: { readonly n_codes_total: number; readonly n_codes_given: number }) =>
    c.n_codes_given < c.n_codes_total || `n_codes_given (${c.n_codes_given}) must be less than n_codes_total (${c.n_codes_total})`
  )
)
export type FineConfig = typeof FineConfig.Type

export const BarkConfig = Schema.Struct({
  semantic_config: GptConfig,
  coarse_acoustics_config: GptConfig,
  fine_acoustics_config: FineConfig,
  codec_config: withDefault(CodecConfig, {})
})
export type BarkConfig = typeof BarkConfig.Type

export class BarkConfigError extends Schema.TaggedError<BarkConfigError>()("BarkConfigError", {
  /** The file, or "<memory>". */
  file: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}

const remediation =
  "use the config.json that belongs to the checkpoint (suno/bark or suno/bark-small layout: semantic_config, coarse_acoustics_config, fine_acoustics_config, codec_config)"

/** Decodes a parsed `config.json`, reporting every problem at once. */
export const decodeBarkConfig = (json: unknown, file = "<memory>"): Effect.Effect<BarkConfig, BarkConfigError> =>
  Schema.decodeUnknownEffect(BarkConfig)(json, { errors: "all" }).pipe(
    Effect.mapError((error) =>
      new BarkConfigError({ file, message: `invalid Bark config ${file}: ${formatIssues(error)}`, remediation })
    )
  )

/** Reads and decodes a `config.json` file (at most 16 MiB; real ones are ~9 kB). */
export const loadBarkConfig = Effect.fn("loadBarkConfig")(function*(file: string) {
  const fs = yield* FileSystem.FileSystem
  const fail = (message: string) => new BarkConfigError({ file, message, remediation })
  const info = yield* fs.stat(file).pipe(Effect.mapError((e) => fail(`cannot read Bark config ${file}: ${e.message}`)))
  if (info.size > 16 * 1024 * 1024) return yield* fail(`Bark config ${file} is ${info.size} bytes, too large for a config.json`)
  const text = yield* fs.readFileString(file).pipe(Effect.mapError((e) => fail(`cannot read Bark config ${file}: ${e.message}`)))
  const json = yield* Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) => fail(`Bark config ${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`)
  })
  return yield* decodeBarkConfig(json, file)
})

const formatIssues = (error: Schema.SchemaError): string =>
  SchemaIssue.makeFormatterStandardSchemaV1()(error.issue).issues
    .map((i) => `${(i.path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join(".") || "(root)"}: ${i.message}`)
    .join("; ")
