"""The two endpoint constructs (LmiEndpoint: one model per endpoint; LmiInferenceEndpoint:
several models as inference components) and the serving model both stand on."""
