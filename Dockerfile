FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY orchestrator ./orchestrator
COPY worker ./worker
COPY api ./api
RUN pip install -e . && useradd --create-home app && mkdir -p /data && chown app /data
USER app
ENV ORCHESTRATOR_DATA_DIR=/data
EXPOSE 8000 5555
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "8", "api.wsgi:app"]
