# The Faust worker of the speed layer: `faust -A weather_app worker -l info`.
#   docker build -t weather-speed-layer-worker:0.1.0 .     (docker compose builds it as `worker`)
# The image holds only the installed package (setup.cfg pins every dependency); configuration is
# the environment, as everywhere (README, "Configuration").
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Metadata first, then the packages: `pip install .` reads README.md (long_description).
COPY pyproject.toml setup.cfg README.md ./
COPY models ./models
COPY weather_app ./weather_app
COPY agents ./agents
RUN pip install . \
    && rm -rf build ./*.egg-info \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin weather \
    && mkdir -p /var/lib/weather \
    && chown weather:weather /var/lib/weather

# The web server listens on every interface of the container (so a published port reaches it);
# WEATHER_WEB_HOST, the address other workers use to reach this one (Faust routes table requests
# to the worker that owns the key), defaults to the container's own IP address in CMD below.
# The data directory is per container, so scaled workers never share one.
ENV WEATHER_WEB_BIND=0.0.0.0 \
    WEATHER_WEB_PORT=6066 \
    WEATHER_DATADIR=/var/lib/weather/worker-data

USER weather
WORKDIR /home/weather
EXPOSE 6066

# Healthy once the Faust web server answers (the worker creates its topics before it starts).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=6 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/' % os.environ.get('WEATHER_WEB_PORT', '6066'), timeout=4)"]

# sh execs faust: the worker is PID 1 and gets `docker stop`'s SIGTERM (it stops cleanly on it).
CMD ["sh", "-c", "export WEATHER_WEB_HOST=\"${WEATHER_WEB_HOST:-$(hostname -i | cut -d' ' -f1)}\"; exec faust -A weather_app worker -l info"]
