# The demo backends of asset-gate (auth backend, header provider, echo,
# credentials endpoint) as one small image: e2e/fixtures/backends.py is
# standard-library Python, so nothing is installed.
#
#   docker build -t asset-gate-backends:dev .
#   docker run --rm -p 8081:8081 asset-gate-backends:dev auth --port 8081
#
# docker-compose.yaml builds it for the auth-backend, header-provider and echo
# services. Dockerfile.dockerignore keeps the build context to that one file
# (the repository also holds target/ and .venv/, which are large).
FROM python:3.13-slim

COPY e2e/fixtures/backends.py /app/backends.py

# Unprivileged; the backends only listen on ports above 1024.
USER 65534:65534
EXPOSE 8081 8082 8083
# backends.py ROLE [--port N] [--bind ADDR] [--config JSON]; in a container
# it must bind 0.0.0.0 to be reachable from other containers.
ENTRYPOINT ["python3", "-u", "/app/backends.py"]
CMD ["echo", "--port", "8083", "--bind", "0.0.0.0"]
