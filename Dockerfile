# syntax=docker/dockerfile:1
#
# One image for the three roles of the stack: the encoder (the default command), the search
# service (`search-server`) and the ingest job (`ingest ...`). docker-compose.yml builds it.
#
#   GPU (CUDA build of torch from PyPI, torchvision for nvJPEG):
#       docker build -t poster-search:0.1.0-gpu .
#   CPU only (smaller, no CUDA libraries):
#       docker build -t poster-search:0.1.0-cpu \
#           --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu \
#           --build-arg TORCHVISION_SPEC= .
#   Model weights baked into the image instead of fetched on first start:
#       --build-arg BAKE_MODEL=google/siglip2-base-patch16-256
#
# Ports: 50051 encoder gRPC, 50052 search gRPC, 8080 web page, 9101 / 9102 Prometheus
# metrics of the encoder / search service.

FROM python:3.11.15-slim-bookworm AS builder

# torch is chosen here rather than by the resolver: the PyPI wheel for Linux is the CUDA
# build (CUDA 13 for torch 2.13, driver 580 or newer); for older drivers point
# TORCH_INDEX_URL at the matching index, e.g. https://download.pytorch.org/whl/cu128.
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX_URL=""
# nvJPEG decoding on the GPU; set empty for CPU images, which have no use for it.
ARG TORCHVISION_SPEC="torchvision==0.28.0"

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch and torchvision in one call, from one index, so their builds match. Their versions
# are pinned by the build arguments, which hadolint cannot see.
# hadolint ignore=DL3013
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} \
        "$TORCH_SPEC" ${TORCHVISION_SPEC:+"$TORCHVISION_SPEC"}

WORKDIR /src

# The dependencies get a layer of their own, so editing the source does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
RUN pip install --no-deps .


FROM python:3.11.15-slim-bookworm AS runtime

# Set to a model id to download its weights at build time into the image's model cache.
ARG BAKE_MODEL=""

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HOME=/models/huggingface \
    POSTER_SEARCH_LOG_JSON=1

# A fixed uid, so volumes keep their ownership across rebuilds. The folders compose mounts
# volumes on exist here, owned by app: a new volume copies them, ownership included, so the
# unprivileged process can write to it.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app \
    && mkdir -p /models/huggingface /data/poster-cache \
    && chown -R app:app /models /data

COPY --from=builder /opt/venv /opt/venv
COPY --chmod=0755 docker/health_probe.py /usr/local/bin/grpc-health

USER 10001:10001
WORKDIR /home/app

RUN if [ -n "$BAKE_MODEL" ]; then \
        python -c "import sys; from sentence_transformers import SentenceTransformer; SentenceTransformer(sys.argv[1], device='cpu')" \
            "$BAKE_MODEL"; \
    fi

EXPOSE 50051 50052 8080 9101 9102

# Checks the encoder (the default command) on $ENCODER_PORT; compose points the search
# service's check at its own port. A first start may download the model: hence the long
# start period.
HEALTHCHECK --interval=15s --timeout=5s --start-period=600s --retries=3 \
    CMD ["grpc-health"]

ENTRYPOINT ["poster-search"]
CMD ["encoder"]
