import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Unit tests: plain .ts logic modules in a node environment.
export default defineConfig({
  plugins: [svelte()],
  test: {
    include: ['frontend/src/**/*.test.ts'],
    environment: 'node',
  },
});
