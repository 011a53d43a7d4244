# The push image built offline by deploy/build-image.sh (no base image to pull): the build context is a root
# filesystem the script assembled on the host (the publish in /app, the .NET runtime in /usr/share/dotnet, the
# libraries it needs, /bin/sh, /etc/passwd with the `app` user). Everything below mirrors the runtime stage of the
# root Dockerfile (mcr.microsoft.com/dotnet/aspnet base); tests/Push.ContainerTests checks that they agree.
FROM scratch AS push
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="push" \
      org.opencontainers.image.description="Push.Grpc real-time push suite: registry, gateway and worker in one image" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY rootfs/ /
# As the aspnet base image: dotnet on PATH, DOTNET_RUNNING_IN_CONTAINER, no default http://+:8080 binding.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DOTNET_ROOT=/usr/share/dotnet \
    DOTNET_RUNNING_IN_CONTAINER=true \
    APP_UID=1654 \
    ASPNETCORE_HTTP_PORTS= \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
WORKDIR /app
USER 1654
EXPOSE 8282 8283 8284
ENTRYPOINT ["dotnet", "/app/push.dll"]
