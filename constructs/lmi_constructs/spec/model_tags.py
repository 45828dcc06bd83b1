"""The tag keys LmiEndpoint and LmiInferenceEndpoint put on each SageMaker Model (endpoint.py
model_tags), which `lmi invoke` and `lmi bench` read back (cli/target_lookup.py)."""

ENGINE = "lmi:engine"  # Engine name: DEEPSPEED, ACCELERATE, VLLM
DTYPE = "lmi:dtype"
TENSOR_PARALLEL_DEGREE = "lmi:tensor-parallel-degree"
MODEL_ID = "lmi:model-id"
STREAMING = "lmi:streaming"  # "true" or "false"
