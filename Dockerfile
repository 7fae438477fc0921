# One image for web (gunicorn), worker, beat, flower and the one-shot migrate service.
# BASE_IMAGE: any Debian-based image with Python 3.11 and its venv module as `python`
# (the compose test builds on a local debootstrap image, deploy/compose/base-images.sh).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH

# Extra CA certificates (PEM text) for a network that inspects TLS, such as a corporate proxy:
# added to the system bundle, which pip is pointed at below.
ARG EXTRA_CA_CERTS=""
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
      printf '%s\n' "$EXTRA_CA_CERTS" \
        | awk '/BEGIN CERTIFICATE/ {n++} n > 0 {print > ("/usr/local/share/ca-certificates/build-extra-" n ".crt")}' \
      && update-ca-certificates >/dev/null; \
    fi

# Options for pip, e.g. "--index-url https://pypi.internal/simple" (a mirror or proxy of PyPI).
ARG PIP_INSTALL_OPTIONS=""
WORKDIR /app
COPY requirements.txt .
RUN python -m venv /opt/venv \
    && PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
       pip install --no-cache-dir $PIP_INSTALL_OPTIONS -r requirements.txt

# The service runs as `app`. The code and the collected static files stay root's (read-only to
# the service); it writes only to its volumes: the metrics files and the signing keys.
RUN useradd --system --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/otpsvc-metrics /var/lib/otp \
    && chown app:app /var/lib/otpsvc-metrics /var/lib/otp

COPY . .
# Static files are part of the image (WhiteNoise serves them); settings only need a key to load.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput >/dev/null

USER app
EXPOSE 8000 5555
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
