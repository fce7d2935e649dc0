import { api, messageOf, session, signOut } from '../api.js'
import { codeField, field, h, page, recoveryCodes, say, status } from '../dom.js'
import { go } from '../router.js'

const when = (iso: string) => new Date(iso).toLocaleString()

/** Security: the second factor, the password, protected actions, sessions, trusted devices, events. */
export async function securityPage () {
  const [me, tfa, settings, sessions, devices, events] = await Promise.all([
    api.GET('/me'), api.GET('/tfa'), api.GET('/tfa/settings'), api.GET('/sessions'), api.GET('/tfa/trusted-devices'), api.GET('/tfa/events', { params: { query: { limit: 20 } } })
  ])
  if (me.data === undefined || tfa.data === undefined) { go('#/sign-in'); return }
  const state = tfa.data
  const reload = () => { securityPage() }
  const codeHint = state.method === 'sms' ? 'The code from an SMS (use “Send me a code” first).' : 'The code from your authenticator app.'

  const section = (id: string, title: string, ...children: Array<Node | null>) =>
    h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children)

  // A form asking for one code (or, where allowed, a recovery code) before an action.
  function codeForm (label: string, submitText: string, run: (code: { totp?: string, recovery_code?: string }, message: HTMLElement) => Promise<void>, allowRecovery = false) {
    const code = codeField(label, codeHint)
    const recovery = field('Or a recovery code', { name: 'recovery_code', autocomplete: 'off', spellcheck: 'false' })
    code.input.required = false
    const message = status()
    const submit = h('button', { type: 'submit' }, submitText)
    const form = h('form', { novalidate: true }, code.wrap, allowRecovery ? recovery.wrap : null, message, h('div', { class: 'actions' }, submit))
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      const totp = code.input.value.trim()
      const recoveryCode = recovery.input.value.trim()
      if (totp === '' && recoveryCode === '') { say(message, 'Enter a code.', 'error'); return }
      submit.disabled = true
      run(totp !== '' ? { totp } : { recovery_code: recoveryCode }, message).finally(() => { submit.disabled = false })
    })
    return form
  }

  const tfaParts: Array<Node | null> = [
    h('dl', { class: 'facts' },
      h('dt', {}, 'Two-factor'), h('dd', { 'data-testid': 'tfa-state' }, state.enabled ? 'On' : 'Off'),
      ...(state.enabled
        ? [h('dt', {}, 'Method'), h('dd', {}, state.method === 'sms' ? `SMS to ${state.phone ?? ''}` : 'Authenticator app'),
            h('dt', {}, 'Device'), h('dd', { 'data-testid': 'device-name' }, state.device_name ?? 'unnamed'),
            h('dt', {}, 'Recovery codes left'), h('dd', {}, String(state.recovery_codes_left))]
        : []))
  ]
  if (!state.enabled) {
    tfaParts.push(h('p', {}, h('a', { class: 'button primary', href: '#/enrol' }, 'Set up two-factor')))
  } else {
    if (state.method === 'sms') {
      const sendMessage = status()
      tfaParts.push(h('p', {}, h('button', {
        type: 'button',
        onclick: () => { api.POST('/tfa/sms/send').then(r => say(sendMessage, r.error === undefined ? 'Code sent.' : messageOf(r.error), r.error === undefined ? 'ok' : 'error')) }
      }, 'Send me a code'), sendMessage))
    }
    const rename = field('Device name', { name: 'device_name', maxlength: 64, value: state.device_name ?? '', autocomplete: 'off' })
    const renameMessage = status()
    const renameForm = h('form', { novalidate: true }, rename.wrap, renameMessage, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Rename')))
    renameForm.addEventListener('submit', (event) => {
      event.preventDefault()
      api.PATCH('/tfa', { body: { device_name: rename.input.value.trim() } }).then(r => r.error === undefined ? reload() : say(renameMessage, messageOf(r.error), 'error'))
    })
    const codesSlot = h('div', {})
    tfaParts.push(
      h('h3', {}, 'Rename the device'), renameForm,
      h('h3', {}, 'New recovery codes'), h('p', {}, 'The old ones stop working.'),
      codeForm('Code', 'Make new recovery codes', async (code, message) => {
        const r = await api.POST('/tfa/recovery-codes', { body: { totp: code.totp ?? '' } })
        if (r.data === undefined) { say(message, messageOf(r.error), 'error'); return }
        codesSlot.replaceChildren(recoveryCodes(r.data.recovery_codes, reload))
      }), codesSlot,
      h('h3', {}, 'Turn two-factor off'),
      codeForm('Code', 'Turn off two-factor', async (code, message) => {
        const r = await api.POST('/tfa/disable', { body: code as { totp: string } })
        if (r.data === undefined) { say(message, messageOf(r.error), 'error'); return }
        reload()
      }, true))
  }

  const protectedActions = settings.data?.protected_actions ?? []
  const passwordProtected = state.enabled && protectedActions.includes('password_change')
  const current = field('Current password', { name: 'current_password', type: 'password', autocomplete: 'current-password', required: true })
  const next = field('New password', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 })
  const passwordCode = codeField('Code', codeHint)
  const passwordMessage = status()
  const passwordForm = h('form', { novalidate: true }, current.wrap, next.wrap, passwordProtected ? passwordCode.wrap : null, passwordMessage,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Change password')))
  passwordForm.addEventListener('submit', (event) => {
    event.preventDefault()
    api.POST('/password', {
      body: { current_password: current.input.value, new_password: next.input.value, ...(passwordProtected ? { totp: passwordCode.input.value.trim() } : {}) }
    }).then(r => {
      if (r.error !== undefined) { say(passwordMessage, messageOf(r.error), 'error'); return }
      passwordForm.reset()
      say(passwordMessage, 'Password changed.', 'ok')
    })
  })

  const actionBoxes = (['login', 'password_change'] as const).map(action => {
    const box = h('input', { type: 'checkbox', id: `protect-${action}`, name: action, checked: protectedActions.includes(action) })
    return { action, box, row: h('div', { class: 'check' }, box, h('label', { for: `protect-${action}` }, action === 'login' ? 'Signing in' : 'Changing the password')) }
  })
  const settingsForm = codeForm('Code', 'Save', async (code, message) => {
    const r = await api.PUT('/tfa/settings', { body: { protected_actions: actionBoxes.filter(a => a.box.checked).map(a => a.action), totp: code.totp ?? '' } })
    say(message, r.error === undefined ? 'Saved.' : messageOf(r.error), r.error === undefined ? 'ok' : 'error')
  })
  settingsForm.prepend(h('fieldset', {}, h('legend', {}, 'Ask for a code when'), ...actionBoxes.map(a => a.row),
    h('p', { class: 'hint' }, `Always asked: ${(settings.data?.always_protected ?? []).join(', ').replaceAll('_', ' ')}.`)))

  const sessionMessage = status()
  const sessionRows = (sessions.data?.sessions ?? []).map(s => h('li', { 'data-current': s.current ? 'true' : 'false' },
    h('span', {}, `${s.user_agent ?? 'Unknown browser'} · ${s.ip ?? ''} · signed in ${when(s.created_at)}`),
    s.current
      ? h('strong', { class: 'tag' }, 'This device')
      : h('button', { type: 'button', onclick: () => { api.DELETE('/sessions/{id}', { params: { path: { id: s.id } } }).then(reload) } }, 'End')))
  const deviceRows = (devices.data?.devices ?? []).map(d => h('li', {},
    h('span', {}, `${d.name} · last used ${when(d.last_used_at)} · until ${when(d.expires_at)}`),
    h('button', { type: 'button', onclick: () => { api.DELETE('/tfa/trusted-devices/{id}', { params: { path: { id: d.id } } }).then(reload) } }, 'Forget')))

  const reminder = session()?.reminder
  page(`Security for ${me.data.username}`,
    reminder !== undefined && !state.enabled
      ? h('p', { class: 'notice' }, `Two-factor authentication becomes mandatory on ${new Date(reminder).toLocaleDateString()}: `, h('a', { href: '#/enrol' }, 'set it up now'), '.')
      : null,
    section('s-tfa', 'Two-factor authentication', ...tfaParts),
    section('s-password', 'Password', passwordForm),
    state.enabled ? section('s-protect', 'Protected actions', settingsForm) : null,
    section('s-sessions', 'Where you are signed in',
      h('ul', { class: 'rows', 'data-testid': 'sessions' }, ...sessionRows),
      h('div', { class: 'actions' }, h('button', {
        type: 'button',
        onclick: () => { api.DELETE('/sessions').then(r => { if (r.error !== undefined) say(sessionMessage, messageOf(r.error), 'error'); else reload() }) }
      }, 'Sign out everywhere else')), sessionMessage),
    section('s-devices', 'Remembered devices', deviceRows.length === 0 ? h('p', {}, 'None: every sign-in asks for a code.') : h('ul', { class: 'rows', 'data-testid': 'trusted-devices' }, ...deviceRows)),
    section('s-events', 'Recent security events', h('ul', { class: 'rows', 'data-testid': 'events' },
      ...(events.data?.events ?? []).map(e => h('li', {}, h('span', {}, `${when(e.created_at)} · ${e.type.replaceAll('_', ' ').replaceAll('.', ': ')}${e.ip ? ` · ${e.ip}` : ''}`))))),
    h('p', {}, h('button', { type: 'button', onclick: () => { signOut().then(() => go('#/sign-in')) } }, 'Sign out')))
}
