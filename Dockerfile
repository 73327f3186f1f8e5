# The ccloud-operator image: the operator's wheel and its pinned dependencies in a virtual environment.
#
#   make image                                    # the local Debian base (no registry needed)
#   make image BASE_IMAGE=python:3.11.11-slim-bookworm
#
# The build context is not the repository but a directory of wheels, fetched or built on the host by
# `ccloud-sandbox image build` (what `make image` runs): `operator/` (the operator's wheel), `wheels/`
# (every dependency, pinned by constraints.txt) and `pip/` (pip's own). Nothing inside the build reaches the network, so
# it works offline and behind a TLS-inspecting proxy whose certificate authority only the host trusts.
#
# BASE_IMAGE needs only a `python3` of the version the wheels were fetched for (make image asks the base).
# The default is for users with a registry; pin it by digest too where a release pipeline can resolve and
# verify one (this file was written without registry access, so no digest here is one anyone checked).
ARG BASE_IMAGE=python:3.11.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# Named, so `make image` can remove the stage images that earlier builds left untagged.
LABEL org.opencontainers.image.title="ccloud-operator-build"
# Dependencies first, so a change of the operator's source does not reinstall them. pip runs from its
# wheel (a wheel is an importable zip), so the base needs neither pip nor ensurepip.
COPY pip/ /pip/
COPY wheels/ /wheels/
RUN set -- /pip/pip-*.whl \
    && python3 -m venv --without-pip /opt/ccloud-operator \
    && /opt/ccloud-operator/bin/python "$1/pip" install --no-index --no-deps --no-cache-dir \
        --disable-pip-version-check /wheels/*.whl
COPY operator/ /operator/
# Resolved against /wheels again: a dependency the wheel declares but the pinned set lacks fails here.
RUN set -- /pip/pip-*.whl \
    && /opt/ccloud-operator/bin/python "$1/pip" install --no-index --find-links /wheels --no-cache-dir \
        --disable-pip-version-check /operator/ccloud_operator-*.whl \
    && /opt/ccloud-operator/bin/python "$1/pip" check \
    && /opt/ccloud-operator/bin/ccloud-operator --version

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="ccloud-operator" \
      org.opencontainers.image.description="Kubernetes operator for Confluent Cloud provider integrations and fully-managed connectors" \
      org.opencontainers.image.licenses="Apache-2.0"
# A python:*-slim base brings pip, setuptools and wheel; nothing installs or compiles at run time.
# kopf names its identity after the user (getpass.getuser), which fails for a UID without a passwd entry:
# the image's UID gets one, and USER in the environment answers for any other UID a pod may run as.
RUN if python3 -m pip --version >/dev/null 2>&1; then python3 -m pip uninstall --yes pip setuptools wheel; fi \
    && groupadd --system --gid 65532 ccloud-operator \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ccloud-operator
COPY --from=build /opt/ccloud-operator /opt/ccloud-operator
ENV PATH=/opt/ccloud-operator/bin:$PATH \
    USER=ccloud-operator \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A numeric UID, so Kubernetes can verify runAsNonRoot; the chart runs the pod as this UID too.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["ccloud-operator", "run"]
