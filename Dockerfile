FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home app && mkdir -p /var/lib/otpsvc-metrics /var/lib/otp && chown app /var/lib/otpsvc-metrics /var/lib/otp
USER app
EXPOSE 8000 5555
