import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [sveltekit()],
  // The library's modules import each other without file extensions, which only a bundler
  // resolves: keep it bundled in the (unused) server build as well.
  ssr: { noExternal: ['@temporalio/ui'] },
  // `npm run dev` serves the app with hot reload and sends the API to a running Perdure
  // (PERDURE_HTTP, default its dev HTTP port).
  server: { proxy: { '/api': process.env.PERDURE_HTTP || 'http://127.0.0.1:7243' } },
  optimizeDeps: {
    // Dev-server pre-bundling cannot follow the library's `?worker` imports (monaco's); its
    // CommonJS dependencies are pre-bundled on their own instead.
    exclude: ['@temporalio/ui'],
    include: [
      'date-fns',
      'date-fns-tz',
      '@temporalio/ui > json-bigint',
      '@temporalio/ui > json-beautify',
      '@temporalio/ui > lodash.groupby',
      '@temporalio/ui > kebab-case',
      '@temporalio/ui > url-pattern',
      '@temporalio/ui > just-debounce',
      '@temporalio/ui > just-throttle',
      'tailwindcss/colors',
      'tailwindcss/plugin',
    ],
  },
  build: {
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      // The library's compiled components carry /* @__PURE__ */ comments rollup cannot place.
      onwarn(warning, warn) {
        if (warning.code !== 'INVALID_ANNOTATION') warn(warning);
      },
    },
  },
});
