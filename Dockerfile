# syntax=docker/dockerfile:1
# Build stage: the locked dependencies (requirements.lock, every file checked against its
# hash) in a virtualenv. The service itself is not built into a package: the runtime stage
# copies its source and runs it from /srv/msp.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock

# Runtime stage: the virtualenv, the code and the migrations, a non-root user.
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    MSP_FORWARDED_ALLOW_IPS=127.0.0.1 \
    MSP_BOOTSTRAP_KEY_FILE=/srv/msp/var/bootstrap-admin-key
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin msp
WORKDIR /srv/msp
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY alembic ./alembic
COPY app ./app
# Readable whatever the mode bits in the build context; writable only under var/.
RUN chmod -R a+rX /srv/msp && mkdir -p /srv/msp/var && chown -R msp:msp /srv/msp/var
USER msp
EXPOSE 8000
# Set MSP_DATABASE_URL=postgresql+asyncpg://... in production; without it the embedded
# SQLite file lives in /srv/msp/var (mount a volume there). Set MSP_ADMIN_API_KEY too:
# without it the admin key made on the first start is written to MSP_BOOTSTRAP_KEY_FILE,
# not to the logs (`-e MSP_BOOTSTRAP_KEY_FILE=` prints it instead). Behind a reverse proxy,
# MSP_FORWARDED_ALLOW_IPS lists the proxy addresses whose X-Forwarded-* headers are trusted.
VOLUME ["/srv/msp/var"]
# Healthy when the service answers and its database does (/readyz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/readyz' % os.environ.get('PORT', '8000'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]
# Migrations first, then the server.
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn --factory app.main:serve --host 0.0.0.0 --port \"$PORT\" --proxy-headers --forwarded-allow-ips \"$MSP_FORWARDED_ALLOW_IPS\""]
