"""Copy a Hugging Face repository into S3: resolve, select, plan (the manifest), copy each file
in verified parts, publish the completion marker last. Run by HubWeights' functions and, unchanged,
by `lmi stage-weights`."""
