import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Services reach each other through the bus and extension points only.
      'no-restricted-imports': ['error', { patterns: [{ group: ['../../services/*', '../services/*'], message: 'services never import each other: use the bus or an extension point' }] }],
    },
  },
  {
    files: ['src/api/**', 'src/node/**', 'test/**', 'bench/**', 'src/cli/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  { ignores: ['node_modules', 'dist', 'web/dist', 'bench/tmp'] },
);
