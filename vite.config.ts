import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

// The Go server; override with CTB_BACKEND when it runs elsewhere.
const backend = process.env.CTB_BACKEND ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: 'frontend',
  // Every asset URL is relative, so the page also works under a sub-path like /game/.
  base: './',
  // root is frontend/, so point the plugin at the top-level svelte.config.js.
  plugins: [svelte({ configFile: fileURLToPath(new URL('./svelte.config.js', import.meta.url)) })],
  server: {
    port: 5173,
    strictPort: true,
    // No changeOrigin: the server compares the Origin host with the Host header,
    // which the proxy keeps as localhost:5173.
    proxy: {
      '/api': { target: backend },
      '/ws': { target: backend, ws: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
  },
});
