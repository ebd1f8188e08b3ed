// The UI is a static single-page app: Perdure's HTTP port serves `build/` and answers unknown
// non-API paths with index.html, so every page is rendered in the browser (ssr off in +layout.js).
import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
export default {
  // @temporalio/ui ships its components as `<script lang="ts">` sources: strip the types.
  preprocess: vitePreprocess({ script: true }),
  kit: {
    adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: false }),
    prerender: { entries: [] },
  },
};
