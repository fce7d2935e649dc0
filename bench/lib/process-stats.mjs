// CPU time and memory of a process, read from /proc (Linux).
import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

export const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim())

/**
 * A /proc/…/stat file: the command (between the outer parentheses: it may hold spaces), the
 * parent's pid, and utime + stime (fields 14 and 15) in milliseconds; null once it is gone.
 */
export function readStat (statPath) {
  let stat
  try { stat = readFileSync(statPath, 'utf8') } catch { return null }
  const close = stat.lastIndexOf(')')
  const fields = stat.slice(close + 2).split(' ')
  return { comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(fields[1]), cpuMs: (Number(fields[11]) + Number(fields[12])) * 1000 / CLK_TCK }
}

const cpuMsOf = (statPath) => readStat(statPath)?.cpuMs ?? 0

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
