"""Production options as values: each validates itself and binds its resources and grants to
an endpoint (autoscaling, observability, rollout, data capture, async, VPC, log retention,
capacity)."""
