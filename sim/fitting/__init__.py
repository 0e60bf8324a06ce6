"""Fitting the model to observed data: observed encounters, scores, calibration and out-of-sample validation.

Science only: the command line (``sim.cli.fitting``) parses options and prints.
"""
