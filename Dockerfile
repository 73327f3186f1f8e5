# syntax=docker/dockerfile:1
# The ccloud-operator image: the operator's wheel in a virtual environment on a slim Python base.
#   docker build -t ccloud-operator:dev .
#
# The base is pinned by tag. Pin it by digest too (python:3.11.11-slim-bookworm@sha256:...) where the
# release pipeline can resolve and verify it; this file was written without registry access, so no digest
# here is one anyone checked.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first, so a source change does not reinstall them: constraints.txt pins every version.
COPY constraints.txt ./
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --constraint constraints.txt build
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN /opt/build/bin/python -m build --wheel --outdir /dist . \
    && python -m venv /opt/ccloud-operator \
    && /opt/ccloud-operator/bin/pip install --constraint constraints.txt /dist/ccloud_operator-*.whl \
    && /opt/ccloud-operator/bin/pip uninstall --yes pip \
    && /opt/ccloud-operator/bin/ccloud-operator --version

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ccloud-operator" \
      org.opencontainers.image.description="Kubernetes operator for Confluent Cloud provider integrations and fully-managed connectors" \
      org.opencontainers.image.licenses="Apache-2.0"
# The base's own pip and setuptools are not needed at run time; nothing here installs or compiles.
RUN python -m pip uninstall --yes pip setuptools wheel
COPY --from=build /opt/ccloud-operator /opt/ccloud-operator
ENV PATH=/opt/ccloud-operator/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A numeric UID, so Kubernetes can verify runAsNonRoot; the chart runs the pod as this UID too.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["ccloud-operator", "run"]
