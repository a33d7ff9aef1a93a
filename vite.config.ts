import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type ProxyOptions } from 'vite';

// The dashboard lives in web/ and is served by the admin listener from dist/web (server/api/index.ts).
// Unit tests have their own vitest.config.ts: this root would hide them.
const admin = 'http://127.0.0.1:8081';
// The admin listener refuses other Host names and origins (server/api/guard.ts). Calls from this dev server's
// own pages are presented as the admin's own; another origin's keep their Origin and stay refused.
const toAdmin: ProxyOptions = {
  target: admin,
  changeOrigin: true,
  configure: (proxy) =>
    proxy.on('proxyReq', (proxyReq, req) => {
      if (req.headers.origin === `http://${req.headers.host}`) proxyReq.setHeader('origin', admin);
    }),
};

export default defineConfig({
  // Absolute, so that a build started from another working directory (npm start, tests) finds web/.
  root: fileURLToPath(new URL('./web', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    // Charts are the heaviest dependency and change least: a separate chunk caches across releases.
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [
            { name: 'react', test: /node_modules[\\/](react|react-dom|scheduler)[\\/]/ },
            {
              name: 'charts',
              test: /node_modules[\\/](recharts|d3-|victory-vendor|@reduxjs|redux|immer|reselect|es-toolkit|decimal\.js-light|eventemitter3|react-redux|use-sync-external-store|tiny-invariant|clsx)/,
            },
          ],
        },
      },
    },
  },
  server: {
    proxy: { '/api': toAdmin, '/metrics': toAdmin },
  },
});
