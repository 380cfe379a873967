FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN mkdir -p /data/uploads /app/var && chown nobody /data/uploads /app/var
USER nobody
