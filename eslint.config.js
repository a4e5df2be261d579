// Lint: the recommended JS and TypeScript rules; generated and vendored folders are ignored.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'demo-out/**', 'bench/out/**', 'coverage/**', '.scratch/**', '.gpu/**', '.gl/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'prefer-const': 'error',
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    // the review page runs in the browser
    files: ['web/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(['document', 'window', 'localStorage', 'fetch', 'FormData', 'Node', 'HTMLInputElement', 'HTMLTextAreaElement', 'setTimeout', 'clearTimeout', 'prompt', 'HTMLSelectElement', 'HashChangeEvent'].map((g) => [g, 'readonly'])),
    },
  },
);
