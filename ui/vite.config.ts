import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

// Served by twofold at /ui/ (src/plugins/ui.ts) from dist/ui.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // No inline script anywhere: the page runs under script-src 'self'.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0
  }
})
