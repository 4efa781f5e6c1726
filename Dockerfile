# Trunkline gateway image: build a wheel, install it into a slim runtime, run as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY routing ./routing
RUN pip install --no-cache-dir build && python -m build --wheel --outdir /wheels

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    TRUNKLINE_HOST=0.0.0.0 TRUNKLINE_PORT=8000 \
    DATABASE_URL=sqlite+aiosqlite:////var/lib/trunkline/trunkline.db \
    TRUNKLINE_FLOWS_DIR=/etc/trunkline/flows
RUN useradd --system --uid 10001 --home /var/lib/trunkline trunkline \
    && mkdir -p /var/lib/trunkline /etc/trunkline/flows && chown trunkline /var/lib/trunkline
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY ivr_flows /etc/trunkline/flows
USER trunkline
WORKDIR /var/lib/trunkline
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status == 200 else 1)"
CMD ["trunkline", "serve"]
