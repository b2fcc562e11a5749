# snapkeeper worker and API (one image, two commands; see docker-compose.temporal.yml).
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so a source change does not reinstall them. Dev dependencies stay: tsx runs
# the TypeScript sources directly, and the Temporal worker bundles workflow code at start-up.
COPY package.json package-lock.json ./
# --include=dev: NODE_ENV=production would otherwise leave them out.
RUN npm ci --include=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src

# The process itself is PID 1 (no npx/npm wrapper in between), so `docker stop` delivers SIGTERM
# straight to it and the worker drains its tasks before exiting.
USER node
CMD ["node", "--import", "tsx", "src/worker/main.ts"]
