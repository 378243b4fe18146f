"""Parameters of the simulated community, with defaults that look like a real app.

Everything the simulator draws from is declared here as frozen dataclasses, so
a run is fully described by a :class:`SimulationConfig` plus ``users``,
``days``, ``seed`` and ``start``. ``docs/simulator.md`` explains each value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Channel",
    "City",
    "EngagementType",
    "ExperimentSpec",
    "PlantedEffect",
    "RetentionDriver",
    "SimulationConfig",
]


@dataclass(frozen=True)
class City:
    """A city users live in: centre coordinates, main language, share of users."""

    name: str
    latitude: float
    longitude: float
    language: str
    share: float
    landmarks: tuple[str, ...]


@dataclass(frozen=True)
class EngagementType:
    """A hidden kind of user and the rates that make it what it is.

    ``active`` is the chance to open the app on a given day in the first days
    after sign-up; it fades with age towards ``active * floor``. Rates named
    ``per_session`` are Poisson means for each session; ``joins_per_day`` is the
    Poisson mean of channel joins on an active day in the first week.
    """

    name: str
    share: float
    active: float
    floor: float
    extra_sessions: float
    feed_views_per_session: float
    posts_per_session: float
    replies_per_session: float
    votes_per_session: float
    shares_per_session: float
    reports_per_session: float
    joins_per_day: float


@dataclass(frozen=True)
class Channel:
    """A topic channel; ``popularity`` weighs users' interest in it."""

    channel_id: str
    name: str
    topic: str
    popularity: float


@dataclass(frozen=True)
class RetentionDriver:
    """The one early behaviour that causes 4-week retention.

    A user who joins at least ``threshold`` channels in the first
    ``window_days`` days after sign-up keeps their daily activity from day
    ``window_days`` on; every other user's daily activity is multiplied by
    ``unmet_multiplier`` from then on. The outcome is being active on any day
    from ``outcome_first_day`` to ``outcome_last_day`` after sign-up.
    """

    behaviour: str = "channel_join"
    threshold: int = 3
    window_days: int = 7
    unmet_multiplier: float = 0.4
    outcome_first_day: int = 21
    outcome_last_day: int = 27

    @property
    def outcome(self) -> str:
        """The retention outcome in words."""
        return (
            f"app_open on any of days {self.outcome_first_day}-"
            f"{self.outcome_last_day} after sign-up (day 0)"
        )


@dataclass(frozen=True)
class PlantedEffect:
    """A true effect of one variant on one metric.

    ``kind`` says which of ``relative`` (a ratio minus one) or ``absolute``
    (a difference in the metric's unit) is planted exactly; the other is
    derived from the simulated control mean and written to the truth table.
    """

    variant: str
    metric: str
    kind: str
    size: float
    description: str


@dataclass(frozen=True)
class ExperimentSpec:
    """An experiment: its variants by weight, start day, surface and effects.

    Users who exist on ``start_day`` (counted from the simulation start) are
    assigned then; later users at sign-up; ``new_users_only`` keeps existing
    users out. The salt of the assignment hash is the experiment id.
    """

    experiment_id: str
    variants: tuple[tuple[str, float], ...]
    start_day: int
    new_users_only: bool
    description: str
    effects: tuple[PlantedEffect, ...] = ()

    @property
    def control(self) -> str:
        """The first variant, the one every effect is measured against."""
        return self.variants[0][0]


_CITIES = (
    City("Berlin", 52.5200, 13.4050, "de", 0.20,
         ("Alexanderplatz", "Tempelhofer Feld", "Kreuzberg", "Mauerpark")),
    City("Hamburg", 53.5511, 9.9937, "de", 0.10,
         ("Sternschanze", "Elbphilharmonie", "St. Pauli", "Alster")),
    City("München", 48.1351, 11.5820, "de", 0.10,
         ("Marienplatz", "Englischer Garten", "Schwabing", "Isar")),
    City("Köln", 50.9375, 6.9603, "de", 0.07,
         ("Ehrenfeld", "Kölner Dom", "Belgisches Viertel", "Rheinufer")),
    City("Leipzig", 51.3397, 12.3731, "de", 0.05,
         ("Connewitz", "Plagwitz", "Clara-Zetkin-Park", "Südvorstadt")),
    City("Frankfurt am Main", 50.1109, 8.6821, "de", 0.06,
         ("Sachsenhausen", "Bornheim", "Mainufer", "Nordend")),
    City("Wien", 48.2082, 16.3738, "de", 0.08,
         ("Naschmarkt", "Prater", "Neubau", "Donaukanal")),
    City("Zürich", 47.3769, 8.5417, "de", 0.05,
         ("Langstrasse", "Seefeld", "Limmatquai", "Kreis 4")),
    City("London", 51.5074, -0.1278, "en", 0.15,
         ("Hackney", "Brixton", "Camden", "Shoreditch")),
    City("Manchester", 53.4808, -2.2426, "en", 0.06,
         ("Northern Quarter", "Ancoats", "Didsbury", "Piccadilly")),
    City("Dublin", 53.3498, -6.2603, "en", 0.05,
         ("Temple Bar", "Rathmines", "Phibsborough", "Grafton Street")),
    City("Edinburgh", 55.9533, -3.1883, "en", 0.03,
         ("Leith", "Old Town", "Arthur's Seat", "Stockbridge")),
)  # fmt: skip

_ENGAGEMENT_TYPES = (
    EngagementType("lurker", 0.40, 0.25, 0.45, 0.3, 2.5, 0.03, 0.04, 0.8,
                   0.02, 0.010, 0.55),
    EngagementType("casual", 0.35, 0.45, 0.45, 0.6, 3.0, 0.12, 0.15, 1.5,
                   0.05, 0.012, 0.65),
    EngagementType("regular", 0.18, 0.65, 0.50, 1.2, 4.0, 0.35, 0.45, 3.0,
                   0.10, 0.015, 0.70),
    EngagementType("power", 0.07, 0.85, 0.55, 2.5, 5.0, 0.90, 1.20, 6.0,
                   0.20, 0.020, 0.80),
)  # fmt: skip

_CHANNELS = (
    Channel("sim-c-food", "Food & Drinks", "food", 1.6),
    Channel("sim-c-nightlife", "Nightlife", "nightlife", 1.2),
    Channel("sim-c-housing", "Housing", "housing", 1.3),
    Channel("sim-c-transport", "Transport", "transport", 1.0),
    Channel("sim-c-events", "Events", "events", 1.2),
    Channel("sim-c-sports", "Sports", "sports", 0.9),
    Channel("sim-c-pets", "Pets", "pets", 0.7),
    Channel("sim-c-jobs", "Jobs", "jobs", 0.6),
    Channel("sim-c-lostfound", "Lost & Found", "lostfound", 0.5),
    Channel("sim-c-weather", "Weather", "weather", 0.6),
    Channel("sim-c-study", "Study", "study", 0.8),
    Channel("sim-c-market", "Buy & Sell", "market", 1.0),
    Channel("sim-c-music", "Music", "music", 0.8),
    Channel("sim-c-smalltalk", "Smalltalk", "smalltalk", 1.4),
)

_EXPERIMENTS = (
    ExperimentSpec(
        "feed_ranking_v2",
        (("control", 0.5), ("treatment", 0.5)),
        start_day=7,
        new_users_only=False,
        description="Rank the local feed by predicted interest instead of time.",
        effects=(
            PlantedEffect(
                "treatment", "posts_per_user", "relative", 0.05,
                "posts and replies in days 0-13 after first exposure, +5%",
            ),
            PlantedEffect(
                "treatment", "day7_retention", "absolute", 0.02,
                "app_open on day 7 after first exposure, +2 percentage points",
            ),
        ),
    ),
    ExperimentSpec(
        "onboarding_checklist",
        (("control", 0.5), ("checklist", 0.5)),
        start_day=0,
        new_users_only=True,
        description="Show new users a checklist that suggests channels to join.",
        effects=(
            PlantedEffect(
                "checklist", "channel_joins_per_user", "relative", 0.08,
                "channel_join events in days 0-6 after sign-up, +8%",
            ),
        ),
    ),
    ExperimentSpec(
        "push_notifications",
        (("control", 0.7), ("daily_push", 0.3)),
        start_day=7,
        new_users_only=False,
        description="Send a daily push about popular posts nearby.",
        effects=(
            PlantedEffect(
                "daily_push", "sessions_per_user", "relative", 0.04,
                "app_open events in days 0-13 after first exposure, +4%",
            ),
            PlantedEffect(
                "daily_push", "reports_per_user", "relative", 0.20,
                "report events in days 0-13 after first exposure, +20% (worse)",
            ),
        ),
    ),
    ExperimentSpec(
        "aa_check",
        (("a", 0.5), ("b", 0.5)),
        start_day=7,
        new_users_only=False,
        description="A/A test: both variants get the same experience.",
        effects=(
            PlantedEffect(
                "b", "sessions_per_user", "relative", 0.0,
                "no effect on anything (A/A)",
            ),
            PlantedEffect(
                "b", "posts_per_user", "relative", 0.0,
                "no effect on anything (A/A)",
            ),
        ),
    ),
)  # fmt: skip

#: Relative weight of each hour of the day (UTC) for sessions and sign-ups.
_HOURLY = (
    0.6, 0.3, 0.2, 0.1, 0.1, 0.3, 0.8, 1.6, 2.0, 1.8, 1.6, 1.7,
    2.2, 2.0, 1.7, 1.7, 1.9, 2.3, 2.7, 3.0, 3.1, 2.8, 2.0, 1.2,
)  # fmt: skip


@dataclass(frozen=True)
class SimulationConfig:
    """All parameters of the simulated community.

    Attributes
    ----------
    cities, engagement_types, channels, experiments
        The worlds' parts; see the classes above.
    retention_driver
        The early behaviour that causes 4-week retention.
    hourly_weights
        Relative weight of each UTC hour for sessions and sign-ups.
    launch_share, launch_days
        Share of users who sign up in the first ``launch_days`` days (the
        launch cohort, which gives experiments a pre-period); the others sign
        up uniformly over the whole period.
    fade_days
        Time constant (days) of the fade of daily activity with age.
    home_jitter_km, post_jitter_km
        Standard deviation of a home around its city centre and of a post
        around its author's home, per axis.
    second_language_share
        Share of users whose language is not their city's.
    affinity_concentration
        Dirichlet concentration of users' channel interests (smaller: each
        user cares about fewer channels).
    join_propensity_sigma
        Log-normal spread of users' own taste for joining channels.
    late_join_factor
        Channel joins per active day after the first week, as a share of the
        first week's rate.
    feed_days
        Posts of the last ``feed_days`` days are in a user's local feed.
    upvote_bias
        Log-odds of an up-vote on a post of average quality.
    block_users
        Users simulated together with one random stream; a block's users
        share a local feed (a neighbourhood). Changing it changes the data.
    """

    cities: tuple[City, ...] = _CITIES
    engagement_types: tuple[EngagementType, ...] = _ENGAGEMENT_TYPES
    channels: tuple[Channel, ...] = _CHANNELS
    experiments: tuple[ExperimentSpec, ...] = _EXPERIMENTS
    retention_driver: RetentionDriver = field(default_factory=RetentionDriver)
    hourly_weights: tuple[float, ...] = _HOURLY
    launch_share: float = 0.5
    launch_days: int = 3
    fade_days: float = 10.0
    home_jitter_km: float = 4.0
    post_jitter_km: float = 1.5
    second_language_share: float = 0.1
    affinity_concentration: float = 3.0
    join_propensity_sigma: float = 0.5
    late_join_factor: float = 0.15
    feed_days: int = 3
    upvote_bias: float = 1.2
    block_users: int = 2_000

    @property
    def experiment_ids(self) -> tuple[str, ...]:
        """Ids of the simulated experiments, in declaration order."""
        return tuple(spec.experiment_id for spec in self.experiments)
