# authapi: build a virtual environment in one stage, run it as a non-root user in another.
#   docker build -t authapi .
#   docker run -p 8000:8000 -e AUTHAPI_SECRET_KEY="$(openssl rand -hex 32)" \
#     -e AUTHAPI_MAIL_URL=smtp://mail-relay.example.com:25 authapi
# Production topologies (nginx with TLS, compose, Kubernetes): deploy/, docs/deployment.md.
# The root file system may be read-only: it writes only to /app/instance and /tmp.

FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build
RUN python -m venv /opt/venv
# pyproject.toml names README.md as the package's long description.
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-cache-dir .


FROM python:3.11-slim-bookworm AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AUTHAPI_ENV=production \
    AUTHAPI_INSTANCE_PATH=/app/instance

RUN groupadd --system --gid 10001 authapi \
    && useradd --system --uid 10001 --gid authapi --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin authapi

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# The instance folder holds the SQLite database and the workers' shared revocation counter.
RUN mkdir -p /app/instance && chown authapi:authapi /app/instance
VOLUME ["/app/instance"]

USER 10001:10001
EXPOSE 8000

# slim has no curl: ask /healthz with Python's standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

# The same command the tests and ./dev serve run: gunicorn, started by authapi.
CMD ["authapi", "serve", "--host", "0.0.0.0", "--port", "8000"]
