// Temporal's theme (colours, surfaces, text styles) comes from the library's own tailwind
// plugin; the library's components are scanned so their utility classes are generated.
import defaultTheme from 'tailwindcss/defaultTheme';
// By file path: tailwind loads its config through jiti (require-style resolution), which the
// package's import-only `exports` map does not serve.
import temporal, { textStyles } from './node_modules/@temporalio/ui/dist/theme/plugin.js';

export default {
  content: ['./src/**/*.{html,js,svelte}', './node_modules/@temporalio/ui/dist/**/*.{js,svelte}'],
  darkMode: ['selector', '[data-theme="dark"]'],
  theme: {
    fontFamily: {
      sans: ['Inter Variable', 'Inter', ...defaultTheme.fontFamily.sans],
      mono: ['Noto Sans Mono', ...defaultTheme.fontFamily.mono],
    },
    extend: { animation: { 'spin-slow': 'spin 3s linear infinite' }, zIndex: { 100: '100' } },
  },
  plugins: [temporal, textStyles],
};
