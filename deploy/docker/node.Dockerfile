# syntax=docker/dockerfile:1
# Autocomplete (Node.js 20), built from the repository root: docker buildx bake -f deploy/docker/docker-bake.json autocomplete

FROM node:20-alpine AS build
WORKDIR /app
COPY services/Autocomplete/package.json services/Autocomplete/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY services/Autocomplete/src ./src
COPY services/Autocomplete/data ./data

FROM node:20-alpine AS final
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=build /app .
EXPOSE 8080
# The image's unprivileged "node" user (uid 1000); nothing is written at run time.
USER node
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD wget -q -O /dev/null http://127.0.0.1:8080/health/live || exit 1
ENTRYPOINT ["node", "src/main.js"]
