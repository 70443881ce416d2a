# syntax=docker/dockerfile:1
# Build stage: install the package and its dependencies into a virtualenv.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install .

# Runtime stage: the virtualenv, the migrations, a non-root user.
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin msp
WORKDIR /srv/msp
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY alembic ./alembic
RUN mkdir -p /srv/msp/var && chown -R msp:msp /srv/msp/var
USER msp
EXPOSE 8000
# Set MSP_DATABASE_URL=postgresql+asyncpg://... in production; without it the
# embedded SQLite file lives in /srv/msp/var (mount a volume there).
VOLUME ["/srv/msp/var"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
# Migrations first, then the server.
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn --factory app.main:serve --host 0.0.0.0 --port 8000 --proxy-headers"]
