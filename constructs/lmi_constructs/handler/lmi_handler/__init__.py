"""The DJL Serving handler's parts, imported by ../model.py (DJL puts the model directory on
sys.path): config (serving properties + environment), weights (the once-per-instance download),
loading (one function per backend), generation (request validation, batched generate)."""
