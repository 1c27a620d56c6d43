/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The app lives under /app/ on the API's origin (the local stack and CloudFront serve it there), so its pages
// never collide with API paths such as /offers. `npm run dev` proxies the API to a running local stack.
const api = process.env.GPUBROKER_API_URL ?? "http://127.0.0.1:3000";
const apiPaths = ["/offers", "/market", "/presets", "/providers", "/gpus", "/auth", "/me", "/ai", "/bookings",
  "/billing", "/audit", "/math", "/interactions", "/health", "/openapi.json", "/app/config.json"];

export default defineConfig({
  base: "/app/",
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, manifest: true, chunkSizeWarningLimit: 400 },
  server: { proxy: Object.fromEntries(apiPaths.map((p) => [p, api])) },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
