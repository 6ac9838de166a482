# seq2exp deployment images (see serving/README.md).
#
#   docker build -t seq2exp-serving .                    # default target: TensorFlow Serving with the exported models
#   docker build --target predict -t seq2exp-predict .   # batch inference (`seq2exp predict`) with the same models
#   docker build --target batch-inference -t seq2exp-batch .   # batch inference past one machine (`seq2exp batch`)
#   docker build --target beam-worker -t seq2exp-beam-worker .  # its custom Beam worker image (Flink/Spark/Dataflow)
#
# Build context: the repository, with the training runs to serve in ./runs/<model name>/ (RUN folders written by
# `seq2exp train`; override with --build-arg RUNS=path).
# The version pin, in ONE place: the builder exports with TENSORFLOW_VERSION and the runtime is
# tensorflow/serving:TENSORFLOW_VERSION (a SavedModel is read by the runtime of the version that wrote it, or newer);
# KERAS_VERSION is the Keras tested with it. Keep both equal to seq2exp/serving/signatures.py's
# SERVING_TENSORFLOW_VERSION / SERVING_KERAS_VERSION (tests/serving/test_deployment.py checks it).
ARG TENSORFLOW_VERSION=2.21.0
ARG KERAS_VERSION=3.15.1
# Keep BEAM_VERSION equal to the `beam` extra's pin in setup.py, and the SDK image's Python to the builder's.
ARG BEAM_VERSION=2.77.0

# Beam's worker boot program for the custom worker image (beam-worker below).
FROM apache/beam_python3.11_sdk:${BEAM_VERSION} AS beam-sdk

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

# --- 4. Apache Beam: seq2exp with the `beam` extra and the exported models -------------------------------------
FROM builder AS beam
ARG BEAM_VERSION
RUN pip install --no-cache-dir "apache-beam==${BEAM_VERSION}" \
    && seq2exp batch --help > /dev/null
COPY --from=export /models /models

# --- 5. Custom Beam worker image: the same Python, seq2exp and models, started by Beam's boot program -------------
#   Workers get the pipeline's code and /models/NAME from this image: pass it as sdk_container_image (Dataflow) or
#   environment_config with environment_type=DOCKER (Flink, Spark portable runners).
FROM beam AS beam-worker
COPY --from=beam-sdk /opt/apache/beam /opt/apache/beam
ENTRYPOINT ["/opt/apache/beam/boot"]

# --- 6. Batch inference target: `seq2exp batch` (Apache Beam RunInference), the DirectRunner by default -----------
#   docker run -v $PWD:/data seq2exp-batch 'in/*.fa.gz' -o out --saved-model /models/NAME \
#       [--beam-option direct_num_workers=4 --beam-option direct_running_mode=multi_processing]
#   Flink:    --beam-option runner=FlinkRunner --beam-option flink_master=HOST:8081 \
#             --beam-option environment_type=DOCKER --beam-option environment_config=REGISTRY/seq2exp-beam-worker
#   Spark:    --beam-option runner=SparkRunner --beam-option spark_master_url=spark://HOST:7077 \
#             --beam-option environment_type=DOCKER --beam-option environment_config=REGISTRY/seq2exp-beam-worker
#   Dataflow: --beam-option runner=DataflowRunner --beam-option project=P --beam-option region=R \
#             --beam-option temp_location=gs://B/tmp --beam-option sdk_container_image=REGISTRY/seq2exp-beam-worker
#             (gs:// inputs and outputs; Dataflow needs apache-beam[gcp] in both images)
#   Remote model: --server HOST:8500 --model NAME instead of --saved-model (workers call TF Serving).
FROM beam AS batch-inference
RUN useradd --create-home --uid 10001 seq2exp
USER 10001
WORKDIR /data
ENTRYPOINT ["seq2exp", "batch"]
CMD ["--help"]

# --- 7. Runtime (default target): the official TensorFlow Serving image with the models and their config ----------
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
