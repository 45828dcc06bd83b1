"""The catalogs (instances, images, inference AMIs and drivers) against their sources.

botocore's SageMaker service model is installed with boto3, so the instance types and AMIs the
API takes are checked offline: a catalog entry the API does not know fails here.
"""

from __future__ import annotations

import re

import botocore.loaders
import botocore.session
import pytest

from lmi_constructs.spec import capacity, drivers, images, instances
from lmi_constructs.spec.capacity import Capacity
from lmi_constructs.spec.drivers import (
    DEFAULT_DRIVERS,
    GPU_AMI_VERSIONS,
    INFERENCE_AMIS,
    UNKNOWN_DEFAULT_FAMILIES,
    driver_violations,
)
from lmi_constructs.spec.engines import Engine
from lmi_constructs.spec.images import (
    DEEPSPEED_TAGS,
    DLC_ACCOUNTS,
    KNOWN_TAGS,
    LMI_IMAGES,
    LMI_TAGS,
    TENSORRTLLM_IMAGES,
    TENSORRTLLM_TAGS,
    engine_flavour_violation,
    is_known_tag,
    parse_tag,
    registry_host,
    url_suffix_for,
)
from lmi_constructs.spec.instances import (
    COMPUTE_CAPABILITY,
    INSTANCES,
    has_local_nvme,
    instance_family,
    lookup_instance,
)

GPU_4_1 = "al2023-ami-sagemaker-inference-gpu-4-1"


@pytest.fixture(scope="module")
def sagemaker_model():
    return botocore.session.get_session().get_service_model("sagemaker")


@pytest.fixture(scope="module")
def endpoint_types(sagemaker_model):
    return set(sagemaker_model.shape_for("ProductionVariantInstanceType").enum)


# --- instances -------------------------------------------------------------------------------


def test_every_catalog_instance_is_an_endpoint_type_in_botocore(endpoint_types):
    unknown = sorted(set(INSTANCES) - endpoint_types)
    assert not unknown, f"not in botocore's ProductionVariantInstanceType: {unknown}"


def test_gpu_endpoint_types_botocore_has_that_the_catalog_lacks(endpoint_types):
    """Listed for the next catalog update; only the catalog's own claims fail (test above)."""
    gpu_families = re.compile(r"^ml\.(g\d|p\d)")
    missing = sorted(t for t in endpoint_types if gpu_families.match(t) and t not in INSTANCES)
    # At the time of writing: ml.p2.* (K80) and ml.p6e-gb200.36xlarge (EC2 data not found).
    print(f"GPU endpoint types in botocore, not in the catalog: {missing}")


def test_p3dn_is_not_an_endpoint_type(endpoint_types):
    assert "ml.p3dn.24xlarge" not in endpoint_types
    assert "ml.p3dn.24xlarge" not in INSTANCES
    assert lookup_instance("ml.p3dn.24xlarge") is None


def test_every_row_has_a_source_and_consistent_figures():
    for name, row in INSTANCES.items():
        assert row.name == name
        assert row.source, f"{name} names no source"
        assert row.gpu in COMPUTE_CAPABILITY, name
        assert row.gpu_count in (1, 2, 4, 8) and row.gpu_memory_gib > 0, name
        assert row.host_memory_gib is None or row.host_memory_gib > 0, name
        assert row.local_nvme == (row.local_nvme_gb is not None), name
        assert row.local_nvme == has_local_nvme(name), name
        assert row.price_per_hour_usd is None or row.price_per_hour_usd > 0, name
        assert row.family == instance_family(name)


def test_new_families_as_ec2_lists_them():
    g7e = INSTANCES["ml.g7e.12xlarge"]
    assert (g7e.gpu, g7e.gpu_count, g7e.gpu_memory_gib, g7e.host_memory_gib) == (
        "RTX PRO 6000",
        2,
        96.0,
        512,
    )
    assert INSTANCES["ml.g7e.48xlarge"].total_gpu_memory_gib == 768
    assert INSTANCES["ml.g7.12xlarge"].gpu_count == 2
    assert INSTANCES["ml.g7.2xlarge"].gpu_memory_gib == 32.0
    assert INSTANCES["ml.p5.4xlarge"].gpu_count == 1
    assert INSTANCES["ml.p5.4xlarge"].gpu_memory_gib == 80
    b200, b300 = INSTANCES["ml.p6-b200.48xlarge"], INSTANCES["ml.p6-b300.48xlarge"]
    assert b200.gpu_memory_gib == round(183359 / 1024, 2)  # EC2: 183359 MiB per GPU
    assert b300.gpu_memory_gib == round(275040 / 1024, 2)  # EC2: 275040 MiB per GPU
    assert b300.host_memory_gib == 4096
    assert "ml.g7e.xlarge" not in INSTANCES  # g7e starts at 2xlarge


def test_existing_figures_keep_their_convention():
    assert INSTANCES["ml.g5.xlarge"].gpu_memory_gib == round(22888 / 1024, 2)
    assert INSTANCES["ml.g6e.xlarge"].gpu_memory_gib == 44.7
    assert INSTANCES["ml.p5e.48xlarge"].gpu_memory_gib == 141
    assert INSTANCES["ml.g4dn.xlarge"].gpu_memory_gib == 15
    assert not INSTANCES["ml.p3.2xlarge"].local_nvme


def test_compute_capabilities_of_the_new_gpus():
    assert COMPUTE_CAPABILITY["B200"] == (10, 0)
    assert COMPUTE_CAPABILITY["B300"] == (10, 3)
    assert COMPUTE_CAPABILITY["RTX PRO 6000"] == COMPUTE_CAPABILITY["RTX PRO 4500"] == (12, 0)
    for name in ("ml.g7e.2xlarge", "ml.g7.2xlarge", "ml.p6-b200.48xlarge"):
        assert INSTANCES[name].supports_bf16
        assert INSTANCES[name].compute_capability >= (10, 0)


def _sdk_volume_size_supported(instance_type: str) -> bool:
    """sagemaker-core common_utils.volume_size_supported, as the SDK writes it."""
    family = instance_type.split(".")[1]
    return "d" not in family and not family.startswith(("g5", "g6", "p5", "trn1"))


def test_local_nvme_follows_the_sdk_and_ec2_beyond_it():
    beyond = {"g7", "g7e", "p6-b200", "p6-b300"}
    for name in INSTANCES:
        if instance_family(name) in beyond:
            assert has_local_nvme(name) and _sdk_volume_size_supported(name), name
        else:
            assert has_local_nvme(name) == (not _sdk_volume_size_supported(name)), name
    assert not has_local_nvme("ml.p6e-gb200.36xlarge")  # unknown: the SDK's rule
    assert has_local_nvme("ml.p3dn.24xlarge")  # the rule still knows the name


def test_overrides_keep_the_rows_other_fields():
    row = lookup_instance("ml.g7e.24xlarge", gpu_memory_gib=90)
    assert row.gpu_memory_gib == 90 and row.gpu_count == 4
    assert row.source == INSTANCES["ml.g7e.24xlarge"].source
    assert row.local_nvme_gb == 7600
    custom = lookup_instance("ml.x9.large", gpu_count=1, gpu_memory_gib=10)
    assert custom.gpu == "unknown" and custom.source


# --- images ----------------------------------------------------------------------------------


def test_patch_tags_parse():
    tag = parse_tag("0.36.0-lmi28.0.0-cu130-v1.0")
    assert tag is not None
    assert (tag.djl_version, tag.flavor, tag.cuda, tag.patch) == (
        (0, 36, 0),
        "lmi",
        (13, 0),
        "v1.0",
    )
    assert tag.base_tag == "0.36.0-lmi28.0.0-cu130" and tag.flavor_version == "28.0.0"
    assert parse_tag("0.36.0-lmi27.0.0-cu130-v1.1").patch == "v1.1"
    assert parse_tag("0.36.0-lmi27.0.0-cu130-v1").patch == "v1"
    assert parse_tag("0.36.0-lmi27.0.0-cu130").patch is None
    for shape in ("latest", "0.36.0-lmi27.0.0-cu130-v1.0.0", "0.36.0-lmi27.0.0-cu130-x1.0"):
        assert parse_tag(shape) is None, shape


def test_known_tags_with_and_without_patch():
    assert is_known_tag("0.36.0-lmi28.0.0-cu130-v1.0")
    assert is_known_tag("0.27.0-deepspeed0.12.6-cu121")
    assert not is_known_tag("0.33.0-tensorrtllm0.21.0-cu128")  # known, but no engine runs it
    assert not is_known_tag("0.99.0-lmi99.0.0-cu130")


def test_the_image_tables_agree_with_their_tags():
    assert KNOWN_TAGS == DEEPSPEED_TAGS + LMI_TAGS
    for image in LMI_IMAGES + TENSORRTLLM_IMAGES:
        tag = parse_tag(image.tag)
        assert tag is not None and tag.patch is None, image.tag
        assert tag.cuda == image.cuda and tag.engine == image.engine, image.tag
        assert image.source, image.tag
    for number in list(range(10, 18)) + list(range(18, 29)):
        assert any(f"-lmi{number}.0.0-" in tag for tag in LMI_TAGS), number
    assert all(parse_tag(tag).engine == "deepspeed" for tag in DEEPSPEED_TAGS)
    assert TENSORRTLLM_TAGS[-1] == "0.33.0-tensorrtllm0.21.0-cu128"  # the last one
    assert Engine.VLLM.default_image_tag in LMI_TAGS
    # CUDA per LMI release as the DLC data gives it
    cuda = {images.parse_tag(t).flavor_version.split(".")[0]: parse_tag(t).cuda for t in LMI_TAGS}
    assert {cuda[str(n)] for n in range(18, 21)} == {(12, 8)}
    assert {cuda[str(n)] for n in range(21, 25)} == {(12, 9)}
    assert {cuda[str(n)] for n in range(25, 29)} == {(13, 0)}
    assert images.LAST_CUDA12_LMI_TAG == "0.36.0-lmi24.0.0-cu129"
    assert images.image_of("0.36.0-lmi28.0.0-cu130-v1.0").engine_version == "0.26.0"


def test_vllm_needs_an_image_that_carries_vllm():
    violation = engine_flavour_violation(Engine.VLLM, "0.33.0-tensorrtllm0.21.0-cu128")
    assert violation is not None
    assert violation.field == "image" and "TensorRT-LLM" in violation.problem
    assert violation.fix == f"use an lmi image such as {LMI_TAGS[-1]}"
    assert engine_flavour_violation("VLLM", "0.23.0-deepspeed0.9.5-cu118") is not None
    for fine in ("0.36.0-lmi28.0.0-cu130-v1.0", "0.24.0-deepspeed0.10.0-cu118", "latest"):
        assert engine_flavour_violation(Engine.VLLM, fine) is None, fine
    # ACCELERATE's profile names no images; DEEPSPEED's is its own (one check for every engine)
    assert engine_flavour_violation(Engine.ACCELERATE, "0.33.0-tensorrtllm0.21.0-cu128") is None
    deepspeed = engine_flavour_violation(Engine.DEEPSPEED, "0.33.0-tensorrtllm0.21.0-cu128")
    assert deepspeed is not None and "*-deepspeed images up to 0.27.0" in deepspeed.problem
    assert engine_flavour_violation("NOPE", "0.33.0-tensorrtllm0.21.0-cu128") is None


def test_regions_are_the_sdks_44_with_their_ecr_domains():
    assert len(DLC_ACCOUNTS) == 44
    assert all(re.fullmatch(r"\d{12}", account) for account in DLC_ACCOUNTS.values())
    for region in ("ap-east-2", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7"):
        assert region in DLC_ACCOUNTS
    assert {"mx-central-1", "eusc-de-east-1", "eu-isoe-west-1", "us-iso-east-1"} <= set(
        DLC_ACCOUNTS
    )
    partitions = botocore.loaders.Loader().load_data("partitions")["partitions"]
    for region in DLC_ACCOUNTS:
        [partition] = [p for p in partitions if re.match(p["regionRegex"], region)]
        assert url_suffix_for(region) == partition["outputs"]["dnsSuffix"], region
    assert registry_host("us-east-1") == "763104351884.dkr.ecr.us-east-1.amazonaws.com"
    assert registry_host("cn-north-1") == "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn"
    assert registry_host("us-iso-east-1") == "886529160074.dkr.ecr.us-iso-east-1.c2s.ic.gov"
    assert registry_host("xx-mars-1") is None


# --- inference AMIs and drivers ---------------------------------------------------------------


def test_the_gpu_amis_are_botocores(sagemaker_model):
    enum = sagemaker_model.shape_for("ProductionVariantInferenceAmiVersion").enum
    assert set(GPU_AMI_VERSIONS) == {name for name in enum if "-gpu-" in name}
    assert capacity.GPU_AMI_VERSIONS == GPU_AMI_VERSIONS
    assert all(name in enum for name in capacity.GPU_AMI_VERSIONS)


def test_driver_and_cuda_per_ami_are_botocores_documentation(sagemaker_model):
    text = sagemaker_model.shape_for("ProductionVariant").members["InferenceAmiVersion"]
    docs = text.documentation
    for name, host in INFERENCE_AMIS.items():
        entry = re.search(rf"<dt>{re.escape(name)}</dt>\s*<dd>(.*?)</dd>", docs, re.S)
        assert entry, name
        driver = re.search(r"NVIDIA driver version: (\d+)", entry.group(1))
        cuda = re.search(r"CUDA version: (\d+)\.(\d+)", entry.group(1))
        assert driver and int(driver.group(1)) == host.driver, name
        assert cuda and (int(cuda.group(1)), int(cuda.group(2))) == host.cuda, name
        disabled = "disabled CUDA-compat mounting" in entry.group(1)
        assert host.cuda_compat_mounting == (not disabled), name


def test_gpu_4_1_passes_the_capacity_allowlist():
    assert Capacity(ami_version=GPU_4_1).violations("ml.g5.xlarge") == []
    [refused] = Capacity(ami_version="al2-ami-sagemaker-inference-neuron-2").violations(
        "ml.g5.xlarge"
    )
    assert refused.field == "capacity.ami_version"


def test_default_drivers_as_the_developer_guide_gives_them():
    assert {f for f, h in DEFAULT_DRIVERS.items() if h.driver == 470} >= {
        "p4d",
        "p4de",
        "g4dn",
        "g5",
    }
    assert DEFAULT_DRIVERS["g5"].cuda == (11, 4)
    assert {f for f, h in DEFAULT_DRIVERS.items() if h.driver == 535} == {"p5", "g6"}
    assert {f for f, h in DEFAULT_DRIVERS.items() if h.driver == 550} == {"p5e", "p5en"}
    assert not set(UNKNOWN_DEFAULT_FAMILIES) & set(DEFAULT_DRIVERS)
    catalog_families = {row.family for row in INSTANCES.values()}
    assert catalog_families <= set(DEFAULT_DRIVERS) | set(UNKNOWN_DEFAULT_FAMILIES)


CU13, CU128, CU121 = (13, 0), (12, 8), (12, 1)


@pytest.mark.parametrize(
    "pool, driver", [("ml.g5.12xlarge", 470), ("ml.p4d.24xlarge", 470), ("ml.g4dn.xlarge", 470)]
)
def test_cuda13_without_an_ami_is_refused_on_the_driver_470_families(pool, driver):
    found, warnings = driver_violations(CU13, [pool], None)
    [violation] = found
    assert violation.field == "capacity.ami_version" and violation.value is None
    assert f"{pool} (driver {driver}" in violation.problem
    assert "needs NVIDIA driver >= 580" in violation.problem
    assert violation.fix == f'pass Capacity(ami_version="{GPU_4_1}")'
    assert str(violation).startswith("capacity.ami_version=None: ")
    assert warnings == []
    assert driver_violations(CU13, [pool], GPU_4_1) == ([], [])


@pytest.mark.parametrize(
    "pool, driver",
    [("ml.p5.48xlarge", 535), ("ml.g6.12xlarge", 535), ("ml.p5e.48xlarge", 550)]
    + [("ml.p5en.48xlarge", 550)],
)
def test_cuda13_on_the_535_and_550_defaults_is_a_warning(pool, driver):
    # forward compatibility (the image's cuda-compat): AWS's own examples run CUDA 13.0 images
    # on the 550 AMI, SageMaker does not document it: warned, and the derived AMI avoids it
    found, [warning] = driver_violations(CU13, [pool], None)
    assert found == [] and f"of {pool} ({driver})" in warning
    assert "forward-compatibility" in warning and GPU_4_1 in warning
    assert drivers.required_ami_version(CU13, [pool]) == GPU_4_1


def test_every_pool_is_checked_and_named_once():
    [violation], warnings = driver_violations(
        CU13, ["ml.g6e.12xlarge", "ml.g5.12xlarge", "ml.p5.48xlarge"], None
    )
    assert "ml.g5.12xlarge (driver 470" in violation.problem
    assert "ml.p5" not in violation.problem and "ml.g6e" not in violation.problem
    assert any("ml.p5.48xlarge (535)" in w for w in warnings)
    assert any("ml.g6e.12xlarge is not documented" in w for w in warnings)


@pytest.mark.parametrize("ami", GPU_AMI_VERSIONS[:-1])
def test_an_ami_below_the_images_cuda_major_is_a_warning(ami):
    found, [warning] = driver_violations(CU13, ["ml.g6e.xlarge"], ami)
    assert found == [] and ami in warning and "forward-compatibility" in warning
    assert GPU_4_1 in warning


def test_an_older_minor_of_the_same_major_is_a_warning():
    found, [warning] = driver_violations(
        CU128, ["ml.g5.xlarge"], "al2-ami-sagemaker-inference-gpu-3-1"
    )
    assert found == [] and "minor version compatibility" in warning


@pytest.mark.parametrize("cuda", [CU128, CU121, (11, 8), (12, 9)])
def test_cuda12_and_older_images_run_on_the_default_drivers(cuda):
    pools = ["ml.g5.xlarge", "ml.p4d.24xlarge", "ml.p5.48xlarge", "ml.p5e.48xlarge"]
    assert driver_violations(cuda, pools + ["ml.g6e.xlarge", "ml.g7e.2xlarge"], None) == ([], [])


@pytest.mark.parametrize(
    "pool", ["ml.g6e.xlarge", "ml.g7.2xlarge", "ml.g7e.2xlarge", "ml.p6-b200.48xlarge"]
)
def test_an_undocumented_default_driver_warns_and_does_not_refuse(pool):
    found, [warning] = driver_violations(CU13, [pool], None)
    assert found == []
    assert f"default NVIDIA driver of {pool} is not documented" in warning
    assert GPU_4_1 in warning


def test_what_other_checks_report_is_left_to_them():
    assert driver_violations(CU13, ["ml.g5.xlarge"], "not-an-ami") == ([], [])
    # CUDA 13 on V100: no AMI helps; the spec's Volta check names the fix
    assert driver_violations(CU13, ["ml.p3.2xlarge"], None) == ([], [])
    assert driver_violations(CU13, ["ml.p3.2xlarge"], GPU_4_1) == ([], [])


def test_driver_runs_follows_nvidias_minimums():
    gpu_4_1, gpu_3_1 = (
        INFERENCE_AMIS[GPU_4_1],
        INFERENCE_AMIS["al2-ami-sagemaker-inference-gpu-3-1"],
    )
    assert drivers.driver_runs(gpu_4_1, CU13) and drivers.driver_runs(gpu_4_1, (11, 3))
    assert drivers.driver_runs(gpu_3_1, CU13) and not drivers.runs_natively(gpu_3_1, CU13)
    assert drivers.runs_natively(gpu_3_1, CU128)
    assert drivers.driver_runs(DEFAULT_DRIVERS["g5"], CU128)  # the images' cuda-compat
    assert not drivers.driver_runs(DEFAULT_DRIVERS["g5"], CU13)
    assert instances.INSTANCES is INSTANCES
