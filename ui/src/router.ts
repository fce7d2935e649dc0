// Hash routes: a static server needs no fallback, and a reload stays on its page.
export type Route = '#/sign-in' | '#/register' | '#/enrol' | '#/security'

export function go (route: Route) {
  if (location.hash === route) window.dispatchEvent(new HashChangeEvent('hashchange'))
  else location.hash = route
}
