"""The model's foundations: scenario files and their schema (levers in ``policies``, uncertainties in
``parameters``), the world and its data, the monthly inputs of a run, every behavioural formula (``rules``),
counter-based random numbers, months and country codes. Imports nothing else of ``sim``."""
