"""Wire-compatible TensorFlow Serving messages for the TensorFlow-free client (generated; see serving_wire.proto)."""
