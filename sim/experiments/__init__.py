"""Many runs at once: parameter sweeps (``sweeps``) and comparisons of scenarios against a baseline
(``comparisons``)."""
