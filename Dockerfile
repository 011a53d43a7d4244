# syntax=docker/dockerfile:1
#
# One image for every Push.Grpc component: the `push` CLI (services/Push.Cli) with the subcommands
# `registry`, `gateway` and `worker`. The Helm chart in charts/push runs it three ways.
#
#   docker build -t push-grpc/push:0.1.0 .
#   docker run --rm -p 8283:8283 -p 8284:8284 push-grpc/push:0.1.0 \
#     registry --grpc 0.0.0.0:8283 --http 0.0.0.0:8284
#
# Ports: 8282 public WebSocket (gateway, HTTP/1.1), 8283 gRPC h2c (all components),
#        8284 internal HTTP: /healthz/live, /healthz/ready, /metrics.
# No HEALTHCHECK: the image has no HTTP client; Kubernetes probes the internal port instead.
#
# Without access to mcr.microsoft.com or without BuildKit (RUN --mount), deploy/build-image.sh TAG builds the same
# image from this machine's SDK into a FROM scratch image (deploy/push.Dockerfile): same user, entrypoint, ports,
# labels and environment; tests/Push.ToolingTests/ContainerClusterTests.cs checks that the two agree.

ARG DOTNET_VERSION=10.0

# ---- build ------------------------------------------------------------------------------------
# Runs on the builder's own platform: the output is framework-dependent IL without an apphost,
# so one publish serves every target architecture of a multi-platform build.
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1 \
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
WORKDIR /src
# .dockerignore admits only the build inputs: global.json, Directory.*.props/targets,
# .editorconfig, NuGet.config, protos/ and services/ (without bin/ and obj/).
COPY . .
RUN --mount=type=cache,id=push-nuget,target=/root/.nuget/packages \
    dotnet publish services/Push.Cli/Push.Cli.csproj \
      --configuration Release \
      --output /app \
      -p:UseAppHost=false \
      -p:DebugType=none

# ---- runtime ----------------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="push" \
      org.opencontainers.image.description="Push.Grpc real-time push suite: registry, gateway and worker in one image" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# The listeners come from the push command line (--ws/--grpc/--http); drop the base image's
# default http://+:8080 binding so Kestrel does not open or warn about it.
ENV ASPNETCORE_HTTP_PORTS= \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
WORKDIR /app
# Owned by root and read-only for the app user; the root filesystem can be mounted read-only
# (the chart does, with an emptyDir at /tmp).
COPY --from=build /app ./
# The base image's non-root `app` user (UID/GID 1654, exported as APP_UID).
USER $APP_UID
EXPOSE 8282 8283 8284
ENTRYPOINT ["dotnet", "/app/push.dll"]
