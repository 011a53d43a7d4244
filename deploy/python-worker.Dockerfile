# The Python example worker (examples/python/worker.py) built offline by deploy/build-image.sh --python-worker: the
# build context is a root filesystem holding /usr/bin/python3 with the files of Debian's python3-grpcio,
# python3-protobuf and their dependencies, and /app with the worker and its generated push.v1 stubs (/app/gen).
# The worker of "your own image" in charts/push/ci/custom-worker-values.yaml.
FROM scratch AS python-worker
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="push-worker-python" \
      org.opencontainers.image.description="Push.Grpc example business worker in Python (examples/python/worker.py)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PUSH_PY_GEN=/app/gen \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER 1654
EXPOSE 8283
ENTRYPOINT ["/usr/bin/python3", "/app/worker.py"]
