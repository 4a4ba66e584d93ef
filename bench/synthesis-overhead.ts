/**
 * Benchmark: what running every request as a synthesis recipe costs, on the
 * Mock engine (no models, so the recipe's runner is most of the work): 10 000
 * requests through `engine.synthesize` (the mock's recipe: split and voice
 * once, then the tones and the pause per chunk, every stage recorded) against
 * the same work called directly (split the text, make each chunk's tones,
 * measure their level as `post` does, put the pauses in, join), each scenario
 * in a fresh process after a warm-up.
 * Reports µs per request (median and p99 over batches of 100), the
 * difference, and the process's peak RSS, into bench/results/synthesis-overhead.md.
 *
 *   node bench/synthesis-overhead.ts
 *   REQUESTS=2000 node bench/synthesis-overhead.ts
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { collectSynthesis, DEFAULT_SILENCE_SECONDS, withLeadingSilence } from "../src/bark/engine/assemble.ts"
import { makeMockEngine, mockAudio, SAMPLE_RATE } from "../src/bark/engine/mock.ts"
import { levelOf } from "../src/bark/synthesis/post.ts"
import { splitText } from "../src/bark/text.ts"
import { Stream } from "effect"
import * as Memory from "../src/pipeline/memory.ts"

const REQUESTS = Number(process.env["REQUESTS"] ?? 10_000)
const BATCH = 100
/** A caption-length request: two sentences, one chunk. */
const TEXT = "A red car drives by. The street is quiet again."

const scenarios = {
  /** Every request runs the mock's synthesis recipe through the stage runner. */
  recipe: () => {
    const engine = makeMockEngine()
    return (seed: number) => engine.synthesize(TEXT, { seed, voice: "announcer" })
  },
  /** The same work without the runner: what the mock engine did before synthesis became a recipe, plus post's level measure. */
  direct: () => (seed: number) =>
    collectSynthesis(
      Stream.fromIterable(splitText(TEXT).chunks.map((chunk, index) => {
        const audio = mockAudio(chunk.text, "announcer", seed)
        levelOf(audio)
        return {
          index,
          text: chunk.text,
          audio: index === 0 ? audio : withLeadingSilence(audio, SAMPLE_RATE, DEFAULT_SILENCE_SECONDS),
          sampleRate: SAMPLE_RATE,
          splitSentence: chunk.splitSentence,
          seed
        }
      })),
      SAMPLE_RATE
    )
} as const
type Scenario = keyof typeof scenarios

const quantile = (xs: ReadonlyArray<number>, q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!

const runCase = async (scenario: Scenario) => {
  const synthesize = scenarios[scenario]()
  for (let i = 0; i < 500; i++) await Effect.runPromise(synthesize(i))
  const perRequest: Array<number> = []
  for (let done = 0; done < REQUESTS; done += BATCH) {
    const t0 = performance.now()
    for (let i = 0; i < BATCH; i++) await Effect.runPromise(synthesize(done + i))
    perRequest.push(((performance.now() - t0) * 1000) / BATCH)
  }
  console.log(JSON.stringify({ scenario, requests: REQUESTS, medianUs: quantile(perRequest, 0.5), p99Us: quantile(perRequest, 0.99), peakMb: Memory.procfs().readMb() }))
}

const parent = () => {
  const self = fileURLToPath(import.meta.url)
  const rows = (Object.keys(scenarios) as Array<Scenario>).map((scenario) => {
    const out = execFileSync(process.execPath, [self, "--case", scenario], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    const row = JSON.parse(out.trim().split("\n").at(-1)!) as { scenario: Scenario; medianUs: number; p99Us: number; peakMb: number | undefined }
    console.log(JSON.stringify(row))
    return row
  })
  const by = (s: Scenario) => rows.find((r) => r.scenario === s)!
  const us = (n: number) => n.toFixed(1)
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU"
  const table = [
    "# The synthesis runner's cost per request",
    "",
    `\`node bench/synthesis-overhead.ts\` (REQUESTS=${REQUESTS}); ${cpu}, ${os.availableParallelism()} CPUs, Node ${process.version}; the Mock engine, "${TEXT}" (one chunk, ${(mockAudio(TEXT, "announcer", 0).length / SAMPLE_RATE).toFixed(1)} s of audio), a fresh process per row, 500 warm-up requests.`,
    "",
    "| scenario | µs per request (median) | p99 | peak RSS MB |",
    "|---|---:|---:|---:|",
    ...rows.map((r) => `| ${r.scenario} | ${us(r.medianUs)} | ${us(r.p99Us)} | ${r.peakMb ?? "n/a"} |`),
    "",
    `The recipe costs ${us(by("recipe").medianUs - by("direct").medianUs)} µs per request over the direct calls (median): two lean pipeline runs (prepare: 2 stages; one chunk: 2 stages), their stage records, and nothing per token.`,
    ""
  ].join("\n")
  fs.writeFileSync(path.join(import.meta.dirname, "results", "synthesis-overhead.md"), table)
  console.log(table)
}

if (process.argv[2] === "--case") await runCase(process.argv[3] as Scenario)
else parent()
