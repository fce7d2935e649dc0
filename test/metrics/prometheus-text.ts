// A strict reader of Prometheus' text exposition format (0.0.4), for tests: every line must be
// a HELP, a TYPE or a sample, or the parse fails, so a malformed scrape can't pass unnoticed.
export interface Sample { name: string, labels: Record<string, string>, value: number }
export interface Exposition { samples: Sample[], types: Map<string, string>, help: Map<string, string> }

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?[0-9]+)?$`)
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\]|\\\\.)*)",?/y

export function parseExposition (text: string): Exposition {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  const help = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta !== null) {
      if (!new RegExp(`^${NAME}$`).test(meta[2]!)) throw new Error(`bad metric name: ${line}`)
      if (meta[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]!)) throw new Error(`bad type: ${line}`)
        types.set(meta[2]!, meta[3]!)
      } else help.set(meta[2]!, meta[3]!)
      continue
    }
    const match = SAMPLE.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    const body = match[2] ?? ''
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body)
      if (label === null) throw new Error(`bad labels: ${line}`)
      labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
    }
    // Go's ParseFloat, as Prometheus reads values: NaN and Inf in any case.
    const raw = match[3]!.toLowerCase()
    const value = raw === '+inf' || raw === 'inf' ? Infinity : raw === '-inf' ? -Infinity : raw === 'nan' ? NaN : Number(raw)
    if (Number.isNaN(value) && raw !== 'nan') throw new Error(`bad value: ${line}`)
    samples.push({ name: match[1]!, labels, value })
  }
  return { samples, types, help }
}

/** The value of one sample (0 when absent), matching every given label. */
export function valueOf (exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return exposition.samples
    .filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0)
}
