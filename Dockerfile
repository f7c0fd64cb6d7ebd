# The service image: Node 24 runs the TypeScript sources directly (type stripping).
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY views ./views
COPY migrations ./migrations
USER node
EXPOSE 3000
CMD ["bin/appgrant-server"]
