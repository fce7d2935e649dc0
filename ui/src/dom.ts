// Elements built from data, never from HTML strings: nothing the API returns is parsed as markup.
type Child = Node | string | null | undefined | false
type Attrs = Record<string, string | boolean | number | EventListener | undefined>

export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    if (typeof value === 'function') el.addEventListener(name.slice(2), value)
    else el.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child)
  return el
}

let fieldIds = 0
/** A labelled input; the label's text is what a screen reader announces. */
export function field (label: string, attrs: Attrs, hint?: string): { wrap: HTMLDivElement, input: HTMLInputElement } {
  const id = `f${++fieldIds}`
  const hintId = hint === undefined ? undefined : `${id}-hint`
  const input = h('input', { id, ...(hintId ? { 'aria-describedby': hintId } : {}), ...attrs })
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input, hint === undefined ? null : h('p', { class: 'hint', id: hintId }, hint))
  return { wrap, input }
}

/** An input for a 6-digit code: the browser may offer the code from an SMS or a password manager. */
export function codeField (label: string, hint?: string) {
  return field(label, { name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9 ]{6,8}', maxlength: 8, required: true, spellcheck: 'false' }, hint)
}

/** A live region: what it says is read out when it changes. */
export function status (): HTMLParagraphElement {
  return h('p', { class: 'status', role: 'status', 'aria-live': 'polite' })
}

export function say (el: HTMLElement, text: string, kind: 'error' | 'info' | 'ok' = 'info') {
  el.textContent = text
  el.dataset.kind = kind
}

export function page (title: string, ...children: Child[]): HTMLElement {
  const main = document.getElementById('main')!
  main.replaceChildren(h('h1', {}, title), ...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false))
  document.title = `${title} · twofold`
  main.focus()
  return main
}

/** A wait as people read it: "45 s", "14 min 58 s". */
export const formatWait = (seconds: number) => seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`

/** Counts down the Retry-After wait in `el`, keeping `button` disabled until it is over. */
export function countdown (el: HTMLElement, seconds: number, button: HTMLButtonElement, text: (wait: string) => string, done: () => void) {
  let left = Math.max(1, Math.ceil(seconds))
  button.disabled = true
  say(el, text(formatWait(left)), 'error')
  const timer = setInterval(() => {
    left -= 1
    if (left > 0) { say(el, text(formatWait(left)), 'error'); return }
    clearInterval(timer)
    button.disabled = false
    done()
  }, 1000)
}

/** Recovery codes, shown once: a list, a download of a text file, and print. */
export function recoveryCodes (codes: string[], onDone: () => void): HTMLElement {
  const text = `twofold recovery codes (each works once)\n\n${codes.join('\n')}\n`
  const download = h('a', { class: 'button', download: 'twofold-recovery-codes.txt', href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })) }, 'Download')
  return h('section', { class: 'codes', 'aria-labelledby': 'codes-title' },
    h('h2', { id: 'codes-title' }, 'Your recovery codes'),
    h('p', {}, 'Keep them somewhere safe: each one signs you in once if you lose your phone. They are shown only now.'),
    h('ol', { class: 'code-list', 'data-testid': 'recovery-codes' }, ...codes.map(code => h('li', {}, h('code', {}, code)))),
    h('div', { class: 'actions' },
      download,
      h('button', { type: 'button', onclick: () => window.print() }, 'Print'),
      h('button', { type: 'button', class: 'primary', onclick: onDone }, 'I have saved them')))
}
