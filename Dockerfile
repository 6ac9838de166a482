# seq2exp deployment images (see serving/README.md).
#
#   docker build -t seq2exp-serving .                    # default target: TensorFlow Serving with the exported models
#   docker build --target predict -t seq2exp-predict .   # batch inference (`seq2exp predict`) with the same models
#
# Build context: the repository, with the training runs to serve in ./runs/<model name>/ (RUN folders written by
# `seq2exp train`; override with --build-arg RUNS=path).
# The version pin, in ONE place: the builder exports with TENSORFLOW_VERSION and the runtime is
# tensorflow/serving:TENSORFLOW_VERSION (a SavedModel is read by the runtime of the version that wrote it, or newer);
# KERAS_VERSION is the Keras tested with it. Keep both equal to seq2exp/serving/signatures.py's
# SERVING_TENSORFLOW_VERSION / SERVING_KERAS_VERSION (tests/serving/test_deployment.py checks it).
ARG TENSORFLOW_VERSION=2.21.0
ARG KERAS_VERSION=3.15.1

# --- 1. Python stage: install seq2exp ------------------------------------------------------------------------------
FROM python:3.11-slim AS builder
ARG TENSORFLOW_VERSION
ARG KERAS_VERSION
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /src
COPY setup.py README.md ./
COPY seq2exp ./seq2exp
RUN pip install --no-cache-dir "tensorflow==${TENSORFLOW_VERSION}" "keras==${KERAS_VERSION}" \
        "tensorflow-serving-api==${TENSORFLOW_VERSION}" . \
    && seq2exp --help > /dev/null

# --- 2. Export stage: every run -> /models/<name>/<version>/, plus models.config and batching.config ---------------
FROM builder AS export
ARG RUNS=runs
ARG TENSORFLOW_VERSION
COPY ${RUNS} /runs
RUN set -eu; \
    for run in /runs/*/; do \
        seq2exp export "${run}" --model-base-path /models --name "$(basename "${run}")"; \
    done; \
    seq2exp serve-config --model-base-path /models --container-base /models --out-dir /models/config \
        --serving-version "${TENSORFLOW_VERSION}"

# --- 3. Batch inference target: `docker run -v $PWD:/data seq2exp-predict in.txt -o out.tsv --saved-model /models/NAME`
FROM builder AS predict
COPY --from=export /models /models
RUN useradd --create-home --uid 10001 seq2exp
USER 10001
WORKDIR /data
ENTRYPOINT ["seq2exp", "predict"]
CMD ["--help"]

# --- 4. Runtime (default target): the official TensorFlow Serving image with the models and their config ----------
FROM tensorflow/serving:${TENSORFLOW_VERSION} AS serving
COPY --from=export /models /models
EXPOSE 8500 8501
ENTRYPOINT ["tensorflow_model_server"]
CMD ["--port=8500", \
     "--rest_api_port=8501", \
     "--model_config_file=/models/config/models.config", \
     "--model_config_file_poll_wait_seconds=60", \
     "--file_system_poll_wait_seconds=1", \
     "--enable_batching=true", \
     "--batching_parameters_file=/models/config/batching.config", \
     "--enable_model_warmup=true"]
