import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

/**
 * /metrics on a listener of its own: the public port never serves it, and the operator decides
 * who reaches this one (METRICS_HOST, a network policy). Nothing else is served.
 */
export async function listenForScrapes (registry: Registry, { port, host }: { port: number, host: string }): Promise<{ address: () => AddressInfo, close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: GET /metrics\n')
      return
    }
    registry.metrics().then((text) => {
      response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text)
    }, () => {
      response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n')
    })
  })
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  return {
    address: () => server.address() as AddressInfo,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
