"""The interactive app: a Solara page over a Mesa model of a scenario, with sliders for the main levers.

``migsim app SCENARIO`` serves it on 127.0.0.1 (``--port`` to choose the port). The page
(titled after the scenario) shows the route network on a map, with how many people stand
at each node, and live outcome curves by month (encounters, deaths, people in transit),
each with its latest value. Sliders, each showing its value, set four levers on top of
the scenario from the first reported month on: extra root-cause aid, Mexico's containment
capacity, the US apprehension probability and CBP appointment places. "Reset" builds a
new model with the slider values; "Step" and "▶" advance it month by month (Mesa's
``ModelController``). Every asset is served by the local server: nothing is loaded from a
CDN (no ``solara.Markdown``, whose KaTeX and Mermaid the server would fetch from one).

The page is built from the environment (``MIGSIM_APP_SCENARIO``, ``MIGSIM_APP_AGENTS``)
because Solara imports this module by name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from .core.calendar import format_month
from .core.countries import TRANSIT_COUNTRIES
from .core.inputs import RunInputs, compile_inputs
from .core.network import node_positions
from .core.scenario import Scenario, load_scenario
from .engines.mesa import MigrationModel

ENV_SCENARIO, ENV_AGENTS = "MIGSIM_APP_SCENARIO", "MIGSIM_APP_AGENTS"
DEFAULT_AGENTS = 20_000
LOCALHOST = "127.0.0.1"

CURVES = (("encounters", "Encounters at the US border (per month)", "persons"),
          ("deaths", "Deaths on the way (per month)", "persons"),
          ("in_transit", "People on the way (end of month)", "persons"))
PLAY_INTERVAL_MS = 300
FIGURE_INCHES = (5.4, 5.0)
"""Size of each figure: at matplotlib's 100 dpi, about the width of its column on a 1500-pixel screen (shown at
its own size, so its fonts read as the style sets them)."""


@dataclass(frozen=True)
class Lever:
    """A slider of the page: the ``AppModel`` argument it sets, its label, range and how its value reads."""

    name: str
    label: str
    value: float
    low: float
    high: float
    step: float
    unit: str = ""

    def shows(self, value: float) -> str:
        """The value as the slider's label writes it: 150,000 persons/month; 0.75; 1,000 million USD/year."""
        number = f"{value:,.0f}" if self.step >= 1 else f"{value:.2f}"
        return f"{number} {self.unit}".strip()


def levers(scenario: Scenario) -> list[Lever]:
    """The four sliders, starting at the scenario's values in its first reported month."""
    defaults = lever_defaults(scenario)
    mexico, appointments = defaults["mexico_containment_capacity"], defaults["appointment_places_per_month"]
    return [Lever("extra_aid_musd_per_year", "Extra aid per origin", 0.0, 0.0, 2_000.0, 50.0, "million USD/year"),
            Lever("mexico_containment_capacity", "Mexico containment", mexico, 0.0, max(200_000.0, mexico), 5_000.0,
                  "persons/month"),
            Lever("us_apprehension_probability", "US apprehension probability",
                  defaults["us_apprehension_probability"], 0.0, 1.0, 0.05),
            Lever("appointment_places_per_month", "Appointments", appointments, 0.0, max(100_000.0, appointments),
                  1_000.0, "persons/month")]       # steps of 1,000: fine enough to hold the scenario's value


def _start_inputs(scenario: Scenario) -> RunInputs:
    """The scenario's monthly inputs (policies do not depend on the sample: compiled at one agent per origin)."""
    return compile_inputs(scenario.with_overrides(agents=len(scenario.origins)))


def lever_defaults(scenario: Scenario, inputs: RunInputs | None = None) -> dict[str, float]:
    """The levers' values in the scenario at its first reported month (the sliders' starting points)."""
    inputs = inputs if inputs is not None else _start_inputs(scenario)
    t, mex = inputs.warmup, TRANSIT_COUNTRIES.index("MEX")
    return {"extra_aid_musd_per_year": 0.0,
            "mexico_containment_capacity": float(inputs.containment_capacity[t, mex]),
            "us_apprehension_probability": round(float(inputs.apprehension[t, :len(scenario.origins)].mean()), 2),
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


# ---------------------------------------------------------------- figures (plain matplotlib, tested on their own)

LABEL_RADII = (7.0, 16.0, 28.0, 42.0, 58.0, 76.0)
"""Distances (points) from a node at which its label is tried, nearest first; beyond the first, a line joins them."""
LABEL_ANGLES = (0, 30, -30, 60, -60, 90, -90, 180, 150, -150, 120, -120, 15, -15, 165, -165)
"""Directions (degrees, counterclockwise from east) in which a label is tried, in this order at each distance."""
INSET = (-93.5, -83.0, 9.0, 16.0)
"""Central America (west, east, south, north; degrees), where nodes stand close: drawn magnified in an inset."""
INSET_BOX = (0.01, 0.01, 0.54, 0.44)
"""Where the inset sits in the map (axes fraction: left, bottom, width, height): the empty Pacific."""
MAP_INCHES = (6.6, 5.8)
"""Size of the map: larger than the other figures, for it reaches from the US border to Chile and Brazil."""
PACIFIC_DEGREES = 21.0
"""Open sea drawn west of the westernmost node (degrees of longitude): room for the inset."""


def _lon(value: float, _=None) -> str:
    return f"{abs(value):g}°{'W' if value < 0 else 'E'}"


def _lat(value: float, _=None) -> str:
    return f"{abs(value):g}°{'S' if value < 0 else 'N'}"


def network_figure(model: MigrationModel) -> Figure:
    """The route network on a map (longitude, latitude of each node's place, ``route_graph.yaml``), with Central
    America magnified in an inset (``INSET``): each node's circle grows with the persons standing there now, and
    each label is put where it overlaps no other label and no circle (``place_labels``). Nodes without a position
    (added by a scenario) are not drawn. The labels are kept as ``figure.node_labels``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter

    from .outputs.plots import STYLE

    world, persons = model.world, model.persons_at_nodes()
    where = node_positions()
    shown = [node for node in world.node_ids if node in where]
    count = dict(zip(world.node_ids, persons))
    top = max(float(persons.max()), 1.0)
    sizes = {node: 25 + 600 * np.sqrt(count[node] / top) for node in shown}       # points²
    west, east, south, north = INSET
    inside = [n for n in shown if west <= where[n].lon <= east and south <= where[n].lat <= north]
    with plt_style(STYLE):
        fig = Figure(figsize=MAP_INCHES, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        inset = ax.inset_axes(INSET_BOX)
        for axes in (ax, inset):
            _draw_network(axes, world, shown, where, sizes)
        lons, lats = [where[n].lon for n in shown], [where[n].lat for n in shown]
        ax.set_xlim(min(lons) - 6 - PACIFIC_DEGREES, max(lons) + 6)
        ax.set_ylim(min(lats) - 4, max(lats) + 4)
        ax.set_aspect("equal")
        ax.xaxis.set_major_formatter(FuncFormatter(_lon))
        ax.yaxis.set_major_formatter(FuncFormatter(_lat))
        ax.grid(alpha=0.2)
        ax.add_patch(Rectangle((west, south), east - west, north - south, fill=False, edgecolor="0.4", lw=0.8,
                               linestyle="--"))
        inset.set_xlim(west, east)
        inset.set_ylim(south, north)
        inset.set_aspect("equal")
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_title("Central America (dashed box)", fontsize=9)
        months = model.reported_months()
        ax.set_title(f"People on the way by node, end of {months[-1] if months else 'the warm-up'} (persons)")
        fig.canvas.draw()                       # fix the layout, then place the labels in it
        fig.set_layout_engine("none")

        def label(node: str) -> tuple[str, object, float]:
            text = node.replace("_TRANSIT", " (transit)").replace("_", " ")
            return text + (f"\n{count[node]:,.0f}" if count[node] > 0 else ""), where[node], sizes[node]

        renderer = fig.canvas.get_renderer()
        outside = [n for n in shown if n not in inside]
        fig.node_labels = (place_labels(ax, [label(n) for n in outside],         # type: ignore[attr-defined]
                                        avoid=[inset.get_tightbbox(renderer)], others=[label(n) for n in inside])
                           + place_labels(inset, [label(n) for n in inside]))
    return fig


def _draw_network(ax, world, shown: list[str], where: dict, sizes: dict) -> None:
    """Edges as arrows and nodes as circles (where people live orange, the rest blue) on ``ax``."""
    for e in world.edges:
        if e.source in where and e.target in where:
            a, b = where[e.source], where[e.target]
            arrow = ax.annotate("", (b.lon, b.lat), (a.lon, a.lat), annotation_clip=False,
                                arrowprops={"arrowstyle": "-|>", "color": "#c8c8c8", "lw": 0.8, "shrinkA": 4,
                                            "shrinkB": 4})
            arrow.arrow_patch.set_clip_box(ax.bbox)            # edges leaving the inset end at its frame
            arrow.arrow_patch.set_clip_on(True)
    homes = {world.node_ids[i] for i in world.pool_node}
    for node in shown:
        ax.scatter([where[node].lon], [where[node].lat], s=sizes[node], zorder=3, alpha=0.85, edgecolors="black",
                   linewidths=0.5, color="#E69F00" if node in homes else "#0072B2")


def place_labels(ax, labels: list[tuple[str, object, float]], avoid: list | None = None,
                 others: list[tuple[str, object, float]] | None = None) -> list:
    """Put each label (text, position with lon/lat, marker size in points²) next to its node where it overlaps no
    label placed before, no node's circle (its ``others`` too, nodes not labelled here), nothing of ``avoid``
    (boxes in pixels) and stays inside the axes: the first free spot of ``LABEL_RADII`` x ``LABEL_ANGLES``, joined
    to its node by a dashed line when it is not beside it (the line counts as part of the label). Returns the
    annotations."""
    import math

    from matplotlib.transforms import Bbox

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_pixels = fig.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    circles, node_at = [], []
    for _text, where, size in labels + (others or []):
        x, y = ax.transData.transform((where.lon, where.lat))
        r = math.sqrt(size) / 2 * to_pixels + 1
        circles.append(Bbox([[x - r, y - r], [x + r, y + r]]))
        node_at.append((x, y))
    placed: list[Bbox] = list(avoid or [])
    annotations = []
    for k, (text, where, size) in enumerate(labels):
        best, best_cost = None, math.inf
        for radius in LABEL_RADII:
            for angle in LABEL_ANGLES:
                dx = (radius + math.sqrt(size) / 2) * math.cos(math.radians(angle))
                dy = (radius + math.sqrt(size) / 2) * math.sin(math.radians(angle))
                ha = "left" if dx > 2 else "right" if dx < -2 else "center"
                va = "bottom" if dy > 2 else "top" if dy < -2 else "center"
                note = ax.annotate(text, (where.lon, where.lat), xytext=(dx, dy), textcoords="offset points",
                                   ha=ha, va=va, fontsize=8, zorder=4, linespacing=1.0)
                box = note.get_window_extent(renderer).expanded(1.0, 1.0).padded(1.5)
                note.remove()
                if radius > LABEL_RADII[0]:              # the line joining it to its node is part of the label
                    box = Bbox.union([box, Bbox.from_extents(*node_at[k], *node_at[k])])
                cost = sum(_overlap(box, other) for other in placed + circles[:k] + circles[k + 1:])
                cost += 4 * (box.width * box.height - _overlap(box, frame))           # outside the axes
                if cost < best_cost:
                    best, best_cost = (dx, dy, ha, va, radius, box), cost
                if cost == 0:
                    break
            if best_cost == 0:
                break
        dx, dy, ha, va, radius, box = best
        line = {"arrowstyle": "-", "color": "#555555", "lw": 0.7, "linestyle": (0, (2, 1)), "shrinkA": 0,
                "shrinkB": 2} if radius > LABEL_RADII[0] else None
        annotations.append(ax.annotate(text, (where.lon, where.lat), xytext=(dx, dy), textcoords="offset points",
                                       ha=ha, va=va, fontsize=8, zorder=4, linespacing=1.0, arrowprops=line))
        placed.append(box)
    return annotations


def _overlap(a, b) -> float:
    """Area (pixels²) shared by two boxes."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)


def curves_figure(model: MigrationModel) -> Figure:
    """Encounters, deaths and people in transit per reported month so far (persons), by month (``YYYY-MM``), each
    panel with its latest value written at the end of its curve."""
    import matplotlib.dates as mdates
    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from .outputs.plots import STYLE, THOUSANDS

    months = model.reported_months()
    dates = pd.to_datetime(months, format="%Y-%m")
    reported = model.inputs.calendar[model.inputs.warmup:]
    horizon = pd.to_datetime([format_month(int(m)) for m in reported[[0, -1]]], format="%Y-%m")
    with plt_style(STYLE):
        fig = Figure(figsize=FIGURE_INCHES, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(CURVES), 1, sharex=True)
        for ax, (metric, title, unit) in zip(axes, CURVES):
            values = model.monthly_persons(metric)
            ax.plot(dates, values, color="#0072B2", marker="o", markersize=3)
            if len(values):
                ax.annotate(f"{values[-1]:,.0f}", (dates[-1], values[-1]), xytext=(5, 3), textcoords="offset points",
                            fontsize=9, color="#0072B2")
            ax.set_title(title, fontsize=10.5)
            ax.set_ylabel(unit)
            ax.yaxis.set_major_formatter(THOUSANDS)
            highest = values.max() if len(values) else 0.0
            ax.set_ylim(bottom=0, top=1.18 * highest if highest > 0 else 1)        # room for the value written
            ax.set_xlim(horizon[0] - pd.Timedelta(days=15), horizon[1] + pd.Timedelta(days=75))
            ax.grid(alpha=0.3)
        step = max(1, -(-len(reported) // 6))                   # at most about six month labels, from the first
        axes[-1].set_xticks(pd.to_datetime([format_month(int(m)) for m in reported[::step]], format="%Y-%m"))
        axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
        axes[-1].set_xlabel("month")
    return fig


def status_text(model: MigrationModel) -> str:
    """The line under the curves: the month and this month's (and the total so far of) encounters and deaths, and
    the people on the way (persons)."""
    months = model.reported_months()
    latest, total = {}, {}
    for metric, _, _ in CURVES:
        values = model.monthly_persons(metric)
        latest[metric], total[metric] = (values[-1] if len(values) else 0.0), values.sum()
    return (f"{months[-1] if months else 'warm-up'} · encounters: {latest['encounters']:,.0f} "
            f"(so far {total['encounters']:,.0f}) · deaths: {latest['deaths']:,.0f} (so far {total['deaths']:,.0f}) "
            f"· in transit: {latest['in_transit']:,.0f} (persons)")


def month_text(model: MigrationModel) -> str:
    """Where the model stands: the month last simulated (``YYYY-MM``) and how many of the reported months are done."""
    months = model.reported_months()
    reported = len(model.inputs.calendar) - model.inputs.warmup
    if not months:
        first = format_month(int(model.inputs.calendar[model.inputs.warmup]))
        return f"Warm-up done ({model.inputs.warmup} months); the first reported month is {first}"
    return f"Month {months[-1]} ({len(months)} of {reported} reported months)"


# ---------------------------------------------------------------- the page

def plt_style(style: dict):
    """matplotlib's ``rc_context`` (the package's figure style) without importing pyplot at module level."""
    import matplotlib

    return matplotlib.rc_context(style)


def _figure(fig: Figure) -> None:
    import matplotlib.pyplot as plt  # noqa: F401  (Agg backend for solara's figure display)
    import solara

    solara.FigureMatplotlib(fig, format="png")


def make_page(scenario_file: str, agents: int = DEFAULT_AGENTS):
    """The page of a scenario file at ``agents`` agents (a Solara element)."""
    import solara
    from mesa.visualization.solara_viz import ModelController
    from mesa.visualization.utils import update_counter

    scenario = load_scenario(scenario_file)
    sliders = levers(scenario)

    @solara.component
    def Figures(model: MigrationModel):
        update_counter.get()                    # drawn again after every step (Mesa's ModelController)
        with solara.Columns([1, 1]):
            _figure(network_figure(model))
            _figure(curves_figure(model))
        solara.Text(status_text(model))

    @solara.component
    def Month(model: MigrationModel):
        update_counter.get()
        solara.Text(month_text(model))

    @solara.component
    def LeverSlider(lever: Lever, parameters):
        value = parameters.value.get(lever.name, lever.value)

        def move(new: float) -> None:
            parameters.value = {**parameters.value, lever.name: new}

        with solara.Column(gap="0px"):              # the value above a slider as wide as the card
            solara.Text(f"{lever.label}: {lever.shows(value)}")
            solara.SliderFloat("", value=value, min=lever.low, max=lever.high, step=lever.step, on_value=move,
                               thumb_label=False)

    @solara.component
    def Page():
        first = solara.use_memo(lambda: AppModel(str(scenario_file), agents=int(agents)), [])
        model = solara.use_reactive(first)
        parameters = solara.use_reactive({"scenario_file": str(scenario_file), "agents": int(agents),
                                          **{lever.name: lever.value for lever in sliders}})
        title = f"migsim: {scenario.name}"
        solara.Title(title)
        with solara.AppBar():
            solara.AppBarTitle(f"{title} ({int(agents):,} agents)")
        with solara.Sidebar(), solara.Column():
            with solara.Card("Controls"):
                ModelController(model, model_parameters=parameters, play_interval=solara.use_reactive(PLAY_INTERVAL_MS),
                                render_interval=solara.use_reactive(1), use_threads=solara.use_reactive(False))
                solara.Text("Reset builds a model with the lever values; Step and ▶ advance it month by month.")
            with solara.Card(f"Levers from {scenario.start}"):
                for lever in sliders:
                    LeverSlider(lever, parameters)
            with solara.Card("Time"):
                Month(model.value)
        Figures(model.value)

    return Page()


page = make_page(os.environ[ENV_SCENARIO], int(os.environ.get(ENV_AGENTS, DEFAULT_AGENTS))) \
    if os.environ.get(ENV_SCENARIO) else None
