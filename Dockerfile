# The synthesis service as an image: `docker build -t bark-pipeline .`, then
# `docker run -p 8000:8000 -v bark-cache:/cache bark-pipeline` (serve --profile cpu).
#
# Stage 1 builds the npm package exactly as `npm pack` makes it for users;
# stage 2 installs that tarball with its peers into a fresh project, as
# test/package/package.test.ts does, so the image holds what the tests install,
# plus the optional AAC encoder packages, so that the image serves aac.
#
# Both installs run with --strict-allow-scripts: a dependency's install script
# that package.json's `allowScripts` neither approves nor denies fails the
# build. Stage 1 uses the repository's allowScripts (the `node` package's
# binary allowed; onnxruntime-node's CUDA download, msgpackr-extract and
# protobufjs denied); stage 2's project denies the same three, as a consumer's
# package.json does, so the image gets onnxruntime's CPU binaries only.
# Both stages first install the npm that this policy was checked with: an npm
# without allowScripts warns about the unknown flag and runs every script
# (onnxruntime-node's would then download its CUDA binaries).
ARG NPM_VERSION=11.19.1

FROM node:24-bookworm-slim AS package
ARG NPM_VERSION
RUN npm install --global --no-audit --no-fund npm@${NPM_VERSION}
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --strict-allow-scripts --no-audit --no-fund
COPY . .
RUN npm pack --pack-destination /tmp && mv /tmp/bark-pipeline-*.tgz /tmp/bark-pipeline.tgz

FROM node:24-bookworm-slim
ARG NPM_VERSION
RUN npm install --global --no-audit --no-fund npm@${NPM_VERSION}
ENV NODE_ENV=production \
    BARK_HOST=0.0.0.0 \
    BARK_PORT=8000 \
    BARK_CACHE_DIR=/cache
WORKDIR /app
COPY --from=package /tmp/bark-pipeline.tgz /tmp/
# mediabunny and @mediabunny/aac-encoder: optional peers, at package.json's devDependencies versions.
RUN echo '{"name":"bark-service","private":true,"type":"module","allowScripts":{"onnxruntime-node":false,"msgpackr-extract":false,"protobufjs":false}}' > package.json \
 && npm install --strict-allow-scripts --no-audit --no-fund /tmp/bark-pipeline.tgz mediabunny@1.61.0 @mediabunny/aac-encoder@1.59.0 \
 && rm /tmp/bark-pipeline.tgz \
 && mkdir -p /cache && chown node:node /cache
# Models, converted graphs and voices live on a volume, shared by restarts and replicas.
VOLUME /cache
USER node
EXPOSE 8000
ENTRYPOINT ["node", "node_modules/bark-pipeline/bin/bark-pipeline.js"]
CMD ["serve", "--profile", "cpu"]
