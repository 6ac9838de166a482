"""seq2exp.serving: export, TF Serving deployment files, the embedded gRPC server, the client, batch inference.

Modules (importing this package is free of TensorFlow; so are ``signatures``, ``tensors``, ``client``,
``predict`` with a server, and ``protos``):

- ``signatures``: every serving name (signatures, tensors, files, gRPC method paths, defaults), in one place.
- ``export``: ``export_run`` / ``export_graph`` -> ``M/<name>/<version>/`` SavedModel (``seq2exp export``).
- ``config``: ``models.config`` / ``batching.config`` (``seq2exp serve-config``), version policies and labels.
- ``session``: ``SessionModel``, a version loaded and run on TF Serving's own path (session loader, ``Session.run``
  by SignatureDef tensor names): the export self-check, the server, in-process batch inference.
- ``server``: ``ModelServer``, the embedded TF-Serving-compatible gRPC server (``seq2exp serve``); ``rest``: its
  TF Serving REST API (``--rest-port``).
- ``client``: ``Client`` (``predict``, ``predict_outputs``, ``predict_onehot``, ``metadata``, ``status``) and its
  typed errors; needs only grpcio, protobuf and numpy (``pip install seq2exp[client]``).
- ``predict``: streaming batch inference over FASTA / TSV / DREAM files (``seq2exp predict``).
- ``tensors``: numpy <-> ``TensorProto`` without TensorFlow; ``protos``: the wire-compatible message subset.
"""
