// Every process the bench starts is killed when it exits, however it exits: a server or load
// generator left behind would skew the next run.
const children = new Set()
process.on('exit', () => { for (const c of children) c.kill('SIGKILL') })
process.on('SIGINT', () => process.exit(130))

export function track (child) {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}
