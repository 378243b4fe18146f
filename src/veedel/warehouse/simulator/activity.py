"""Day-by-day activity of one block of users, vectorised over users.

Each day every living user is active with a chance that fades with age (and
drops for users who missed the retention behaviour in their first week); an
active user has sessions, and each session has feed views, posts, replies,
votes, shares and reports drawn as Poisson counts. Replies, votes, shares
and reports go to posts of the last ``feed_days`` days from the same city in
the same block (the user's local feed). Private to the simulator.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from veedel.warehouse.simulator.config import SimulationConfig
from veedel.warehouse.simulator.experiments import ExperimentBlock, Levers
from veedel.warehouse.simulator.population import (
    SECONDS_PER_DAY,
    Population,
    draw_population,
    draw_seconds,
    jitter,
)
from veedel.warehouse.simulator.texts import post_texts, reply_texts

__all__ = ["EVENT_NAMES", "BlockActivity", "simulate_block"]

EVENT_NAMES = ("app_open", "feed_view", "channel_join", "share", "report")
_APP_OPEN, _FEED_VIEW, _CHANNEL_JOIN, _SHARE, _REPORT = range(5)
_MICROS = 1_000_000

Int = NDArray[np.int64]
Float = NDArray[np.float64]
#: Posts in the pool's layout: id, author, city, channel, quality, is_reply.
PoolPosts = tuple[Int, Int, Int, Int, Float, NDArray[np.bool_]]


@dataclass(frozen=True)
class BlockActivity:
    """Everything one block of users did, as arrays (times in µs from start).

    Posts are numbered within the block; ``post_parent`` is -1 for top-level
    posts. Users are positions in ``population``; ``event_channel`` and
    ``event_post`` are -1 where the event has none.
    """

    block: int
    population: Population
    experiments: ExperimentBlock
    post_author: Int
    post_parent: Int
    post_channel: Int
    post_time: Int
    post_latitude: Float
    post_longitude: Float
    post_text: list[str]
    post_score: Int
    vote_post: Int
    vote_user: Int
    vote_value: Int
    vote_time: Int
    event_user: Int
    event_name: Int
    event_time: Int
    event_channel: Int
    event_post: Int
    driver_effect: Float


class _Rates:
    """Per-user rates of the engagement types, looked up once per block."""

    def __init__(self, config: SimulationConfig, kind: Int) -> None:
        types = config.engagement_types

        def column(name: str) -> Float:
            return np.array([getattr(t, name) for t in types], dtype=np.float64)[kind]

        self.active = column("active")
        self.floor = column("floor")
        self.extra_sessions = column("extra_sessions")
        self.feed_views = column("feed_views_per_session")
        self.posts = column("posts_per_session")
        self.replies = column("replies_per_session")
        self.votes = column("votes_per_session")
        self.shares = column("shares_per_session")
        self.reports = column("reports_per_session")
        self.joins = column("joins_per_day")


class _Pool:
    """Posts of the last few days that users can reply to, vote on and share."""

    def __init__(self, days: int) -> None:
        self.days: deque[PoolPosts] = deque(maxlen=max(days, 1))

    def add(self, posts: PoolPosts) -> None:
        self.days.append(posts)

    def arrays(self) -> PoolPosts:
        if not self.days:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty, np.zeros(0), np.zeros(0, bool)
        parts = list(zip(*self.days, strict=True))
        post, author, city, channel, quality, is_reply = (
            np.concatenate(part) for part in parts
        )
        return post, author, city, channel, quality, is_reply.astype(bool)


def _pick(rng: np.random.Generator, pool_city: Int, want: Int, n_cities: int) -> Int:
    """A uniform random pool position in the wanted city, or -1 if none."""
    if len(pool_city) == 0:
        return np.full(len(want), -1, dtype=np.int64)
    order = np.argsort(pool_city, kind="stable")
    counts = np.bincount(pool_city, minlength=n_cities)
    starts = np.cumsum(counts) - counts
    have = counts[want]
    offset = (rng.random(len(want)) * have).astype(np.int64)
    position = order[np.minimum(starts[want] + offset, len(order) - 1)]
    return np.where(have > 0, position, -1)


def _later(rng: np.random.Generator, seconds: Int) -> Int:
    """Seconds a little after ``seconds`` (within a session), same day."""
    step = rng.exponential(90.0, size=len(seconds)).astype(np.int64) + 1
    later: Int = np.minimum(seconds + step, SECONDS_PER_DAY - 1)
    return later


def _micros(rng: np.random.Generator, day: int, seconds: Int) -> Int:
    """Microseconds since the start for seconds into ``day``."""
    jitter_us = rng.integers(0, _MICROS, size=len(seconds))
    return (day * SECONDS_PER_DAY + seconds) * _MICROS + jitter_us


def _spawn(rng: np.random.Generator, rate: Float) -> Int:
    """Owner index of each item when owner ``i`` gets Poisson(``rate[i]``) items."""
    counts = rng.poisson(np.maximum(rate, 0.0))
    return np.repeat(np.arange(len(rate), dtype=np.int64), counts)


def _joined(first: PoolPosts, second: PoolPosts) -> PoolPosts:
    """Two sets of posts in the pool's layout, one after the other."""
    post, author, city, channel, quality, is_reply = (
        np.concatenate([a, b]) for a, b in zip(first, second, strict=True)
    )
    return post, author, city, channel, quality, is_reply.astype(bool)


def _driver_effect(config: SimulationConfig, rates: _Rates) -> Float:
    """Each user's true gain in retention chance from doing the behaviour."""
    driver = config.retention_driver
    ages = np.arange(driver.outcome_first_day, driver.outcome_last_day + 1)
    fade = np.exp(-ages / config.fade_days)
    chance = rates.active[:, None] * (
        rates.floor[:, None] + (1.0 - rates.floor[:, None]) * fade[None, :]
    )
    met = 1.0 - np.prod(1.0 - chance, axis=1)
    unmet = 1.0 - np.prod(1.0 - driver.unmet_multiplier * chance, axis=1)
    return np.asarray(met - unmet, dtype=np.float64)


class _Collector:
    """Appends each day's arrays and joins them at the end."""

    def __init__(self) -> None:
        self.parts: dict[str, list[NDArray[np.generic]]] = {}
        self.texts: list[str] = []

    def add(self, **arrays: NDArray[np.generic]) -> None:
        for name, values in arrays.items():
            self.parts.setdefault(name, []).append(values)

    def int(self, name: str) -> Int:
        parts = self.parts.get(name, [])
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(parts).astype(np.int64)

    def float(self, name: str) -> Float:
        parts = self.parts.get(name, [])
        if not parts:
            return np.zeros(0, dtype=np.float64)
        return np.concatenate(parts).astype(np.float64)


def simulate_block(
    config: SimulationConfig,
    block: int,
    first_index: int,
    n: int,
    days: int,
    seed: np.random.SeedSequence,
) -> BlockActivity:
    """Simulate ``n`` users with global indices from ``first_index`` on."""
    rng = np.random.default_rng(seed)
    population = draw_population(rng, config, first_index, n, days)
    rates = _Rates(config, population.kind)
    experiments = ExperimentBlock(
        config.experiments,
        population.user_ids,
        population.signup_day,
        population.signup_second,
        days,
    )
    day_runner = _Day(config, rng, population, rates, experiments)
    for day in range(days):
        day_runner.run(day)
    return day_runner.finish(block, _driver_effect(config, rates))


class _Day:
    """The state carried from day to day and the steps of one day."""

    def __init__(
        self,
        config: SimulationConfig,
        rng: np.random.Generator,
        population: Population,
        rates: _Rates,
        experiments: ExperimentBlock,
    ) -> None:
        n = population.n
        self.config = config
        self.rng = rng
        self.population = population
        self.rates = rates
        self.experiments = experiments
        hourly = np.asarray(config.hourly_weights, dtype=np.float64)
        self.hourly = hourly / hourly.sum()
        self.joined = np.zeros(n, dtype=np.int64)
        self.early_joins = np.zeros(n, dtype=np.int64)
        self.driver_met = np.zeros(n, dtype=bool)
        self.pool = _Pool(config.feed_days)
        self.next_post = 0
        self._today: PoolPosts = self.pool.arrays()
        self.out = _Collector()
        self.topics = [channel.topic for channel in config.channels]
        self.city_names = [city.name for city in config.cities]
        self.landmarks = [city.landmarks for city in config.cities]

    def active_chance(self, age: Int) -> Float:
        """Chance to be active today, by age in days (0 on the sign-up day)."""
        driver = self.config.retention_driver
        fade = np.exp(-np.maximum(age, 0) / self.config.fade_days)
        chance = self.rates.active * (self.rates.floor + (1 - self.rates.floor) * fade)
        missed = (age >= driver.window_days) & ~self.driver_met
        chance = np.where(missed, chance * driver.unmet_multiplier, chance)
        chance = np.where(age == 0, 1.0, chance)
        return np.where(age >= 0, chance, 0.0)

    def join_rate(self, age: Int) -> Float:
        """Expected channel joins on an active day, without experiments."""
        early = age < self.config.retention_driver.window_days
        factor = np.where(early, 1.0, self.config.late_join_factor)
        return self.rates.joins * self.population.join_propensity * factor

    def run(self, day: int) -> None:
        """Simulate one day for every user of the block."""
        rng, population, rates = self.rng, self.population, self.rates
        age = day - population.signup_day

        # The behaviour is judged once the user's first week is over.
        driver = self.config.retention_driver
        judged = age == driver.window_days
        self.driver_met[judged] = self.early_joins[judged] >= driver.threshold

        chance = self.active_chance(age)
        draw = rng.random(population.n)
        base_active = draw < chance
        anchor = np.where(
            age == 0,
            population.signup_second,
            draw_seconds(rng, self.hourly, population.n),
        )
        self.experiments.expose(day, base_active, anchor)
        levers = self.experiments.levers(day, chance)
        active = draw < chance + levers.extra_active

        per_session = 1.0 + rates.extra_sessions
        self.experiments.observe(
            day,
            chance,
            {
                "posts_per_user": per_session * (rates.posts + rates.replies),
                "sessions_per_user": per_session,
                "reports_per_user": per_session * rates.reports,
                "channel_joins_per_user": self.join_rate(age),
                "day7_retention": np.ones(population.n),
            },
        )

        self.joins(day, age, np.flatnonzero(base_active), anchor, levers.joins)
        self.sessions(day, np.flatnonzero(active), anchor, levers)

    def joins(
        self, day: int, age: Int, users: Int, anchor: Int, multiplier: Float
    ) -> None:
        """Channel joins of today's (naturally) active users."""
        rng, population = self.rng, self.population
        n_channels = len(self.config.channels)
        rate = self.join_rate(age)[users] * multiplier[users]
        count = np.minimum(rng.poisson(rate), n_channels - self.joined[users])
        joiner = np.repeat(users, count)
        rank_in_day = np.arange(len(joiner)) - np.repeat(
            np.cumsum(count) - count, count
        )
        channel = population.join_order[joiner, self.joined[joiner] + rank_in_day]
        self.joined[users] += count
        early = age[users] < self.config.retention_driver.window_days
        self.early_joins[users] += count * early

        seconds = _later(rng, anchor[joiner])
        self._events(day, joiner, _CHANNEL_JOIN, seconds, channel=channel)

    def sessions(self, day: int, users: Int, anchor: Int, levers: Levers) -> None:
        """Sessions of today's active users and everything done in them."""
        rng, rates = self.rng, self.rates
        extra = (1.0 + rates.extra_sessions[users]) * levers.sessions[users] - 1.0
        count = 1 + rng.poisson(np.maximum(extra, 0.0))
        user = np.repeat(users, count)
        first = np.zeros(len(user), dtype=bool)
        first[np.cumsum(count) - count] = True
        start = anchor[user]
        spread = (rng.random(len(user)) * (SECONDS_PER_DAY - start)).astype(np.int64)
        second = np.where(first, start, start + spread)
        self._events(day, user, _APP_OPEN, second)

        views = _spawn(rng, rates.feed_views[user] * levers.actions[user])
        self._events(day, user[views], _FEED_VIEW, _later(rng, second[views]))

        self.posts(day, user, second, rates.posts[user] * levers.posts[user])
        pool = self.pool.arrays()
        self.replies(day, user, second, rates.replies[user] * levers.posts[user], pool)
        self.votes(day, user, second, rates.votes[user] * levers.actions[user], pool)
        for name, rate in (
            (_SHARE, rates.shares[user] * levers.actions[user]),
            (_REPORT, rates.reports[user] * levers.reports[user]),
        ):
            session = _spawn(rng, rate)
            target = _pick(
                rng, pool[2], self.population.city[user[session]], len(self.city_names)
            )
            keep = target >= 0
            session, target = session[keep], target[keep]
            seconds = _later(rng, second[session])
            self._events(day, user[session], name, seconds, post=pool[0][target])
        self.pool.add(self._today)

    def posts(self, day: int, user: Int, second: Int, rate: Float) -> None:
        """Top-level posts of today's sessions, in channels the author likes."""
        rng, population = self.rng, self.population
        session = _spawn(rng, rate)
        author = user[session]
        pick = rng.random(len(author))
        channel = (population.affinity_cdf[author] < pick[:, None]).sum(axis=1)
        channel = np.minimum(channel, len(self.topics) - 1).astype(np.int64)
        latitude, longitude = jitter(
            rng,
            population.latitude[author],
            population.longitude[author],
            self.config.post_jitter_km,
        )
        city = population.city[author]
        texts = post_texts(
            rng,
            [self.topics[c] for c in channel],
            [population.languages[lang] for lang in population.language[author]],
            [self.city_names[c] for c in city],
            [self.landmarks[c] for c in city],
        )
        parent = np.full(len(author), -1, dtype=np.int64)
        self._today = self._add_posts(
            day, author, parent, channel, _later(rng, second[session]),
            latitude, longitude, texts,
        )  # fmt: skip

    def replies(
        self,
        day: int,
        user: Int,
        second: Int,
        rate: Float,
        pool: PoolPosts,
    ) -> None:
        """Replies to top-level posts in the author's local feed."""
        rng, population = self.rng, self.population
        post, _, city, channel, _, is_reply = pool
        top = np.flatnonzero(~is_reply)
        session = _spawn(rng, rate)
        author = user[session]
        target = _pick(rng, city[top], population.city[author], len(self.city_names))
        keep = target >= 0
        session, author, target = session[keep], author[keep], top[target[keep]]
        latitude, longitude = jitter(
            rng,
            population.latitude[author],
            population.longitude[author],
            self.config.post_jitter_km,
        )
        texts = reply_texts(
            rng, [population.languages[lang] for lang in population.language[author]]
        )
        replies = self._add_posts(
            day, author, post[target], channel[target],
            _later(rng, second[session]), latitude, longitude, texts,
        )  # fmt: skip
        self._today = _joined(self._today, replies)

    def votes(
        self,
        day: int,
        user: Int,
        second: Int,
        rate: Float,
        pool: PoolPosts,
    ) -> None:
        """Up- and down-votes on posts in the voter's local feed."""
        rng, population = self.rng, self.population
        post, author, city, _, quality, _ = pool
        session = _spawn(rng, rate)
        voter = user[session]
        target = _pick(rng, city, population.city[voter], len(self.city_names))
        keep = target >= 0
        keep[keep] = author[target[keep]] != voter[keep]
        session, voter, target = session[keep], voter[keep], target[keep]
        upvote = 1.0 / (1.0 + np.exp(-(self.config.upvote_bias + quality[target])))
        value = np.where(rng.random(len(target)) < upvote, 1, -1)
        self.out.add(
            vote_post=post[target],
            vote_user=voter,
            vote_value=value,
            vote_time=_micros(rng, day, _later(rng, second[session])),
        )

    def _add_posts(
        self,
        day: int,
        author: Int,
        parent: Int,
        channel: Int,
        seconds: Int,
        latitude: Float,
        longitude: Float,
        texts: list[str],
    ) -> PoolPosts:
        """Number and store new posts; return them in the pool's layout."""
        rng = self.rng
        post = np.arange(self.next_post, self.next_post + len(author), dtype=np.int64)
        self.next_post += len(author)
        self.out.add(
            post_author=author,
            post_parent=parent,
            post_channel=channel,
            post_time=_micros(rng, day, seconds),
            post_latitude=latitude,
            post_longitude=longitude,
        )
        self.out.texts.extend(texts)
        quality = rng.normal(0.0, 1.0, len(author))
        city = self.population.city[author]
        return post, author, city, channel, quality, parent >= 0

    def _events(
        self,
        day: int,
        user: Int,
        name: int,
        seconds: Int,
        *,
        channel: Int | None = None,
        post: Int | None = None,
    ) -> None:
        none = np.full(len(user), -1, dtype=np.int64)
        self.out.add(
            event_user=user,
            event_name=np.full(len(user), name, dtype=np.int64),
            event_time=_micros(self.rng, day, seconds),
            event_channel=none if channel is None else channel,
            event_post=none if post is None else post,
        )

    def finish(self, block: int, driver_effect: Float) -> BlockActivity:
        """Join the days into one :class:`BlockActivity`."""
        out = self.out
        vote_post, vote_value = out.int("vote_post"), out.int("vote_value")
        score = np.bincount(vote_post, weights=vote_value, minlength=self.next_post)
        return BlockActivity(
            block=block,
            population=self.population,
            experiments=self.experiments,
            post_author=out.int("post_author"),
            post_parent=out.int("post_parent"),
            post_channel=out.int("post_channel"),
            post_time=out.int("post_time"),
            post_latitude=out.float("post_latitude"),
            post_longitude=out.float("post_longitude"),
            post_text=out.texts,
            post_score=score.astype(np.int64),
            vote_post=vote_post,
            vote_user=out.int("vote_user"),
            vote_value=vote_value,
            vote_time=out.int("vote_time"),
            event_user=out.int("event_user"),
            event_name=out.int("event_name"),
            event_time=out.int("event_time"),
            event_channel=out.int("event_channel"),
            event_post=out.int("event_post"),
            driver_effect=driver_effect,
        )
