# One image for every process: api (the default command), worker, beat, flower, migrate.
FROM python:3.11.7-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src

# Dependencies first (with the flower extra: the image runs every process), at the runtime
# pins: this layer is rebuilt only when the dependency list or the pins change, not on every
# code change.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['flower']))" > requirements.txt \
    && pip install -c constraints.txt -r requirements.txt

# The code, installed like a wheel (its migrations inside the package).
COPY README.md LICENSE ./
COPY orchestrator ./orchestrator
COPY worker ./worker
COPY api ./api
RUN pip install --no-deps . && useradd --create-home app && mkdir -p /data && chown app /data
USER app
WORKDIR /data
ENV ORCHESTRATOR_DATA_DIR=/data
EXPOSE 8000 5555 9100
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
# orchestrator.procgroup gives the processes of the container (gunicorn's workers, a worker's
# pool) a fresh directory to share their Prometheus counters, so any one of them answers for
# all; it is removed at exit (see the Procfile).
CMD ["python", "-m", "orchestrator.procgroup", "gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "8", \
     "--access-logfile", "-", "--logger-class", "api.access_log.MaskingLogger", "api.wsgi:app"]
