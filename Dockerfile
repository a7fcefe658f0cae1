# One image for every service: the subcommand (catalogue, downloader, processor, gateway) picks the
# process, e.g. `docker run geocube-ingester:latest gateway`.

# Build stage: installs the project into a virtualenv, so the runtime stage copies one folder and
# carries no pip cache, build files or sources.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Only what `pip install .` packages (see .dockerignore); the generated *_pb2 modules are committed.
COPY pyproject.toml README.md ./
COPY protos ./protos
COPY services ./services
COPY libs ./libs
COPY gateway ./gateway
RUN pip install .

FROM python:3.11-slim
# A fixed numeric UID/GID: Kubernetes can only enforce runAsNonRoot on a numeric USER, and the
# manifests in k8s/ set the same runAsUser/fsGroup.
RUN groupadd --system --gid 10001 ingester \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/ingester --create-home ingester
# Same path as in the build stage: the console scripts' shebangs point into it.
COPY --from=build /opt/venv /opt/venv
# No .pyc writes (the root filesystem is read-only in the cluster); logs unbuffered so a killed pod
# loses no lines.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/ingester
EXPOSE 50051 50052 50053 8080
ENTRYPOINT ["geocube-ingester"]
