# The synthesis service as an image: `docker build -t bark-pipeline .`, then
# `docker run -p 8000:8000 -v bark-cache:/cache bark-pipeline` (serve --profile cpu).
#
# Stage 1 builds the npm package exactly as `npm pack` makes it for users;
# stage 2 installs that tarball with its peers into a fresh project, as
# test/package/package.test.ts does, so the image holds what the tests install.
FROM node:24-bookworm-slim AS package
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm pack --pack-destination /tmp && mv /tmp/bark-pipeline-*.tgz /tmp/bark-pipeline.tgz

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    BARK_HOST=0.0.0.0 \
    BARK_PORT=8000 \
    BARK_CACHE_DIR=/cache
WORKDIR /app
COPY --from=package /tmp/bark-pipeline.tgz /tmp/
RUN echo '{"name":"bark-service","private":true,"type":"module"}' > package.json \
 && npm install --no-audit --no-fund --onnxruntime-node-install=skip /tmp/bark-pipeline.tgz \
 && rm /tmp/bark-pipeline.tgz \
 && mkdir -p /cache && chown node:node /cache
# Models, converted graphs and voices live on a volume, shared by restarts and replicas.
VOLUME /cache
USER node
EXPOSE 8000
ENTRYPOINT ["node", "node_modules/bark-pipeline/bin/bark-pipeline.js"]
CMD ["serve", "--profile", "cpu"]
