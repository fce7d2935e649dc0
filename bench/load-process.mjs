// An autocannon run in a process of its own at the lowest CPU priority: the load of someone
// else's machine (a flood's sender), which on a real deployment costs the service nothing.
// Reads its options as JSON from argv[2], starts when a line arrives on stdin (so its load and
// the measured one cover the same seconds); prints the statuses it got as JSON.
import autocannon from 'autocannon'
import os from 'node:os'

os.setPriority(19)
const options = JSON.parse(process.argv[2])
await new Promise((resolve) => process.stdin.once('data', resolve))
process.stdin.destroy()
const statuses = {}
const instance = autocannon(options)
instance.on('response', (_client, status) => { statuses[status] = (statuses[status] ?? 0) + 1 })
const result = await instance
const total = Object.values(statuses).reduce((a, b) => a + b, 0)
process.stdout.write(JSON.stringify({ rps: total / options.duration, statuses, errors: result.errors, timeouts: result.timeouts }))
