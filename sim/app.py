"""The interactive app: a Mesa SolaraViz page over a scenario, with sliders for the main levers.

``migsim app SCENARIO`` serves it on 127.0.0.1 (``--port`` to choose the port). The page
shows the route network with how many people stand at each node, and live outcome
curves (encounters, deaths, people in transit). Sliders set four levers on top of the
scenario, from the first reported month on: extra root-cause aid, Mexico's containment
capacity, the US apprehension probability and CBP appointment places. "Reset" builds a
new model with the slider values; "Step" and "Play" advance it month by month.

The page is built from the environment (``MIGSIM_APP_SCENARIO``, ``MIGSIM_APP_AGENTS``)
because Solara imports this module by name.
"""
from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from .core.calendar import format_month
from .core.countries import TRANSIT_COUNTRIES
from .core.inputs import RunInputs, compile_inputs
from .core.scenario import Scenario, load_scenario
from .engines.mesa import MigrationModel

ENV_SCENARIO, ENV_AGENTS = "MIGSIM_APP_SCENARIO", "MIGSIM_APP_AGENTS"
DEFAULT_AGENTS = 20_000
LOCALHOST = "127.0.0.1"

# Approximate map positions (longitude, latitude in degrees) of the network's nodes, for drawing only.
NODE_POSITIONS = {
    "VEN": (-66.9, 10.5), "CUB": (-80.5, 22.5), "HTI": (-72.3, 18.9), "NIC": (-84.6, 12.9), "HND": (-86.4, 14.9),
    "GTM": (-90.5, 14.0), "SLV": (-88.9, 12.9), "ECU": (-78.5, -0.2), "COL": (-74.1, 4.7), "MEX": (-102.5, 21.5),
    "PER": (-77.0, -9.0), "COL_NECOCLI": (-76.3, 8.3), "PAN_DARIEN": (-78.5, 8.0), "CRI_TRANSIT": (-84.0, 10.0),
    "NIC_TRANSIT": (-86.2, 11.9), "HND_TRANSIT": (-87.7, 15.6), "GTM_TRANSIT": (-91.6, 15.8),
    "MEX_AIRPORT": (-98.6, 19.4), "MEX_SOUTH": (-93.5, 16.6), "MEX_NORTH": (-106.4, 31.7), "USA": (-99.0, 35.0),
}
CURVES = (("encounters", "Encounters at the US border"), ("deaths", "Deaths on the way"),
          ("in_transit", "People on the way (end of month)"))


def _start_inputs(scenario: Scenario) -> RunInputs:
    """The scenario's monthly inputs (policies do not depend on the sample: compiled at one agent per origin)."""
    return compile_inputs(scenario.with_overrides(agents=len(scenario.origins)))


def lever_defaults(scenario: Scenario, inputs: RunInputs | None = None) -> dict[str, float]:
    """The levers' values in the scenario at its first reported month (the sliders' starting points)."""
    inputs = inputs if inputs is not None else _start_inputs(scenario)
    t, mex = inputs.warmup, TRANSIT_COUNTRIES.index("MEX")
    return {"extra_aid_musd_per_year": 0.0,
            "mexico_containment_capacity": float(inputs.containment_capacity[t, mex]),
            "us_apprehension_probability": round(float(inputs.apprehension[t].mean()), 2),
            "appointment_places_per_month": float(inputs.appointment_places[t])}


def with_levers(scenario: Scenario, levers: dict[str, float]) -> Scenario:
    """The scenario plus policy blocks for every lever moved away from its default (from the start month)."""
    inputs = _start_inputs(scenario)
    defaults = lever_defaults(scenario, inputs)
    moved = {k: v for k, v in levers.items() if v is not None and not np.isclose(v, defaults[k])}
    if not moved:
        return scenario
    t, start = inputs.warmup, scenario.start
    blocks = {}
    if "extra_aid_musd_per_year" in moved:
        blocks["app_aid"] = {"kind": "aid", "start": start, "origins": list(scenario.origins),
                             "budget_usd_per_year": moved["extra_aid_musd_per_year"] * 1e6}
    if "mexico_containment_capacity" in moved:
        c = TRANSIT_COUNTRIES.index("MEX")
        blocks["app_containment"] = {
            "kind": "containment", "country": "MEX", "start": start,
            "interception_probability": float(inputs.containment_probability[t, c]) or 0.3,
            "capacity_per_month": moved["mexico_containment_capacity"],
            "outcome": dict(zip(("deport", "hold", "pushback"), map(float, inputs.containment_outcome[t, c])))}
    if "us_apprehension_probability" in moved:
        shares = inputs.border_outcome[t].mean(axis=0)
        blocks["app_enforcement"] = {
            "kind": "enforcement", "start": start, "apprehension_probability": moved["us_apprehension_probability"],
            "outcome": dict(zip(("expel_to_mexico", "remove_to_origin", "release"), map(float, shares / shares.sum())))}
    if "appointment_places_per_month" in moved:
        blocks["app_appointments"] = {"kind": "legal_pathway", "pathway": "appointments", "start": start,
                                      "places_per_month": moved["appointment_places_per_month"]}
    data = scenario.model_dump(mode="json")
    data["policies"] = {**data["policies"], **blocks}
    return Scenario.model_validate(data)


class AppModel(MigrationModel):
    """The app's model: a scenario file, a sample size and the four levers; warm-up already run."""

    def __init__(self, scenario_file: str, agents: int = DEFAULT_AGENTS, extra_aid_musd_per_year: float = 0.0,
                 mexico_containment_capacity: float | None = None, us_apprehension_probability: float | None = None,
                 appointment_places_per_month: float | None = None):
        scenario = load_scenario(scenario_file).with_overrides(agents=int(agents), replications=1)
        scenario = with_levers(scenario, {
            "extra_aid_musd_per_year": extra_aid_musd_per_year,
            "mexico_containment_capacity": mexico_containment_capacity,
            "us_apprehension_probability": us_apprehension_probability,
            "appointment_places_per_month": appointment_places_per_month})
        super().__init__(scenario)
        while self.steps < self.inputs.warmup:
            self.step()


# ---------------------------------------------------------------- page components

def route_network(model: MigrationModel):
    """The route network; each node's circle grows with the persons standing there now."""
    import solara

    world, persons = model.world, model.persons_at_nodes()
    fig = Figure(figsize=(7.5, 6.0), layout="constrained")
    ax = fig.add_subplot()
    for e in world.edges:
        (x0, y0), (x1, y1) = NODE_POSITIONS[e.source], NODE_POSITIONS[e.target]
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "-|>", "color": "#bbbbbb", "lw": 0.8})
    top = max(float(persons.max()), 1.0)
    for i, node in enumerate(world.node_ids):
        x, y = NODE_POSITIONS[node]
        origin = node in world.origins
        ax.scatter([x], [y], s=40 + 1400 * np.sqrt(persons[i] / top), color="#E69F00" if origin else "#0072B2",
                   alpha=0.8, edgecolors="black", linewidths=0.5, zorder=3)
        label = node.replace("_TRANSIT", " (transit)").replace("_", " ")
        text = f"{label}\n{persons[i]:,.0f}" if persons[i] > 0 else label
        ax.annotate(text, (x, y), xytext=(6, 4), textcoords="offset points", fontsize=7, zorder=4)
    months = model.reported_months()
    ax.set_title(f"People on the way by node, end of {months[-1] if months else 'warm-up'} (persons)")
    ax.set_xlabel("longitude (degrees)")
    ax.set_ylabel("latitude (degrees)")
    ax.set_aspect("equal")
    solara.FigureMatplotlib(fig, format="png")


def outcome_curves(model: MigrationModel):
    """Encounters, deaths and people in transit per reported month so far (persons)."""
    import matplotlib.dates as mdates
    import pandas as pd
    import solara

    months = model.reported_months()
    dates = pd.to_datetime(months, format="%Y-%m")
    horizon = pd.to_datetime([format_month(int(m)) for m in model.inputs.calendar[model.inputs.warmup:][[0, -1]]],
                             format="%Y-%m")
    fig = Figure(figsize=(7.5, 6.0), layout="constrained")
    axes = fig.subplots(len(CURVES), 1, sharex=True)
    latest, total = {}, {}
    for ax, (metric, title) in zip(axes, CURVES):
        values = model.monthly_persons(metric)
        latest[metric], total[metric] = (values[-1] if len(values) else 0.0), values.sum()
        ax.plot(dates, values, color="#0072B2", marker="o", markersize=3)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("persons per month" if metric != "in_transit" else "persons")
        ax.set_ylim(bottom=0)
        ax.set_xlim(horizon[0] - pd.Timedelta(days=15), horizon[1] + pd.Timedelta(days=15))
        ax.grid(alpha=0.3)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    axes[-1].set_xlabel("month")
    solara.FigureMatplotlib(fig, format="png")
    month = months[-1] if months else "warm-up"
    solara.Markdown(f"**{month}** · encounters: {latest['encounters']:,.0f} (so far {total['encounters']:,.0f}) · "
                    f"deaths: {latest['deaths']:,.0f} (so far {total['deaths']:,.0f}) · "
                    f"in transit: {latest['in_transit']:,.0f} (persons)")


def make_page(scenario_file: str, agents: int = DEFAULT_AGENTS):
    """The SolaraViz page of a scenario file at ``agents`` agents."""
    from mesa.visualization import Slider, SolaraViz

    scenario = load_scenario(scenario_file)
    defaults = lever_defaults(scenario)
    model_params = {
        "scenario_file": str(scenario_file),
        "agents": int(agents),
        "extra_aid_musd_per_year": Slider("Extra aid (million USD/year per origin)",
                                          value=0.0, min=0.0, max=2_000.0, step=50.0),
        "mexico_containment_capacity": Slider("Mexico containment (persons/month)",
                                              value=defaults["mexico_containment_capacity"], min=0.0,
                                              max=max(200_000.0, defaults["mexico_containment_capacity"]),
                                              step=5_000.0),
        "us_apprehension_probability": Slider("US apprehension probability",
                                              value=defaults["us_apprehension_probability"], min=0.0, max=1.0,
                                              step=0.05),
        "appointment_places_per_month": Slider("Appointments (persons/month)",
                                               value=defaults["appointment_places_per_month"], min=0.0,
                                               max=max(100_000.0, defaults["appointment_places_per_month"]),
                                               step=1_000.0),     # fine enough to hold the scenario's value
    }
    model = AppModel(str(scenario_file), agents=int(agents))
    return SolaraViz(model, components=[(route_network, 0), (outcome_curves, 0)], model_params=model_params,
                     name=f"migsim: {scenario.name}")


page = make_page(os.environ[ENV_SCENARIO], int(os.environ.get(ENV_AGENTS, DEFAULT_AGENTS))) \
    if os.environ.get(ENV_SCENARIO) else None
