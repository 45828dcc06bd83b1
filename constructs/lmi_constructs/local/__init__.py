"""`lmi local`: DJL Serving's container contract on 127.0.0.1, running model_code/ unchanged."""
