"""Short German and English post texts, built from templates and word lists.

Each channel topic has its own subjects and comments in both languages, so a
text analytics product finds topic words, places (city names and landmarks)
and a language to detect. All word lists were written for veedel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["TOPICS", "post_texts", "reply_texts"]

# topic -> language -> (subjects, comments)
_WORDS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "food": {
        "de": (
            ("der neue Ramen-Laden", "ein guter Döner", "frische Brezeln",
             "der Wochenmarkt", "das vegane Café", "die Pizzeria an der Ecke"),
            ("richtig lecker", "leider total überteuert", "lange Schlange",
             "Geheimtipp!", "die Portionen sind riesig"),
        ),
        "en": (
            ("the new ramen place", "a decent kebab", "fresh bagels",
             "the farmers market", "the vegan cafe", "the corner pizzeria"),
            ("really tasty", "way too expensive", "huge queue",
             "hidden gem!", "portions are massive"),
        ),
    },
    "nightlife": {
        "de": (
            ("die Party heute Nacht", "eine ruhige Bar", "der Club",
             "Karaoke", "die Kneipe mit Dart"),
            ("wer kommt mit?", "Türsteher sind streng", "gute Musik",
             "Bier für drei Euro", "bis zum Morgen offen"),
        ),
        "en": (
            ("the party tonight", "a quiet bar", "the club", "karaoke",
             "the pub with darts"),
            ("who is coming?", "bouncers are strict", "great music",
             "cheap pints", "open till sunrise"),
        ),
    },
    "housing": {
        "de": (
            ("ein WG-Zimmer", "die Zweizimmerwohnung", "ein Nachmieter",
             "die Mieterhöhung", "eine Zwischenmiete"),
            ("Miete ist Wahnsinn", "Besichtigung am Samstag",
             "Vermieter antwortet nicht", "hell und ruhig", "ab sofort frei"),
        ),
        "en": (
            ("a room in a flatshare", "the two-bed flat", "someone to take over",
             "the rent increase", "a sublet"),
            ("rent is insane", "viewing on Saturday", "landlord never replies",
             "bright and quiet", "available now"),
        ),
    },
    "transport": {
        "de": (
            ("die S-Bahn", "der Bus", "die Baustelle", "das Fahrrad",
             "der Schienenersatzverkehr"),
            ("schon wieder Verspätung", "alles steht", "Kontrolleure unterwegs",
             "Radweg endlich frei", "Umleitung beachten"),
        ),
        "en": (
            ("the tube", "the bus", "the roadworks", "my bike",
             "the replacement bus"),
            ("delayed again", "nothing is moving", "ticket inspectors about",
             "cycle lane finally open", "follow the diversion"),
        ),
    },
    "events": {
        "de": (
            ("das Straßenfest", "der Flohmarkt", "ein Open-Air-Kino",
             "die Lesung", "das Konzert im Park"),
            ("Eintritt frei", "wer geht hin?", "war großartig",
             "bringt Decken mit", "fängt um acht an"),
        ),
        "en": (
            ("the street festival", "the flea market", "an open-air cinema",
             "the book reading", "the concert in the park"),
            ("free entry", "anyone going?", "was brilliant",
             "bring blankets", "starts at eight"),
        ),
    },
    "sports": {
        "de": (
            ("Fußball am Sonntag", "eine Laufgruppe", "das Derby",
             "Beachvolleyball", "das Fitnessstudio"),
            ("suchen noch Leute", "jeder ist willkommen", "was für ein Spiel",
             "Treffpunkt am Eingang", "zu voll abends"),
        ),
        "en": (
            ("five-a-side on Sunday", "a running club", "the derby",
             "beach volleyball", "the gym"),
            ("need more players", "everyone welcome", "what a match",
             "meet at the entrance", "too busy in the evening"),
        ),
    },
    "pets": {
        "de": (
            ("ein Hundesitter", "die Hundewiese", "eine Katze",
             "der Tierarzt", "ein Welpe"),
            ("ganz lieb", "sucht ein Zuhause", "Empfehlungen?",
             "war gestern dort", "bitte teilen"),
        ),
        "en": (
            ("a dog sitter", "the dog park", "a cat", "the vet", "a puppy"),
            ("very friendly", "needs a home", "any recommendations?",
             "was there yesterday", "please share"),
        ),
    },
    "jobs": {
        "de": (
            ("ein Minijob", "eine Stelle als Barista", "ein Praktikum",
             "Aushilfe gesucht", "der Nebenjob"),
            ("gute Bezahlung", "flexible Zeiten", "bitte per Nachricht melden",
             "ab nächster Woche", "auch ohne Erfahrung"),
        ),
        "en": (
            ("a part-time job", "a barista position", "an internship",
             "help wanted", "the side gig"),
            ("good pay", "flexible hours", "message me",
             "starts next week", "no experience needed"),
        ),
    },
    "lostfound": {
        "de": (
            ("ein Schlüsselbund", "ein schwarzer Rucksack", "eine Brille",
             "ein Portemonnaie", "ein Kuscheltier"),
            ("gefunden", "verloren", "liegt beim Kiosk",
             "Finderlohn", "bitte melden"),
        ),
        "en": (
            ("a set of keys", "a black backpack", "some glasses",
             "a wallet", "a teddy bear"),
            ("found", "lost", "left at the corner shop",
             "reward offered", "please get in touch"),
        ),
    },
    "weather": {
        "de": (
            ("das Gewitter", "der Regen", "die Hitze", "der erste Schnee",
             "der Sonnenuntergang"),
            ("Schirm nicht vergessen", "endlich Sommer", "alles nass",
             "wunderschön heute", "Glatteis auf den Wegen"),
        ),
        "en": (
            ("the storm", "the rain", "the heat", "the first snow",
             "the sunset"),
            ("don't forget an umbrella", "summer at last", "soaked through",
             "gorgeous today", "icy pavements"),
        ),
    },
    "study": {
        "de": (
            ("die Bibliothek", "eine Lerngruppe", "die Klausur",
             "die Mensa", "das Seminar"),
            ("keine Plätze frei", "wer lernt mit?", "viel zu schwer",
             "heute Pasta", "fällt aus"),
        ),
        "en": (
            ("the library", "a study group", "the exam", "the canteen",
             "the seminar"),
            ("no seats left", "who wants to revise?", "far too hard",
             "pasta today", "is cancelled"),
        ),
    },
    "market": {
        "de": (
            ("ein Sofa", "ein gebrauchtes Fahrrad", "Umzugskartons",
             "eine Kaffeemaschine", "Konzerttickets"),
            ("zu verschenken", "fast neu", "Preis verhandelbar",
             "nur Abholung", "tausche gern"),
        ),
        "en": (
            ("a sofa", "a used bike", "moving boxes", "a coffee machine",
             "concert tickets"),
            ("free to a good home", "almost new", "price negotiable",
             "collection only", "happy to swap"),
        ),
    },
    "music": {
        "de": (
            ("eine Band", "die Jam-Session", "ein Gitarrenlehrer",
             "der Plattenladen", "das Festival"),
            ("suchen Schlagzeug", "jeden Donnerstag", "absolute Empfehlung",
             "neue Platten da", "Tickets noch frei"),
        ),
        "en": (
            ("a band", "the jam session", "a guitar teacher",
             "the record shop", "the festival"),
            ("looking for a drummer", "every Thursday", "highly recommended",
             "new records in", "tickets still available"),
        ),
    },
    "smalltalk": {
        "de": (
            ("der Nachbar mit der Trompete", "die Tauben", "der Späti",
             "die Leute hier", "mein Montag"),
            ("kann man nicht erfinden", "jemand wach?", "einfach herrlich",
             "wer kennt das?", "ich liebe diese Stadt"),
        ),
        "en": (
            ("the neighbour with the trumpet", "the pigeons", "the corner shop",
             "people round here", "my Monday"),
            ("you couldn't make it up", "anyone awake?", "simply wonderful",
             "who can relate?", "I love this city"),
        ),
    },
}  # fmt: skip

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "de": (
        "{subject} in {place}: {comment}",
        "Kennt jemand {subject} bei {place}? {comment}",
        "{comment} – {subject} in {city}",
        "Heute {subject} am {place}, {comment}",
        "{subject}? {comment}",
    ),
    "en": (
        "{subject} in {place}: {comment}",
        "Anyone know {subject} near {place}? {comment}",
        "{comment} – {subject} in {city}",
        "Today {subject} by {place}, {comment}",
        "{subject}? {comment}",
    ),
}

_REPLIES: dict[str, tuple[str, ...]] = {
    "de": (
        "Danke für den Tipp!", "Bin dabei.", "Wo genau?", "Geht mir genauso.",
        "Stimmt, war gestern auch so.", "Klingt gut, melde mich.",
        "Echt jetzt?", "Hab ich auch gesehen.", "Bitte mehr davon!",
        "Nee, lieber nicht.",
    ),
    "en": (
        "Thanks for the tip!", "Count me in.", "Where exactly?", "Same here.",
        "True, it was like that yesterday too.", "Sounds good, will message.",
        "Seriously?", "Saw that too.", "More of this please!", "Nah, not for me.",
    ),
}  # fmt: skip

TOPICS: tuple[str, ...] = tuple(_WORDS)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def post_texts(
    rng: np.random.Generator,
    topics: Sequence[str],
    languages: Sequence[str],
    cities: Sequence[str],
    landmarks: Sequence[Sequence[str]],
) -> list[str]:
    """One short post text per element, in its topic, language and city.

    ``landmarks[i]`` are the places of the i-th post's city.
    """
    n = len(topics)
    picks = rng.random((n, 4))
    texts = []
    for i in range(n):
        language = languages[i] if languages[i] in _TEMPLATES else "en"
        subjects, comments = _WORDS.get(topics[i], _WORDS["smalltalk"])[language]
        templates = _TEMPLATES[language]
        places = landmarks[i] or (cities[i],)
        template = templates[int(picks[i, 0] * len(templates))]
        text = template.format(
            subject=subjects[int(picks[i, 1] * len(subjects))],
            comment=comments[int(picks[i, 2] * len(comments))],
            place=places[int(picks[i, 3] * len(places))],
            city=cities[i],
        )
        texts.append(_capitalised(text))
    return texts


def reply_texts(rng: np.random.Generator, languages: Sequence[str]) -> list[str]:
    """One short reply per element, in its language."""
    picks = rng.random(len(languages))
    texts = []
    for language, pick in zip(languages, picks, strict=True):
        replies = _REPLIES.get(language, _REPLIES["en"])
        texts.append(replies[int(pick * len(replies))])
    return texts
