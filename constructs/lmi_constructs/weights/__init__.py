"""Model weights: where they come from (ModelSource), the bucket they land in, the Hub copy
(HubWeights) and the pre-deploy check of staged weights (WeightsCheck)."""
