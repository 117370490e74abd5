# syntax=docker/dockerfile:1
# tierwise in two stages on Debian bookworm's own Python 3.11: the distribution builds it with
# profile-guided and link-time optimisation (5-14 % less CPU per offer than an unoptimised build:
# docs/benchmarks.md), and durable-rules does not import on 3.13. The build stage compiles
# durable-rules' C extension; the runtime stage has no compiler and runs as an unprivileged user.
# Build: docker build -t tierwise .   Run the whole stack: docker compose up (compose.yaml).

ARG DEBIAN=bookworm-slim

FROM debian:${DEBIAN} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential python3.11 python3.11-dev python3.11-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3.11 -m venv /opt/tierwise
ENV PATH=/opt/tierwise/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The dependencies first, from the pins, on empty packages: a code change then reuses this layer
# (durable-rules' compilation is the slow part). Then tierwise itself, without dependencies.
COPY pyproject.toml constraints.txt README.md ./
RUN mkdir app config pricing rules storage \
    && touch app/__init__.py config/__init__.py pricing/__init__.py rules/__init__.py \
        storage/__init__.py \
    && pip install -c constraints.txt wheel \
    && pip install -c constraints.txt . \
    && rm -rf app config pricing rules storage
COPY app app
COPY config config
COPY pricing pricing
COPY rules rules
COPY storage storage
RUN pip install --no-deps --force-reinstall -c constraints.txt . \
    && cd / && python -c "import durable.lang, app.cli, storage.db" \
    && test -f /opt/tierwise/lib/python3.11/site-packages/storage/migrations/env.py

FROM debian:${DEBIAN} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 tierwise \
    && useradd --system --uid 10001 --gid tierwise --home-dir /srv/tierwise --create-home \
        --shell /usr/sbin/nologin tierwise
COPY --from=build /opt/tierwise /opt/tierwise
ENV PATH=/opt/tierwise/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TIERWISE_MODE=server
WORKDIR /srv/tierwise
USER 10001:10001
EXPOSE 8000
# No HEALTHCHECK here: the image also runs the worker and the sweeper, which serve no HTTP;
# compose.yaml probes the service's /readyz.
ENTRYPOINT ["tierwise"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
