"""Comparing scenarios: study files, paired differences, cost-effectiveness, figures and one report."""
from .comparison import Comparison, compare, load_comparison
from .study import Study, StudyFile, load_study

__all__ = ["Comparison", "compare", "load_comparison", "Study", "StudyFile", "load_study"]
