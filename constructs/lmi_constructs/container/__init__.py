"""What runs in the container: the LMI image (ContainerImage) and our handler code
(ModelCode, packaged from handler/)."""
