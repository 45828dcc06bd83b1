"""A production variant's capacity properties from Capacity: InstanceType, or InstancePools
(which replace it, SageMaker Developer Guide "Deploy to multiple instance types with instance
pools"), the provisioning timeout, the ML capacity reservation and the inference AMI."""

from __future__ import annotations

from typing import Any, Dict

from aws_cdk import aws_sagemaker as sagemaker

from ..spec.capacity import RESERVATION_PREFERENCE, Capacity


def capacity_properties(instance_type: str, capacity: Capacity) -> Dict[str, Any]:
    """InstanceType, or InstancePools (which replace it) when there are fallbacks; the other
    capacity settings only when set."""
    variant = sagemaker.CfnEndpointConfig
    properties: Dict[str, Any] = {"instance_type": instance_type}
    if capacity.fallback_instance_types:
        properties = {
            "instance_pools": [
                variant.InstancePoolProperty(instance_type=name, priority=priority)
                for priority, name in enumerate(capacity.instance_types(instance_type), start=1)
            ]
        }
    if capacity.provision_timeout_s is not None:
        properties["variant_instance_provision_timeout_in_seconds"] = capacity.provision_timeout_s
    if capacity.reservation_arn:
        properties["capacity_reservation_config"] = variant.CapacityReservationConfigProperty(
            capacity_reservation_preference=RESERVATION_PREFERENCE,
            ml_reservation_arn=capacity.reservation_arn,
        )
    if capacity.ami_version:
        properties["inference_ami_version"] = capacity.ami_version
    return properties
