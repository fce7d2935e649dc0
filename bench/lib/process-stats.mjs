// CPU time and memory of a process, read from /proc (Linux).
import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim())

/** utime + stime (fields 14 and 15 of /proc/…/stat) in milliseconds. */
function cpuMsOf (statPath) {
  const fields = readFileSync(statPath, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLK_TCK
}

export function processStats (pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return {
    cpuMs: cpuMsOf(`/proc/${pid}/stat`),
    // The main thread (tid = pid) alone: the JavaScript and syscalls of a request, without the
    // hashing threads and V8's helpers.
    mainCpuMs: cpuMsOf(`/proc/${pid}/task/${pid}/stat`),
    rssMb: kb('VmRSS') / 1024,
    peakRssMb: kb('VmHWM') / 1024
  }
}
