/**
 * The manual's examples compile and its links resolve. Every ```ts block of
 * README.md and docs/*.md is written as a module of its own into a fresh
 * folder under .cache/ (inside the repository, so that node_modules
 * resolves) and type-checked by the repository's TypeScript with the
 * package's own names (`bark-pipeline`, `bark-pipeline/pipeline`, …) mapped
 * to the sources. The modules sit in the folder's `pipelines/`, and
 * `rootDirs` merges the folder with the repository, so a recipe written for
 * this checkout (`import … from "../src/…"`, `"./startup.ts"`) resolves as it
 * would in `pipelines/`. Every relative Markdown link, and its `#anchor`,
 * must name an existing file and heading.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot } from "../support/cli.ts"

interface Page {
  /** Relative to the repository root, e.g. `docs/service.md`. */
  readonly name: string
  readonly text: string
}

interface Block {
  readonly page: string
  /** 1-based, counting the page's ts blocks only. */
  readonly index: number
  /** The page's line the block's first code line is on. */
  readonly line: number
  readonly code: string
}

const TS_LANGS = new Set(["ts", "typescript", "mts"])

/** README.md and every docs/*.md. */
const manual = (): ReadonlyArray<Page> =>
  ["README.md", ...fs.readdirSync(path.join(repoRoot, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)]
    .map((name) => ({ name, text: fs.readFileSync(path.join(repoRoot, name), "utf8") }))

interface Fence {
  readonly lang: string
  /** 1-based line of the first line inside the fence. */
  readonly line: number
  /** 1-based lines of the opening and the closing fence. */
  readonly opens: number
  readonly closes: number
  readonly code: string
}

/** The fenced code blocks of a Markdown text (CommonMark fences, indented ones in list items included). */
const fences = (markdown: string): ReadonlyArray<Fence> => {
  const lines = markdown.split("\n")
  const found: Array<Fence> = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!)
    if (open === null) continue
    const [, indent, marker] = open as unknown as [string, string, string, string]
    const close = new RegExp(`^\\s*${marker[0] === "`" ? "`" : "~"}{${marker.length},}\\s*$`)
    const body: Array<string> = []
    let j = i + 1
    while (j < lines.length && !close.test(lines[j]!)) {
      const l = lines[j]!
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart())
      j++
    }
    found.push({ lang: (open[3] ?? "").toLowerCase(), line: i + 2, opens: i + 1, closes: j + 1, code: body.join("\n") + "\n" })
    i = j
  }
  return found
}

const tsBlocks = (page: Page): ReadonlyArray<Block> =>
  fences(page.text).filter((f) => TS_LANGS.has(f.lang)).map((f, i) => ({ page: page.name, index: i + 1, line: f.line, code: f.code }))

/** How many ts fences a page opens, counted apart from the parser (so that a parsing bug cannot hide blocks). */
const tsFencesOpened = (page: Page) => page.text.split("\n").filter((l) => /^\s*(`{3,}|~{3,})\s*(ts|typescript|mts)\s*$/i.test(l)).length

const moduleName = (block: Block) => `${block.page.replace(/\.md$/, "").replace(/[^A-Za-z0-9]+/g, "-")}-${block.index}.ts`

const ENTRIES: Readonly<Record<string, string>> = {
  "bark-pipeline": "src/index.ts",
  "bark-pipeline/pipeline": "src/pipeline/index.ts",
  "bark-pipeline/bark": "src/bark/index.ts",
  "bark-pipeline/server": "src/server/index.ts",
  "bark-pipeline/testing": "src/testing/index.ts"
}

/** Writes each block as a module under a fresh .cache/ folder, runs tsc on them, and removes the folder. */
const typeCheck = (blocks: ReadonlyArray<Block>): { readonly status: number | null; readonly output: string } => {
  fs.mkdirSync(path.join(repoRoot, ".cache"), { recursive: true })
  const dir = fs.mkdtempSync(path.join(repoRoot, ".cache", "docs-examples-"))
  try {
    const modules = path.join(dir, "pipelines")
    fs.mkdirSync(modules)
    const where = new Map<string, Block>()
    for (const block of blocks) {
      const file = moduleName(block)
      where.set(file, block)
      fs.writeFileSync(path.join(modules, file), block.code)
    }
    const tsconfig = path.join(dir, "tsconfig.json")
    fs.writeFileSync(
      tsconfig,
      JSON.stringify(
        {
          extends: path.join(repoRoot, "tsconfig.json"),
          compilerOptions: {
            strict: true,
            module: "NodeNext",
            moduleResolution: "NodeNext",
            noEmit: true,
            allowImportingTsExtensions: true,
            types: ["node"],
            skipLibCheck: true,
            rootDirs: [repoRoot, dir],
            paths: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, [path.join(repoRoot, file)]]))
          },
          include: [],
          files: [...where.keys()].map((file) => `pipelines/${file}`)
        },
        null,
        2
      )
    )
    const r = spawnSync(process.execPath, [path.join(repoRoot, "node_modules", ".bin", "tsc"), "-p", tsconfig], {
      cwd: dir,
      encoding: "utf8",
      timeout: 300_000
    })
    // pipelines/docs-service-2.ts(5,3): … → docs/service.md:130:3 (block 2): …
    const output = `${r.stdout}${r.stderr}${r.error === undefined ? "" : String(r.error)}`.replace(
      /(?:\S*[\\/])?pipelines[\\/]([^\s(/\\]+\.ts)\((\d+),(\d+)\)/g,
      (whole, file: string, line: string, column: string) => {
        const block = where.get(file)
        return block === undefined ? whole : `${block.page}:${block.line + Number(line) - 1}:${column} (ts block ${block.index})`
      }
    )
    return { status: r.status, output }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The 1-based lines of a page that are code blocks, fences included. */
const codeLines = (markdown: string): ReadonlySet<number> => {
  const lines = new Set<number>()
  for (const f of fences(markdown)) for (let l = f.opens; l <= f.closes; l++) lines.add(l)
  return lines
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen; repeats get -1, -2, … */
const anchors = (markdown: string): ReadonlySet<string> => {
  const inCode = codeLines(markdown)
  const seen = new Map<string, number>()
  const out = new Set<string>()
  markdown.split("\n").forEach((line, i) => {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (h === null || inCode.has(i + 1)) return
    const text = h[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    const slug = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-")
    const n = seen.get(slug) ?? 0
    seen.set(slug, n + 1)
    out.add(n === 0 ? slug : `${slug}-${n}`)
  })
  return out
}

/** The relative links and images of a page outside code: `[text](target)`, with the target's line. */
const links = (markdown: string): ReadonlyArray<{ readonly target: string; readonly line: number }> => {
  const inCode = codeLines(markdown)
  const found: Array<{ target: string; line: number }> = []
  markdown.split("\n").forEach((line, i) => {
    if (inCode.has(i + 1)) return
    const prose = line.replace(/`[^`]*`/g, "")
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:
      found.push({ target, line: i + 1 })
    }
  })
  return found
}

/** Every relative link of the pages that does not name an existing file (and heading, for `#anchor`). */
const brokenLinks = (pages: ReadonlyArray<Page>, root: string): ReadonlyArray<string> => {
  const headings = new Map<string, ReadonlySet<string>>(pages.map((p) => [path.join(root, p.name), anchors(p.text)]))
  const anchorsOf = (file: string) => {
    if (!headings.has(file)) headings.set(file, anchors(fs.readFileSync(file, "utf8")))
    return headings.get(file)!
  }
  const broken: Array<string> = []
  for (const page of pages) {
    for (const { target, line } of links(page.text)) {
      const [file = "", anchor] = target.split("#") as [string, string | undefined]
      const resolved = file === "" ? path.join(root, page.name) : path.resolve(path.dirname(path.join(root, page.name)), decodeURI(file))
      const at = `${page.name}:${line}: ${target}`
      if (file !== "" && !fs.existsSync(resolved)) broken.push(`${at} (no file ${path.relative(root, resolved)})`)
      else if (anchor !== undefined && anchor !== "" && resolved.endsWith(".md") && !anchorsOf(resolved).has(anchor)) {
        broken.push(`${at} (no heading #${anchor} in ${path.relative(root, resolved)})`)
      }
    }
  }
  return broken
}

describe("the manual's TypeScript examples", () => {
  const pages = manual()

  it("finds every ts block on every page that has them", () => {
    for (const page of pages) expect(tsBlocks(page).length, page.name).toBe(tsFencesOpened(page))
    const withBlocks = pages.filter((p) => tsFencesOpened(p) > 0).map((p) => p.name)
    expect(withBlocks).toContain("README.md")
    for (const name of withBlocks) expect(tsBlocks(pages.find((p) => p.name === name)!).length, name).toBeGreaterThanOrEqual(1)
  })

  it("type-checks every one of them", () => {
    const blocks = pages.flatMap(tsBlocks)
    expect(blocks.length).toBeGreaterThanOrEqual(2)
    const { status, output } = typeCheck(blocks)
    expect(status, output).toBe(0)
  }, 300_000)

  it("bites: a planted block with a type error fails, and is reported at its page and line", () => {
    const planted: Page = {
      name: "docs/planted.md",
      text: [
        "# Planted",
        "",
        "```sh",
        "echo this is not TypeScript",
        "```",
        "",
        "- in a list:",
        "",
        "  ```ts",
        "  import { Pipeline } from \"bark-pipeline/pipeline\"",
        "  export const p = Pipeline.make(\"p\", \"fine\")",
        "  ```",
        "",
        "```ts",
        "import { Pipeline } from \"bark-pipeline/pipeline\"",
        "export const p: number = Pipeline.make(\"p\", \"not a number\")",
        "```",
        ""
      ].join("\n")
    }
    const blocks = tsBlocks(planted)
    expect(blocks.map((b) => [b.index, b.line])).toEqual([[1, 10], [2, 15]])
    expect(tsFencesOpened(planted)).toBe(2)
    const { status, output } = typeCheck(blocks)
    expect(status, output).not.toBe(0)
    expect(output).toMatch(/docs\/planted\.md:16:\d+ \(ts block 2\): error TS2322/)
    expect(output).not.toContain("ts block 1)")
  }, 300_000)
})

describe("the manual's links", () => {
  it("point at files and headings that exist", () => {
    expect(brokenLinks(manual(), repoRoot)).toEqual([])
  })

  it("bites: a missing file or heading is reported, a URL or a link in code is not", () => {
    const planted: Page = {
      name: "docs/planted.md",
      text: [
        "# Planted page",
        "",
        "## A section: with `code`, and (parentheses)",
        "",
        "[ok](install.md) [ok](#a-section-with-code-and-parentheses) [ok](../README.md#layout) ![ok](trace-example.svg)",
        "[gone](nowhere.md) [gone](install.md#no-such-heading) [web](https://example.com/x.md) `[code](nowhere.md)`",
        "",
        "```md",
        "[in a block](nowhere-either.md)",
        "```",
        ""
      ].join("\n")
    }
    expect(brokenLinks([planted], repoRoot)).toEqual([
      "docs/planted.md:6: nowhere.md (no file docs/nowhere.md)",
      "docs/planted.md:6: install.md#no-such-heading (no heading #no-such-heading in docs/install.md)"
    ])
  })
})
